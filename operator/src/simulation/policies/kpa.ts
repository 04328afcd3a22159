// Knative's Pod Autoscaler (KPA) on concurrency, as knative/serving pkg/autoscaler/scaling/autoscaler.go
// Scale() computes it: every tick, the desired pods are ceil(observed concurrency / target) over the stable
// window and over the panic window, bounded per tick by maxScaleUpRate x ready and ready / maxScaleDownRate;
// panic mode starts when the panic window asks for at least panicThreshold x the ready pods, lasts at least a
// stable window after the last such tick, and never scales down (it keeps the most pods asked during the
// panic); a scale-down delay keeps the highest desired count of the last scaleDownDelay.
// Concurrency is the requests in flight per pod (queued in the pod and running, as the queue-proxy counts
// them) summed over ready pods, plus requests the router/activator holds while no pod is ready, sampled every
// second and averaged over the windows (over the seconds with data, as Knative's window average does).
//
// Defaults (config-autoscaler, knative/serving config/core/configmaps/autoscaler.yaml): stable-window 60 s,
// panic-window-percentage 10 (6 s), panic-threshold-percentage 200, max-scale-up-rate 1000,
// max-scale-down-rate 2, container-concurrency-target-default 100, container-concurrency-target-percentage 70
// (the target in use is 70% of the per-pod target), scale-down-delay 0 s, tick-interval 2 s, min-scale 0
// (scale to zero after scale-to-zero-grace-period 30 s; a GPU service sets min-scale 1 here).
import type { Params, Policy } from "../policy.ts";

export const KPA_DEFAULTS = {
  stableWindowSeconds: 60,
  panicWindowPercentage: 10,
  panicThreshold: 2,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  targetUtilization: 0.7,
  tickSeconds: 2,
  target: 100,
} as const;

export interface KpaParams {
  /** autoscaling.knative.dev/target: concurrent requests per pod (70% of it is the target in use). */
  target: number;
  /** autoscaling.knative.dev/scale-down-delay, seconds. */
  scaleDownDelaySeconds: number;
  minScale: number;
  maxScale: number;
}

/** Knative's decider, on plain numbers (seconds), for tests and the policy. */
export class KpaDecider {
  readonly params: KpaParams;
  #panicTime: number | undefined;
  #maxPanicPods = 0;
  #delay: { t: number; value: number }[] = [];

  constructor(params: KpaParams) {
    this.params = params;
  }

  get panicking(): boolean {
    return this.#panicTime !== undefined;
  }

  /** Desired pods at `now` from the windows' average concurrency and the ready pods. */
  scale(now: number, stable: number, panic: number, readyPods: number): number {
    const target = this.params.target * KPA_DEFAULTS.targetUtilization;
    const ready = Math.max(1, readyPods);
    const maxUp = Math.ceil(KPA_DEFAULTS.maxScaleUpRate * ready);
    const maxDown = Math.floor(ready / KPA_DEFAULTS.maxScaleDownRate);
    const dspc = Math.ceil(stable / target);
    const dppc = Math.ceil(panic / target);
    const stablePods = Math.min(Math.max(dspc, maxDown), maxUp);
    const panicPods = Math.min(Math.max(dppc, maxDown), maxUp);
    const over = dppc / ready >= KPA_DEFAULTS.panicThreshold;
    if (this.#panicTime === undefined && over) this.#panicTime = now;
    else if (over) this.#panicTime = now;
    else if (this.#panicTime !== undefined && this.#panicTime + KPA_DEFAULTS.stableWindowSeconds < now) {
      this.#panicTime = undefined;
      this.#maxPanicPods = 0;
    }
    let desired = stablePods;
    if (this.#panicTime !== undefined) {
      if (desired < panicPods) desired = panicPods;
      if (desired > this.#maxPanicPods) this.#maxPanicPods = desired;
      desired = this.#maxPanicPods;
    }
    if (this.params.scaleDownDelaySeconds > 0) {
      this.#delay = this.#delay.filter((d) => d.t > now - this.params.scaleDownDelaySeconds);
      this.#delay.push({ t: now, value: desired });
      desired = Math.max(...this.#delay.map((d) => d.value));
    }
    return Math.max(this.params.minScale, Math.min(this.params.maxScale, desired));
  }
}

export function kpaPolicy(params: KpaParams): Policy {
  const decider = new KpaDecider(params);
  const samples: { t: number; value: number }[] = [];
  const panicWindow = (KPA_DEFAULTS.stableWindowSeconds * KPA_DEFAULTS.panicWindowPercentage) / 100;
  const average = (now: number, window: number) => {
    let sum = 0;
    let n = 0;
    for (let i = samples.length - 1; i >= 0; i--) {
      const s = samples[i]!;
      if (s.t <= now - window) break;
      sum += s.value;
      n++;
    }
    return n > 0 ? sum / n : 0;
  };
  const p: Params = {
    target: params.target,
    targetUtilization: KPA_DEFAULTS.targetUtilization,
    scaleDownDelaySeconds: params.scaleDownDelaySeconds,
    stableWindowSeconds: KPA_DEFAULTS.stableWindowSeconds,
    panicWindowSeconds: panicWindow,
    minScale: params.minScale,
  };
  return {
    name: `kpa-c${params.target}-d${params.scaleDownDelaySeconds}`,
    family: "kpa",
    params: p,
    intervalSeconds: KPA_DEFAULTS.tickSeconds,
    sampleSeconds: 1,
    observe(view) {
      const total = view.readyInFlight().reduce((a, b) => a + b, 0) + view.heldRequests();
      samples.push({ t: view.t, value: total });
      while (samples.length > 0 && samples[0]!.t <= view.t - KPA_DEFAULTS.stableWindowSeconds)
        samples.shift();
    },
    decide(view) {
      const pool = view.primaryPool;
      const stable = average(view.t, KPA_DEFAULTS.stableWindowSeconds);
      const panic = average(view.t, panicWindow);
      return { replicas: { [pool]: decider.scale(view.t, stable, panic, view.ready(pool)) } };
    },
  };
}
