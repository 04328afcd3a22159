// Events of the CapacityBudget controller: one function each, so wording stays in one place. A budget is
// cluster-scoped: its events go to the default namespace (kubectl get events -n default).
import type { CapacityBudget, CapacityBudgetStatus } from "../../apis/capacitybudget.ts";
import { ConditionType, Reason } from "../../apis/conditions.ts";
import type { KubeObject } from "../../kube/client.ts";
import type { EventSpec, Regarding } from "../../kube/events.ts";
import { findCondition } from "../conditions.ts";

export const regarding = (budget: CapacityBudget | KubeObject): Regarding => ({
  apiVersion: budget.apiVersion ?? "",
  kind: budget.kind ?? "CapacityBudget",
  name: budget.metadata?.name ?? "",
  uid: budget.metadata?.uid,
});

export const invalid = (name: string, message: string): EventSpec => ({
  type: "Warning",
  reason: Reason.InvalidSpec,
  action: "Validate",
  note: `CapacityBudget ${name} cannot be used, the planner ignores it: ${message}`,
});

export const applyFailed = (err: unknown): EventSpec => ({
  type: "Warning",
  reason: "ApplyFailed",
  action: "Apply",
  note: `writing status failed: ${err instanceof Error ? err.message : String(err)}`,
});

const describeLimits = (l: CapacityBudgetStatus["limits"]) =>
  [
    l?.costPerHour !== undefined ? `costPerHour ${l.costPerHour}` : "",
    l?.powerWatts !== undefined ? `powerWatts ${l.powerWatts}` : "",
    ...(l?.gpus ?? []).map((g) => `gpus/${g.type} ${g.max}`),
  ]
    .filter(Boolean)
    .join(", ");

/**
 * A window coming into force or ending, the budget starting or stopping to bind, a violation, a pool's
 * measured power turning stale or fresh again.
 */
export function transitions(
  before: CapacityBudgetStatus | undefined,
  after: CapacityBudgetStatus,
): EventSpec[] {
  const out: EventSpec[] = [];
  if (before && before.activeWindow !== after.activeWindow) {
    out.push(
      after.activeWindow !== undefined
        ? {
            type: "Normal",
            reason: Reason.BudgetWindowStarted,
            action: "Window",
            note: `window ${after.activeWindow} in force: ${describeLimits(after.limits)}`,
          }
        : {
            type: "Normal",
            reason: Reason.BudgetWindowEnded,
            action: "Window",
            note: `window ${before.activeWindow} ended: ${describeLimits(after.limits)}`,
          },
    );
  }
  const changed = (type: string) => {
    const a = findCondition(before?.conditions, type);
    const b = findCondition(after.conditions, type);
    return b && (a?.status !== b.status || a?.reason !== b.reason) ? { a, b } : undefined;
  };
  const binding = changed(ConditionType.Binding);
  if (binding?.b.status === "True")
    out.push({
      type: "Normal",
      reason: Reason.BudgetBinding,
      action: "Limit",
      note: `starts binding: ${binding.b.message}`,
    });
  if (binding?.b.status === "False" && binding.a?.status === "True")
    out.push({
      type: "Normal",
      reason: Reason.WithinBudget,
      action: "Release",
      note: `stops binding: ${binding.b.message}`,
    });
  const violated = changed(ConditionType.Violated);
  if (violated?.b.status === "True")
    out.push({ type: "Warning", reason: violated.b.reason, action: "Limit", note: violated.b.message });
  if (violated?.b.status === "False" && violated.a?.status === "True")
    out.push({ type: "Normal", reason: Reason.WithinBudget, action: "Limit", note: "no longer violated" });
  // Measured power of a pool it counts turned stale (nominal watts count) or fresh again.
  const measured = changed(ConditionType.PowerMeasured);
  if (measured?.b.status === "False")
    out.push({
      type: "Warning",
      reason: Reason.PowerMeasurementStale,
      action: "Measure",
      note: measured.b.message,
    });
  if (measured?.b.status === "True" && measured.a?.status === "False")
    out.push({ type: "Normal", reason: Reason.PowerMeasured, action: "Measure", note: measured.b.message });
  return out;
}
