import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/client.ts";
import { ApiError } from "../kube/errors.ts";
import { FakeKube } from "../kube/fake.ts";
import { pathFor, R } from "../kube/resources.ts";
import { ANNOTATION_PROVISIONING, KWOK_ANNOTATION, KwokProvider } from "./kwok.ts";
import { kubeOccupant, type NodeObject, nodeProvider } from "./provider.ts";
import { planFor, T0, testPool } from "./testing.ts";

const pool = testPool("h100", { nodeLabels: { "cloud.example/pool": "gpu" } });
const poolPath = pathFor(R.gpuNodePools, { name: "h100" });

function setup() {
  let now = T0;
  const kube = new FakeKube({ now: () => now });
  kube.seed(poolPath, { apiVersion: "inferops.dev/v1alpha1", kind: "GPUNodePool", ...pool } as KubeObject);
  const driver = () => new KwokProvider({ client: kube, now: () => now });
  const provider = () => nodeProvider(driver(), { now: () => now, occupant: kubeOccupant(kube) });
  const nodes = async () => (await kube.list<NodeObject>(pathFor(R.nodes))).items;
  const intent = () =>
    JSON.parse(kube.peek(poolPath)?.metadata?.annotations?.[ANNOTATION_PROVISIONING] ?? "{}");
  const scale = (target: number, removable: string[] = []) =>
    provider().scale(pool, { target, removable, plan: planFor(pool, now) });
  return { kube, driver, provider, nodes, intent, scale, advance: (ms: number) => (now += ms) };
}

describe("kwok provider", () => {
  it("records a scale-up's intent on the GPUNodePool, with no Node until provisioningSeconds have passed", async () => {
    const { kube, provider, nodes, intent, scale } = setup();
    expect(await scale(2)).toMatchObject({ outcome: "acted", added: 2, requeueAfterMs: 120_000 });
    expect(await nodes()).toEqual([]);
    const asked = intent();
    expect(Object.keys(asked)).toHaveLength(2);
    for (const [name, at] of Object.entries(asked)) {
      expect(name).toMatch(/^h100-[0-9a-f]{8}$/);
      expect(at).toBe(new Date(T0).toISOString());
    }
    expect((await provider().observe(pool)).map((n) => [n.state, n.gpus, n.expectedAt])).toEqual([
      ["registering", 8, T0 + 120_000],
      ["registering", 8, T0 + 120_000],
    ]);
    // Asked again (or by an operator restarted since): nothing more.
    const writes = kube.writes.length;
    expect(await scale(2)).toMatchObject({ outcome: "unchanged", added: 0 });
    expect(kube.writes).toHaveLength(writes);
  });

  it("creates cloud-shaped GPU Nodes once provisioningSeconds have passed, and forgets the intent", async () => {
    const { nodes, intent, scale, advance } = setup();
    await scale(1);
    const [name] = Object.keys(intent());
    advance(119_000);
    expect(await scale(1)).toMatchObject({ outcome: "unchanged", requeueAfterMs: 1_000 });
    advance(1_000);
    expect(await scale(1)).toMatchObject({ outcome: "acted", added: 0 });
    expect(intent()).toEqual({});
    const [node] = await nodes();
    expect(node?.metadata?.name).toBe(name);
    expect(node?.metadata?.annotations).toEqual({ [KWOK_ANNOTATION]: "fake" });
    expect(node?.metadata?.labels).toMatchObject({
      "cloud.example/pool": "gpu",
      "inferops.dev/pool": "h100",
      "app.kubernetes.io/managed-by": "inferops",
      "nvidia.com/gpu.product": "NVIDIA-H100-80GB",
      "nvidia.com/gpu.count": "8",
      "kubernetes.io/hostname": name,
    });
    expect(node?.spec?.providerID).toBe(`kwok://h100/${name}`);
    expect(node?.spec?.taints).toEqual([{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }]);
    expect(node?.status?.allocatable?.["nvidia.com/gpu"]).toBe("8");
    expect(node?.status?.capacity?.["nvidia.com/gpu"]).toBe("8");
    expect(await scale(1)).toMatchObject({ outcome: "unchanged" });
  });

  it("finishes a registration a crash interrupted: the Node exists, the stale entry is pruned", async () => {
    const { kube, nodes, intent, scale, advance, provider } = setup();
    await scale(1);
    const [name] = Object.keys(intent()) as [string];
    advance(120_000);
    kube.fault = (verb, path) =>
      verb === "PATCH" && path === poolPath
        ? new ApiError("down", { code: "Unreachable", status: 0 })
        : undefined;
    await expect(scale(1)).rejects.toThrow("recording the nodes provisioning on GPUNodePool h100: down");
    kube.fault = undefined;
    expect(Object.keys(intent())).toEqual([name]);
    expect((await provider().observe(pool)).map((n) => n.name)).toEqual([name]);
    expect(await scale(1)).toMatchObject({ outcome: "acted", added: 0 });
    expect(intent()).toEqual({});
    expect((await nodes()).map((n) => n.metadata?.name)).toEqual([name]);
  });

  it("deletes the chosen empty node and keeps one that runs a pod; a node still provisioning is forgotten", async () => {
    const { kube, nodes, intent, scale, advance } = setup();
    await scale(3);
    advance(120_000);
    await scale(3);
    await scale(4);
    const [a, b] = (await nodes()).map((n) => n.metadata?.name ?? "");
    const [pending] = Object.keys(intent()) as [string];
    kube.seed(pathFor(R.pods, { namespace: "team", name: "p" }), {
      metadata: { name: "p", namespace: "team" },
      spec: { nodeName: a },
      status: { phase: "Running" },
    });
    kube.seed(pathFor(R.pods, { namespace: "kube-system", name: "ds" }), {
      metadata: { name: "ds", namespace: "kube-system", ownerReferences: [{ kind: "DaemonSet" } as never] },
      spec: { nodeName: b },
    });
    const result = await scale(1, [pending, a!, b!]);
    expect(result.removed).toEqual([pending, b]);
    expect(result.kept).toEqual([{ name: a, reason: "runs pod team/p" }]);
    expect(intent()).toEqual({});
    expect((await nodes()).map((n) => n.metadata?.name)).not.toContain(b);
  });

  it("does not delete a namesake created since the node was observed", async () => {
    const { driver, scale, advance } = setup();
    await scale(1);
    advance(120_000);
    await scale(1);
    const [node] = await driver().observe(pool);
    const err = await driver()
      .resize(pool, 0, [{ ...node!, uid: "another-uid" }], [node!])
      .catch((e: unknown) => e);
    expect((err as Error).message).toContain(`deleting node ${node?.name} of pool h100`);
  });

  it("answers NotFound when the GPUNodePool is gone", async () => {
    const { kube, scale } = setup();
    await kube.delete(poolPath);
    await expect(scale(1)).rejects.toMatchObject({ code: "NotFound" });
  });
});
