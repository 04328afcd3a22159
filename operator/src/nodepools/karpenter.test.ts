import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/client.ts";
import { FakeKube } from "../kube/fake.ts";
import { pathFor, R } from "../kube/resources.ts";
import { DISRUPTION, KarpenterProvider, MISSING_CLAIM_INFIX, NODEPOOL_LABEL } from "./karpenter.ts";
import { isProviderNotFound, kubeOccupant, nodeProvider } from "./provider.ts";
import { planFor, T0, testPool } from "./testing.ts";

const pool = testPool("kp", { provider: { type: "karpenter", karpenter: { nodePool: "gpu" } } });
const npPath = pathFor(R.karpenterNodePools, { name: "gpu" });
const plan = planFor(pool, T0);

function setup() {
  const kube = new FakeKube({ now: () => T0 });
  kube.seed(npPath, {
    apiVersion: "karpenter.sh/v1",
    kind: "NodePool",
    metadata: { name: "gpu" },
    spec: { limits: { cpu: "1000" }, disruption: { consolidateAfter: "30s", budgets: [{ nodes: "10%" }] } },
  });
  const claim = (name: string, node?: string) =>
    kube.seed(pathFor(R.nodeClaims, { name }), {
      metadata: { name, labels: { [NODEPOOL_LABEL]: "gpu" } },
      status: node ? { nodeName: node } : {},
    });
  claim("gpu-a", "node-a");
  claim("gpu-b");
  kube.seed(pathFor(R.nodes, { name: "node-a" }), {
    metadata: { name: "node-a", labels: { [NODEPOOL_LABEL]: "gpu" } },
    status: { conditions: [{ type: "Ready", status: "True" }], allocatable: { "nvidia.com/gpu": "8" } },
  });
  const provider = nodeProvider(new KarpenterProvider({ client: kube }), {
    now: () => T0,
    occupant: kubeOccupant(kube),
  });
  const spec = () => kube.peek<KubeObject & { spec: Record<string, unknown> }>(npPath)?.spec;
  return { kube, provider, spec };
}

describe("karpenter provider", () => {
  it("observes the NodePool's Nodes and the NodeClaims still launching", async () => {
    const { provider } = setup();
    expect((await provider.observe(pool)).map((n) => [n.name, n.state, n.holder])).toEqual([
      ["node-a", "ready", "gpu-a"],
      ["gpu-b", "registering", "gpu-b"],
    ]);
  });

  it("reports a NodeClaim whose launch failed, in Karpenter's words, and not one still launching", async () => {
    const { kube, provider } = setup();
    const launched = (name: string, status: string, reason: string, message = "") =>
      kube.seed(pathFor(R.nodeClaims, { name }), {
        metadata: { name, labels: { [NODEPOOL_LABEL]: "gpu" } },
        status: { conditions: [{ type: "Launched", status, reason, message }] },
      });
    launched("gpu-ice", "Unknown", "InsufficientCapacity", "no g6.xlarge offering in us-east-1a");
    launched("gpu-err", "False", "LaunchFailed", "creating instance, throttled");
    launched("gpu-wait", "Unknown", "AwaitingReconciliation");
    const failures = Object.fromEntries((await provider.observe(pool)).map((n) => [n.name, n.failure]));
    expect(failures).toEqual({
      "node-a": undefined,
      "gpu-b": undefined,
      "gpu-ice":
        "NodeClaim gpu-ice did not launch: InsufficientCapacity: no g6.xlarge offering in us-east-1a",
      "gpu-err": "NodeClaim gpu-err did not launch: LaunchFailed: creating instance, throttled",
      "gpu-wait": undefined,
    });
  });

  it("sets the GPU limit to the target and hands consolidation to inferops, keeping the user's other fields", async () => {
    const { kube, provider, spec } = setup();
    expect(await provider.scale(pool, { target: 4, removable: [], plan })).toMatchObject({
      outcome: "acted",
      added: 2,
    });
    expect(spec()).toEqual({
      limits: { cpu: "1000", "nvidia.com/gpu": "32" },
      disruption: { ...DISRUPTION, budgets: [{ nodes: "10%" }] },
    });
    expect(kube.writes.map((w) => w.verb)).toEqual(["apply"]);
    expect((await provider.scale(pool, { target: 4, removable: [], plan })).outcome).toBe("unchanged");
    expect(kube.writes).toHaveLength(1);
  });

  it("removes a chosen node by deleting its NodeClaim, and lowers the limit", async () => {
    const { kube, provider, spec } = setup();
    const result = await provider.scale(pool, { target: 1, removable: ["node-a"], plan });
    expect(result.removed).toEqual(["node-a"]);
    expect(kube.peek(pathFor(R.nodeClaims, { name: "gpu-a" }))).toBeUndefined();
    expect(spec()?.limits).toMatchObject({ "nvidia.com/gpu": "8" });
  });

  it("counts the nodes unschedulable pods wait for and Karpenter has not claimed, since first seen, within the limit", async () => {
    let now = T0;
    const kube = new FakeKube({ now: () => now });
    kube.seed(npPath, {
      apiVersion: "karpenter.sh/v1",
      kind: "NodePool",
      metadata: { name: "gpu" },
      // The limit inferops set: 4 nodes of 8 GPUs. One node exists.
      spec: { limits: { "nvidia.com/gpu": "32" } },
    });
    kube.seed(pathFor(R.nodes, { name: "node-a" }), {
      metadata: { name: "node-a", labels: { [NODEPOOL_LABEL]: "gpu" } },
      status: { conditions: [{ type: "Ready", status: "True" }], allocatable: { "nvidia.com/gpu": "8" } },
    });
    const pod = (name: string, gpus: number, reason = "Unschedulable") =>
      kube.seed(pathFor(R.pods, { namespace: "ml", name }), {
        metadata: { name, namespace: "ml", labels: { "inferops.dev/variant": "kp" } },
        spec: { containers: [{ name: "vllm", resources: { limits: { "nvidia.com/gpu": String(gpus) } } }] },
        status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason }] },
      });
    const provider = new KarpenterProvider({ client: kube, now: () => now });
    const missing = async () =>
      (await provider.observe(pool))
        .filter((n) => n.name.includes(MISSING_CLAIM_INFIX))
        .map((n) => [n.name, n.state, n.createdAt]);
    // No pod waits: nothing is asked for, whatever the limit allows.
    expect(await missing()).toEqual([]);
    // 12 GPUs of pods wait (two nodes' worth); a pod held by something else (SchedulingGated) does not count.
    pod("a", 8);
    pod("b", 4);
    pod("gated", 8, "SchedulingGated");
    expect(await missing()).toEqual([
      ["gpu/no-claim-0", "registering", T0],
      ["gpu/no-claim-1", "registering", T0],
    ]);
    // Still unclaimed a minute later: counted from when first seen, which is what makes the pool stalled.
    now = T0 + 60_000;
    expect((await missing()).map((m) => m[2])).toEqual([T0, T0]);
    // Karpenter claims one (launching: its pods stay unschedulable until the node registers): progress, so
    // the clock starts again for the one left.
    kube.seed(pathFor(R.nodeClaims, { name: "gpu-c" }), {
      metadata: { name: "gpu-c", labels: { [NODEPOOL_LABEL]: "gpu" } },
      status: {},
    });
    now = T0 + 90_000;
    expect(await missing()).toEqual([["gpu/no-claim-0", "registering", T0 + 90_000]]);
    // Never beyond the limit: at 2 nodes (16 GPUs) the pool has what it may have.
    kube.seed(npPath, { ...kube.peek(npPath)!, spec: { limits: { "nvidia.com/gpu": "16" } } });
    expect(await missing()).toEqual([]);
  });

  it("removes a node Karpenter never claimed by lowering the limit alone", async () => {
    const { kube, provider, spec } = setup();
    // Two nodes' worth of pods wait; the NodeClaim gpu-b launching is one of them.
    kube.seed(pathFor(R.pods, { namespace: "ml", name: "p" }), {
      metadata: { name: "p", namespace: "ml", labels: { "inferops.dev/variant": "kp" } },
      spec: { containers: [{ name: "vllm", resources: { limits: { "nvidia.com/gpu": "16" } } }] },
      status: {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }],
      },
    });
    await provider.scale(pool, { target: 3, removable: [], plan });
    const nodes = await provider.observe(pool);
    expect(nodes.map((n) => n.name)).toContain("gpu/no-claim-0");
    const deletes = () => kube.writes.filter((w) => w.verb === "delete");
    await provider.scale(pool, { target: 2, removable: ["gpu/no-claim-0"], plan });
    expect(deletes()).toEqual([]);
    expect(spec()?.limits).toMatchObject({ "nvidia.com/gpu": "16" });
  });

  it("keeps in the limit the nodes the node policy did not offer for removal, a node Karpenter never claimed included", async () => {
    const kube = new FakeKube({ now: () => T0 });
    // The limit inferops set for one node; the pods that need it wait, and Karpenter has claimed nothing.
    kube.seed(npPath, {
      apiVersion: "karpenter.sh/v1",
      kind: "NodePool",
      metadata: { name: "gpu" },
      spec: { limits: { "nvidia.com/gpu": "8" }, disruption: { ...DISRUPTION } },
    });
    kube.seed(pathFor(R.pods, { namespace: "ml", name: "p" }), {
      metadata: { name: "p", namespace: "ml", labels: { "inferops.dev/variant": "kp" } },
      spec: { containers: [{ name: "vllm", resources: { limits: { "nvidia.com/gpu": "8" } } }] },
      status: {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }],
      },
    });
    const provider = nodeProvider(new KarpenterProvider({ client: kube }), {
      now: () => T0,
      occupant: kubeOccupant(kube),
    });
    const limit = () =>
      kube.peek<KubeObject & { spec: { limits: Record<string, string> } }>(npPath)?.spec.limits[
        "nvidia.com/gpu"
      ];
    const missing = async () =>
      (await provider.observe(pool)).filter((n) => n.name.includes(MISSING_CLAIM_INFIX)).map((n) => n.name);
    expect(await missing()).toEqual(["gpu/no-claim-0"]);
    // A plan that wants no node (made while the pool reported ProvisioningStalled, it counts only the nodes
    // the pool has) while the node policy still holds the one asked for: the limit keeps it, so the node
    // asked for, and the stall it shows, do not vanish behind the policy's back.
    const held = await provider.scale(pool, { target: 0, removable: [], plan });
    expect(held).toMatchObject({ outcome: "unchanged", added: 0 });
    expect(limit()).toBe("8");
    expect(await missing()).toEqual(["gpu/no-claim-0"]);
    // Once the policy chooses it, the lower limit is its removal.
    const removed = await provider.scale(pool, { target: 0, removable: ["gpu/no-claim-0"], plan });
    expect(removed).toMatchObject({ outcome: "acted", removed: ["gpu/no-claim-0"] });
    expect(limit()).toBe("0");
    expect(await missing()).toEqual([]);
    expect(kube.writes.filter((w) => w.verb === "delete")).toEqual([]);
  });

  it("answers NotFound when the NodePool does not exist", async () => {
    const kube = new FakeKube();
    const provider = nodeProvider(new KarpenterProvider({ client: kube }), {
      now: () => T0,
      occupant: kubeOccupant(kube),
    });
    const err = await provider.scale(pool, { target: 1, removable: [], plan }).catch((e: unknown) => e);
    expect(isProviderNotFound(err)).toBe(true);
    expect(kube.writes).toEqual([]);
  });
});
