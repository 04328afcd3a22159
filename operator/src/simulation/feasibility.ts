// What a target asks for, against what any policy could do: two analyses for the benchmark report, so that a
// target missed is shown as missed by the policy or out of every policy's reach, with numbers to check.
//
// - Lead time (latestAsk): capacity asked for at t serves from t + provisioning + model load. The latest t at
//   which stepping from the warm start straight to maxReplicas still reaches the attainment target is how
//   early any policy must act on the trace; the busiest 10 s of arrivals before t (its tokens at the measured
//   capacity, in replicas) says whether any signal could have shown the need by then. Found by bisection on
//   a grid: asking later never gives more capacity at any moment, so attainment falls with t (up to the
//   routing's noise, which the grid's step absorbs).
// - A GPU-hours target relative to the baselines (ratioTargetFeasibility): the day's target allows `ratio`
//   times the cheapest baseline reaching a policy's attainment. Over each range of attainment where the
//   cheapest baseline is the same, the allowance is constant and the bounds (re-allocated at that
//   attainment, suite.ts boundsAt) rise with it, so the range is checked at its lower end: where the
//   allowance is below the clairvoyant bound, no policy with the scenario's lead times meets the target at
//   that attainment; below the instant bound, no policy at all.
import type { CapacityCurve } from "./capacity.ts";
import { windowNeeds } from "./capacity.ts";
import type { JobRunner, TraceRef } from "./jobs.ts";
import type { Scenario } from "./scenario.ts";
import type { RunResult } from "./simulate.ts";
import { bestAttaining, cheapestReaching } from "./sweep.ts";
import { type Trace, windowLoad } from "./trace.ts";

/** Step of the latest-ask bisection, seconds. */
export const ASK_RESOLUTION_SECONDS = 10;
/** Windows in which the demand seen before the latest ask is measured, seconds. */
export const DEMAND_WINDOW_SECONDS = 10;

export interface LatestAsk {
  attainment: number;
  warm: number;
  /** Replicas asked for at the step (the service's maxReplicas). */
  to: number;
  /**
   * The latest ask (seconds from the start) that still reaches the target; undefined when even asking at
   * t = 0 does not, the trace's duration when the warm fleet alone does.
   */
  seconds?: number;
  /** Attainment when asking at `seconds`, and one step later (when there is a later step). */
  reached?: { at: number; attainment: number };
  missed?: { at: number; attainment: number };
  /** Replicas the busiest DEMAND_WINDOW_SECONDS of arrivals before `seconds` needed (measured capacity). */
  busiestNeedBefore?: number;
}

/** What the analysis reads of a suite (suite.ts SuiteOutput has it all). */
export interface AskedSuite {
  /** The trace as the jobs refer to it (a recipe is rebuilt in the workers), its scenario and capacity. */
  input: { trace: TraceRef; scenario: Scenario; curve: CapacityCurve };
  trace: Trace;
  warm: number;
}

/** The latest moment a step from the warm start to maxReplicas still reaches the attainment (see header). */
export async function latestAsk(
  runner: JobRunner,
  suite: AskedSuite,
  attainment: number,
  step = ASK_RESOLUTION_SECONDS,
): Promise<LatestAsk> {
  const { trace, warm } = suite;
  const { scenario, curve } = suite.input;
  const to = scenario.service.spec.scaling.maxReplicas;
  const T = trace.durationSeconds;
  const attainmentAt = async (at: number) => {
    // The schedule's first step is the warm fleet (a step at t = 0 would replace it); asking at the end
    // is the warm fleet throughout.
    const steps =
      at >= T
        ? [{ t: 0, replicas: warm }]
        : [
            { t: 0, replicas: warm },
            { t: Math.max(at, 1), replicas: to },
          ];
    const run = (await runner.run({
      kind: "run",
      trace: suite.input.trace,
      scenario,
      policy: { family: "clairvoyant", steps, params: {} },
      options: { warmReplicas: warm },
    })) as RunResult;
    return run.sloAttainment;
  };
  const out: LatestAsk = { attainment, warm, to };
  const first = await attainmentAt(0);
  if (first < attainment) {
    out.missed = { at: 0, attainment: first };
    return out;
  }
  const last = await attainmentAt(T);
  if (last >= attainment) {
    out.seconds = T;
    out.reached = { at: T, attainment: last };
    out.busiestNeedBefore = busiestNeed(curve, trace, T);
    return out;
  }
  // Invariant: asking at lo reaches the target, asking at hi does not.
  let lo = 0;
  let hi = Math.ceil(T / step);
  let reached = first;
  let missed = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const a = await attainmentAt(mid * step);
    if (a >= attainment) {
      lo = mid;
      reached = a;
    } else {
      hi = mid;
      missed = a;
    }
  }
  out.seconds = lo * step;
  out.reached = { at: lo * step, attainment: reached };
  out.missed = { at: Math.min(T, hi * step), attainment: missed };
  out.busiestNeedBefore = busiestNeed(curve, trace, lo * step);
  return out;
}

/** Replicas the busiest DEMAND_WINDOW_SECONDS window ending by `until` needs at the measured capacity. */
export function busiestNeed(curve: CapacityCurve, trace: Trace, until: number): number {
  const needs = windowNeeds(curve, windowLoad(trace, DEMAND_WINDOW_SECONDS), 0);
  const windows = Math.floor(until / DEMAND_WINDOW_SECONDS);
  let most = 0;
  for (let w = 0; w < Math.min(windows, needs.length); w++) most = Math.max(most, needs[w]!);
  return most;
}

export interface RatioRange {
  /** Attainments in (from, to] (from included for the first range). */
  from: number;
  to: number;
  /** The cheapest baseline reaching every attainment in the range (or, above all, the best-attaining). */
  baseline: string;
  baselineGpuHours: number;
  /** GPU-hours the target allows in the range. */
  allowed: number;
  /** The bounds at the range's lower end. */
  instant: number;
  clairvoyant: number;
  /** Above every baseline's attainment: the target is fewer GPU-hours than the best-attaining baseline. */
  aboveAll?: boolean;
}

/**
 * Where a target of `ratio` x the cheapest baseline at the same attainment (and, above every baseline's
 * attainment, fewer GPU-hours than the best-attaining one) can be met, from attainment `floor` up.
 */
export function ratioTargetFeasibility(
  baselines: readonly { name: string; gpuHours: number; sloAttainment: number }[],
  boundsAt: (attainment: number) => { instant: number; clairvoyant: number },
  floor: number,
  ratio: number,
): RatioRange[] {
  const levels = [...new Set(baselines.map((b) => b.sloAttainment).filter((a) => a >= floor))].sort(
    (a, b) => a - b,
  );
  const out: RatioRange[] = [];
  let from = floor;
  const push = (
    to: number,
    baseline: { name: string; gpuHours: number },
    allowed: number,
    aboveAll = false,
  ) => {
    const prev = out[out.length - 1];
    if (prev && prev.baseline === baseline.name && prev.allowed === allowed) {
      prev.to = to;
      return;
    }
    const b = boundsAt(from);
    out.push({
      from,
      to,
      baseline: baseline.name,
      baselineGpuHours: baseline.gpuHours,
      allowed,
      instant: b.instant,
      clairvoyant: b.clairvoyant,
      ...(aboveAll ? { aboveAll } : {}),
    });
  };
  for (const level of levels) {
    // Every attainment in (from, level] is reached by the same baselines: those at level and above.
    const cheapest = cheapestReaching(baselines, level)!;
    push(level, cheapest, ratio * cheapest.gpuHours);
    from = level;
  }
  const best = bestAttaining(baselines);
  if (best && from < 1) push(1, best, best.gpuHours, true);
  return out;
}
