// inferops: the shipped decision engine, plan() from planning/plan.ts, imported and called exactly as the
// operator's planning loop calls it (controllers/planner.ts): every evaluation interval, a Snapshot built by
// the operator's own builder (controllers/snapshot.ts) from the fleet as its informers would hold it
// (simulation/world.ts: the services, their Deployments, the pools' Nodes and pods, the budgets), with each
// service's signals as the pod-scrape source reads them from its own pods, and the planner's memory from the
// last call; the Plan's replicas per variant and nodes per pool are applied to the fleet. Mode Recommend
// applies nothing.
//
// `allocator: "greedy"` is for benchmarks only: the same stage 1, with stage 2 done by the greedy allocation
// (allocate.ts) that the optimiser falls back to, instead of the optimiser (what plan() runs).

import { buildSnapshot } from "../../controllers/snapshot.ts";
import { allocate, variantOptions } from "../../planning/allocate.ts";
import { pruneScaleEvents } from "../../planning/behavior.ts";
import { decideService } from "../../planning/decide.ts";
import { plan } from "../../planning/plan.ts";
import type { Decided, Plan, PlannerMemory, ServicePlan, Signals, Snapshot } from "../../planning/types.ts";
import type { ReplicaMetrics } from "../../serving/metrics.ts";
import type { Policy } from "../policy.ts";
import { type Scenario, serviceOfPool, servicesOf } from "../scenario.ts";
import { PodScraper } from "../signals.ts";

export interface InferopsOptions {
  /** Stage 2: the optimiser (plan(), the default) or the greedy it falls back to. */
  allocator?: "optimiser" | "greedy";
}

/** plan() with the greedy allocation in place of the optimiser (planning/plan.ts, stage 2 swapped). */
function greedyPlan(snapshot: Snapshot, nowMs: number): Plan {
  const pools = new Map(snapshot.pools.map((p) => [p.name, p]));
  const firsts = snapshot.services.map((svc) => {
    const { options, unusable } = variantOptions(svc.spec.accelerators, pools);
    return decideService(svc, snapshot, pools, { options, unusable: unusable.map((u) => u.why) }, nowMs);
  });
  const allocation = allocate({
    asks: firsts.map((f) => f.ask),
    pools: snapshot.pools,
    budgets: snapshot.budgets,
    nowMs,
  });
  const memory: PlannerMemory = { services: {} };
  const services = firsts.map((f): ServicePlan => {
    const placed = allocation.services.get(f.svc.key)!;
    const replicas: Decided = placed.limitedBy
      ? { value: placed.total, reason: placed.limitedBy.reason, message: placed.limitedBy.message }
      : { ...f.target, value: placed.total };
    const mem = f.memory;
    if (f.apply && placed.total !== f.current) mem.scaleEvents.push([nowMs, placed.total - f.current]);
    mem.scaleEvents = pruneScaleEvents(mem.scaleEvents, nowMs, f.svc.spec.scaling.behavior);
    memory.services[f.svc.key] = mem;
    return {
      key: f.svc.key,
      replicas,
      variants: placed.variants,
      recommended: f.recommended,
      metricsAvailable: { ok: f.metrics.ok, reason: f.metrics.reason, message: f.metrics.message },
      apply: f.apply,
    };
  });
  return { services, pools: allocation.pools, budgets: allocation.budgets, memory };
}

export function inferopsPolicy(scenario: Scenario, options: InferopsOptions = {}): Policy {
  const intervalMs = scenario.intervalSeconds * 1000;
  const services = servicesOf(scenario);
  const keys = services.map((s) => `${s.namespace}/${s.name}`);
  const scrapers = services.map(() => new PodScraper(intervalMs));
  const serviceOf = serviceOfPool(scenario);
  const planner = options.allocator === "greedy" ? greedyPlan : plan;
  let memory: PlannerMemory = { services: {} };
  let signals: Signals[] | undefined;
  const reasons: Record<string, number> = {};
  const scaling = scenario.service.spec.scaling;
  return {
    name: options.allocator === "greedy" ? "inferops-greedy" : "inferops",
    family: "inferops",
    params: {
      intervalSeconds: scenario.intervalSeconds,
      tokenUtilization: scaling.targets.tokenUtilization,
      queueDepthPerReplica: scaling.targets.queueDepthPerReplica,
      ...(scaling.targets.ttftSeconds !== undefined ? { ttftSeconds: scaling.targets.ttftSeconds } : {}),
      scaleDownWindowSeconds: scaling.behavior.scaleDown.stabilizationWindowSeconds,
      minReplicas: scaling.minReplicas,
      maxReplicas: scaling.maxReplicas,
      ...(options.allocator ? { allocator: options.allocator } : {}),
    },
    intervalSeconds: scenario.intervalSeconds,
    observe(view) {
      const pods = services.map((): { pod: string; metrics: ReplicaMetrics }[] => []);
      for (const r of view.readyMetrics())
        pods[serviceOf.get(r.pod.pool) ?? 0]!.push({ pod: String(r.pod.id), metrics: r.metrics });
      signals = scrapers.map((s, i) => s.scrape(pods[i]!, view.nowMs));
    },
    decide(view) {
      // The operator's own builder, from the objects its informers would hold (simulation/world.ts).
      const snapshot = buildSnapshot(
        view.world(),
        new Map(signals ? keys.map((key, i) => [key, { signals: signals![i]! }]) : []),
        memory,
        intervalMs,
      );
      const out = planner(snapshot, view.nowMs);
      memory = out.memory;
      const replicas: Record<string, number> = {};
      let applied = false;
      for (const svc of out.services) {
        const label = services.length > 1 ? `${svc.key}: ${svc.replicas.reason}` : svc.replicas.reason;
        reasons[label] = (reasons[label] ?? 0) + 1;
        if (!svc.apply) continue;
        applied = true;
        for (const v of svc.variants) replicas[v.pool] = v.replicas;
      }
      if (!applied) return { replicas: {} };
      return { replicas, nodes: Object.fromEntries(out.pools.map((p) => [p.name, p.nodes.value])) };
    },
    reasons: () => ({ ...reasons }),
  };
}
