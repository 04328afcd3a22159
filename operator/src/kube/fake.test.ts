import { describe, expect, it } from "vitest";
import type { KubeObject } from "./client.ts";
import { isAlreadyExists, isConflict, isNotFound } from "./errors.ts";
import { FakeKube, matchesLabelSelector } from "./fake.ts";

describe("matchesLabelSelector", () => {
  const labels = { app: "a", tier: "gpu" };
  it.each([
    ["app=a", true],
    ["app==a,tier=gpu", true],
    ["app=b", false],
    ["app!=b", true],
    ["tier", true],
    ["!tier", false],
    ["zone", false],
    ["tier in (cpu,gpu)", true],
    ["tier notin (gpu)", false],
    ["app=a,tier in (cpu)", false],
    ["", true],
  ])("%s: %s", (selector, want) => expect(matchesLabelSelector(labels, selector)).toBe(want));
});

describe("FakeKube", () => {
  const nodes = "/api/v1/nodes";
  it("creates, lists by label and field, and refuses a second create", async () => {
    const kube = new FakeKube();
    await kube.create(nodes, { metadata: { name: "a", labels: { pool: "x" } }, spec: { podCIDR: "1" } });
    await kube.create(nodes, { metadata: { name: "b", labels: { pool: "y" } } });
    expect((await kube.list(nodes, { labelSelector: "pool=x" })).items.map((n) => n.metadata?.name)).toEqual([
      "a",
    ]);
    expect((await kube.list(nodes, { fieldSelector: "spec.podCIDR=1" })).items).toHaveLength(1);
    expect(
      isAlreadyExists(await kube.create(nodes, { metadata: { name: "a" } }).catch((e: unknown) => e)),
    ).toBe(true);
  });

  it("lists a namespace's objects, or every namespace's", async () => {
    const kube = new FakeKube();
    kube.seed("/api/v1/namespaces/a/pods/p", { metadata: { name: "p", namespace: "a" } });
    kube.seed("/api/v1/namespaces/b/pods/q", { metadata: { name: "q", namespace: "b" } });
    expect((await kube.list("/api/v1/namespaces/a/pods")).items).toHaveLength(1);
    expect((await kube.list("/api/v1/pods")).items).toHaveLength(2);
  });

  it("deletes only the object of the uid given", async () => {
    const kube = new FakeKube();
    const a = await kube.create<KubeObject>(nodes, { metadata: { name: "a" } });
    expect(
      isConflict(
        await kube
          .delete(`${nodes}/a`, undefined, { preconditions: { uid: "other" } })
          .catch((e: unknown) => e),
      ),
    ).toBe(true);
    await kube.delete(`${nodes}/a`, undefined, { preconditions: { uid: a.metadata?.uid } });
    expect(isNotFound(await kube.get(`${nodes}/a`).catch((e: unknown) => e))).toBe(true);
  });

  it("merge-patches, removing keys set to null, and refuses a patch of a stale resourceVersion", async () => {
    const kube = new FakeKube();
    const a = await kube.create<KubeObject>(nodes, {
      metadata: { name: "a", annotations: { x: "1", y: "2" } },
    });
    await kube.patch(`${nodes}/a`, { metadata: { annotations: { x: null, z: "3" } } } as never);
    expect((await kube.get(`${nodes}/a`)).metadata?.annotations).toEqual({ y: "2", z: "3" });
    const stale = await kube
      .patch(`${nodes}/a`, { metadata: { resourceVersion: a.metadata?.resourceVersion } })
      .catch((e: unknown) => e);
    expect(isConflict(stale)).toBe(true);
  });

  it("serves the scale subresource from spec.replicas, and bumps generation on a spec change only", async () => {
    const kube = new FakeKube();
    const md = "/apis/cluster.x-k8s.io/v1beta1/namespaces/n/machinedeployments/m";
    kube.seed(md, {
      metadata: { name: "m", namespace: "n" },
      spec: { replicas: 2 },
      status: { replicas: 1 },
    });
    expect(await kube.get(`${md}/scale`)).toMatchObject({
      kind: "Scale",
      spec: { replicas: 2 },
      status: { replicas: 1 },
    });
    await kube.patch(`${md}/scale`, { spec: { replicas: 4 } });
    expect(kube.peek(md)).toMatchObject({ spec: { replicas: 4 }, metadata: { generation: 2 } });
    await kube.patch(md, { metadata: { labels: { a: "b" } } });
    expect(kube.peek(md)?.metadata?.generation).toBe(2);
  });
});
