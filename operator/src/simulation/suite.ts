// A benchmark suite for one trace: the capacity of its request mix, the replicas each minute needs, the two
// bounds, inferops and the baselines' sweeps, all run through the same simulator with the same warm start,
// and the results in the benchmark's format. Used by `npm run bench` (bench/run.ts) and `inferops simulate`.
import { replicaFootprint } from "../planning/budgets.ts";
import { type Bound, clairvoyantBound, instantBound } from "./bounds.ts";
import {
  type CapacityCurve,
  type CapacityPoint,
  combinePoints,
  DEFAULT_FLEET_SIZES,
  DEFAULT_SAMPLES,
  type MeasureOptions,
  meanTokens,
  replicasFor,
  scenarioMix,
} from "./capacity.ts";
import type { LatestAsk } from "./feasibility.ts";
import type { Job, JobRunner, TraceRef } from "./jobs.ts";
import { allocateNeeds, ownNeed, type WindowMisses, withinContext } from "./needs.ts";
import type { PolicySpec } from "./policies/index.ts";
import { INSTANT_OVERRIDES, instantSpec, type Refined, refineNeeds } from "./refine.ts";
import { type PolicyResult, type TraceResult, toPolicyResult } from "./results.ts";
import {
  acceleratorOf,
  contextTokensOf,
  leadSeconds,
  poolSpec,
  primaryPool,
  replicaLimit,
  type Scenario,
} from "./scenario.ts";
import type { RunOptions, RunResult } from "./simulate.ts";
import { baselineSpecs } from "./sweep.ts";
import { buildTrace, type Trace, type TraceStats, traceStats, windowLoad } from "./trace.ts";
import {
  type BeyondContext,
  beyondContext,
  checkProfile,
  curveUnservable,
  needsUnservable,
  type ProfileCheck,
  type ReplicaLimit,
  warningLines,
} from "./warnings.ts";

export const WINDOW_SECONDS = 60;

export type Progress = (done: number, total: number, label: string) => void;

function traceOf(ref: TraceRef): Trace {
  return "arrivals" in ref ? ref : buildTrace(ref);
}

/**
 * Measures the capacity curve of a trace's request mix (capacity.ts): one job per fleet size and sample, the
 * median per size, made non-decreasing in the fleet size. `onProgress` counts jobs.
 */
export async function measureCurve(
  runner: JobRunner,
  scenario: Scenario,
  trace: TraceRef,
  options: MeasureOptions = {},
  onProgress?: Progress,
): Promise<CapacityCurve> {
  const sizes = options.replicas ?? DEFAULT_FLEET_SIZES;
  const samples = options.samples ?? DEFAULT_SAMPLES;
  const total = sizes.length * samples;
  let done = 0;
  const points = await Promise.all(
    sizes.flatMap((replicas) =>
      Array.from({ length: samples }, async (_, sample) => {
        const job: Job = { kind: "capacity", trace, scenario, replicas, options: { ...options, sample } };
        const p = (await runner.run(job)) as CapacityPoint;
        onProgress?.(++done, total, `capacity ${replicas} replicas`);
        return p;
      }),
    ),
  );
  const pool = primaryPool(scenario);
  const tokens = meanTokens(scenarioMix(traceOf(trace), scenario));
  return {
    profile: scenario.profiles[pool]!.id,
    attainment: options.attainment ?? 0.99,
    meanTokens: tokens,
    points: combinePoints(points, tokens),
  };
}

/**
 * Fleet sizes worth measuring for a trace: powers of two up to the first one above 1.5 times the replicas
 * the profile's capacity suggests for the trace's busiest minute (at least 1, 2 and 4), none above the
 * replica limit (maxReplicas, maxNodes), which is measured itself when it falls between two powers.
 */
export function fleetSizesFor(trace: Trace, scenario: Scenario): number[] {
  const profile = scenario.profiles[primaryPool(scenario)]!;
  const guess = Math.ceil(
    (1.5 * traceStats(trace).peakMinuteTokensPerSecond) / profile.spec.maxTokensPerSecond,
  );
  const limit = Math.max(1, replicaLimit(scenario).replicas);
  const sizes = [1, 2, 4];
  while (sizes[sizes.length - 1]! < guess && sizes.length < 12) sizes.push(sizes[sizes.length - 1]! * 2);
  const within = sizes.filter((n) => n <= limit);
  if (within.length < sizes.length && within[within.length - 1] !== limit) within.push(limit);
  return within;
}

export interface SuiteInput {
  /** Name of the trace in the results (e.g. "conv", "conv-day"). */
  name: string;
  trace: TraceRef;
  day: boolean;
  scenario: Scenario;
  curve: CapacityCurve;
  /** The full sweep, a few points per family (quick), or none (inferops and the bounds only). */
  baselines: "full" | "quick" | "none";
}

export interface PreparedSuite {
  input: SuiteInput;
  trace: Trace;
  stats: TraceStats;
  /** Replicas each 60 s window needs: measured, then raised until the replayed schedule meets the target. */
  needs: Int32Array;
  /** Each window's misses by fleet size, from which the needs were allocated (needs.ts). */
  windowMisses: WindowMisses[];
  /** What the replay raised over the measured needs, per window (refine.ts); zeros when not refined. */
  raised: Int32Array;
  warm: number;
  lead: number;
  /** The most replicas any fleet may hold: maxReplicas, or what the pool's maxNodes hold. */
  limit: ReplicaLimit;
  /** When the warm start the first minute asks for is more than the limit. */
  warmClamp?: { wanted: number; replicas: number; limit: string };
  /** Requests longer than the servers' context (refused). */
  beyondContext: BeyondContext;
  /** The spec profile against the measured capacity at the SLO. */
  profileCheck?: ProfileCheck;
  /** Why no allowed fleet serves the trace at the attainment target, when none does. */
  unservable?: string;
  /** What a reader must know before the numbers (warnings.ts), one sentence each. */
  warnings: string[];
  instant: Bound;
  clairvoyant: Bound;
  /** Runs already made while preparing (the instant bound's last replay). */
  replays: Map<string, RunResult>;
  jobs: { key: string; job: Job }[];
}

export interface SuiteOutput extends Omit<PreparedSuite, "jobs" | "replays"> {
  result: TraceResult;
  runs: Map<string, RunResult>;
  /** How early a policy must act to reach the attainment target (feasibility.ts), when analysed. */
  latestAsk?: LatestAsk;
}

/** Windows per needs job: a few seconds of work each, enough jobs to keep every worker busy. */
const NEEDS_CHUNK = 30;

/**
 * The replicas each window of a trace needs, measured on the window's own arrivals (needs.ts), in jobs of
 * NEEDS_CHUNK windows on the runner, up to the replica limit.
 */
export async function measureNeeds(runner: JobRunner, input: SuiteInput): Promise<Needs> {
  const trace = traceOf(input.trace);
  const { scaling } = input.scenario.service.spec;
  const limit = replicaLimit(input.scenario);
  const load = windowLoad(
    withinContext(trace, contextTokensOf(input.scenario, primaryPool(input.scenario))),
    WINDOW_SECONDS,
  );
  const windows = load.tokens.length;
  const options = {
    windowSeconds: WINDOW_SECONDS,
    minReplicas: Math.max(1, scaling.minReplicas),
    maxReplicas: Math.max(1, limit.replicas),
  };
  const jobs: Promise<WindowMisses[]>[] = [];
  for (let first = 0; first < windows; first += NEEDS_CHUNK) {
    jobs.push(
      runner.run({
        kind: "needs",
        trace: input.trace,
        scenario: input.scenario,
        curve: input.curve,
        first,
        last: Math.min(windows, first + NEEDS_CHUNK),
        options,
      }),
    );
  }
  const measured = (await Promise.all(jobs)).flat();
  const first = measured.find((w) => w.window === 0);
  return {
    windows: measured,
    perWindow: allocateNeeds(measured, input.curve.attainment),
    // Sized for the first minute by both measures, whichever asks for more: its own arrivals (ownNeed)
    // and its tokens over the capacity measured at steady Poisson load (the minute after is served by the
    // same fleet until new capacity arrives, and a steady-state fleet carries it better). Searched up to
    // ten times the limit, to say by how much a clamped warm start falls short.
    warm: Math.max(
      first ? ownNeed(first, input.curve.attainment) : 1,
      replicasFor(
        input.curve,
        (load.tokens[0] ?? 0) / WINDOW_SECONDS,
        options.minReplicas,
        10 * options.maxReplicas,
      ),
    ),
  };
}

/** What measureNeeds finds: the replicas each window needs, and the warm start (the first window's own need). */
export interface Needs {
  perWindow: Int32Array;
  /** The warm start the first minute asks for (prepareSuite holds it within the replica limit). */
  warm: number;
  /** Each window's misses by fleet size (for bounds at other attainment targets). */
  windows: WindowMisses[];
  /** When refined by replay (refineBounds): what was raised, and the last replay of the instant bound. */
  refined?: Refined;
}

/**
 * The warm start, held within minReplicas and the replica limit, and the clamp when the limit binds.
 */
function warmStart(
  scenario: Scenario,
  wanted: number,
  limit: ReplicaLimit,
): { warm: number; warmClamp?: PreparedSuite["warmClamp"] } {
  const minReplicas = Math.max(1, scenario.service.spec.scaling.minReplicas);
  const asked = Math.max(minReplicas, wanted);
  const warm = Math.max(0, Math.min(asked, limit.replicas));
  return warm < asked ? { warm, warmClamp: { wanted: asked, replicas: warm, limit: limit.limit } } : { warm };
}

/**
 * The needs raised until the instant bound's schedule, replayed with every backlog carried, meets the
 * attainment target (refine.ts). Returns the needs with `refined` set. When the measured needs already
 * say that no allowed fleet serves the trace, they are returned as they are.
 */
export async function refineBounds(runner: JobRunner, input: SuiteInput, measured: Needs): Promise<Needs> {
  const limit = replicaLimit(input.scenario);
  if (
    curveUnservable(input.curve, input.scenario) !== undefined ||
    needsUnservable(measured.windows, input.curve.attainment, limit) !== undefined
  )
    return measured;
  const trace = traceOf(input.trace);
  const { warm } = warmStart(input.scenario, measured.warm, limit);
  let peakNeed = 0;
  for (const n of measured.perWindow) peakNeed = Math.max(peakNeed, n);
  const refined = await refineNeeds(runner, {
    trace: input.trace,
    durationSeconds: trace.durationSeconds,
    scenario: input.scenario,
    windowSeconds: WINDOW_SECONDS,
    needs: measured.perWindow,
    warm,
    attainment: input.curve.attainment,
    limit: limit.replicas,
    params: { windowSeconds: WINDOW_SECONDS, attainmentTarget: input.curve.attainment, leadSeconds: 0 },
  });
  return { ...measured, perWindow: refined.needs, refined };
}

/**
 * The needs a re-allocation at `attainment` gives (needs.ts allocateNeeds), with the replay's raises
 * (refine.ts) added, within the limit.
 */
function needsAt(suite: PreparedSuite | SuiteOutput, attainment: number): Int32Array {
  const needs = allocateNeeds(suite.windowMisses, attainment);
  return needs.map((n, w) => Math.max(n, Math.min(suite.limit.replicas, n + (suite.raised[w] ?? 0))));
}

/**
 * The bounds' GPU-hours when sized for another attainment: the same measured windows, allocated within that
 * attainment's miss budget, with the raises the replay needed at the target. For comparing a policy with
 * the bounds at the policy's own attainment. An estimate, not replayed (docs/benchmarks.md, "The bound at a
 * policy's own attainment").
 */
export function boundsAt(
  suite: PreparedSuite | SuiteOutput,
  attainment: number,
): { instant: number; clairvoyant: number } {
  const { scenario } = suite.input;
  const gpus = acceleratorOf(scenario, primaryPool(scenario)).gpusPerReplica;
  const needs = needsAt(suite, attainment);
  const T = suite.trace.durationSeconds;
  const hours = (b: Bound) => (b.replicaSeconds * gpus) / 3600;
  return {
    instant: hours(instantBound(needs, WINDOW_SECONDS, T)),
    clairvoyant: hours(clairvoyantBound(needs, WINDOW_SECONDS, T, suite.lead, suite.warm)),
  };
}

/** Bounds and the jobs to run for one trace, from the replicas each window needs (measureNeeds). */
export function prepareSuite(input: SuiteInput, measured: Needs): PreparedSuite {
  const { scenario } = input;
  const trace = traceOf(input.trace);
  const pool = primaryPool(scenario);
  const minReplicas = Math.max(1, scenario.service.spec.scaling.minReplicas);
  const limit = replicaLimit(scenario);
  const needs = measured.perWindow;
  const { warm, warmClamp } = warmStart(scenario, measured.warm, limit);
  const lead = leadSeconds(scenario, pool);
  const T = trace.durationSeconds;
  const instant = instantBound(needs, WINDOW_SECONDS, T);
  const clairvoyant = clairvoyantBound(needs, WINDOW_SECONDS, T, lead, warm);
  let peakNeed = 0;
  for (const n of needs) peakNeed = Math.max(peakNeed, n);
  const refined = measured.refined;
  const attainment = input.curve.attainment;
  const unservable =
    curveUnservable(input.curve, scenario) ??
    needsUnservable(
      measured.windows,
      attainment,
      limit,
      busiestNeed(input.curve, withinContext(trace, contextTokensOf(scenario, pool)), limit.replicas),
    ) ??
    (refined && !refined.met && refined.atLimit > 0
      ? `no allowed fleet serves this trace at ${(attainment * 100).toFixed(2)}%: the instant bound's schedule, replayed with every backlog carried and raised to ${limit.replicas} replicas (${limit.limit}) where it missed, meets the SLO for only ${(refined.instant.sloAttainment * 100).toFixed(2)}% of requests.`
      : undefined);
  const base: RunOptions = { warmReplicas: warm };
  const boundParams = {
    windowSeconds: WINDOW_SECONDS,
    attainmentTarget: attainment,
    peakNeed,
    ...(refined
      ? { replays: refined.rounds, raisedWindows: refined.raised.filter((r) => r > 0).length }
      : {}),
  };
  const replays = new Map<string, RunResult>();
  const specs: { key: string; spec: PolicySpec; options: RunOptions }[] = [
    { key: "inferops", spec: { family: "inferops" }, options: base },
  ];
  if (refined) {
    // Its last replay is the instant bound's run: the schedule of these needs, replayed.
    replays.set("instant", { ...refined.instant, params: { ...boundParams, leadSeconds: 0 } });
  } else {
    specs.push({
      key: "instant",
      spec: instantSpec(needs, WINDOW_SECONDS, T, { ...boundParams, leadSeconds: 0 }),
      options: { ...base, overrides: INSTANT_OVERRIDES },
    });
  }
  specs.push({
    key: "clairvoyant",
    spec: {
      family: "clairvoyant",
      steps: clairvoyant.schedule,
      params: { ...boundParams, leadSeconds: lead },
    },
    options: { ...base, overrides: { scaleDownDelaySeconds: 0, deletion: "readyFirst" } },
  });
  if (input.baselines !== "none") {
    for (const spec of baselineSpecs({
      curve: input.curve,
      peakNeed,
      minReplicas,
      maxReplicas: Math.max(minReplicas, limit.replicas),
      quick: input.baselines === "quick",
      day: input.day,
    })) {
      specs.push({ key: "", spec, options: base });
    }
  }
  const recipe = input.trace;
  const context = beyondContext(trace, scenario);
  const profileCheck = checkProfile(scenario, input.curve, Math.min(peakNeed, limit.replicas));
  return {
    input,
    trace,
    stats: traceStats(trace),
    needs,
    windowMisses: measured.windows,
    raised: refined?.raised ?? new Int32Array(needs.length),
    warm,
    lead,
    limit,
    ...(warmClamp ? { warmClamp } : {}),
    beyondContext: context,
    ...(profileCheck ? { profileCheck } : {}),
    ...(unservable ? { unservable } : {}),
    warnings: warningLines({
      beyondContext: context,
      ...(warmClamp ? { warmClamp } : {}),
      ...(profileCheck ? { profile: profileCheck } : {}),
      ...(unservable ? { unservable } : {}),
    }),
    instant,
    clairvoyant,
    replays,
    jobs: specs.map((s) => ({
      key: s.key,
      job: { kind: "run", trace: recipe, scenario, policy: s.spec, options: s.options },
    })),
  };
}

/** The replicas the busiest minute needs at the measured capacity (searched up to ten times the limit). */
function busiestNeed(curve: CapacityCurve, trace: Trace, limit: number): number | undefined {
  if (curve.points.every((p) => p.collapsed)) return undefined;
  const peak = traceStats(trace).peakMinuteTokensPerSecond;
  return replicasFor(curve, peak, 1, 10 * Math.max(1, limit));
}

/** The results file of a suite from its runs (in the order of prepared.jobs) and its replays. */
export function assembleSuite(prepared: PreparedSuite, runs: readonly RunResult[]): SuiteOutput {
  const { scenario } = prepared.input;
  const pool = primaryPool(scenario);
  const gpus = acceleratorOf(scenario, pool).gpusPerReplica;
  const spec = poolSpec(scenario, pool);
  const boundCost = (b: Bound) => ({
    gpuHours: (b.replicaSeconds * gpus) / 3600,
    costUsd: (b.replicaSeconds / 3600) * replicaFootprint(spec, gpus).costPerHour,
  });
  const target = prepared.input.curve.attainment;
  const policies: Record<string, PolicyResult> = {};
  const byName = new Map<string, RunResult>();
  const add = (name: string, given: RunResult) => {
    // A bound says whether its replay met the attainment it was sized for.
    const run =
      name === "instant" || name === "clairvoyant"
        ? { ...given, params: { ...given.params, replayMeetsTarget: given.sloAttainment >= target } }
        : given;
    byName.set(name, run);
    const override =
      name === "instant"
        ? boundCost(prepared.instant)
        : name === "clairvoyant"
          ? boundCost(prepared.clairvoyant)
          : {};
    policies[name] = toPolicyResult(run, override);
  };
  prepared.jobs.forEach((j, i) => {
    add(j.key || runs[i]!.name, runs[i]!);
  });
  for (const [name, run] of prepared.replays) add(name, run);
  const { jobs: _jobs, replays: _replays, ...rest } = prepared;
  return {
    ...rest,
    result: { trace: prepared.input.name, day: prepared.input.day, policies },
    runs: byName,
  };
}

/** Measures a suite's needs, refines its bounds by replay, and prepares its jobs. */
export async function prepareSuiteOn(runner: JobRunner, input: SuiteInput): Promise<PreparedSuite> {
  const measured = await measureNeeds(runner, input);
  return prepareSuite(input, await refineBounds(runner, input, measured));
}

/** Runs a prepared suite's jobs on the runner and assembles it. */
export async function runPrepared(
  prepared: PreparedSuite,
  runner: JobRunner,
  onRun?: (run: RunResult) => void,
): Promise<SuiteOutput> {
  const runs = await Promise.all(
    prepared.jobs.map(async (j) => {
      const r = (await runner.run(j.job)) as RunResult;
      onRun?.(r);
      return r;
    }),
  );
  return assembleSuite(prepared, runs);
}

/**
 * Prepares each suite (needs, bounds refined by replay) and runs its jobs as soon as it is prepared, so
 * that one suite's runs keep the workers busy while another's bounds are replayed.
 */
export async function runSuites(
  inputs: readonly SuiteInput[],
  runner: JobRunner,
  onProgress?: Progress,
): Promise<SuiteOutput[]> {
  let done = 0;
  let total = 0;
  return Promise.all(
    inputs.map(async (input) => {
      const prepared = await prepareSuiteOn(runner, input);
      total += prepared.jobs.length;
      onProgress?.(done, total, `${input.name}: bounds replayed`);
      return runPrepared(prepared, runner, (r) => onProgress?.(++done, total, `${input.name}: ${r.name}`));
    }),
  );
}
