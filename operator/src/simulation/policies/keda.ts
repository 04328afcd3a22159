// KEDA's Prometheus scaler on vLLM's waiting queue, as KEDA 2.x runs it: a ScaledObject whose trigger is
//   sum(vllm:num_requests_waiting{...})   (metricType AverageValue, the default)
// KEDA registers an External metric and creates an HPA on it, which divides the sum by the threshold
// (replica_calculator.go GetExternalPerPodMetricReplicas, through HpaController here); KEDA itself only
// handles activation: every pollingInterval it asks the scaler whether the metric is above
// activationThreshold, scales 0 -> 1 when it is, and scales to zero when the metric has not been active for
// cooldownPeriod and minReplicaCount is 0 (pkg/scaling/executor/scale_scaledobjects.go).
//
// Defaults (keda.sh ScaledObject specification, KEDA 2.x): pollingInterval 30 s, cooldownPeriod 300 s,
// minReplicaCount 0, maxReplicaCount 100, activationThreshold 0, Prometheus scaler ignoreNullValues true (an
// empty answer is 0: with no pod left, sum(vllm:num_requests_waiting) is empty, so a fleet at zero never
// wakes); the HPA underneath has HPA's defaults (scale-down window 300 s) unless
// advanced.horizontalPodAutoscalerConfig.behavior says otherwise.
import type { Params, Policy } from "../policy.ts";
import { defaultHpaBehavior, externalPerPodReplicas, HPA_SYNC_SECONDS, HpaController } from "./hpa.ts";

export const KEDA_DEFAULTS = {
  pollingIntervalSeconds: 30,
  cooldownPeriodSeconds: 300,
  minReplicaCount: 0,
  maxReplicaCount: 100,
  activationThreshold: 0,
} as const;

export interface KedaParams {
  /** The trigger's threshold: waiting requests per replica (AverageValue). */
  threshold: number;
  minReplicaCount: number;
  maxReplicaCount: number;
  cooldownPeriodSeconds: number;
  /** advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds (HPA default 300). */
  scaleDownWindowSeconds: number;
  pollingIntervalSeconds?: number;
}

export function kedaPolicy(params: KedaParams): Policy {
  const polling = params.pollingIntervalSeconds ?? KEDA_DEFAULTS.pollingIntervalSeconds;
  const hpa = new HpaController(
    defaultHpaBehavior(params.scaleDownWindowSeconds),
    Math.max(1, params.minReplicaCount),
    params.maxReplicaCount,
  );
  let lastPoll = Number.NEGATIVE_INFINITY;
  let lastActive = 0;
  const p: Params = {
    metric: "sum(vllm:num_requests_waiting)",
    threshold: params.threshold,
    minReplicaCount: params.minReplicaCount,
    maxReplicaCount: params.maxReplicaCount,
    cooldownPeriodSeconds: params.cooldownPeriodSeconds,
    scaleDownWindowSeconds: params.scaleDownWindowSeconds,
    pollingIntervalSeconds: polling,
  };
  return {
    name: `keda-waiting-${params.threshold}-min${params.minReplicaCount}-c${params.cooldownPeriodSeconds}-w${params.scaleDownWindowSeconds}`,
    family: "keda",
    params: p,
    intervalSeconds: HPA_SYNC_SECONDS,
    decide(view) {
      const pool = view.primaryPool;
      let current = view.desired(pool);
      const waiting = view.readyMetrics().reduce((s, r) => s + r.metrics.numRequestsWaiting, 0);
      // KEDA's own loop: activation and scale to zero, every pollingInterval.
      if (view.t - lastPoll >= polling - 1e-9) {
        lastPoll = view.t;
        const active = waiting > KEDA_DEFAULTS.activationThreshold;
        if (active) lastActive = view.t;
        if (active && current === 0) current = Math.max(1, params.minReplicaCount);
        else if (
          !active &&
          current > 0 &&
          params.minReplicaCount === 0 &&
          view.t - lastActive >= params.cooldownPeriodSeconds
        ) {
          return { replicas: { [pool]: 0 } };
        } else if (current < params.minReplicaCount) current = params.minReplicaCount;
      }
      // The HPA: scaling is disabled while the target has zero replicas.
      if (current === 0) return { replicas: { [pool]: 0 } };
      const raw = externalPerPodReplicas(waiting, current, params.threshold);
      return { replicas: { [pool]: hpa.reconcile(current, raw, view.t) } };
    },
  };
}
