// The Kubernetes HorizontalPodAutoscaler (autoscaling/v2) as kube-controller-manager computes it, written
// from the upstream controller, independently of planning/behavior.ts (a baseline must not share the code it
// is compared with):
//
// - pkg/controller/podautoscaler/replica_calculator.go: calcPlainMetricReplicas (Pods metric, AverageValue
//   target) with groupPods: deleting pods are ignored; Pending pods are "unready" (left out, and counted at
//   0 on a scale-up); Running pods without a metric are "missing" (a model server that is still loading
//   serves no /metrics): at 0 on a scale-up, at the target on a scale-down; a change of direction or a
//   change within the tolerance keeps the current count. GetExternalPerPodMetricReplicas (External metric,
//   AverageValue, as KEDA's scalers use): ceil(sum / target) unless within tolerance of the status replicas.
// - pkg/controller/podautoscaler/horizontal.go: the first sync records the current count as a
//   recommendation; stabilizeRecommendationWithBehaviors (the lowest recommendation of the scale-up window,
//   the highest of the scale-down window, over raw recommendations); convertDesiredReplicasWithBehaviorRate
//   with calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors (changes within each
//   policy's period counted from separate scale-up and scale-down event lists); min/max replicas.
//
// Defaults (kube-controller-manager flags and the autoscaling/v2 API defaults, SetDefaults_HPAScalingRules):
// --horizontal-pod-autoscaler-sync-period 15 s, --horizontal-pod-autoscaler-tolerance 0.1; scaleUp: window 0,
// policies Pods 4 / 15 s and Percent 100 / 15 s, selectPolicy Max; scaleDown: window 300 s
// (--horizontal-pod-autoscaler-downscale-stabilization), Percent 100 / 15 s.
import type { FleetView, Params, Policy } from "../policy.ts";

export interface HpaPolicyRule {
  type: "Pods" | "Percent";
  value: number;
  periodSeconds: number;
}

export interface HpaScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: "Max" | "Min" | "Disabled";
  policies: HpaPolicyRule[];
}

export interface HpaBehavior {
  scaleUp: HpaScalingRules;
  scaleDown: HpaScalingRules;
}

export const HPA_SYNC_SECONDS = 15;
export const HPA_TOLERANCE = 0.1;

export function defaultHpaBehavior(scaleDownWindowSeconds = 300): HpaBehavior {
  return {
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: "Max",
      policies: [
        { type: "Pods", value: 4, periodSeconds: 15 },
        { type: "Percent", value: 100, periodSeconds: 15 },
      ],
    },
    scaleDown: {
      stabilizationWindowSeconds: scaleDownWindowSeconds,
      selectPolicy: "Max",
      policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
    },
  };
}

/** One pod as groupPods sees it. */
export interface HpaPod {
  phase: "Pending" | "Running";
  deleting: boolean;
  /** The pod's metric, when the metrics API has one. */
  metric?: number;
}

/** calcPlainMetricReplicas: desired replicas for a Pods metric with an AverageValue target; undefined on error (no metrics). */
export function podMetricReplicas(
  pods: readonly HpaPod[],
  currentReplicas: number,
  target: number,
  tolerance = HPA_TOLERANCE,
): number | undefined {
  if (pods.length === 0) return undefined;
  let readyPodCount = 0;
  let unready = 0;
  let missing = 0;
  const metrics: number[] = [];
  for (const p of pods) {
    if (p.deleting) continue; // ignored
    if (p.phase === "Pending") {
      unready++;
      continue;
    }
    if (p.metric === undefined) {
      missing++;
      continue;
    }
    metrics.push(p.metric);
    readyPodCount++;
  }
  if (metrics.length === 0) return undefined;
  const ratio = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length / target;
  const usageRatio = ratio(metrics);
  const within = (r: number) => Math.abs(1 - r) <= tolerance;
  const scaleUpWithUnready = unready > 0 && usageRatio > 1;
  if (!scaleUpWithUnready && missing === 0) {
    if (within(usageRatio)) return currentReplicas;
    return Math.ceil(usageRatio * readyPodCount);
  }
  const filled = [...metrics];
  if (missing > 0) {
    if (usageRatio < 1) for (let k = 0; k < missing; k++) filled.push(target);
    else if (usageRatio > 1) for (let k = 0; k < missing; k++) filled.push(0);
  }
  if (scaleUpWithUnready) for (let k = 0; k < unready; k++) filled.push(0);
  const newUsageRatio = ratio(filled);
  if (
    within(newUsageRatio) ||
    (usageRatio < 1 && newUsageRatio > 1) ||
    (usageRatio > 1 && newUsageRatio < 1)
  ) {
    return currentReplicas;
  }
  const newReplicas = Math.ceil(newUsageRatio * filled.length);
  if (
    (newUsageRatio < 1 && newReplicas > currentReplicas) ||
    (newUsageRatio > 1 && newReplicas < currentReplicas)
  ) {
    return currentReplicas;
  }
  return newReplicas;
}

/** GetExternalPerPodMetricReplicas: an External metric with an AverageValue target. */
export function externalPerPodReplicas(
  usage: number,
  statusReplicas: number,
  target: number,
  tolerance = HPA_TOLERANCE,
): number {
  const usageRatio = usage / (target * statusReplicas);
  if (Math.abs(1 - usageRatio) > tolerance) return Math.ceil(usage / target);
  return statusReplicas;
}

interface Stamped {
  t: number;
  value: number;
}

/** The controller's memory for one HPA and its behaviour normalisation (times in seconds). */
export class HpaController {
  readonly behavior: HpaBehavior;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  #recommendations: Stamped[] | undefined;
  #upEvents: Stamped[] = [];
  #downEvents: Stamped[] = [];

  constructor(behavior: HpaBehavior, minReplicas: number, maxReplicas: number) {
    this.behavior = behavior;
    this.minReplicas = minReplicas;
    this.maxReplicas = maxReplicas;
  }

  /** recordInitialRecommendation: the first sync remembers the current count. */
  #init(current: number, now: number): void {
    if (this.#recommendations === undefined) this.#recommendations = [{ t: now, value: current }];
  }

  /** stabilizeRecommendationWithBehaviors: records the raw recommendation and returns the stabilized one. */
  stabilize(current: number, desired: number, now: number): number {
    this.#init(current, now);
    const recs = this.#recommendations!;
    const upCutoff = now - this.behavior.scaleUp.stabilizationWindowSeconds;
    const downCutoff = now - this.behavior.scaleDown.stabilizationWindowSeconds;
    let up = desired;
    let down = desired;
    let oldIndex = -1;
    recs.forEach((r, i) => {
      if (r.t > upCutoff) up = Math.min(r.value, up);
      if (r.t > downCutoff) down = Math.max(r.value, down);
      if (r.t < upCutoff && r.t < downCutoff) oldIndex = i;
    });
    let recommendation = current;
    if (recommendation < up) recommendation = up;
    if (recommendation > down) recommendation = down;
    if (oldIndex >= 0) recs[oldIndex] = { t: now, value: desired };
    else recs.push({ t: now, value: desired });
    return recommendation;
  }

  #changes(events: readonly Stamped[], period: number, now: number): number {
    const cutoff = now - period;
    let n = 0;
    for (const e of events) if (e.t > cutoff) n += e.value;
    return n;
  }

  scaleUpLimit(current: number, now: number): number {
    const rules = this.behavior.scaleUp;
    if (rules.selectPolicy === "Disabled") return current;
    const pick = rules.selectPolicy === "Min" ? Math.min : Math.max;
    let result = rules.selectPolicy === "Min" ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
    for (const p of rules.policies) {
      const added = this.#changes(this.#upEvents, p.periodSeconds, now);
      const deleted = this.#changes(this.#downEvents, p.periodSeconds, now);
      const start = current - added + deleted;
      const proposed = p.type === "Pods" ? start + p.value : Math.ceil(start * (1 + p.value / 100));
      result = pick(result, proposed);
    }
    return result;
  }

  scaleDownLimit(current: number, now: number): number {
    const rules = this.behavior.scaleDown;
    if (rules.selectPolicy === "Disabled") return current;
    const pick = rules.selectPolicy === "Min" ? Math.max : Math.min;
    let result = rules.selectPolicy === "Min" ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
    for (const p of rules.policies) {
      const added = this.#changes(this.#upEvents, p.periodSeconds, now);
      const deleted = this.#changes(this.#downEvents, p.periodSeconds, now);
      const start = current - added + deleted;
      // int32(float64(start) * (1 - value/100)): truncation, as upstream.
      const proposed = p.type === "Pods" ? start - p.value : Math.trunc(start * (1 - p.value / 100));
      result = pick(result, proposed);
    }
    return result;
  }

  /** convertDesiredReplicasWithBehaviorRate: rate policies and min/max. */
  rateLimit(current: number, desired: number, now: number): number {
    if (desired > current) {
      let limit = this.scaleUpLimit(current, now);
      if (limit < current) limit = current;
      const maximum = Math.min(this.maxReplicas, limit);
      return Math.min(desired, maximum);
    }
    if (desired < current) {
      let limit = this.scaleDownLimit(current, now);
      if (limit > current) limit = current;
      const minimum = Math.max(this.minReplicas, limit);
      return Math.max(desired, minimum);
    }
    return desired;
  }

  /** storeScaleEvent, with events older than the longest period of their direction dropped. */
  record(current: number, desired: number, now: number): void {
    if (desired === current) return;
    const longest = (r: HpaScalingRules) => Math.max(0, ...r.policies.map((p) => p.periodSeconds));
    if (desired > current) {
      this.#upEvents = this.#upEvents.filter((e) => e.t > now - longest(this.behavior.scaleUp));
      this.#upEvents.push({ t: now, value: desired - current });
    } else {
      this.#downEvents = this.#downEvents.filter((e) => e.t > now - longest(this.behavior.scaleDown));
      this.#downEvents.push({ t: now, value: current - desired });
    }
  }

  /**
   * One reconcile: from the metric's raw desired count (undefined: the metric failed, nothing changes) to the
   * replicas to set. Out-of-range current counts are brought within min/max first, as the controller does.
   */
  reconcile(current: number, raw: number | undefined, now: number): number {
    if (current > this.maxReplicas) return this.#apply(current, this.maxReplicas, now);
    if (current < this.minReplicas) return this.#apply(current, this.minReplicas, now);
    if (raw === undefined) return current;
    const stabilized = this.stabilize(current, raw, now);
    return this.#apply(current, this.rateLimit(current, stabilized, now), now);
  }

  #apply(current: number, desired: number, now: number): number {
    this.record(current, desired, now);
    return desired;
  }
}

export const HPA_METRICS = ["running", "waiting", "running+waiting", "kv"] as const;
export type HpaMetric = (typeof HPA_METRICS)[number];

/** The per-pod metric an HPA reads through a Prometheus adapter from vLLM's gauges. */
export function podMetric(
  metric: HpaMetric,
  m: { numRequestsRunning: number; numRequestsWaiting: number; kvCacheUsage: number },
): number {
  switch (metric) {
    case "running":
      return m.numRequestsRunning;
    case "waiting":
      return m.numRequestsWaiting;
    case "running+waiting":
      return m.numRequestsRunning + m.numRequestsWaiting;
    case "kv":
      return m.kvCacheUsage;
  }
}

/** The pods of a Deployment as groupPods sees them, with the metric of the ready ones. */
export function hpaPods(
  view: FleetView,
  pool: string,
  metric: (m: { numRequestsRunning: number; numRequestsWaiting: number; kvCacheUsage: number }) => number,
): HpaPod[] {
  const metrics = new Map(view.readyMetrics().map((r) => [r.pod.id, metric(r.metrics)]));
  return view
    .pods()
    .filter((p) => p.pool === pool)
    .map((p) => {
      const value = metrics.get(p.id);
      return {
        phase: p.state === "pending" ? "Pending" : "Running",
        deleting: p.state === "draining",
        ...(value !== undefined && p.state === "ready" ? { metric: value } : {}),
      };
    });
}

export interface HpaParams {
  metric: HpaMetric;
  /** AverageValue target per pod. */
  target: number;
  /** behavior.scaleDown.stabilizationWindowSeconds. */
  scaleDownWindowSeconds: number;
  minReplicas: number;
  maxReplicas: number;
}

/** An HPA on one per-pod vLLM metric (Pods metric, AverageValue target) over the primary Deployment. */
export function hpaPolicy(params: HpaParams): Policy {
  const controller = new HpaController(
    defaultHpaBehavior(params.scaleDownWindowSeconds),
    params.minReplicas,
    params.maxReplicas,
  );
  const p: Params = {
    metric: params.metric,
    target: params.target,
    scaleDownWindowSeconds: params.scaleDownWindowSeconds,
    syncSeconds: HPA_SYNC_SECONDS,
    tolerance: HPA_TOLERANCE,
  };
  return {
    name: `hpa-${params.metric}-${params.target}-w${params.scaleDownWindowSeconds}`,
    family: "hpa",
    params: p,
    intervalSeconds: HPA_SYNC_SECONDS,
    decide(view) {
      const pool = view.primaryPool;
      const current = view.desired(pool);
      const pods = hpaPods(view, pool, (m) => podMetric(params.metric, m));
      const raw = podMetricReplicas(pods, current, params.target);
      return { replicas: { [pool]: controller.reconcile(current, raw, view.t) } };
    },
  };
}
