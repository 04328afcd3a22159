import { KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import type { KubeClient } from "./client.ts";
import { ApiError } from "./errors.ts";
import { CacheIndex, Informer, type Obj, RestartBackoff, type WatchFn } from "./informer.ts";
import { R } from "./resources.ts";

const deploy = (name: string, service?: string, namespace = "ns"): Obj => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace, ...(service ? { labels: { svc: service } } : {}) },
});
const bySvc = () =>
  new CacheIndex<Obj>((o) =>
    o.metadata?.labels?.svc ? `${o.metadata.namespace}/${o.metadata.labels.svc}` : undefined,
  );
const names = (os: Obj[]) => os.map((o) => o.metadata?.name).sort();

describe("CacheIndex", () => {
  it("files objects by their key, and none without one", () => {
    const index = bySvc();
    index.file(deploy("a-l4", "a"), "add");
    index.file(deploy("a-h100", "a"), "add");
    index.file(deploy("b-l4", "b"), "add");
    index.file(deploy("a-l4", "a", "other"), "add");
    index.file(deploy("loose"), "add");
    expect(names(index.get("ns/a"))).toEqual(["a-h100", "a-l4"]);
    expect(names(index.get("ns/b"))).toEqual(["b-l4"]);
    expect(names(index.get("other/a"))).toEqual(["a-l4"]);
    expect(index.get("ns/c")).toEqual([]);
  });

  it("an update moves the object to its new key and replaces the old version; a delete drops it", () => {
    const index = bySvc();
    index.file(deploy("x", "a"), "add");
    const relabelled = deploy("x", "b");
    index.file(relabelled, "update");
    expect(index.get("ns/a")).toEqual([]);
    expect(index.get("ns/b")).toEqual([relabelled]);
    index.file(deploy("x"), "update"); // label removed
    expect(index.get("ns/b")).toEqual([]);
    index.file(deploy("x", "b"), "update");
    index.file(deploy("x", "b"), "delete");
    expect(index.get("ns/b")).toEqual([]);
  });
});

describe("RestartBackoff", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  const timedOut = new DOMException("The operation was aborted due to timeout", "TimeoutError");

  it("doubles its delay up to the max, and starts from the first again once a list lands", () => {
    const b = new RestartBackoff(500, 4_000);
    expect([1, 2, 3, 4, 5].map(() => b.failed(refused))).toEqual([500, 1_000, 2_000, 4_000, 4_000]);
    b.listed();
    expect(b.failed(refused)).toBe(500);
  });

  it("ends the wait once another request gets an answer, after a failure where nothing answered", () => {
    for (const err of [
      refused,
      timedOut,
      new ApiError("GET /api/v1/pods: fetch failed", { code: "Unreachable", status: 0 }),
    ]) {
      const b = new RestartBackoff(500, 30_000);
      b.failed(err);
      expect(b.answered(0)).toBe(false); // that request got no answer either
      expect(b.answered(503)).toBe(false); // nor a server that cannot serve
      expect(b.answered(200)).toBe(true);
      expect(b.answered(200)).toBe(false); // once per failure
    }
  });

  it("waits out its delay after an HTTP error, which answering other requests does not cure", () => {
    for (const err of [
      new ApiError("GET /api/v1/pods: forbidden", { code: "Forbidden", status: 403 }),
      Object.assign(new Error("Internal Server Error"), { statusCode: 500 }),
    ]) {
      const b = new RestartBackoff(500, 30_000);
      b.failed(err);
      expect(b.answered(200)).toBe(false);
    }
  });

  it("an informer that started again is no longer waiting", () => {
    const b = new RestartBackoff(500, 30_000);
    b.failed(refused);
    b.starting();
    expect(b.answered(200)).toBe(false);
  });
});

describe("Informer and 410 Gone", () => {
  // The API server ends every watch after --min-request-timeout; ListWatch resumes from the last version it
  // saw, and if that is older than the server keeps, the server answers 410 Gone. The informer must list
  // again and bring its cache to what is there now: objects added, changed and deleted meanwhile.
  const pod = (name: string, rv: string): Obj => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "ns", resourceVersion: rv },
  });

  it("lists again after a watch answered 410 Gone, firing deletes for objects gone meanwhile", async () => {
    const lists = [
      { metadata: { resourceVersion: "5" }, items: [pod("a", "1"), pod("b", "2")] },
      { metadata: { resourceVersion: "9" }, items: [pod("a", "1"), pod("c", "7"), pod("d", "8")] },
    ];
    const client = {
      list: async () => lists.shift() ?? { metadata: { resourceVersion: "9" }, items: [] },
      onRequest: () => {},
      config: new KubeConfig(),
    } as unknown as KubeClient;
    const queries: Record<string, string>[] = [];
    let watches = 0;
    const watch: WatchFn = async (_path, query, cb, done) => {
      queries.push({ ...query });
      watches++;
      if (watches === 1) {
        // The first watch: one event, then the server ends it; resumed from version 6, which it no longer
        // keeps, the second answers 410 Gone and ends.
        cb("ADDED", pod("c", "6"));
        setTimeout(() => done(null), 5);
      } else if (watches === 2) {
        cb("ERROR", {
          kind: "Status",
          code: 410,
          reason: "Expired",
          message: "too old resource version: 6 (9)",
        });
        setTimeout(() => done(null), 5);
      }
      // The third stays open.
      return { abort: () => {} };
    };
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (l: string) => lines.push(l) });
    const informer = new Informer(client, R.pods, log, { watch });
    const seen: string[] = [];
    informer.on((o, kind) => seen.push(`${kind} ${o.metadata?.name}`));
    await informer.start();
    await vi.waitFor(() => expect(watches).toBe(3), { timeout: 5_000, interval: 10 });
    expect(queries.map((q) => q.resourceVersion)).toEqual(["5", "6", "9"]);
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(["a", "c", "d"]);
    expect(seen).toContain("delete b");
    expect(seen).toContain("add d");
    expect(lines.some((l) => l.includes("watch expired (410 Gone): listing again"))).toBe(true);
    await informer.stop();
  });
});
