// Bounds that meet their own target when replayed.
//
// The needs of each minute (needs.ts) are measured on the minute's own arrivals, after the minute before it
// on the same fleet. A minute that inherits a backlog from a smaller fleet before it, or a load just above
// what a fleet carries (each minute adds a little queue, none shows it on its own), needs more than that: on
// long-prompt load the bounds' schedules, replayed, met the SLO for 0.4-62% of requests. Here the instant
// bound's schedule (the needs, no lead time) is replayed through the simulator, with every backlog carried,
// and the windows that miss are raised until the replay meets the target:
//
// - each round replays the schedule and counts, per window of arrival, the requests that miss the SLO;
// - if the misses are within (1 - attainment) of the requests, done;
// - otherwise the windows with the most misses beyond their own share of the budget are raised, one
//   replica each (a tenth more where more than a tenth of a window's requests miss), until the misses of
//   the windows raised cover twice the excess, never above the replica limit;
// - at most `rounds` rounds. When no window can be raised (all at the limit) or the rounds run out, the
//   schedule stays as it is and its replay says by how much it misses.
//
// The clairvoyant bound is built from the raised needs (bounds.ts), so it holds at least the instant
// bound's replicas at every moment, with the lead time. Both are replayed for the results.
import { instantBound } from "./bounds.ts";
import type { JobRunner, TraceRef } from "./jobs.ts";
import type { PolicySpec } from "./policies/index.ts";
import type { Scenario } from "./scenario.ts";
import type { RunOptions, RunResult } from "./simulate.ts";

export const DEFAULT_REFINE_ROUNDS = 8;

/** How the instant bound is replayed: no provisioning, no model load, no scale-down delay. */
export const INSTANT_OVERRIDES: NonNullable<RunOptions["overrides"]> = {
  provisioningSeconds: 0,
  modelLoadSeconds: 0,
  scaleDownDelaySeconds: 0,
  deletion: "readyFirst",
};

export interface RefineInput {
  trace: TraceRef;
  durationSeconds: number;
  scenario: Scenario;
  windowSeconds: number;
  /** The needs as measured and allocated (needs.ts). */
  needs: Int32Array;
  warm: number;
  attainment: number;
  /** Most replicas a window may have. */
  limit: number;
  /** The params the instant bound's results carry. */
  params: Record<string, number | string | boolean>;
  rounds?: number;
}

export interface Refined {
  /** The raised needs. */
  needs: Int32Array;
  /** needs - the input's needs, per window. */
  raised: Int32Array;
  /** Replays run (one per round). */
  rounds: number;
  /** The last replay of the instant bound's schedule (of `needs`). */
  instant: RunResult;
  /** The replay meets the attainment target. */
  met: boolean;
  /** Windows that missed beyond their share and could not be raised (at the limit) in the last round. */
  atLimit: number;
}

/** The instant bound's policy for some needs. */
export function instantSpec(
  needs: ArrayLike<number>,
  windowSeconds: number,
  durationSeconds: number,
  params: Record<string, number | string | boolean>,
): PolicySpec {
  return {
    family: "instant",
    steps: instantBound(needs, windowSeconds, durationSeconds).schedule,
    params,
  };
}

/**
 * The windows to raise after a replay (see header): indices and their new needs. Pure, for tests.
 */
export function raiseWindows(
  needs: ArrayLike<number>,
  windows: { requests: readonly number[]; misses: readonly number[] },
  attainment: number,
  limit: number,
): { raise: Map<number, number>; atLimit: number } {
  let requests = 0;
  let misses = 0;
  for (let w = 0; w < windows.requests.length; w++) {
    requests += windows.requests[w]!;
    misses += windows.misses[w]!;
  }
  const budget = Math.floor((1 - attainment) * requests);
  const raise = new Map<number, number>();
  let atLimit = 0;
  if (misses <= budget) return { raise, atLimit };
  const excess = misses - budget;
  const over = [...windows.misses.keys()]
    .filter((w) => w < needs.length && windows.misses[w]! > (1 - attainment) * windows.requests[w]!)
    .sort((a, b) => windows.misses[b]! - windows.misses[a]! || a - b);
  let covered = 0;
  for (const w of over) {
    if (covered >= 2 * excess) break;
    const n = needs[w]!;
    if (n >= limit) {
      atLimit++;
      continue;
    }
    const share = windows.misses[w]! / Math.max(1, windows.requests[w]!);
    const step = share > 0.1 ? Math.max(1, Math.ceil(0.1 * n)) : 1;
    raise.set(w, Math.min(limit, n + step));
    covered += windows.misses[w]!;
  }
  return { raise, atLimit };
}

/** Replays the instant bound's schedule and raises the windows that miss until it meets its target. */
export async function refineNeeds(runner: JobRunner, input: RefineInput): Promise<Refined> {
  const rounds = input.rounds ?? DEFAULT_REFINE_ROUNDS;
  const needs = Int32Array.from(input.needs);
  let replays = 0;
  let atLimit = 0;
  for (;;) {
    const run = (await runner.run({
      kind: "run",
      trace: input.trace,
      scenario: input.scenario,
      policy: instantSpec(needs, input.windowSeconds, input.durationSeconds, input.params),
      options: { warmReplicas: input.warm, overrides: INSTANT_OVERRIDES, windowSeconds: input.windowSeconds },
    })) as RunResult;
    replays++;
    const met = run.sloAttainment >= input.attainment;
    const next = met ? undefined : raiseWindows(needs, run.windows!, input.attainment, input.limit);
    atLimit = next?.atLimit ?? 0;
    if (met || replays >= rounds || next === undefined || next.raise.size === 0) {
      const { windows: _windows, ...instant } = run;
      return {
        needs,
        raised: needs.map((n, w) => n - input.needs[w]!),
        rounds: replays,
        instant,
        met,
        atLimit,
      };
    }
    for (const [w, n] of next.raise) needs[w] = n;
  }
}
