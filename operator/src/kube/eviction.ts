// The Eviction API (policy/v1): a pod leaves its node the way `kubectl drain` makes it leave, so the API
// server holds the eviction back while a PodDisruptionBudget would be broken (429 TooManyRequests).
import type { KubeApi, KubeObject } from "./client.ts";
import { ApiError, isNotFound, wrap } from "./errors.ts";
import { pathFor, R } from "./resources.ts";

/** evicted: the pod is on its way out; blocked: a PodDisruptionBudget holds it now; gone: it was gone. */
export type EvictionOutcome = "evicted" | "blocked" | "gone";

/** The API server refused for a PodDisruptionBudget (or another reason to wait): try again later. */
export const isTooManyRequests = (err: unknown): boolean =>
  err instanceof ApiError && (err.code === "TooManyRequests" || err.status === 429);

export async function evictPod(
  client: Pick<KubeApi, "create">,
  pod: { namespace: string; name: string; uid?: string },
): Promise<EvictionOutcome> {
  const body = {
    apiVersion: "policy/v1",
    kind: "Eviction",
    metadata: { name: pod.name, namespace: pod.namespace },
    // Only this pod: a namesake created since stays.
    ...(pod.uid ? { deleteOptions: { preconditions: { uid: pod.uid } } } : {}),
  } as KubeObject;
  try {
    await client.create(
      pathFor(R.pods, { namespace: pod.namespace, name: pod.name, subresource: "eviction" }),
      body,
    );
    return "evicted";
  } catch (err) {
    if (isNotFound(err)) return "gone";
    if (isTooManyRequests(err)) return "blocked";
    throw wrap(`evicting pod ${pod.namespace}/${pod.name}`, err);
  }
}
