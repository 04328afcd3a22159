import { describe, expect, it } from "vitest";
import { ConditionType, Reason } from "../../apis/conditions.ts";
import type { PoolNode } from "../../nodepools/provider.ts";
import { T0, testPool } from "../../nodepools/testing.ts";
import { computePoolStatus, type PoolStatusInput } from "./status.ts";

const spec = testPool("gpu").spec; // 8 H100 per node, $98.32/h, 700 W busy and 90 W idle per GPU, maxNodes 10
const node = (name: string, state: PoolNode["state"]): PoolNode => ({ name, state, gpus: 8, createdAt: T0 });
const NOW = new Date(T0).toISOString();

const input = (over: Partial<PoolStatusInput>): PoolStatusInput => ({
  spec,
  generation: 3,
  nodes: [],
  usedGPUs: 0,
  health: {},
  nowIso: NOW,
  ...over,
});
const plan = (value: number, reason: string = Reason.NodesForReplicas) => ({
  name: "gpu",
  nodes: { value, reason, message: `${value} nodes` },
});
const cond = (s: ReturnType<typeof computePoolStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe("computePoolStatus", () => {
  it("counts nodes by state; cost covers nodes provisioning, power the GPUs of registered nodes", () => {
    const s = computePoolStatus(
      input({
        nodes: [node("a", "ready"), node("b", "draining"), node("c", "registering"), node("d", "deleting")],
        usedGPUs: 10,
        plan: plan(2),
      }),
    );
    expect(s).toMatchObject({
      observedGeneration: 3,
      desiredNodes: 2,
      nodes: 3,
      registeredNodes: 2,
      readyNodes: 1,
      drainingNodes: 1,
      allocatableGPUs: 8,
      usedGPUs: 10,
      freeGPUs: 0,
      costPerHour: 294.96,
      // 16 GPUs running: 10 busy at 700 W, 6 idle at 90 W.
      powerWatts: 10 * 700 + 6 * 90,
    });
  });

  it("is Ready when the nodes the plan wants are Ready, and says why not otherwise", () => {
    const ready = computePoolStatus(input({ nodes: [node("a", "ready")], plan: plan(1) }));
    expect(cond(ready, ConditionType.Ready)).toMatchObject({ status: "True", reason: Reason.NodesReady });
    expect(cond(ready, ConditionType.Scaling)).toMatchObject({ status: "False", reason: Reason.Stable });
    const short = computePoolStatus(input({ nodes: [node("a", "registering")], plan: plan(1) }));
    expect(cond(short, ConditionType.Ready)).toMatchObject({ status: "False", reason: Reason.NodesNotReady });
    const noPlan = computePoolStatus(input({ nodes: [node("a", "ready")] }));
    expect(cond(noPlan, ConditionType.Ready)).toMatchObject({
      status: "Unknown",
      reason: Reason.AwaitingPlan,
    });
    expect(noPlan.desiredNodes).toBeUndefined();
  });

  it("reports AtMaxNodes from the plan's reason, and ProviderFailing from the provider's health", () => {
    const s = computePoolStatus(
      input({
        plan: plan(10, Reason.PoolAtMaxNodes),
        health: { failing: { reason: Reason.InsufficientCapacity, message: "out of H100s" } },
      }),
    );
    expect(cond(s, ConditionType.AtMaxNodes)).toMatchObject({
      status: "True",
      reason: Reason.PoolAtMaxNodes,
    });
    expect(cond(s, ConditionType.ProviderFailing)).toMatchObject({
      status: "True",
      reason: Reason.InsufficientCapacity,
      message: "out of H100s",
    });
    expect(cond(s, ConditionType.Ready)).toMatchObject({
      status: "False",
      reason: Reason.InsufficientCapacity,
    });
    const stalled = computePoolStatus(input({ plan: plan(1), health: { stalled: "1 node late" } }));
    expect(cond(stalled, ConditionType.ProviderFailing)).toMatchObject({
      reason: Reason.ProvisioningStalled,
    });
  });

  it("keeps lastTransitionTime while a condition's status holds", () => {
    const first = computePoolStatus(input({ nodes: [node("a", "ready")], plan: plan(1) }));
    const later = computePoolStatus(
      input({
        nodes: [node("a", "ready")],
        plan: plan(1),
        previous: first,
        nowIso: "2026-01-05T13:00:00.000Z",
      }),
    );
    expect(cond(later, ConditionType.Ready)?.lastTransitionTime).toBe(NOW);
  });
});
