// plan(): the decision engine. Pure and deterministic: the same Snapshot and time give the same Plan.
//
// Stage 1, per service (decide.ts: observe, recommend, behave, bound; recommend.ts, forecast.ts, behavior.ts):
//   signals fresh?  no  -> hold the current replicas (within bounds), MetricsMissing / MetricsStale
//                   yes -> recommendation = largest of queue, token, SLO and forecast views
//                          scale to zero after idleSeconds without demand; wake on activation demand
//                          behaviour: HPA tolerance, stabilization (scale-down window at least the lead
//                          time), panic mode, rate policies (mode Auto only)
//   mode Manual -> spec.replicas ?? minReplicas; bounds always.
// Stage 2, across services (optimise.ts; allocate.ts, the greedy, as its fallback; budgets.ts): variants,
// pools, budgets; then growth waits while replicas a scale-down removed drain (handover.ts). The greedy can
// be chosen in the optimiser's place (PlanOptions.allocator): the simulator's `inferops-greedy` and bench:plan.
import { allocate, variantOptions } from "./allocate.ts";
import { pruneScaleEvents } from "./behavior.ts";
import { decideService } from "./decide.ts";
import { HANDOVER_REPLAN_MS, holdGrowthWhileDraining } from "./handover.ts";
import { optimise } from "./optimise.ts";
import type { Decided, Plan, ServicePlan, Snapshot } from "./types.ts";

export {
  DEFAULT_PROVISIONING_SECONDS,
  leadTimeSeconds,
  MODEL_LOAD_SECONDS,
  STALE_INTERVALS,
  signalHealth,
} from "./decide.ts";

export interface PlanOptions {
  /**
   * Stage 2's allocation: the optimiser (the default, what the operator runs) or the greedy it falls back to
   * (for benchmarks). Everything else in plan() is the same for both.
   */
  allocator?: "optimiser" | "greedy";
}

/** The decision engine: a Snapshot and the time in, a Plan out. Pure and deterministic. */
export function plan(snapshot: Snapshot, nowMs: number, { allocator }: PlanOptions = {}): Plan {
  const pools = new Map(snapshot.pools.map((p) => [p.name, p]));
  const firsts = snapshot.services.map((svc) => {
    const { options, unusable } = variantOptions(svc.spec.accelerators, pools);
    return decideService(svc, snapshot, pools, { options, unusable: unusable.map((u) => u.why) }, nowMs);
  });
  const asks = firsts.map((f) => f.ask);
  const allocated = (allocator === "greedy" ? allocate : optimise)({
    asks,
    pools: snapshot.pools,
    budgets: snapshot.budgets,
    nowMs,
    leadSeconds: new Map(firsts.map((f) => [f.svc.key, f.lead])),
  });
  const allocation = holdGrowthWhileDraining({
    allocation: allocated,
    asks,
    budgets: snapshot.budgets,
    pools: snapshot.pools,
    nowMs,
  });

  const memory: Plan["memory"] = { services: {} };
  const services = firsts.map((f): ServicePlan => {
    const placed = allocation.services.get(f.svc.key)!;
    const limit = placed.limitedBy ?? f.boundsLimit;
    const replicas: Decided = placed.limitedBy
      ? {
          value: placed.total,
          reason: placed.limitedBy.reason,
          message: `${placed.limitedBy.message} (wanted ${f.target.value}: ${f.target.reason})`,
        }
      : { ...f.target, value: placed.total };
    const mem = f.memory;
    const events: [number, number][] =
      f.apply && placed.total !== f.current
        ? [...mem.scaleEvents, [nowMs, placed.total - f.current]]
        : mem.scaleEvents;
    mem.scaleEvents = pruneScaleEvents(events, nowMs, f.svc.spec.scaling.behavior);
    memory.services[f.svc.key] = mem;
    const out: ServicePlan = {
      key: f.svc.key,
      replicas,
      variants: placed.variants,
      recommended: f.recommended,
      metricsAvailable: { ok: f.metrics.ok, reason: f.metrics.reason, message: f.metrics.message },
      apply: f.apply,
    };
    if (limit) out.limitedBy = limit;
    return out;
  });
  return {
    services,
    pools: allocation.pools,
    budgets: allocation.budgets,
    memory,
    ...(allocation !== allocated ? { replanAfterMs: HANDOVER_REPLAN_MS } : {}),
  };
}
