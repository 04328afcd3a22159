// Events of the InferenceService controller: one function each, so wording stays in one place.
import { ConditionType, Reason } from "../../apis/conditions.ts";
import type { InferenceService, InferenceServiceStatus } from "../../apis/inferenceservice.ts";
import type { KubeObject } from "../../kube/client.ts";
import type { EventSpec, Regarding } from "../../kube/events.ts";
import { findCondition } from "../conditions.ts";
import { CONTEST_LIMIT, CONTEST_WINDOW_MS } from "./contest.ts";
import type { Decision } from "./status.ts";

export const regarding = (svc: InferenceService | KubeObject): Regarding => ({
  apiVersion: svc.apiVersion ?? "inferops.dev/v1alpha1",
  kind: svc.kind ?? "InferenceService",
  name: svc.metadata?.name ?? "",
  namespace: svc.metadata?.namespace,
  uid: svc.metadata?.uid,
});

/** The API server admitted the spec, zod refuses it (the CRD cannot check every rule, or is older). */
export const invalid = (key: string, message: string): EventSpec => ({
  type: "Warning",
  reason: Reason.InvalidSpec,
  action: "Validate",
  note: `InferenceService ${key} cannot be used, the planner ignores it and its Deployments are left as they are until the field named is fixed: ${message}`,
});

export const applyFailed = (what: string, err: unknown): EventSpec => ({
  type: "Warning",
  reason: "ApplyFailed",
  action: "Apply",
  note: `applying ${what} failed: ${err instanceof Error ? err.message : String(err)}`,
});

export const scaled = (deployment: string, from: number, to: number, decision: Decision): EventSpec => ({
  type: "Normal",
  reason: decision.reason,
  action: "Scale",
  note: `scaled Deployment ${deployment} from ${from} to ${to}: ${decision.message}`,
});

/** spec.service.headless changed: a Service's clusterIP cannot change, so the Service was deleted and made again. */
export const serviceRemade = (headless: boolean): EventSpec => ({
  type: "Normal",
  reason: Reason.ServiceRemade,
  action: "Apply",
  note: `spec.service.headless is ${headless}: the Service was deleted and made again ${headless ? "headless (clusterIP: None)" : "with a cluster IP"}, as its clusterIP cannot change; connections through it were cut`,
});

/** Another writer changed a Deployment's replicas: inferops sets them back (a writer that keeps on wins). */
export const replicasOverridden = (deployment: string, to: number, ours: number): EventSpec => ({
  type: "Warning",
  reason: Reason.ReplicasOverridden,
  action: "Scale",
  note:
    `Deployment ${deployment}'s replicas were set to ${to} by another writer; inferops manages them and sets` +
    ` them back to ${ours}. To scale by hand, set` +
    ` spec.scaling.mode: Manual and scale the InferenceService; a writer that changes them ${CONTEST_LIMIT} times` +
    ` in ${CONTEST_WINDOW_MS / 60_000} minutes is left alone (Conflict, reason ${Reason.ReplicasContested})`,
});

/**
 * Warnings when a condition turns bad, and a note when the service becomes Ready. What every new service
 * passes through is no event: the metrics a service whose replicas are still starting cannot have yet, and
 * resting at minReplicas (the conditions say both).
 */
export function transitions(
  _svc: InferenceService,
  before: InferenceServiceStatus | undefined,
  after: InferenceServiceStatus,
): EventSpec[] {
  const out: EventSpec[] = [];
  const changed = (type: string) => {
    const a = findCondition(before?.conditions, type);
    const b = findCondition(after.conditions, type);
    return b && (a?.status !== b.status || a?.reason !== b.reason) ? b : undefined;
  };
  // Metrics are missing in earnest once a replica is ready, or once they were fresh: then a warning.
  const metricsBefore = findCondition(before?.conditions, ConditionType.MetricsAvailable);
  const metricsAfter = findCondition(after.conditions, ConditionType.MetricsAvailable);
  const warned = (st: InferenceServiceStatus | undefined, c: typeof metricsAfter) =>
    c?.status === "False" && (st?.readyReplicas ?? 0) > 0;
  if (
    metricsAfter?.status === "False" &&
    (metricsBefore?.status === "True" ||
      (warned(after, metricsAfter) &&
        !(warned(before, metricsBefore) && metricsBefore?.reason === metricsAfter.reason)))
  )
    out.push({
      type: "Warning",
      reason: metricsAfter.reason,
      action: "Hold",
      note: `holding replicas: ${metricsAfter.message}`,
    });
  if (metricsAfter?.status === "True" && warned(before, metricsBefore))
    out.push({
      type: "Normal",
      reason: metricsAfter.reason,
      action: "Resume",
      note: "signals are fresh again",
    });
  const conflict = changed(ConditionType.Conflict);
  if (conflict?.status === "True")
    out.push({ type: "Warning", reason: conflict.reason, action: "Hold", note: conflict.message });
  const valid = changed(ConditionType.Valid);
  if (valid?.status === "False")
    out.push({ type: "Warning", reason: valid.reason, action: "Validate", note: valid.message });
  const limited = changed(ConditionType.ScalingLimited);
  if (limited?.status === "True" && limited.reason !== Reason.AtMinReplicas)
    out.push({ type: "Normal", reason: limited.reason, action: "Limit", note: limited.message });
  const ready = changed(ConditionType.Ready);
  if (ready?.status === "True")
    out.push({ type: "Normal", reason: ready.reason, action: "Ready", note: ready.message });
  return out;
}
