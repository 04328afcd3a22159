import { describe, expect, it } from "vitest";
import { Fleet, type PodDeletion } from "./fleet.ts";
import { createPolicy, type PolicySpec } from "./policies/index.ts";
import { testScenario } from "./testing.ts";

/** Two GPUs per node, 30 s to provision a node, 10 s to load the model. */
const scenario = testScenario({
  pool: { gpu: { type: "nvidia-l4", count: 2, memoryGiB: 24 }, provisioningSeconds: 30 },
});

/**
 * A fleet whose newest ready pod shares a node while an older one is alone on its node: four pods on two
 * nodes each serve a long request; a scale-down drains one (it keeps its GPU while it finishes), so the
 * scale-up after it lands on a third node, alone; once the drain is over, the next scale-up fills the gap it
 * left on the second node. Then one replica goes.
 */
async function scaleDownAfterChurn(deletion: PodDeletion) {
  const n = 4;
  const fleet = new Fleet(
    scenario,
    {
      arrivals: new Float64Array(n),
      prompt: new Int32Array(n).fill(500),
      output: new Int32Array(n).fill(4000),
    },
    { billUntil: 3600, overrides: { modelLoadSeconds: 10, deletion } },
  );
  fleet.warmStart("l4", 4, 0); // l4-1: pods 0, 1; l4-2: pods 2, 3
  for (let i = 0; i < n; i++) fleet.route(i, 0);
  fleet.setReplicas("l4", 3, 1); // pod 3 drains its request, on l4-2
  fleet.setReplicas("l4", 4, 2); // pod 4: no free GPU
  await fleet.reconcileNodes(2); // l4-3 asked for
  fleet.wake(32); // l4-3 registers; pod 4 loads there
  fleet.wake(42);
  fleet.checkDrains(1000); // pod 3 is gone: l4-2 has a free GPU
  fleet.setReplicas("l4", 5, 1000); // pod 5 loads on l4-2
  fleet.wake(1010);
  const before = fleet.pods.map((p) => `${p.id}@${p.node?.name}:${p.state}`);
  fleet.setReplicas("l4", 4, 1020);
  return {
    before,
    left: fleet.pods.map((p) => p.id),
    podsPerNode: Object.fromEntries(fleet.nodesOf("l4").map((x) => [x.name, x.pods])),
  };
}

describe("which pods a simulated scale-down removes", () => {
  it("sets up an older pod alone on its node and the newest sharing one", async () => {
    const { before } = await scaleDownAfterChurn("notReadyFirst");
    expect(before).toEqual(["0@l4-1:ready", "1@l4-1:ready", "2@l4-2:ready", "4@l4-3:ready", "5@l4-2:ready"]);
  });

  it("in ReplicaSet order removes the most recently ready pod, and no node empties", async () => {
    const { left, podsPerNode } = await scaleDownAfterChurn("notReadyFirst");
    expect(left).toEqual([0, 1, 2, 4]);
    expect(podsPerNode).toEqual({ "l4-1": 2, "l4-2": 1, "l4-3": 1 });
  });

  it("by the operator's pod-deletion-cost removes the pod alone on its node, which empties", async () => {
    const { left, podsPerNode } = await scaleDownAfterChurn("deletionCost");
    expect(left).toEqual([0, 1, 2, 5]);
    expect(podsPerNode).toEqual({ "l4-1": 2, "l4-2": 2, "l4-3": 0 });
  });

  it("runs the inferops policy with the operator's deletion cost, the baselines with the ReplicaSet's order", () => {
    expect(createPolicy({ family: "inferops" }, scenario).deletion).toBe("deletionCost");
    const bounds = { minReplicas: 1, maxReplicas: 8 };
    for (const spec of [
      { family: "static", replicas: 2 },
      { family: "hpa", metric: "running", target: 10, scaleDownWindowSeconds: 300, ...bounds },
      {
        family: "keda",
        threshold: 5,
        minReplicaCount: 1,
        maxReplicaCount: 8,
        cooldownPeriodSeconds: 300,
        scaleDownWindowSeconds: 300,
      },
      { family: "kpa", target: 10, scaleDownDelaySeconds: 0, minScale: 1, maxScale: 8 },
    ] satisfies PolicySpec[])
      expect(createPolicy(spec, scenario).deletion, spec.family).toBeUndefined();
  });
});
