// The GPUNodePool controller, declared: after each Plan it carries out the plan's nodes for every pool
// through the pool's provider (nodepools/), and reports the pool's nodes, GPUs, cost and power in status.
import type { ControllerSpec } from "../../kube/controller.ts";
import { nodeProviders } from "../../nodepools/index.ts";
import { CACHE } from "../caches.ts";
import type { Planner } from "../planner.ts";
import { forgetPoolMetrics, makePoolReconciler } from "./reconcile.ts";

export const GPU_NODE_POOL = "gpunodepool";

export function gpuNodePoolController(planner: Pick<Planner, "latest">): ControllerSpec {
  return {
    name: GPU_NODE_POOL,
    for: CACHE.pools,
    reads: [CACHE.pods],
    afterPlan: true,
    reconciler: ({ client, caches, events, log, metrics }) => {
      const providers = nodeProviders({ client });
      return makePoolReconciler({
        client,
        pools: caches.informer(CACHE.pools),
        pods: caches.informer(CACHE.pods),
        providers: (type) => providers[type],
        events,
        log,
        planned: () => planner.latest(),
        metrics,
      });
    },
    // A deleted pool's metric series go with it.
    onDelete: (name, { metrics }) => forgetPoolMetrics(metrics, name),
  };
}
