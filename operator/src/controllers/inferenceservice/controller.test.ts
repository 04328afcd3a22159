import { describe, expect, it } from "vitest";
import { gpuNodePool } from "../../../../test/helpers/objects.ts";
import { gpuNodePoolSchema } from "../../apis/gpunodepool.ts";
import { inferenceServiceSchema } from "../../apis/inferenceservice.ts";
import type { BudgetPlan, Plan, ServicePlan, Snapshot } from "../../planning/types.ts";
import { planDecider } from "./controller.ts";
import { budgetLimit } from "./decide.ts";
import { computeStatus, type DeploymentView } from "./status.ts";

const make = (scaling: object, extra: object = {}, generation = 2) =>
  inferenceServiceSchema.parse({
    apiVersion: "inferops.dev/v1alpha1",
    kind: "InferenceService",
    metadata: { name: "s", namespace: "n", generation },
    spec: {
      model: { name: "m", server: "vllm" },
      template: { spec: { containers: [{ name: "c" }] } },
      accelerators: [{ pool: "a" }],
      scaling,
      ...extra,
    },
  });
const pools = new Map([["a", gpuNodePoolSchema.parse(gpuNodePool("a"))]]);
const view = (wanted: number): DeploymentView => ({
  pool: "a",
  wanted,
  replicas: wanted,
  readyReplicas: wanted,
  updatedReplicas: wanted,
  observed: true,
});
const held: BudgetPlan = {
  name: "shared",
  used: { costPerHour: 20, powerWatts: 1400, gpus: { "nvidia-h100-80gb": 2 } },
  heldBack: [{ key: "n/s", replicas: 3, limit: "powerWatts" }],
};

/** A Plan that gives the service `replicas` (cut by the budget above when `limited`), made at `generation`. */
function planner(
  replicas: number,
  opts: { generation?: number; limited?: boolean; seen?: number; reason?: string } = {},
) {
  const service: ServicePlan = {
    key: "n/s",
    replicas: opts.limited
      ? { value: replicas, reason: "BudgetBinding", message: "3 replicas held back by CapacityBudget" }
      : { value: replicas, reason: opts.reason ?? "Manual", message: "mode Manual: spec.replicas" },
    variants: [{ pool: "a", replicas }],
    recommended: { value: replicas, reason: "NoDemand", message: "" },
    metricsAvailable: { ok: true, reason: "MetricsFresh", message: "" },
    apply: true,
  };
  const plan: Plan = {
    services: [service],
    pools: [],
    budgets: opts.limited ? [held] : [],
    memory: { services: {} },
  };
  const seen = {
    key: "n/s",
    generation: opts.generation ?? 2,
    variants: opts.seen !== undefined ? [{ pool: "a", replicas: opts.seen, readyReplicas: opts.seen }] : [],
  };
  const snapshot = { services: [seen] } as unknown as Snapshot;
  return {
    plan,
    planned: { snapshot, nowMs: 0 },
    planFor: (key: string) => (key === "n/s" ? service : undefined),
    signalsFor: () => undefined,
    seenFor: (key: string) => (key === "n/s" ? (seen as unknown as Snapshot["services"][number]) : undefined),
  };
}

describe("planDecider: a plan lowers replicas only from what it saw", () => {
  const auto = make({ mode: "Auto", minReplicas: 1, maxReplicas: 12 });

  it("keeps what runs when the plan saw fewer and did not decide a decrease (its caches were behind)", () => {
    // After an API server outage the plan saw 4 (a stale cache) and its scale-up limit allowed 4; the
    // Deployment runs 6: removing 2 would be a scale-down nobody decided.
    const d = planDecider(planner(4, { seen: 4, reason: "ScaleUpLimit" }))(auto, {
      deployments: [view(6)],
      pools,
    });
    expect(d.total).toBe(6);
    expect(d.perVariant.get("a")).toBe(6);
    expect(d.message).toContain("keeps 6 (the plan saw 4 and asked 4)");
    const up = planDecider(planner(6, { seen: 4, reason: "QueueDepth" }))(auto, {
      deployments: [view(8)],
      pools,
    });
    expect(up.total).toBe(8);
  });

  it("dates the decision by the evaluation that made its Plan (the actuation latency counts from it)", () => {
    const made = planner(4, { seen: 4, reason: "QueueDepth" });
    const d = planDecider({ ...made, planned: { ...made.planned, nowMs: 1_700_000_000_000 } })(auto, {
      deployments: [view(4)],
      pools,
    });
    expect(d.evaluatedAtMs).toBe(1_700_000_000_000);
    expect(
      planDecider({ ...made, planned: undefined, plan: undefined, planFor: () => undefined })(auto, {
        deployments: [view(4)],
        pools,
      }).evaluatedAtMs,
    ).toBeUndefined();
  });

  it("applies a decrease the plan decided from what it saw", () => {
    const d = planDecider(planner(4, { seen: 6, reason: "QueueDepth" }))(auto, {
      deployments: [view(6)],
      pools,
    });
    expect(d.total).toBe(4);
    const fresh = planDecider(planner(5, { seen: 5, reason: "QueueDepth" }))(auto, {
      deployments: [view(5)],
      pools,
    });
    expect(fresh.total).toBe(5);
  });
});

describe("planDecider in mode Manual", () => {
  const manual = (replicas: number, generation = 2) =>
    make({ mode: "Manual", minReplicas: 1, maxReplicas: 8 }, { replicas }, generation);

  it("follows the Plan made for the current spec: budgets apply to spec.replicas", () => {
    const d = planDecider(planner(2, { limited: true }))(manual(5), { deployments: [view(2)], pools });
    expect(d.total).toBe(2);
    expect(d.reason).toBe("BudgetBinding");
    expect(d.budgetLimited).toEqual({
      budgets: ["shared"],
      message: "CapacityBudget shared holds back 3 replicas (powerWatts)",
    });
  });

  it("after kubectl scale, removes replicas at once but adds them only once a Plan has checked budgets", () => {
    const p = planner(4, { generation: 1 });
    const down = planDecider(p)(manual(2), { deployments: [view(4)], pools });
    expect(down.total).toBe(2);
    const up = planDecider(p)(manual(6), { deployments: [view(4)], pools });
    expect(up).toMatchObject({ total: 4, reason: "Manual" });
    expect(up.message).toContain("the next evaluation checks pools and budgets");
  });
});

describe("budgetLimit", () => {
  it("names every budget that holds the service back, and nothing for the others", () => {
    const other: BudgetPlan = {
      ...held,
      name: "gpus",
      heldBack: [{ key: "n/s", replicas: 1, limit: "gpus/l4" }],
    };
    expect(budgetLimit("n/s", [held, other])?.budgets).toEqual(["shared", "gpus"]);
    expect(budgetLimit("n/other", [held, other])).toBeUndefined();
  });
});

describe("status from a Plan", () => {
  const statusOf = (svc: ReturnType<typeof make>, p: ReturnType<typeof planner>) => {
    const decision = planDecider(p)(svc, { deployments: [view(2)], pools });
    return computeStatus({
      svc,
      pools,
      deployments: [view(2)],
      decision,
      unknownPools: [],
      conflicts: [],
      nowIso: "2026-01-01T00:00:00Z",
    });
  };
  const cond = (s: ReturnType<typeof statusOf>, type: string) => s.conditions?.find((c) => c.type === type);

  it("BudgetLimited names the budget that holds the service back", () => {
    const s = statusOf(make({ mode: "Auto", minReplicas: 1, maxReplicas: 8 }), planner(2, { limited: true }));
    expect(cond(s, "BudgetLimited")).toMatchObject({
      status: "True",
      reason: "BudgetBinding",
      message: "CapacityBudget shared holds back 3 replicas (powerWatts)",
    });
    expect(s.recommendation).toBeUndefined();
    const free = statusOf(make({ mode: "Auto", minReplicas: 1, maxReplicas: 8 }), planner(2));
    expect(cond(free, "BudgetLimited")).toMatchObject({ status: "False", reason: "WithinBudget" });
  });

  it("mode Recommend shows what the Plan would run in status.recommendation, and holds", () => {
    const s = statusOf(make({ mode: "Recommend", minReplicas: 1, maxReplicas: 8 }), planner(5));
    expect(s.recommendation).toEqual({
      replicas: 5,
      reason: "Manual",
      message: "mode Manual: spec.replicas",
    });
    expect(s.desiredReplicas).toBe(2);
  });
});
