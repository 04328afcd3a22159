// inferops: the shipped decision engine, plan() from planning/plan.ts, imported and called exactly as the
// operator's planning loop calls it (controllers/planner.ts): every evaluation interval, a Snapshot built by
// the operator's own builder (controllers/snapshot.ts) from the fleet as its informers would hold it
// (simulation/world.ts: the service, its Deployments, the pools' Nodes and pods, the budgets), with the
// signals as the pod-scrape source reads them and the planner's memory from the last call;
// the Plan's replicas per variant and nodes per pool are applied to the fleet. Mode Recommend applies nothing.

import { buildSnapshot } from "../../controllers/snapshot.ts";
import { plan } from "../../planning/plan.ts";
import type { PlannerMemory, Signals } from "../../planning/types.ts";
import type { Policy } from "../policy.ts";
import type { Scenario } from "../scenario.ts";
import { PodScraper } from "../signals.ts";

export function inferopsPolicy(scenario: Scenario): Policy {
  const intervalMs = scenario.intervalSeconds * 1000;
  const scraper = new PodScraper(intervalMs);
  const { namespace, name, spec } = scenario.service;
  const key = `${namespace}/${name}`;
  let memory: PlannerMemory = { services: {} };
  let signals: Signals | undefined;
  const reasons: Record<string, number> = {};
  const scaling = spec.scaling;
  return {
    name: "inferops",
    family: "inferops",
    params: {
      intervalSeconds: scenario.intervalSeconds,
      tokenUtilization: scaling.targets.tokenUtilization,
      queueDepthPerReplica: scaling.targets.queueDepthPerReplica,
      ...(scaling.targets.ttftSeconds !== undefined ? { ttftSeconds: scaling.targets.ttftSeconds } : {}),
      scaleDownWindowSeconds: scaling.behavior.scaleDown.stabilizationWindowSeconds,
      minReplicas: scaling.minReplicas,
      maxReplicas: scaling.maxReplicas,
    },
    intervalSeconds: scenario.intervalSeconds,
    observe(view) {
      const pods = view.readyMetrics().map((r) => ({ pod: String(r.pod.id), metrics: r.metrics }));
      signals = scraper.scrape(pods, view.nowMs);
    },
    decide(view) {
      // The operator's own builder, from the objects its informers would hold (simulation/world.ts).
      const snapshot = buildSnapshot(
        view.world(),
        new Map(signals ? [[key, { signals }]] : []),
        memory,
        intervalMs,
      );
      const out = plan(snapshot, view.nowMs);
      memory = out.memory;
      const svc = out.services[0]!;
      reasons[svc.replicas.reason] = (reasons[svc.replicas.reason] ?? 0) + 1;
      if (!svc.apply) return { replicas: {} };
      return {
        replicas: Object.fromEntries(svc.variants.map((v) => [v.pool, v.replicas])),
        nodes: Object.fromEntries(out.pools.map((p) => [p.name, p.nodes.value])),
      };
    },
    reasons: () => ({ ...reasons }),
  };
}
