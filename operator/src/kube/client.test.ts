// The client's requests as the API server receives them, against a local HTTP server.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIELD_MANAGER, KubeClient } from "./client.ts";
import { isConflict } from "./errors.ts";

interface Seen {
  method?: string;
  url?: string;
  contentType?: string;
  body: unknown;
}

describe("KubeClient requests", () => {
  const seen: Seen[] = [];
  let status = 200;
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    seen.push({
      method: req.method,
      url: req.url,
      contentType: req.headers["content-type"],
      body: text ? JSON.parse(text) : undefined,
    });
    res.writeHead(status, { "content-type": "application/json" });
    res.end(
      status === 200
        ? "{}"
        : JSON.stringify({ kind: "Status", reason: "Conflict", message: "precondition failed" }),
    );
  });
  let client: KubeClient;
  let kubeconfig: string;

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = server.address() as { port: number };
    const dir = mkdtempSync(join(tmpdir(), "inferops-client-"));
    kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "c",
            cluster: { server: `http://127.0.0.1:${address.port}`, "insecure-skip-tls-verify": true },
          },
        ],
        users: [{ name: "u", user: {} }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    client = await KubeClient.create(kubeconfig);
  });
  afterAll(async () => {
    await client?.close();
    server.close();
  });

  it("merge-patches as field manager inferops", async () => {
    seen.length = 0;
    status = 200;
    await client.patch("/api/v1/nodes/n", { metadata: { resourceVersion: "7", annotations: { a: "b" } } });
    expect(seen[0]).toEqual({
      method: "PATCH",
      url: "/api/v1/nodes/n?fieldManager=inferops",
      contentType: "application/merge-patch+json",
      body: { metadata: { resourceVersion: "7", annotations: { a: "b" } } },
    });
  });

  /** Each write verb once, and the fieldManager each request carried (none for DELETE, which takes none). */
  async function managersOfEveryWrite(c: KubeClient) {
    seen.length = 0;
    status = 200;
    const path = "/apis/apps/v1/namespaces/ns/deployments";
    await c.create(path, { metadata: { name: "d" } });
    await c.replace(`${path}/d`, { metadata: { name: "d" } });
    await c.patch(`${path}/d`, { metadata: { annotations: { a: "b" } } });
    await c.apply(`${path}/d`, { metadata: { name: "d" } });
    await c.apply(`${path}/d/status`, { metadata: { name: "d" } }, { dryRun: true });
    return seen.map((s) => {
      const url = new URL(s.url ?? "", "http://x");
      return [s.method, url.pathname.slice(path.length), url.searchParams.get("fieldManager")];
    });
  }

  it("writes as field manager inferops by default, on every write verb", async () => {
    expect(client.fieldManager).toBe(FIELD_MANAGER);
    expect(await managersOfEveryWrite(client)).toEqual([
      ["POST", "", "inferops"],
      ["PUT", "/d", "inferops"],
      ["PATCH", "/d", "inferops"],
      ["PATCH", "/d", "inferops"],
      ["PATCH", "/d/status", "inferops"],
    ]);
  });

  it("writes as the field manager it was created with, on every write verb", async () => {
    const other = await KubeClient.create(kubeconfig, undefined, { fieldManager: "inferops-b" });
    try {
      expect(await managersOfEveryWrite(other)).toEqual([
        ["POST", "", "inferops-b"],
        ["PUT", "/d", "inferops-b"],
        ["PATCH", "/d", "inferops-b"],
        ["PATCH", "/d", "inferops-b"],
        ["PATCH", "/d/status", "inferops-b"],
      ]);
    } finally {
      await other.close();
    }
  });

  it("deletes in the background, with preconditions when given, and a failed precondition is a Conflict", async () => {
    seen.length = 0;
    status = 200;
    await client.delete("/api/v1/nodes/n");
    status = 409;
    const err = await client
      .delete("/api/v1/nodes/n", undefined, { preconditions: { uid: "u1" } })
      .catch((e: unknown) => e);
    expect(seen.map((s) => [s.method, s.body])).toEqual([
      ["DELETE", { propagationPolicy: "Background" }],
      ["DELETE", { propagationPolicy: "Background", preconditions: { uid: "u1" } }],
    ]);
    expect(isConflict(err)).toBe(true);
  });
});
