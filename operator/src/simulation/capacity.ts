// Measured capacity at the SLO, for a trace's request mix: the highest Poisson arrival rate at which a fleet
// of n ready replicas (least-outstanding-work routing, as in every run) serves the mix with at least
// `attainment` of requests meeting both the TTFT and the ITL objective. Measured by bisection over 600 s
// trials (after a 60 s warm-up that is not scored), for n = 1, 2, 4, 8, ... replicas, because a larger fleet
// behind one router absorbs variability better (its capacity per replica grows with n).
//
// The bounds and the warm start use it: the replicas a window needs are the fewest whose measured capacity
// covers the window's tokens (prompt + output) per second. Between measured fleet sizes, capacity per
// replica is interpolated linearly in log2(n); beyond the largest it stays flat (slightly conservative).

import { mulberry32 } from "../serving/workload.ts";
import { staticPolicy } from "./policies/static.ts";
import { primaryPool, type Scenario } from "./scenario.ts";
import { simulate } from "./simulate.ts";
import type { Trace, WindowLoad } from "./trace.ts";

/** A sample of a trace's requests (with replacement, seeded): the mix whose capacity is measured. */
export interface RequestMix {
  prompt: Int32Array;
  output: Int32Array;
}

export function mixOf(trace: Trace, size = 20_000, seed = 7): RequestMix {
  const rand = mulberry32(seed);
  const n = trace.arrivals.length;
  const prompt = new Int32Array(size);
  const output = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const k = Math.floor(rand() * n);
    prompt[i] = trace.prompt[k]!;
    output[i] = trace.output[k]!;
  }
  return { prompt, output };
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
  /** The same in tokens (prompt + output) per second per replica. */
  tokensPerReplica: number;
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
  seed?: number;
}

/** One fleet size: bisection over the Poisson rate. */
export function measurePoint(
  scenario: Scenario,
  mix: RequestMix,
  replicas: number,
  options: MeasureOptions = {},
): CapacityPoint {
  const target = options.attainment ?? 0.99;
  const duration = options.durationSeconds ?? 600;
  const warmup = options.warmupSeconds ?? 60;
  const tolerance = options.tolerance ?? 0.01;
  const pool = primaryPool(scenario);
  const profile = scenario.profiles[pool]!;
  const tokens = meanTokens(mix);
  const trial = (rate: number) =>
    simulate(
      poissonTrace(mix, rate, duration + warmup, options.seed ?? 11),
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
  let best: ReturnType<typeof trial> | undefined;
  for (let guard = 0; guard < 8; guard++) {
    const r = trial(hi);
    if (r.sloAttainment < target) break;
    lo = hi;
    best = r;
    hi *= 2;
  }
  while (hi - lo > tolerance * hi) {
    const mid = (lo + hi) / 2;
    const r = trial(mid);
    if (r.sloAttainment >= target) {
      lo = mid;
      best = r;
    } else hi = mid;
  }
  return {
    replicas,
    requestsPerSecond: lo,
    tokensPerReplica: (lo * tokens) / replicas,
    attainment: best?.sloAttainment ?? 0,
    running: best?.means.running ?? 0,
    waiting: best?.means.waiting ?? 0,
    inFlight: best?.means.inFlight ?? 0,
    kv: best?.means.kv ?? 0,
  };
}

export const DEFAULT_FLEET_SIZES = [1, 2, 4, 8, 16, 32] as const;

export function measureCapacity(
  scenario: Scenario,
  mix: RequestMix,
  options: MeasureOptions = {},
): CapacityCurve {
  const pool = primaryPool(scenario);
  const points = (options.replicas ?? DEFAULT_FLEET_SIZES).map((n) =>
    measurePoint(scenario, mix, n, options),
  );
  return {
    profile: scenario.profiles[pool]!.id,
    attainment: options.attainment ?? 0.99,
    meanTokens: meanTokens(mix),
    points,
  };
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
