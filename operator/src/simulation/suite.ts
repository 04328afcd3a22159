// A benchmark suite for one trace: the capacity of its request mix, the replicas each minute needs, the two
// bounds, inferops and the baselines' sweeps, all run through the same simulator with the same warm start,
// and the results in the benchmark's format. Used by `npm run bench` (bench/run.ts) and `inferops simulate`.
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
import { type PolicyResult, type TraceResult, toPolicyResult } from "./results.ts";
import {
  acceleratorOf,
  contextTokensOf,
  leadSeconds,
  poolSpec,
  primaryPool,
  type Scenario,
} from "./scenario.ts";
import type { RunOptions, RunResult } from "./simulate.ts";
import { baselineSpecs } from "./sweep.ts";
import { buildTrace, type Trace, type TraceStats, traceStats, windowLoad } from "./trace.ts";

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
 * the profile's capacity suggests for the trace's busiest minute (at least 1, 2 and 4).
 */
export function fleetSizesFor(trace: Trace, scenario: Scenario): number[] {
  const profile = scenario.profiles[primaryPool(scenario)]!;
  const guess = Math.ceil(
    (1.5 * traceStats(trace).peakMinuteTokensPerSecond) / profile.spec.maxTokensPerSecond,
  );
  const sizes = [1, 2, 4];
  while (sizes[sizes.length - 1]! < guess && sizes.length < 12) sizes.push(sizes[sizes.length - 1]! * 2);
  return sizes;
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
  /** Replicas each 60 s window needs. */
  needs: Int32Array;
  /** Each window's misses by fleet size, from which the needs were allocated (needs.ts). */
  windowMisses: WindowMisses[];
  warm: number;
  lead: number;
  instant: Bound;
  clairvoyant: Bound;
  jobs: { key: string; job: Job }[];
}

export interface SuiteOutput extends Omit<PreparedSuite, "jobs"> {
  result: TraceResult;
  runs: Map<string, RunResult>;
  /** How early a policy must act to reach the attainment target (feasibility.ts), when analysed. */
  latestAsk?: LatestAsk;
}

/** Windows per needs job: a few seconds of work each, enough jobs to keep every worker busy. */
const NEEDS_CHUNK = 30;

/**
 * The replicas each window of a trace needs, measured on the window's own arrivals (needs.ts), in jobs of
 * NEEDS_CHUNK windows on the runner.
 */
export async function measureNeeds(runner: JobRunner, input: SuiteInput): Promise<Needs> {
  const trace = traceOf(input.trace);
  const { scaling } = input.scenario.service.spec;
  const load = windowLoad(
    withinContext(trace, contextTokensOf(input.scenario, primaryPool(input.scenario))),
    WINDOW_SECONDS,
  );
  const windows = load.tokens.length;
  const options = {
    windowSeconds: WINDOW_SECONDS,
    minReplicas: Math.max(1, scaling.minReplicas),
    maxReplicas: scaling.maxReplicas,
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
    // same fleet until new capacity arrives, and a steady-state fleet carries it better).
    warm: Math.max(
      first ? ownNeed(first, input.curve.attainment) : 1,
      replicasFor(input.curve, (load.tokens[0] ?? 0) / WINDOW_SECONDS, options.minReplicas),
    ),
  };
}

/** What measureNeeds finds: the replicas each window needs, and the warm start (the first window's own need). */
export interface Needs {
  perWindow: Int32Array;
  warm: number;
  /** Each window's misses by fleet size (for bounds at other attainment targets). */
  windows: WindowMisses[];
}

/**
 * The bounds' GPU-hours when sized for another attainment: the same measured windows, allocated within that
 * attainment's miss budget. For comparing a policy with the bounds at the policy's own attainment. An
 * estimate at high attainment (docs/benchmarks.md, "The bound at a policy's own attainment").
 */
export function boundsAt(
  suite: PreparedSuite | SuiteOutput,
  attainment: number,
): { instant: number; clairvoyant: number } {
  const { scenario } = suite.input;
  const gpus = acceleratorOf(scenario, primaryPool(scenario)).gpusPerReplica;
  const needs = allocateNeeds(suite.windowMisses, attainment);
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
  const needs = measured.perWindow;
  const warm = Math.max(minReplicas, measured.warm);
  const lead = leadSeconds(scenario, pool);
  const T = trace.durationSeconds;
  const instant = instantBound(needs, WINDOW_SECONDS, T);
  const clairvoyant = clairvoyantBound(needs, WINDOW_SECONDS, T, lead, warm);
  let peakNeed = 0;
  for (const n of needs) peakNeed = Math.max(peakNeed, n);
  const base: RunOptions = { warmReplicas: warm };
  const boundParams = {
    windowSeconds: WINDOW_SECONDS,
    attainmentTarget: input.curve.attainment,
    peakNeed,
  };
  const specs: { key: string; spec: PolicySpec; options: RunOptions }[] = [
    { key: "inferops", spec: { family: "inferops" }, options: base },
    {
      key: "instant",
      spec: { family: "instant", steps: instant.schedule, params: { ...boundParams, leadSeconds: 0 } },
      options: {
        ...base,
        overrides: {
          provisioningSeconds: 0,
          modelLoadSeconds: 0,
          scaleDownDelaySeconds: 0,
          deletion: "readyFirst",
        },
      },
    },
    {
      key: "clairvoyant",
      spec: {
        family: "clairvoyant",
        steps: clairvoyant.schedule,
        params: { ...boundParams, leadSeconds: lead },
      },
      options: { ...base, overrides: { scaleDownDelaySeconds: 0, deletion: "readyFirst" } },
    },
  ];
  if (input.baselines !== "none") {
    const max = scenario.service.spec.scaling.maxReplicas;
    for (const spec of baselineSpecs({
      curve: input.curve,
      peakNeed,
      minReplicas,
      maxReplicas: max,
      quick: input.baselines === "quick",
      day: input.day,
    })) {
      specs.push({ key: "", spec, options: base });
    }
  }
  const recipe = input.trace;
  return {
    input,
    trace,
    stats: traceStats(trace),
    needs,
    windowMisses: measured.windows,
    warm,
    lead,
    instant,
    clairvoyant,
    jobs: specs.map((s) => ({
      key: s.key,
      job: { kind: "run", trace: recipe, scenario, policy: s.spec, options: s.options },
    })),
  };
}

/** The results file of a suite from its runs (in the order of prepared.jobs). */
export function assembleSuite(prepared: PreparedSuite, runs: readonly RunResult[]): SuiteOutput {
  const { scenario } = prepared.input;
  const pool = primaryPool(scenario);
  const gpus = acceleratorOf(scenario, pool).gpusPerReplica;
  const spec = poolSpec(scenario, pool);
  const boundCost = (b: Bound) => ({
    gpuHours: (b.replicaSeconds * gpus) / 3600,
    costUsd: ((b.replicaSeconds / 3600) * gpus * spec.costPerNodeHour) / spec.gpu.count,
  });
  const policies: Record<string, PolicyResult> = {};
  const byName = new Map<string, RunResult>();
  prepared.jobs.forEach((j, i) => {
    const run = runs[i]!;
    const name = j.key || run.name;
    byName.set(name, run);
    const override =
      name === "instant"
        ? boundCost(prepared.instant)
        : name === "clairvoyant"
          ? boundCost(prepared.clairvoyant)
          : {};
    policies[name] = toPolicyResult(run, override);
  });
  const { jobs: _jobs, ...rest } = prepared;
  return {
    ...rest,
    result: { trace: prepared.input.name, day: prepared.input.day, policies },
    runs: byName,
  };
}

/** Prepares the suites, runs all their jobs on the runner (longest traces first), and assembles them. */
export async function runSuites(
  inputs: readonly SuiteInput[],
  runner: JobRunner,
  onProgress?: Progress,
): Promise<SuiteOutput[]> {
  const needs = await Promise.all(inputs.map((input) => measureNeeds(runner, input)));
  onProgress?.(0, 1, "replicas each window needs");
  const prepared = inputs.map((input, i) => prepareSuite(input, needs[i]!));
  const all = prepared.flatMap((p, s) =>
    p.jobs.map((j, k) => ({ s, k, job: j.job, size: p.trace.arrivals.length })),
  );
  const order = [...all].sort((a, b) => b.size - a.size);
  const results = prepared.map((p) => new Array<RunResult>(p.jobs.length));
  let done = 0;
  await Promise.all(
    order.map(async (x) => {
      const r = (await runner.run(x.job)) as RunResult;
      results[x.s]![x.k] = r;
      onProgress?.(++done, all.length, `${prepared[x.s]!.input.name}: ${r.name}`);
    }),
  );
  return prepared.map((p, s) => assembleSuite(p, results[s]!));
}
