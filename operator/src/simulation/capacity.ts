// Measured capacity at the SLO, for a trace's request mix: the highest Poisson arrival rate at which a fleet
// of n ready replicas (least-outstanding-work routing, as in every run) serves the mix with at least
// `attainment` of requests meeting both the TTFT and the ITL objective. Measured by bisection over trials of
// 600 s, or longer where needed to score at least `minRequests` requests (a one-replica trial at 600 s holds
// a few hundred, and its p99 is then a handful of requests), after a 60 s warm-up that is not scored, for
// n = 1, 2, 4, 8, ... replicas, because a larger fleet behind one router absorbs variability better (its
// capacity per replica grows with n).
//
// Each fleet size is measured on several samples (`samples`, default 3): each its own seeded sample of the
// trace's mix and its own arrivals. The point is their median, with their spread (min and max) kept; the
// curve is then made non-decreasing in n, capacity per replica, by isotonic regression (pool adjacent
// violators), since one router over more replicas never serves less per replica. Requests longer than the
// servers' context are left out of the mix: the servers refuse them, they take no capacity. A mix whose
// requests mostly miss the SLO even alone on an idle replica has no capacity at the SLO: the point says so
// (`collapsed`) with the attainment alone, instead of bisecting towards 0 requests/s.
//
// The bounds and the warm start use it: the replicas a window needs are the fewest whose measured capacity
// covers the window's tokens (prompt + output) per second. Between measured fleet sizes, capacity per
// replica is interpolated linearly in log2(n); beyond the largest it stays flat (slightly conservative).

import { Replica } from "../serving/replica.ts";
import { mulberry32 } from "../serving/workload.ts";
import { staticPolicy } from "./policies/static.ts";
import { contextTokensOf, primaryPool, type Scenario, type Slo, servedProfile } from "./scenario.ts";
import { simulate } from "./simulate.ts";
import type { Trace, WindowLoad } from "./trace.ts";

/** A sample of a trace's requests (with replacement, seeded): the mix whose capacity is measured. */
export interface RequestMix {
  prompt: Int32Array;
  output: Int32Array;
}

/**
 * A seeded sample of the trace's requests that fit `contextTokens` (prompt + output): the servers refuse
 * the others, which take no capacity. Throws when none fits.
 */
export function mixOf(
  trace: Trace,
  size = 20_000,
  seed = 7,
  contextTokens = Number.POSITIVE_INFINITY,
): RequestMix {
  const fit: number[] = [];
  for (let i = 0; i < trace.arrivals.length; i++)
    if (trace.prompt[i]! + trace.output[i]! <= contextTokens) fit.push(i);
  if (fit.length === 0) {
    throw new RangeError(
      `trace ${trace.name}: none of its ${trace.arrivals.length} requests fits a context of ${contextTokens} tokens (prompt + output)`,
    );
  }
  const rand = mulberry32(seed);
  const prompt = new Int32Array(size);
  const output = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const k = fit[Math.floor(rand() * fit.length)]!;
    prompt[i] = trace.prompt[k]!;
    output[i] = trace.output[k]!;
  }
  return { prompt, output };
}

/** Seeds of the mix and the arrivals of a measurement's sample k (sample 0: the seeds used before samples). */
export function sampleSeeds(k: number): { mix: number; arrivals: number } {
  return { mix: 7 + 1000 * k, arrivals: 11 + 1000 * k };
}

/** The mix a capacity measurement of the scenario's primary pool uses for sample k. */
export function scenarioMix(trace: Trace, scenario: Scenario, sample = 0): RequestMix {
  return mixOf(trace, 20_000, sampleSeeds(sample).mix, contextTokensOf(scenario, primaryPool(scenario)));
}

export function meanTokens(mix: RequestMix): number {
  let s = 0;
  for (let i = 0; i < mix.prompt.length; i++) s += mix.prompt[i]! + mix.output[i]!;
  return s / mix.prompt.length;
}

/** Poisson arrivals at `rate` for `duration` seconds, requests drawn in turn from the mix (seeded). */
export function poissonTrace(mix: RequestMix, rate: number, duration: number, seed = 11): Trace {
  const rand = mulberry32(seed);
  const a: number[] = [];
  const p: number[] = [];
  const o: number[] = [];
  let t = 0;
  for (;;) {
    t += -Math.log(1 - rand()) / rate;
    if (t > duration) break;
    const k = Math.floor(rand() * mix.prompt.length);
    a.push(t);
    p.push(mix.prompt[k]!);
    o.push(mix.output[k]!);
  }
  return {
    name: `poisson-${rate}`,
    startMs: 0,
    durationSeconds: duration,
    arrivals: Float64Array.from(a),
    prompt: Int32Array.from(p),
    output: Int32Array.from(o),
  };
}

export interface CapacityPoint {
  replicas: number;
  /** Highest rate found that meets the objective, requests/s (fleet). */
  requestsPerSecond: number;
  /**
   * The same in tokens (prompt + output) per second per replica. In a curve: the median over the samples,
   * made non-decreasing in the fleet size.
   */
  tokensPerReplica: number;
  /** In a curve: the median over the samples as measured, before the curve was made non-decreasing. */
  measuredTokensPerReplica?: number;
  /** In a curve: the lowest and highest tokens/s per replica over the samples, and how many there were. */
  spread?: { min: number; max: number; samples: number };
  /**
   * No rate meets the objective: fewer than `attainment` of the mix's requests meet the SLO even alone on an
   * idle replica (`attainment` is then that share).
   */
  collapsed?: boolean;
  attainment: number;
  /** Per ready replica at that rate: time-averaged requests running, waiting, in flight; KV use. */
  running: number;
  waiting: number;
  inFlight: number;
  kv: number;
}

export interface CapacityCurve {
  profile: string;
  attainment: number;
  meanTokens: number;
  points: CapacityPoint[];
}

export interface MeasureOptions {
  /** Fleet sizes to measure (default 1, 2, 4, 8, 16, 32). */
  replicas?: readonly number[];
  /** Share of requests that must meet the SLO (default 0.99). */
  attainment?: number;
  durationSeconds?: number;
  warmupSeconds?: number;
  /** Relative precision of the bisection (default 0.01). */
  tolerance?: number;
  /** Seed of the Poisson arrivals (default: the sample's). */
  seed?: number;
  /** Which sample of the mix and the arrivals this measurement is (default 0; sampleSeeds). */
  sample?: number;
  /** Samples per fleet size in a curve (default 3); the curve takes their median. */
  samples?: number;
  /** Fewest requests a trial scores: trials at low rates run longer (default 3,000). */
  minRequests?: number;
}

export const DEFAULT_SAMPLES = 3;
const DEFAULT_MIN_REQUESTS = 3000;
/** Requests of the mix served alone to find the share that meets the SLO even alone. */
const ALONE_REQUESTS = 2000;

/**
 * The share of the mix's first requests that meet the SLO when each is served alone on an idle replica: the
 * most any fleet can reach on this mix, whatever its size.
 */
export function attainmentAlone(scenario: Scenario, mix: RequestMix, slo: Slo = scenario.slo): number {
  const profile = servedProfile(scenario, primaryPool(scenario))!;
  const n = Math.min(ALONE_REQUESTS, mix.prompt.length);
  const replica = new Replica(profile, 0, { fastPath: true });
  let t = 0;
  let met = 0;
  for (let i = 0; i < n; i++) {
    replica.add({ id: i, arrival: t, promptTokens: mix.prompt[i]!, outputTokens: mix.output[i]! });
    t = replica.runUntilIdle() + 1;
    for (const r of replica.takeFinished())
      if (r.ttft <= slo.ttftSeconds && r.meanItl <= slo.itlSeconds) met++;
  }
  return n > 0 ? met / n : 1;
}

/** One fleet size: bisection over the Poisson rate. */
export async function measurePoint(
  scenario: Scenario,
  mix: RequestMix,
  replicas: number,
  options: MeasureOptions = {},
): Promise<CapacityPoint> {
  const target = options.attainment ?? 0.99;
  const duration = options.durationSeconds ?? 600;
  const warmup = options.warmupSeconds ?? 60;
  const tolerance = options.tolerance ?? 0.01;
  const minRequests = options.minRequests ?? DEFAULT_MIN_REQUESTS;
  const pool = primaryPool(scenario);
  const profile = scenario.profiles[pool]!;
  const tokens = meanTokens(mix);
  const alone = attainmentAlone(scenario, mix);
  if (alone < target) {
    return {
      replicas,
      requestsPerSecond: 0,
      tokensPerReplica: 0,
      collapsed: true,
      attainment: alone,
      running: 0,
      waiting: 0,
      inFlight: 0,
      kv: 0,
    };
  }
  const seed = options.seed ?? sampleSeeds(options.sample ?? 0).arrivals;
  const trial = (rate: number) =>
    simulate(
      poissonTrace(mix, rate, Math.max(duration, minRequests / rate) + warmup, seed),
      scenario,
      staticPolicy(replicas),
      {
        warmReplicas: replicas,
        scoreFrom: warmup,
        drainSeconds: 600,
        detailedMeans: true,
        timelineSeconds: 1e9,
      },
    );
  let lo = 0;
  let hi = (2 * replicas * profile.spec.maxTokensPerSecond) / tokens;
  // A rate this low is no capacity: the bisection stops there rather than halving towards 0.
  const floor = hi / 4096;
  let best: Awaited<ReturnType<typeof trial>> | undefined;
  for (let guard = 0; guard < 8; guard++) {
    const r = await trial(hi);
    if (r.sloAttainment < target) break;
    lo = hi;
    best = r;
    hi *= 2;
  }
  while (hi - lo > tolerance * hi && hi > floor) {
    const mid = (lo + hi) / 2;
    const r = await trial(mid);
    if (r.sloAttainment >= target) {
      lo = mid;
      best = r;
    } else hi = mid;
  }
  return {
    replicas,
    requestsPerSecond: lo,
    tokensPerReplica: (lo * tokens) / replicas,
    ...(lo === 0 ? { collapsed: true } : {}),
    attainment: best?.sloAttainment ?? 0,
    running: best?.means.running ?? 0,
    waiting: best?.means.waiting ?? 0,
    inFlight: best?.means.inFlight ?? 0,
    kv: best?.means.kv ?? 0,
  };
}

export const DEFAULT_FLEET_SIZES = [1, 2, 4, 8, 16, 32] as const;

/** Measures a curve in this thread: each fleet size on `samples` samples of the trace's mix (see header). */
export async function measureCapacity(
  scenario: Scenario,
  trace: Trace,
  options: MeasureOptions = {},
): Promise<CapacityCurve> {
  const pool = primaryPool(scenario);
  const samples = options.samples ?? DEFAULT_SAMPLES;
  const measured: CapacityPoint[] = [];
  for (const n of options.replicas ?? DEFAULT_FLEET_SIZES)
    for (let k = 0; k < samples; k++)
      measured.push(
        await measurePoint(scenario, scenarioMix(trace, scenario, k), n, { ...options, sample: k }),
      );
  return {
    profile: scenario.profiles[pool]!.id,
    attainment: options.attainment ?? 0.99,
    meanTokens: meanTokens(scenarioMix(trace, scenario)),
    points: combinePoints(measured, meanTokens(scenarioMix(trace, scenario))),
  };
}

/**
 * One point per fleet size from the samples measured for it: the median sample (the lower middle of an even
 * count), with the samples' min and max; then capacity per replica made non-decreasing in the fleet size by
 * isotonic regression (pool adjacent violators, each size weighted alike). A collapsed sample makes its
 * fleet size collapsed only when the median is.
 */
export function combinePoints(samples: readonly CapacityPoint[], meanTokensOfMix: number): CapacityPoint[] {
  const bySize = new Map<number, CapacityPoint[]>();
  for (const p of samples) bySize.set(p.replicas, [...(bySize.get(p.replicas) ?? []), p]);
  const points = [...bySize.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([replicas, ps]) => {
      const sorted = [...ps].sort((a, b) => a.tokensPerReplica - b.tokensPerReplica);
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      return {
        ...median,
        replicas,
        measuredTokensPerReplica: median.tokensPerReplica,
        spread: {
          min: sorted[0]!.tokensPerReplica,
          max: sorted[sorted.length - 1]!.tokensPerReplica,
          samples: sorted.length,
        },
      };
    });
  const monotone = nonDecreasing(points.map((p) => p.tokensPerReplica));
  return points.map((p, i) => {
    const t = monotone[i]!;
    if (t === p.tokensPerReplica) return p;
    return { ...p, tokensPerReplica: t, requestsPerSecond: (t * p.replicas) / meanTokensOfMix };
  });
}

/** The least-squares non-decreasing fit of a sequence (pool adjacent violators, equal weights). */
export function nonDecreasing(values: readonly number[]): number[] {
  const blocks: { sum: number; count: number }[] = [];
  for (const v of values) {
    blocks.push({ sum: v, count: 1 });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1]!;
      const a = blocks[blocks.length - 2]!;
      if (a.sum / a.count <= b.sum / b.count) break;
      blocks.pop();
      a.sum += b.sum;
      a.count += b.count;
    }
  }
  return blocks.flatMap((b) => Array.from({ length: b.count }, () => b.sum / b.count));
}

/** Capacity per replica (tokens/s) of a fleet of n, interpolated in log2(n) between measured sizes. */
export function tokensPerReplica(curve: CapacityCurve, n: number): number {
  const pts = [...curve.points].sort((a, b) => a.replicas - b.replicas);
  if (pts.length === 0) throw new RangeError("capacity curve has no points");
  if (n <= pts[0]!.replicas) return pts[0]!.tokensPerReplica;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (n <= b.replicas) {
      const x = (Math.log2(n) - Math.log2(a.replicas)) / (Math.log2(b.replicas) - Math.log2(a.replicas));
      return a.tokensPerReplica + x * (b.tokensPerReplica - a.tokensPerReplica);
    }
  }
  return pts[pts.length - 1]!.tokensPerReplica;
}

/** The fewest replicas (at least `min`) whose measured capacity covers `tokensPerSecond`. */
export function replicasFor(curve: CapacityCurve, tokensPerSecond: number, min = 1, max = 100_000): number {
  let n = Math.max(min, 1);
  if (tokensPerSecond <= 0) return Math.max(min, 0);
  // A collapsed curve (no capacity at the SLO at any size) covers nothing: every search ends at max.
  if (curve.points.every((p) => !(p.tokensPerReplica > 0))) return Math.max(n, max);
  while (n < max && n * tokensPerReplica(curve, n) < tokensPerSecond) n++;
  return n;
}

/** Replicas each window needs (the instant bound's per-window need). */
export function windowNeeds(curve: CapacityCurve, load: WindowLoad, min = 1): Int32Array {
  const needs = new Int32Array(load.tokens.length);
  const cache = new Map<number, number>();
  for (let w = 0; w < needs.length; w++) {
    const rate = load.tokens[w]! / load.windowSeconds;
    const key = Math.round(rate);
    let n = cache.get(key);
    if (n === undefined) {
      n = replicasFor(curve, rate, min);
      cache.set(key, n);
    }
    needs[w] = n;
  }
  return needs;
}
