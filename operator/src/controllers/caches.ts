// The caches controllers and the planner share: one request each, so equal requests share one informer.

import { LABEL_DRAINING_POOL, LABEL_MANAGED_BY, LABEL_POOL, MANAGED_BY } from "../apis/labels.ts";
import type { CacheRequest } from "../kube/controller.ts";
import { R } from "../kube/resources.ts";

const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

export const CACHE = {
  services: { resource: R.inferenceServices },
  pools: { resource: R.gpuNodePools },
  budgets: { resource: R.capacityBudgets },
  /** Only the Deployments, Services and pods inferops made. */
  deployments: { resource: R.deployments, labelSelector: managed },
  k8sServices: { resource: R.services, labelSelector: managed },
  pods: { resource: R.pods, labelSelector: managed },
  /** Nodes that belong to a pool (default node labels). */
  nodes: { resource: R.nodes, labelSelector: LABEL_POOL },
  /** Nodes the GPUNodePool controller cordoned to drain (usually none). */
  drainingNodes: { resource: R.nodes, labelSelector: LABEL_DRAINING_POOL },
  namespaces: { resource: R.namespaces },
  hpas: { resource: R.hpas },
} as const satisfies Record<string, CacheRequest>;
