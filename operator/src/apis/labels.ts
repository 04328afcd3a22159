// The labels and annotations the operator writes, and the resource names it reads, in one place: every
// controller, provider and the snapshot builder import them from here.
import type { GPUNodePoolSpec } from "./gpunodepool.ts";

/** On every object inferops makes: `app.kubernetes.io/managed-by: inferops`. */
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "inferops";
/** On a service's Deployments, Service and pods: the InferenceService's name. */
export const LABEL_SERVICE = "inferops.dev/service";
/** On a variant's Deployment and pods: the GPUNodePool the variant runs on. */
export const LABEL_VARIANT = "inferops.dev/variant";
/** A pool's nodes carry it when the pool sets no nodeLabels: the pool's name. */
export const LABEL_POOL = "inferops.dev/pool";

/** A hash of what the operator applied: an equal hash means nothing to write. */
export const ANNOTATION_HASH = "inferops.dev/applied-hash";
/** On a model server's pods: where its metrics are, for Prometheus' pod discovery (docs/signals.md). */
export const ANNOTATION_METRICS_PORT = "inferops.dev/metrics-port";
export const ANNOTATION_METRICS_PATH = "inferops.dev/metrics-path";
/** Set on a node the GPUNodePool controller is draining: its value is when the drain began (RFC 3339). */
export const ANNOTATION_DRAINING = "inferops.dev/draining";
/**
 * Set with ANNOTATION_DRAINING, removed with it: the GPUNodePool the drain is for. A label, so that the
 * nodes a deleted or static pool left cordoned can be found (and `kubectl get nodes -l` shows them).
 */
export const LABEL_DRAINING_POOL = "inferops.dev/draining-pool";

/** The extended resource a GPU node advertises and a replica requests. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/**
 * `namespace/name` of the InferenceService an object of inferops belongs to (a service's Deployments, Service
 * and pods), from its labels: undefined for anything else.
 */
export function owningServiceKey(obj: {
  metadata?: { namespace?: string; labels?: Record<string, string> };
}): string | undefined {
  const labels = obj.metadata?.labels;
  const service = labels?.[LABEL_SERVICE];
  return service && labels?.[LABEL_MANAGED_BY] === MANAGED_BY
    ? `${obj.metadata?.namespace}/${service}`
    : undefined;
}

/** The labels every object and pod of a variant carries. */
export function variantLabels(svc: string, pool: string): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_SERVICE]: svc, [LABEL_VARIANT]: pool };
}

/** The labels a pool's nodes carry, which a replica placed on the pool selects. */
export function poolNodeLabels(pool: {
  metadata: { name: string };
  spec: GPUNodePoolSpec;
}): Record<string, string> {
  return pool.spec.nodeLabels ?? { [LABEL_POOL]: pool.metadata.name };
}
