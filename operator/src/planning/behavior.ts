// HPA-compatible scaling behaviour: tolerance, stabilization windows over past recommendations, and rate
// policies over past scale events, as kube-controller-manager's horizontal pod autoscaler computes them
// (pkg/controller/podautoscaler/horizontal.go: stabilizeRecommendationWithBehaviors,
// calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors). Two additions:
// - panic mode (after Knative's KPA): while a burst lasts, scale-up stabilization is skipped and no
//   scale-down happens;
// - scaling up from zero is always allowed at least one replica (a Percent policy of 0 is 0).

import { Reason } from "../apis/conditions.ts";
import type { InferenceServiceSpec } from "../apis/inferenceservice.ts";

export type Behavior = InferenceServiceSpec["scaling"]["behavior"];
export type ScalingRules = Behavior["scaleUp"];

/** How long panic mode lasts after the last burst (Knative's stable window). */
export const PANIC_WINDOW_SECONDS = 60;
/** Panic when the reactive recommendation is at least this many times the ready replicas. */
export const PANIC_THRESHOLD = 2;

/** Replicas for a load-to-target ratio, HPA style: within tolerance of 1 (inclusive, float dust forgiven), the current count stays. */
export function replicasForRatio(
  current: number,
  ratio: number,
  tolerance: number,
  /** The tolerance above 1 (a scale-up), when it differs: 0 while a growing backlog confirms the need. */
  upTolerance = tolerance,
): { replicas: number; withinTolerance: boolean } {
  const tol = ratio > 1 ? upTolerance : tolerance;
  if (current > 0 && Math.abs(ratio - 1) <= tol + 1e-9) return { replicas: current, withinTolerance: true };
  return { replicas: ceil(current * ratio), withinTolerance: false };
}

/** Ceiling that forgives floating-point dust (4.000000000001 is 4). */
export function ceil(x: number): number {
  if (!Number.isFinite(x)) return x > 0 ? Number.MAX_SAFE_INTEGER : 0;
  return Math.max(0, Math.ceil(x - 1e-9));
}

export interface Stabilized {
  value: number;
  reason?: typeof Reason.ScaleUpStabilized | typeof Reason.ScaleDownStabilized;
}

/**
 * HPA's stabilization: the lowest recommendation within the scale-up window bounds a scale-up, the highest
 * within the scale-down window bounds a scale-down. `recommendations` holds past ones; `desired` is now's.
 */
export function stabilize(input: {
  recommendations: readonly [number, number][];
  nowMs: number;
  desired: number;
  current: number;
  upWindowSeconds: number;
  downWindowSeconds: number;
}): Stabilized {
  const { nowMs, desired, current } = input;
  const upCutoff = nowMs - input.upWindowSeconds * 1000;
  const downCutoff = nowMs - input.downWindowSeconds * 1000;
  let up = desired;
  let down = desired;
  for (const [t, r] of input.recommendations) {
    if (t > upCutoff) up = Math.min(up, r);
    if (t > downCutoff) down = Math.max(down, r);
  }
  let value = current;
  if (value < up) value = up;
  if (value > down) value = down;
  if (value > desired) return { value, reason: Reason.ScaleDownStabilized };
  if (value < desired) return { value, reason: Reason.ScaleUpStabilized };
  return { value };
}

/** Replicas added (up) and removed (down) by scale events within the last `periodSeconds`. */
function changes(events: readonly [number, number][], nowMs: number, periodSeconds: number) {
  const cutoff = nowMs - periodSeconds * 1000;
  let added = 0;
  let removed = 0;
  for (const [t, change] of events) {
    if (t <= cutoff) continue;
    if (change > 0) added += change;
    else removed -= change;
  }
  return { added, removed };
}

/** The most replicas the scale-up policies allow now (HPA's calculateScaleUpLimitWithScalingRules). */
export function scaleUpLimit(
  current: number,
  events: readonly [number, number][],
  nowMs: number,
  rules: ScalingRules,
): number {
  if (rules.selectPolicy === "Disabled" || rules.policies.length === 0) return current;
  const pick = rules.selectPolicy === "Min" ? Math.min : Math.max;
  let result = rules.selectPolicy === "Min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const policy of rules.policies) {
    const { added, removed } = changes(events, nowMs, policy.periodSeconds);
    const periodStart = current - added + removed;
    const proposed =
      policy.type === "Pods" ? periodStart + policy.value : Math.ceil(periodStart * (1 + policy.value / 100));
    result = pick(result, proposed);
  }
  // From zero, a Percent policy proposes zero: waking always gets one replica.
  return Math.max(result, current, current === 0 ? 1 : 0);
}

/** The fewest replicas the scale-down policies allow now (HPA's calculateScaleDownLimitWithBehaviors). */
export function scaleDownLimit(
  current: number,
  events: readonly [number, number][],
  nowMs: number,
  rules: ScalingRules,
): number {
  if (rules.selectPolicy === "Disabled" || rules.policies.length === 0) return current;
  const pick = rules.selectPolicy === "Min" ? Math.max : Math.min;
  let result = rules.selectPolicy === "Min" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const policy of rules.policies) {
    const { added, removed } = changes(events, nowMs, policy.periodSeconds);
    const periodStart = current - added + removed;
    const proposed =
      policy.type === "Pods"
        ? periodStart - policy.value
        : Math.trunc(periodStart * (1 - policy.value / 100));
    result = pick(result, proposed);
  }
  return Math.max(0, Math.min(result, current));
}

export interface BehaviorInput {
  behavior: Behavior;
  /** Replicas the service has now (the variants' Deployments). */
  current: number;
  /** The recommendation from the signals (already recorded or not in `recommendations`). */
  desired: number;
  nowMs: number;
  /** Past recommendations: [epoch ms, replicas]. */
  recommendations: readonly [number, number][];
  /** Past scale events: [epoch ms, change]. */
  scaleEvents: readonly [number, number][];
  /** Effective windows (the planner may lengthen scale-down to the lead time). */
  upWindowSeconds: number;
  downWindowSeconds: number;
  /** Panic: skip scale-up stabilization, never scale down. */
  panic: boolean;
  /** Apply the rate policies (false in mode Recommend, where nothing is scaled). */
  rateLimits: boolean;
}

export interface BehaviorResult {
  value: number;
  /** Set when behaviour changed the recommendation (stabilization, rate limit, panic). */
  reason?: string;
  message?: string;
}

/** Stabilization, panic, then rate policies. Bounds (min/max replicas) are applied by the caller. */
export function applyBehavior(input: BehaviorInput): BehaviorResult {
  const { behavior, current, desired, nowMs, panic } = input;
  const stabilized = stabilize({
    recommendations: input.recommendations,
    nowMs,
    desired,
    current,
    upWindowSeconds: panic ? 0 : input.upWindowSeconds,
    downWindowSeconds: input.downWindowSeconds,
  });
  let value = stabilized.value;
  let reason: string | undefined = stabilized.reason;
  let message: string | undefined =
    stabilized.reason === Reason.ScaleDownStabilized
      ? `a recommendation of ${value} within the last ${input.downWindowSeconds}s scale-down window holds replicas above ${desired}`
      : stabilized.reason === Reason.ScaleUpStabilized
        ? `a recommendation of ${value} within the last ${input.upWindowSeconds}s scale-up window holds replicas below ${desired}`
        : undefined;
  if (panic && value < current) {
    value = current;
    reason = Reason.PanicMode;
    message = `panic mode (a burst of at least ${PANIC_THRESHOLD}x the ready capacity in the last ${PANIC_WINDOW_SECONDS}s): no scale-down below ${current}`;
  }
  if (!input.rateLimits) return { value, reason, message };
  if (value > current) {
    const limit = scaleUpLimit(current, input.scaleEvents, nowMs, behavior.scaleUp);
    if (value > limit) {
      return {
        value: limit,
        reason: Reason.ScaleUpLimit,
        message: `scale-up policies (selectPolicy ${behavior.scaleUp.selectPolicy}) allow ${limit} now, on the way to ${value}`,
      };
    }
  } else if (value < current) {
    const limit = scaleDownLimit(current, input.scaleEvents, nowMs, behavior.scaleDown);
    if (value < limit) {
      return {
        value: limit,
        reason: Reason.ScaleDownLimit,
        message: `scale-down policies (selectPolicy ${behavior.scaleDown.selectPolicy}) allow ${limit} now, on the way to ${value}`,
      };
    }
  }
  return { value, reason, message };
}

/** Drops recommendations older than the longest window (the last one is always kept). */
export function pruneRecommendations(
  recs: readonly [number, number][],
  nowMs: number,
  keepSeconds: number,
): [number, number][] {
  const cutoff = nowMs - keepSeconds * 1000;
  return recs.filter(([t]) => t > cutoff);
}

/** Drops scale events older than the longest policy period of either direction. */
export function pruneScaleEvents(
  events: readonly [number, number][],
  nowMs: number,
  behavior: Behavior,
): [number, number][] {
  const longest = Math.max(
    0,
    ...behavior.scaleUp.policies.map((p) => p.periodSeconds),
    ...behavior.scaleDown.policies.map((p) => p.periodSeconds),
  );
  const cutoff = nowMs - longest * 1000;
  return events.filter(([t]) => t > cutoff);
}
