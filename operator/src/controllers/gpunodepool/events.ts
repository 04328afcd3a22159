// Events of the GPUNodePool controller: one function each, so wording stays in one place. A pool is
// cluster-scoped: its events go to the default namespace (kubectl get events -n default).
import { Reason } from "../../apis/conditions.ts";
import type { KubeObject } from "../../kube/client.ts";
import type { EventSpec, Regarding } from "../../kube/events.ts";

export const regarding = (pool: KubeObject): Regarding => ({
  apiVersion: pool.apiVersion ?? "inferops.dev/v1alpha1",
  kind: pool.kind ?? "GPUNodePool",
  name: pool.metadata?.name ?? "",
  uid: pool.metadata?.uid,
});

export const invalid = (name: string, message: string): EventSpec => ({
  type: "Warning",
  reason: Reason.InvalidSpec,
  action: "Validate",
  note: `GPUNodePool ${name} cannot be used: no node is added or removed, and a drain under way is undone: ${message}`,
});

export const nodesRequested = (added: number, target: number, why: string): EventSpec => ({
  type: "Normal",
  reason: Reason.NodesRequested,
  action: "ScaleUp",
  note: `asked the provider for ${added} node(s), ${target} in all: ${why}`,
});

/** A node the pool asked for joined it (reconcile.ts joined()): once per node, as NodeRemoved is. */
export const nodeRegistered = (
  node: string,
  pool: string,
  afterMs: number,
  provisioningSeconds: number,
): EventSpec => ({
  type: "Normal",
  reason: Reason.NodeRegistered,
  action: "Register",
  note: `node ${node} registered in pool ${pool} after ${Math.round(afterMs / 1000)} s (provisioningSeconds ${provisioningSeconds})`,
});

export const nodeCordoned = (node: string, why: string): EventSpec => ({
  type: "Normal",
  reason: Reason.NodeCordoned,
  action: "Cordon",
  note: `cordoned node ${node} to drain and remove it: ${why}`,
});

export const nodeUncordoned = (node: string, why: string): EventSpec => ({
  type: "Normal",
  reason: Reason.NodeUncordoned,
  action: "Uncordon",
  note: `uncordoned node ${node}: ${why}`,
});

export const nodeRemoved = (node: string): EventSpec => ({
  type: "Normal",
  reason: Reason.NodeRemoved,
  action: "ScaleDown",
  note: `removed node ${node}, drained`,
});

export const evictionBlocked = (node: string, pods: string[]): EventSpec => ({
  type: "Warning",
  reason: Reason.EvictionBlocked,
  action: "Drain",
  note: `draining node ${node}: a PodDisruptionBudget holds ${pods.join(", ")}; retrying`,
});

export const providerFailing = (reason: string, message: string, retryInMs: number): EventSpec => ({
  type: "Warning",
  reason,
  action: "Scale",
  note: `${message}; next attempt in ${Math.round(retryInMs / 1000)} s`,
});

export const capacityUnavailable = (message: string, holdMs: number): EventSpec => ({
  type: "Warning",
  reason: Reason.CapacityUnavailable,
  action: "Scale",
  note: `${message}; the plan counts only the pool's nodes for ${Math.round(holdMs / 60_000)} min`,
});

/** Nodes asked for have not registered in time (GPUNodePool ProviderFailing, reason ProvisioningStalled). */
export const provisioningStalled = (message: string): EventSpec => ({
  type: "Warning",
  reason: Reason.ProvisioningStalled,
  action: "Scale",
  note: message,
});

/** The stall's hold ended (stall.ts): a new node registered, or the hold ran out and growth is tried again. */
export const provisioningResumed = (why = "no node asked for is late any more"): EventSpec => ({
  type: "Normal",
  reason: Reason.ProvisioningResumed,
  action: "Scale",
  note: why,
});

export const providerRecovered = (): EventSpec => ({
  type: "Normal",
  reason: Reason.ProviderRecovered,
  action: "Scale",
  note: "the provider answers again",
});

export const statusFailed = (err: unknown): EventSpec => ({
  type: "Warning",
  reason: "ApplyFailed",
  action: "Apply",
  note: `writing status failed: ${err instanceof Error ? err.message : String(err)}`,
});

/** The PowerMeasured condition's transitions: the measurement became fresh, or stale (nominal watts count). */
export function powerTransition(
  previous: { status: string } | undefined,
  next: { status: string; message: string } | undefined,
): EventSpec | undefined {
  if (!next || next.status === previous?.status || next.status === "Unknown") return undefined;
  return next.status === "True"
    ? { type: "Normal", reason: Reason.PowerMeasured, action: "Measure", note: next.message }
    : { type: "Warning", reason: Reason.PowerMeasurementStale, action: "Measure", note: next.message };
}
