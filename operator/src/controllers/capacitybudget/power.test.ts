// Measured power in budgets: the plan counts a measured pool's watts per GPU in use, the status says which
// source it used, and a stale measurement counts nominal watts (never zero) with PowerMeasured False.
import { describe, expect, it } from "vitest";
import { type CapacityBudget, capacityBudgetSchema } from "../../apis/capacitybudget.ts";
import { plan } from "../../planning/plan.ts";
import { budget, pool, service, serviceSpec, snapshot, T0 } from "../../planning/testkit.ts";
import type { PoolSnapshot } from "../../planning/types.ts";
import { type PoolPower, poolPower } from "../../signals/power.ts";
import { transitions } from "./events.ts";
import { computeBudgetStatus } from "./status.ts";

const DCGM = { source: "DCGM" as const };

function budgetObject(spec: unknown): CapacityBudget {
  return capacityBudgetSchema.parse({
    apiVersion: "inferops.dev/v1alpha1",
    kind: "CapacityBudget",
    metadata: { name: "shared", generation: 1 },
    spec,
  });
}

/** The h100 pool (700 W busy, 90 W idle per GPU) with spec.power.measured, one 8-GPU node, 4 GPUs in use. */
function measuredPool(power: PoolPower | undefined, measured: object | null = DCGM): PoolSnapshot {
  return pool(
    "h100",
    { power: { busyWattsPerGPU: 700, idleWattsPerGPU: 90, ...(measured ? { measured } : {}) } } as never,
    { nodes: 1, readyNodes: 1, allocatableGPUs: 8, usedGPUs: 4, ...(power ? { power } : {}) },
  );
}

/** What the snapshot builder makes of a reading of `watts` on the pool's one node. */
const reading = (watts?: number) =>
  poolPower({
    power: { busyWattsPerGPU: 700, idleWattsPerGPU: 90, measured: DCGM },
    nodes: [{ name: "n0", gpus: 8 }],
    usedGPUs: 4,
    ...(watts !== undefined ? { reading: { ok: true as const, watts: new Map([["n0", watts]]) } } : {}),
  });

/** Two Manual services of one-GPU replicas on h100, 2 replicas each, under a power limit. */
function status(
  pools: PoolSnapshot[],
  limits: object = { powerWatts: 100_000 },
  previous?: CapacityBudget["status"],
) {
  const spec = { limits };
  const snap = snapshot(
    [
      service("high", { spec: serviceSpec({ priority: 900, replicas: 2, scaling: { mode: "Manual" } }) }),
      service("low", { spec: serviceSpec({ priority: 100, replicas: 2, scaling: { mode: "Manual" } }) }),
    ],
    { pools, budgets: [budget("shared", spec as never)] },
  );
  const p = plan(snap, T0);
  return {
    plan: p,
    status: computeBudgetStatus({
      budget: { ...budgetObject(spec), ...(previous ? { status: previous } : {}) },
      plan: p.budgets[0]!,
      services: new Map(p.services.map((s) => [s.key, s])),
      snapshot: snap,
      nowMs: T0,
      nowIso: "2026-01-01T00:00:00Z",
    }),
  };
}
const cond = (s: { conditions?: { type: string }[] }, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe("budgets with measured power", () => {
  it("counts the measured watts per GPU in use and says DCGM", () => {
    // 1800 W on the node; 4 idle GPUs at 90 W = 360 W; 1440 W over the 4 GPUs in use = 360 W per GPU.
    const { status: s } = status([measuredPool(reading(1800))]);
    expect(s.powerSource).toBe("DCGM");
    expect(s.used?.powerWatts).toBe(4 * 360);
    expect(cond(s, "PowerMeasured")).toMatchObject({ status: "True", reason: "PowerMeasured" });
  });

  it("keeps the used watts it reported while the measured draw wavers within 2%, so status is not rewritten", () => {
    const first = status([measuredPool(reading(1800))]).status;
    expect(status([measuredPool(reading(1820))], undefined, first).status).toEqual(first);
    expect(status([measuredPool(reading(2000))], undefined, first).status.used?.powerWatts).toBe(4 * 410);
  });

  it("reports the new watts, however close, when the GPUs it counts changed (a replica more or fewer)", () => {
    const first = status([measuredPool(reading(1800))]).status;
    const fewer = { ...first, used: { ...first.used, gpus: [{ type: "nvidia-h100", count: 3 }] } };
    expect(status([measuredPool(reading(1820))], undefined, fewer).status.used?.powerWatts).toBe(4 * 365);
  });

  it("a measured draw lower than nominal lets more replicas in under the same limit", () => {
    const limits = { powerWatts: 2000 }; // nominal: 2 replicas of 700 W; measured: 5 of 360 W
    const held = (pools: PoolSnapshot[]) =>
      status(pools, limits).status.heldBack?.reduce((n, h) => n + h.replicas, 0);
    expect(held([measuredPool(undefined, null)])).toBe(2);
    expect(held([measuredPool(reading(1800))])).toBe(0);
  });

  it("a stale measurement counts nominal watts, never zero, and says so", () => {
    const { status: s } = status([measuredPool(reading())]);
    expect(s.powerSource).toBe("Nominal");
    expect(s.used?.powerWatts).toBe(4 * 700);
    expect(cond(s, "PowerMeasured")).toMatchObject({
      status: "False",
      reason: "PowerMeasurementStale",
      message: "h100: no DCGM reading taken yet; the pool counts nominal watts",
    });
  });

  it("says Mixed when the pools it counts differ, and has no PowerMeasured when none is measured", () => {
    const l40s = pool("l40s", { gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 } });
    const spec = serviceSpec({ priority: 500, replicas: 2, scaling: { mode: "Manual" } });
    const other = service("other", {
      spec: { ...spec, accelerators: [{ pool: "l40s", gpusPerReplica: 1 }] },
      variants: [{ pool: "l40s", replicas: 2, readyReplicas: 2 }],
    });
    const snap = snapshot([service("high", { spec }), other], {
      pools: [measuredPool(reading(1800)), l40s],
      budgets: [budget("shared", { limits: { powerWatts: 100_000 } } as never)],
    });
    const p = plan(snap, T0);
    const s = computeBudgetStatus({
      budget: budgetObject({ limits: { powerWatts: 100_000 } }),
      plan: p.budgets[0]!,
      services: new Map(p.services.map((x) => [x.key, x])),
      snapshot: snap,
      nowMs: T0,
      nowIso: "2026-01-01T00:00:00Z",
    });
    expect(s.powerSource).toBe("Mixed");
    const nominal = status([measuredPool(undefined, null)]).status;
    expect(nominal.powerSource).toBe("Nominal");
    expect(cond(nominal, "PowerMeasured")).toBeUndefined();
  });

  it("records an event when a pool it counts turns stale and when it is fresh again", () => {
    const fresh = status([measuredPool(reading(1800))]).status;
    const stale = status([measuredPool(reading())], undefined, fresh).status;
    expect(transitions(fresh, stale)).toContainEqual(
      expect.objectContaining({ type: "Warning", reason: "PowerMeasurementStale" }),
    );
    expect(transitions(stale, status([measuredPool(reading(1800))], undefined, stale).status)).toContainEqual(
      expect.objectContaining({ type: "Normal", reason: "PowerMeasured" }),
    );
    expect(transitions(stale, stale)).toEqual([]);
  });
});
