// The InferenceService controller, declared: it reconciles InferenceServices, owns their Deployments and
// Service, and is woken by pools (any service may use one) and HPAs (a conflict in the namespace).
import { Reason } from "../../apis/conditions.ts";
import type { InferenceService } from "../../apis/inferenceservice.ts";
import { allKeys, type ControllerSpec, parseKey } from "../../kube/controller.ts";
import type { PoolSnapshot } from "../../planning/types.ts";
import { CACHE } from "../caches.ts";
import type { Planner } from "../planner.ts";
import { holdDecision, manualDecision, planDecision } from "./decide.ts";
import { type Decider, makeReconciler } from "./reconcile.ts";
import type { Decision } from "./status.ts";

export const INFERENCE_SERVICE = "inferenceservice";

/**
 * Every mode follows the latest Plan, which decides Manual's spec.replicas too, within bounds, pools and
 * budgets. Until a Plan covers the service, replicas hold. In Manual, a spec changed since the Plan was
 * made gets fewer replicas at once, and more only once the next evaluation has checked pools and budgets.
 */
export function planDecider(
  planner: Pick<Planner, "planFor" | "signalsFor" | "plan" | "planned" | "seenFor">,
): Decider {
  // Every decision carries the measured watts per GPU of the pools that read them fresh (spec.power.measured),
  // so the service's status.powerWatts counts what its budget counts.
  return (svc, ctx) => withMeasuredPower(decide(svc, ctx), planner.planned?.snapshot.pools ?? []);
  function evaluated(): { evaluatedAtMs?: number } {
    const at = planner.planned?.nowMs;
    return at === undefined ? {} : { evaluatedAtMs: at };
  }
  /** What the planner learned for the service, for status.learned (a new leader starts from it). */
  function learned(key: string): Pick<Decision, "learned"> {
    const l = planner.plan?.memory.services[key]?.learned;
    return {
      learned: {
        ...(l?.capacityScale !== undefined ? { capacityScale: l.capacityScale } : {}),
        ...(l?.sloHeadroom !== undefined ? { sloHeadroom: l.sloHeadroom } : {}),
      },
    };
  }
  function decide(svc: InferenceService, { deployments, pools }: Parameters<Decider>[1]): Decision {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const plan = planner.planFor(key);
    const signals = planner.signalsFor(key);
    const budgets = planner.plan?.budgets ?? [];
    const seen = planner.seenFor(key);
    if (svc.spec.scaling.mode === "Manual") {
      if (plan && seen?.generation === (svc.metadata.generation ?? 0))
        return {
          ...planDecision(svc, plan, deployments, pools, budgets, seen.variants),
          ...evaluated(),
          ...learned(key),
        };
      const manual = manualDecision(svc, deployments, pools);
      const current = deployments.filter((d) => pools.has(d.pool)).reduce((n, d) => n + d.wanted, 0);
      if (deployments.length > 0 && manual.total <= current) return manual;
      return holdDecision(svc, deployments, pools, {
        reason: Reason.Manual,
        message: `${manual.message}: the next evaluation checks pools and budgets before adding replicas`,
      });
    }
    if (plan)
      return {
        ...planDecision(svc, plan, deployments, pools, budgets, seen?.variants),
        ...(signals ? { signals } : {}),
        ...evaluated(),
        ...learned(key),
      };
    return holdDecision(svc, deployments, pools, {
      reason: Reason.HoldingOnStaleMetrics,
      message: "not evaluated yet: replicas hold",
    });
  }
}

/** The decision with the measured watts per GPU in use of each pool that has them. */
export function withMeasuredPower(decision: Decision, pools: readonly PoolSnapshot[]): Decision {
  const measured = pools.flatMap((p) =>
    p.power?.wattsPerGPU !== undefined ? [[p.name, p.power.wattsPerGPU] as const] : [],
  );
  return measured.length > 0 ? { ...decision, wattsPerGPU: new Map(measured) } : decision;
}

export function inferenceServiceController(planner: Planner): ControllerSpec {
  return {
    name: INFERENCE_SERVICE,
    for: CACHE.services,
    owns: [CACHE.deployments, CACHE.k8sServices],
    watches: [
      { ...CACHE.pools, map: (_pool, caches) => allKeys(caches, CACHE.services) },
      { ...CACHE.hpas, map: (hpa, caches) => allKeys(caches, CACHE.services, hpa.metadata?.namespace) },
    ],
    // Read, not watched: which pods a scale-down removes (deletion.ts).
    reads: [CACHE.pods, CACHE.nodes],
    afterPlan: true,
    reconciler: ({ client, caches, events, log, metrics }) =>
      makeReconciler({
        client,
        caches: {
          services: caches.informer(CACHE.services),
          pools: caches.informer(CACHE.pools),
          deployments: caches.informer(CACHE.deployments),
          k8sServices: caches.informer(CACHE.k8sServices),
          hpas: caches.informer(CACHE.hpas),
          pods: caches.informer(CACHE.pods),
          nodes: caches.informer(CACHE.nodes),
        },
        events,
        log,
        decide: planDecider(planner),
        metrics,
      }),
    onDelete: (key, { metrics }) => {
      const { namespace = "", name } = parseKey(key);
      metrics.desiredReplicas.remove({ namespace, service: name });
      metrics.recommendedReplicas.remove({ namespace, service: name });
    },
  };
}
