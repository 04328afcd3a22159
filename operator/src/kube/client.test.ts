// The client's requests as the API server receives them, against a local HTTP server.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "./client.ts";
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

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = server.address() as { port: number };
    const dir = mkdtempSync(join(tmpdir(), "inferops-client-"));
    const kubeconfig = join(dir, "kubeconfig");
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
