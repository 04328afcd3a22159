import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/client.ts";
import { ApiError } from "../kube/errors.ts";
import { FakeKube } from "../kube/fake.ts";
import { pathFor, R } from "../kube/resources.ts";
import { KWOK_ANNOTATION, KwokProvider, TAINT_UNINITIALIZED } from "./kwok.ts";
import { kubeOccupant, type NodeObject, nodeProvider } from "./provider.ts";
import { planFor, T0, testPool } from "./testing.ts";

function setup() {
  let now = T0;
  const kube = new FakeKube({ now: () => now });
  const provider = nodeProvider(new KwokProvider({ client: kube, now: () => now }), {
    now: () => now,
    occupant: kubeOccupant(kube),
  });
  const nodes = async () => (await kube.list<NodeObject>(pathFor(R.nodes))).items;
  return { kube, provider, nodes, now: () => now, advance: (ms: number) => (now += ms) };
}

const pool = testPool("h100", { nodeLabels: { "cloud.example/pool": "gpu" } });

describe("kwok provider", () => {
  it("creates Nodes shaped like a cloud's GPU nodes, registering until provisioningSeconds have passed", async () => {
    const { provider, nodes, now } = setup();
    const result = await provider.scale(pool, { target: 2, removable: [], plan: planFor(pool, now()) });
    expect(result).toMatchObject({ outcome: "acted", added: 2, requeueAfterMs: 120_000 });
    const [node] = await nodes();
    const name = node?.metadata?.name ?? "";
    expect(name).toMatch(/^h100-[0-9a-f]{8}$/);
    expect(node?.metadata?.labels).toMatchObject({
      "cloud.example/pool": "gpu",
      "inferops.dev/pool": "h100",
      "app.kubernetes.io/managed-by": "inferops",
      "nvidia.com/gpu.product": "NVIDIA-H100-80GB",
      "nvidia.com/gpu.count": "8",
      "kubernetes.io/hostname": name,
    });
    expect(node?.metadata?.annotations?.[KWOK_ANNOTATION]).toBeUndefined();
    expect(node?.spec?.providerID).toBe(`kwok://h100/${name}`);
    expect(node?.spec?.taints).toEqual([
      { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" },
      { key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" },
    ]);
    expect(node?.status?.allocatable?.["nvidia.com/gpu"]).toBe("8");
    expect(node?.status?.capacity?.["nvidia.com/gpu"]).toBe("8");
    expect((await provider.observe(pool)).map((n) => [n.state, n.gpus, n.expectedAt])).toEqual([
      ["registering", 8, T0 + 120_000],
      ["registering", 8, T0 + 120_000],
    ]);
  });

  it("registers a node once provisioningSeconds have passed since its creation: kwok's annotation, no taint", async () => {
    const { kube, provider, nodes, now, advance } = setup();
    await provider.scale(pool, { target: 1, removable: [], plan: planFor(pool, now()) });
    advance(60_000);
    const early = await provider.scale(pool, { target: 1, removable: [], plan: planFor(pool, now()) });
    expect(early).toMatchObject({ outcome: "unchanged", requeueAfterMs: 60_000 });
    advance(60_000);
    const writes = kube.writes.length;
    const due = await provider.scale(pool, { target: 1, removable: [], plan: planFor(pool, now()) });
    expect(due).toMatchObject({ outcome: "acted", added: 0 });
    expect(kube.writes.slice(writes).map((w) => w.verb)).toEqual(["patch"]);
    const [node] = await nodes();
    expect(node?.metadata?.annotations?.[KWOK_ANNOTATION]).toBe("fake");
    expect(node?.spec?.taints).toEqual([{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }]);
    // Not Ready until kwok says so; then ready.
    expect((await provider.observe(pool))[0]?.state).toBe("notReady");
    kube.seed(pathFor(R.nodes, { name: node?.metadata?.name }), {
      ...node,
      status: { ...node?.status, conditions: [{ type: "Ready", status: "True" }] },
    } as KubeObject);
    expect((await provider.observe(pool))[0]?.state).toBe("ready");
    expect(
      (await provider.scale(pool, { target: 1, removable: [], plan: planFor(pool, now()) })).outcome,
    ).toBe("unchanged");
  });

  it("deletes the chosen empty node and keeps one that runs a pod", async () => {
    const { kube, provider, nodes, now } = setup();
    await provider.scale(pool, { target: 3, removable: [], plan: planFor(pool, now()) });
    const [a, b, c] = (await nodes()).map((n) => n.metadata?.name ?? "");
    kube.seed(pathFor(R.pods, { namespace: "team", name: "p" }), {
      metadata: { name: "p", namespace: "team" },
      spec: { nodeName: a },
      status: { phase: "Running" },
    });
    kube.seed(pathFor(R.pods, { namespace: "kube-system", name: "ds" }), {
      metadata: { name: "ds", namespace: "kube-system", ownerReferences: [{ kind: "DaemonSet" } as never] },
      spec: { nodeName: b },
    });
    const result = await provider.scale(pool, { target: 1, removable: [a!, b!], plan: planFor(pool, now()) });
    expect(result.removed).toEqual([b]);
    expect(result.kept).toEqual([{ name: a, reason: "runs pod team/p" }]);
    expect((await nodes()).map((n) => n.metadata?.name)).toEqual([a, c].sort());
  });

  it("does not delete a namesake created since the node was observed", async () => {
    const { kube, now } = setup();
    const driver = new KwokProvider({ client: kube, now });
    await driver.resize(pool, 1, [], []);
    const [node] = await driver.observe(pool);
    const err = await driver
      .resize(pool, 0, [{ ...node!, uid: "another-uid" }], [node!])
      .catch((e: unknown) => e);
    expect((err as Error).message).toContain(`deleting node ${node?.name} of pool h100`);
  });

  it("fails with the API's error, saying what it was doing", async () => {
    const { kube, provider, now } = setup();
    kube.fault = (verb) =>
      verb === "POST" ? new ApiError("forbidden", { code: "Forbidden", status: 403 }) : undefined;
    await expect(
      provider.scale(pool, { target: 1, removable: [], plan: planFor(pool, now()) }),
    ).rejects.toThrow(/creating node h100-[0-9a-f]+ of pool h100: forbidden/);
  });
});
