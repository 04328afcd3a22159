import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/client.ts";
import { FakeKube } from "../kube/fake.ts";
import { pathFor, R } from "../kube/resources.ts";
import { DISRUPTION, KarpenterProvider, NODEPOOL_LABEL } from "./karpenter.ts";
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
