import { describe, expect, it } from "vitest";
import { ApiError } from "./errors.ts";
import { CacheIndex, type Obj, RestartBackoff } from "./informer.ts";

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
