import { describe, expect, it } from "vitest";
import { ConditionType, Reason } from "../apis/conditions.ts";
import { testPool } from "../nodepools/testing.ts";
import { buildSnapshot, type World } from "./snapshot.ts";

const world = (pools: World["pools"]): World => ({
  services: [],
  pools,
  budgets: [],
  deployments: [],
  nodes: [],
  pods: [],
  namespaces: [],
});
const failing = (status: string, reason: string, message: string) => ({
  conditions: [
    {
      type: ConditionType.ProviderFailing,
      status,
      reason,
      message,
      lastTransitionTime: "2026-12-06T00:00:00Z",
    },
  ],
});

describe("buildSnapshot: pools", () => {
  it("a pool whose ProviderFailing condition is True cannot grow in the plan, with the condition's words", () => {
    const pools = [
      { ...testPool("stuck"), status: failing("True", Reason.CapacityUnavailable, "no g6.xlarge") },
      { ...testPool("fine"), status: failing("False", Reason.ProviderHealthy, "provider kwok answers") },
      {
        ...testPool("fixed", { provider: { type: "static" } }),
        status: failing("True", "ProviderError", "x"),
      },
      { ...testPool("new") },
      { ...testPool("odd"), status: { conditions: "not a list" } },
    ];
    const kind = { apiVersion: "inferops.dev/v1alpha1", kind: "GPUNodePool" };
    const snap = buildSnapshot(
      world(pools.map((p) => ({ ...kind, ...p }))),
      new Map(),
      { services: {} },
      15_000,
    );
    expect(Object.fromEntries(snap.pools.map((p) => [p.name, p.cannotGrow]))).toEqual({
      stuck: "CapacityUnavailable: no g6.xlarge",
      fine: undefined,
      fixed: undefined,
      new: undefined,
      odd: undefined,
    });
  });
});
