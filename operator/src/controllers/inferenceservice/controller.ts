// The InferenceService controller, declared: it reconciles InferenceServices, owns their Deployments and
// Service, and is woken by pools (any service may use one) and HPAs (a conflict in the namespace).
import { Reason } from "../../apis/conditions.ts";
import { allKeys, type ControllerSpec, parseKey } from "../../kube/controller.ts";
import { CACHE } from "../caches.ts";
import type { Planner } from "../planner.ts";
import { holdDecision, manualDecision, planDecision } from "./decide.ts";
import { type Decider, makeReconciler } from "./reconcile.ts";

export const INFERENCE_SERVICE = "inferenceservice";

/** Manual follows spec.replicas; Auto and Recommend follow the latest Plan, and hold until there is one. */
export function planDecider(planner: Pick<Planner, "planFor" | "signalsFor">): Decider {
  return (svc, { deployments, pools }) => {
    if (svc.spec.scaling.mode === "Manual") return manualDecision(svc, deployments, pools);
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const plan = planner.planFor(key);
    const signals = planner.signalsFor(key);
    if (plan) return { ...planDecision(svc, plan, deployments, pools), ...(signals ? { signals } : {}) };
    return holdDecision(svc, deployments, pools, {
      reason: Reason.HoldingOnStaleMetrics,
      message: "not evaluated yet: replicas hold",
    });
  };
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
        },
        events,
        log,
        decide: planDecider(planner),
        metrics,
      }),
    onDelete: (key, { metrics }) => {
      const { namespace = "", name } = parseKey(key);
      metrics.desiredReplicas.remove({ namespace, service: name });
    },
  };
}
