// The two lower bounds on GPU-hours, from the replicas each 60 s window needs (capacity.ts windowNeeds: the
// fewest replicas whose measured capacity at the SLO covers the window's arrivals):
//
// - instant: exactly the need of every window, with no lead time: sum over windows of need x 60 s.
// - clairvoyant: the same needs with perfect foresight, but capacity takes the lead time L (node
//   provisioning + model load) to arrive and is billed from the request. Per capacity level l (the l-th
//   replica), the windows needing it form runs; between two runs with a gap g the replica is kept (cost g) if
//   g <= L, else released and requested again L before the next run (cost L): min(g, L). A level held at the
//   warm start exists from t = 0; a level first needed at s is requested at max(0, s - L). Released capacity
//   goes at once (no node scale-down delay): it is a bound, the physical limit a real policy can approach.
//
// Both are also replayed through the simulator as replica schedules (policies/schedule.ts), to report the
// latency they would give; the instant one on a fleet without lead time.
import type { ScheduleStep } from "./policies/schedule.ts";

export interface Bound {
  /** Replica-seconds the bound holds over the trace. */
  replicaSeconds: number;
  /** Replicas over time. */
  schedule: ScheduleStep[];
}

/** Steps from per-window counts. */
function stepsOf(counts: ArrayLike<number>, windowSeconds: number): ScheduleStep[] {
  const steps: ScheduleStep[] = [];
  for (let w = 0; w < counts.length; w++) {
    const r = counts[w]!;
    if (steps.length === 0 || steps[steps.length - 1]!.replicas !== r)
      steps.push({ t: w * windowSeconds, replicas: r });
  }
  return steps;
}

/** The instant bound: the need of every window, for the part of the window within the trace. */
export function instantBound(
  needs: ArrayLike<number>,
  windowSeconds: number,
  durationSeconds: number,
): Bound {
  let s = 0;
  for (let w = 0; w < needs.length; w++) {
    const len = Math.max(0, Math.min(windowSeconds, durationSeconds - w * windowSeconds));
    s += needs[w]! * len;
  }
  return { replicaSeconds: s, schedule: stepsOf(needs, windowSeconds) };
}

/** Intervals [on, off) during which one capacity level is held. */
export function levelIntervals(
  needs: ArrayLike<number>,
  level: number,
  windowSeconds: number,
  durationSeconds: number,
  leadSeconds: number,
  warm: boolean,
): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let w = 0; w <= needs.length; w++) {
    const busy = w < needs.length && needs[w]! >= level;
    if (busy && start < 0) start = w;
    if (!busy && start >= 0) {
      runs.push([start * windowSeconds, Math.min(w * windowSeconds, durationSeconds)]);
      start = -1;
    }
  }
  const out: [number, number][] = [];
  for (const [s, e] of runs) {
    const last = out[out.length - 1];
    if (!last) {
      out.push([warm ? 0 : Math.max(0, s - leadSeconds), e]);
    } else if (s - last[1] <= leadSeconds) {
      last[1] = e; // keep it through the gap
    } else {
      out.push([Math.max(last[1], s - leadSeconds), e]);
    }
  }
  return out;
}

/** The clairvoyant bound: per level, keep through a gap or release and pay the lead time again, whichever is cheaper. */
export function clairvoyantBound(
  needs: ArrayLike<number>,
  windowSeconds: number,
  durationSeconds: number,
  leadSeconds: number,
  warmReplicas: number,
): Bound {
  let top = 0;
  for (let w = 0; w < needs.length; w++) top = Math.max(top, needs[w]!);
  const deltas = new Map<number, number>();
  let seconds = 0;
  for (let level = 1; level <= top; level++) {
    for (const [on, off] of levelIntervals(
      needs,
      level,
      windowSeconds,
      durationSeconds,
      leadSeconds,
      level <= warmReplicas,
    )) {
      seconds += off - on;
      deltas.set(on, (deltas.get(on) ?? 0) + 1);
      deltas.set(off, (deltas.get(off) ?? 0) - 1);
    }
  }
  const schedule: ScheduleStep[] = [];
  let r = 0;
  for (const t of [...deltas.keys()].sort((a, b) => a - b)) {
    r += deltas.get(t)!;
    if (t >= durationSeconds) continue;
    if (schedule.length > 0 && schedule[schedule.length - 1]!.t === t)
      schedule[schedule.length - 1]!.replicas = r;
    else if (schedule.length === 0 || schedule[schedule.length - 1]!.replicas !== r)
      schedule.push({ t, replicas: r });
  }
  if (schedule.length === 0 || schedule[0]!.t > 0) schedule.unshift({ t: 0, replicas: 0 });
  return { replicaSeconds: seconds, schedule };
}
