// The GPUNodePool controller, declared: after each Plan it carries out the plan's nodes for every pool
// through the pool's provider (nodepools/), and reports the pool's nodes, GPUs, cost and power in status.
// A pool gone from the cache (deleted, perhaps while no operator ran) whose nodes it left cordoned is
// reconciled after each Plan too, and uncordons them.
import { LABEL_DRAINING_POOL } from "../../apis/labels.ts";
import type { KubeObject } from "../../kube/client.ts";
import type { ControllerSpec } from "../../kube/controller.ts";
import { nodeProviders } from "../../nodepools/index.ts";
import { CACHE } from "../caches.ts";
import type { Planner } from "../planner.ts";
import { forgetPoolMetrics, makePoolReconciler } from "./reconcile.ts";

export const GPU_NODE_POOL = "gpunodepool";

/** The pools that nodes are draining for (LABEL_DRAINING_POOL) and that no longer exist. */
export function orphanedPools(
  draining: readonly KubeObject[],
  pools: { get(name: string): KubeObject | undefined },
): string[] {
  const named = draining.map((n) => n.metadata?.labels?.[LABEL_DRAINING_POOL] ?? "");
  return [...new Set(named)].filter((pool) => pool !== "" && pools.get(pool) === undefined);
}

export function gpuNodePoolController(planner: Pick<Planner, "latest">): ControllerSpec {
  return {
    name: GPU_NODE_POOL,
    for: CACHE.pools,
    reads: [CACHE.pods, CACHE.drainingNodes],
    afterPlan: true,
    orphanKeys: (caches) =>
      orphanedPools(caches.informer(CACHE.drainingNodes).list(), caches.informer(CACHE.pools)),
    reconciler: ({ client, caches, events, log, metrics }) => {
      const providers = nodeProviders({ client });
      return makePoolReconciler({
        client,
        pools: caches.informer(CACHE.pools),
        pods: caches.informer(CACHE.pods),
        draining: caches.informer(CACHE.drainingNodes),
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
