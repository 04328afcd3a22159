// metav1.Condition bookkeeping: lastTransitionTime moves only when status changes; Ready is derived.
import type { Condition } from "../apis/common.ts";
import { CONDITION_MESSAGE_MAX_BYTES, displayText } from "../kube/text.ts";

export interface ConditionInput {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/**
 * The conditions to write: each input with observedGeneration, keeping the previous lastTransitionTime when
 * the status did not change. Conditions of other types already present are kept as they are. Messages are
 * untrusted text, shown as kube/text.ts displayText shows it (control characters escaped, within the limit).
 */
export function mergeConditions(
  existing: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  observedGeneration: number,
  nowIso: string,
): Condition[] {
  const byType = new Map((existing ?? []).map((c) => [c.type, c]));
  for (const input of inputs) {
    const prev = byType.get(input.type);
    byType.set(input.type, {
      ...input,
      message: displayText(input.message, CONDITION_MESSAGE_MAX_BYTES),
      observedGeneration,
      lastTransitionTime: prev && prev.status === input.status ? prev.lastTransitionTime : nowIso,
    });
  }
  return [...byType.values()].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

export const findCondition = (conditions: readonly Condition[] | undefined, type: string) =>
  conditions?.find((c) => c.type === type);
