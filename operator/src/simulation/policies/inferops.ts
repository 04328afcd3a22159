// inferops: the shipped decision engine, plan() from planning/plan.ts, imported and called exactly as the
// operator's planning loop calls it (controllers/planner.ts): every evaluation interval (sooner when the Plan
// asks, Plan.replanAfterMs, while growth waits for replicas to drain), a Snapshot built by
// the operator's own builder (controllers/snapshot.ts) from the fleet as its informers would hold it
// (simulation/world.ts: the services, their Deployments, the pools' Nodes and pods, the budgets), with each
// service's signals as the pod-scrape source reads them from its own pods, and the planner's memory from the
// last call; the Plan's replicas per variant and nodes per pool are applied to the fleet, whose scale-downs
// remove the pods the operator's pod-deletion-cost ranks first (controllers/inferenceservice/deletion.ts).
// Mode Recommend applies nothing.
//
// `allocator: "greedy"` is for benchmarks only: the same plan(), with stage 2's allocation done by the greedy
// (allocate.ts) that the optimiser falls back to instead of the optimiser (plan()'s PlanOptions.allocator).

import { buildSnapshot } from "../../controllers/snapshot.ts";
import { type PlanOptions, plan } from "../../planning/plan.ts";
import type { PlannerMemory, Signals } from "../../planning/types.ts";
import type { ReplicaMetrics } from "../../serving/metrics.ts";
import type { Policy } from "../policy.ts";
import { type Scenario, serviceOfPool, servicesOf } from "../scenario.ts";
import { PodScraper } from "../signals.ts";

export type InferopsOptions = PlanOptions;

export function inferopsPolicy(scenario: Scenario, options: InferopsOptions = {}): Policy {
  const intervalMs = scenario.intervalSeconds * 1000;
  const services = servicesOf(scenario);
  const keys = services.map((s) => `${s.namespace}/${s.name}`);
  const scrapers = services.map(() => new PodScraper(intervalMs));
  const serviceOf = serviceOfPool(scenario);
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
    // Before each scale-down the operator ranks the variant's pods (pod-deletion-cost), and the ReplicaSet
    // removes the pods alone on their node first.
    deletion: "deletionCost",
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
      const out = plan(snapshot, view.nowMs, options);
      memory = out.memory;
      const replicas: Record<string, number> = {};
      let applied = false;
      let reason: string | undefined;
      for (const svc of out.services) {
        if (svc.key === keys[0]) reason = svc.replicas.reason;
        const label = services.length > 1 ? `${svc.key}: ${svc.replicas.reason}` : svc.replicas.reason;
        reasons[label] = (reasons[label] ?? 0) + 1;
        if (!svc.apply) continue;
        applied = true;
        for (const v of svc.variants) replicas[v.pool] = v.replicas;
      }
      // Growth waiting for replicas to drain is planned again as soon as they are gone, as the operator does.
      const again = out.replanAfterMs !== undefined ? { againInSeconds: out.replanAfterMs / 1000 } : {};
      const why = reason !== undefined ? { reason } : {};
      if (!applied) return { replicas: {}, ...again, ...why };
      return {
        replicas,
        nodes: Object.fromEntries(out.pools.map((p) => [p.name, p.nodes.value])),
        ...again,
        ...why,
      };
    },
    reasons: () => ({ ...reasons }),
  };
}
