// A replica schedule known in advance, replayed through the fleet: how the lower bounds (instant,
// clairvoyant) are simulated to measure the latency they would give. Decides every second.
import type { Family, Params, Policy } from "../policy.ts";

/** Replicas from time t on, until the next change; sorted by t, the first at t = 0. */
export interface ScheduleStep {
  t: number;
  replicas: number;
}

export function replicasAt(steps: readonly ScheduleStep[], t: number): number {
  let lo = 0;
  let hi = steps.length - 1;
  if (hi < 0) return 0;
  // Last step with steps[i].t <= t.
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (steps[mid]!.t <= t + 1e-9) lo = mid;
    else hi = mid - 1;
  }
  return steps[lo]!.t <= t + 1e-9 ? steps[lo]!.replicas : steps[0]!.replicas;
}

export function schedulePolicy(
  name: string,
  family: Family,
  params: Params,
  steps: readonly ScheduleStep[],
): Policy {
  return {
    name,
    family,
    params,
    intervalSeconds: 1,
    initialReplicas: () => replicasAt(steps, 0),
    decide: (view) => ({ replicas: { [view.primaryPool]: replicasAt(steps, view.t) } }),
  };
}
