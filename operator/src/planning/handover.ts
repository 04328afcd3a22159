// Stage 2, last step: budgets hold through hand-overs. A replica a scale-down removes keeps its GPUs while it
// drains its requests, and a replica added starts meanwhile, so while a fleet changes, a budget's scope uses
// each variant's larger of planned and current replicas, plus the pods still being deleted. When that
// exceeds a limit in force, the growth in the plan waits: replicas added beyond what a service runs now are
// taken back, lowest priority first and from its least preferred variant, until it fits or no growth is
// left. Nothing is cut below what a service runs or below its minReplicas, so a shrinking service keeps
// what it asked for, and the growth comes at the next plan once the pods are gone.
import { Reason } from "../apis/conditions.ts";
import { type Allocation, nodesFor, poolPlan, type ServiceAsk } from "./allocate.ts";
import { addUsage, emptyUsage, exceededLimits, inScope, plannedLimits, type Usage } from "./budgets.ts";
import type { BudgetSnapshot, PoolSnapshot } from "./types.ts";

/** How soon the planner looks again when growth waits for replicas to drain. */
export const HANDOVER_REPLAN_MS = 2_000;

export function holdGrowthWhileDraining(input: {
  allocation: Allocation;
  asks: readonly ServiceAsk[];
  budgets: readonly BudgetSnapshot[];
  pools: readonly PoolSnapshot[];
  nowMs: number;
}): Allocation {
  const { allocation, asks, nowMs } = input;
  // Replicas per pool of the services whose growth is taken back, made when the first is taken.
  const rows = new Map<string, Map<string, number>>();
  const rowOf = (a: ServiceAsk): Map<string, number> => {
    let row = rows.get(a.key);
    if (!row) {
      row = new Map((allocation.services.get(a.key)?.variants ?? []).map((v) => [v.pool, v.replicas]));
      rows.set(a.key, row);
    }
    return row;
  };
  const placedOn = (a: ServiceAsk, pool: string): number => {
    const row = rows.get(a.key);
    if (row) return row.get(pool) ?? 0;
    const variants = allocation.services.get(a.key)?.variants ?? [];
    for (let i = variants.length - 1; i >= 0; i--)
      if (variants[i]!.pool === pool) return variants[i]!.replicas;
    return 0;
  };
  const held = new Map<string, { replicas: number; budgets: string[] }>();
  const taken: { ask: ServiceAsk; pool: string }[] = [];
  const budgets = [...input.budgets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const b of budgets) {
    const { limits } = plannedLimits(b.spec, nowMs);
    const scope = asks.filter((a) => inScope(b, a.namespace));
    const usage: Usage = emptyUsage();
    for (const a of scope)
      for (const o of a.options) {
        const p = placedOn(a, o.pool);
        addUsage(usage, o.footprint, Math.max(p, a.current[o.pool] ?? 0) + (a.draining?.[o.pool] ?? 0));
      }
    if (exceededLimits(usage, limits).length === 0) continue;
    // Growth, lowest priority first (then by key, for the same plan from the same input).
    const growing = scope
      .filter((a) => !a.fixed)
      .sort((x, y) => x.priority - y.priority || (x.key < y.key ? 1 : x.key > y.key ? -1 : 0));
    for (const a of growing) {
      const row = rowOf(a);
      // Minimums are never held back (the allocation says so when they alone exceed a budget).
      let total = [...row.values()].reduce((s, n) => s + n, 0);
      for (const o of [...a.options].reverse()) {
        while (
          exceededLimits(usage, limits).length > 0 &&
          total > a.minReplicas &&
          (row.get(o.pool) ?? 0) > (a.current[o.pool] ?? 0)
        ) {
          total--;
          row.set(o.pool, row.get(o.pool)! - 1);
          addUsage(usage, o.footprint, -1);
          taken.push({ ask: a, pool: o.pool });
          const h = held.get(a.key) ?? { replicas: 0, budgets: [] };
          h.replicas++;
          if (!h.budgets.includes(b.name)) h.budgets.push(b.name);
          held.set(a.key, h);
        }
      }
      if (exceededLimits(usage, limits).length === 0) break;
    }
  }
  if (taken.length === 0) return allocation;

  const services = new Map(allocation.services);
  for (const [key, h] of held) {
    const before = allocation.services.get(key)!;
    const row = rows.get(key)!;
    const variants = before.variants.map((v) => ({ pool: v.pool, replicas: row.get(v.pool) ?? v.replicas }));
    const wait = {
      reason: Reason.BudgetBinding,
      message: `${h.replicas} replicas wait for replicas in the scope of CapacityBudget ${h.budgets.join(", ")} to drain: budget a scale-down frees is handed over once its pods are gone`,
    };
    services.set(key, {
      variants,
      total: variants.reduce((s, v) => s + v.replicas, 0),
      limitedBy: before.limitedBy
        ? { reason: before.limitedBy.reason, message: `${before.limitedBy.message}; ${wait.message}` }
        : wait,
    });
  }
  // Pools need no more nodes than the replicas now placed on them.
  const touched = new Set(taken.map((t) => t.pool));
  const snaps = new Map(input.pools.map((p) => [p.name, p]));
  const pools = allocation.pools.map((pp) => {
    const snap = snaps.get(pp.name);
    if (!touched.has(pp.name) || !snap) return pp;
    const counts = new Map<number, number>();
    for (const a of asks)
      for (const o of a.options)
        if (o.pool === pp.name) {
          const n = placedOn(a, o.pool);
          counts.set(o.gpusPerReplica, (counts.get(o.gpusPerReplica) ?? 0) + n);
        }
    if (nodesFor(counts, snap.spec.gpu.count) >= pp.nodes.value) return pp;
    const fewer = poolPlan(snap, counts, false);
    return fewer.nodes.value < pp.nodes.value ? fewer : pp;
  });
  // Budgets report what the plan now uses.
  const plans = allocation.budgets.map((bp) => {
    const b = budgets.find((x) => x.name === bp.name);
    if (!b) return bp;
    const used = { ...bp.used, gpus: { ...bp.used.gpus } };
    for (const t of taken) {
      if (!inScope(b, t.ask.namespace)) continue;
      const f = t.ask.options.find((o) => o.pool === t.pool)!.footprint;
      used.costPerHour -= f.costPerHour;
      used.powerWatts -= f.powerWatts;
      used.gpus[f.gpuType] = (used.gpus[f.gpuType] ?? 0) - f.gpus;
      if (used.gpus[f.gpuType]! <= 0) delete used.gpus[f.gpuType];
    }
    return { ...bp, used };
  });
  return { services, pools, budgets: plans };
}
