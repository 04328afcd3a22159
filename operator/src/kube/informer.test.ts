import { describe, expect, it } from "vitest";
import { CacheIndex, type Obj } from "./informer.ts";

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
