// Measurements on a single simulated replica: saturated throughput (MLPerf Offline-like), latency at a given
// Poisson rate (MLPerf Server-like) and the highest rate that meets a latency SLO. Used to calibrate the
// profiles and to derive the numbers the autoscaler's spec needs; usable by the simulator for any workload.
import { Replica } from "./replica.ts";
import type { RequestRecord, RequestSpec, ServingProfile } from "./types.ts";
import { burstRequests, meanLengths, poissonRequests, type WorkloadShape } from "./workload.ts";

/** Latency objective: percentile of TTFT and of per-request TPOT (mean inter-token latency). */
export interface LatencySlo {
  ttftSeconds: number;
  tpotSeconds: number;
  /** Percentile the objective applies to (MLPerf: 99). */
  percentile: 50 | 90 | 99;
}

/** MLPerf Inference Llama-3.1-8B Server constraints: p99 TTFT <= 2 s, p99 TPOT <= 100 ms. */
export const MLPERF_SERVER_SLO: LatencySlo = { ttftSeconds: 2, tpotSeconds: 0.1, percentile: 99 };

/** The p-th percentile (0..100, nearest rank) of values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export interface RunSummary {
  requests: number;
  /** Output tokens per second over the run (first arrival to last finish). */
  outputTokensPerSecond: number;
  /** Prompt + output tokens per second over the run. */
  totalTokensPerSecond: number;
  ttft: { p50: number; p90: number; p99: number; mean: number };
  tpot: { p50: number; p90: number; p99: number; mean: number };
  /** First arrival to last finish, seconds. */
  makespanSeconds: number;
  preemptions: number;
}

export function summarize(records: readonly RequestRecord[]): RunSummary {
  if (records.length === 0) throw new RangeError("no finished requests to summarize");
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let out = 0;
  let prompt = 0;
  let preemptions = 0;
  const ttfts: number[] = [];
  const tpots: number[] = [];
  for (const r of records) {
    first = Math.min(first, r.arrival);
    last = Math.max(last, r.finish);
    out += r.outputTokens;
    prompt += r.promptTokens;
    preemptions += r.preemptions;
    ttfts.push(r.ttft);
    if (r.outputTokens > 1) tpots.push(r.meanItl);
  }
  const span = last - first;
  const stats = (v: number[]) => ({
    p50: percentile(v, 50),
    p90: percentile(v, 90),
    p99: percentile(v, 99),
    mean: v.reduce((a, b) => a + b, 0) / Math.max(1, v.length),
  });
  return {
    requests: records.length,
    outputTokensPerSecond: out / span,
    totalTokensPerSecond: (out + prompt) / span,
    ttft: stats(ttfts),
    tpot: stats(tpots),
    makespanSeconds: span,
    preemptions,
  };
}

/** Serve `requests` on one fresh replica until all finish; the records in finishing order. */
export function serveAll(
  profile: ServingProfile,
  requests: readonly RequestSpec[],
  options: { fastPath?: boolean } = {},
): RequestRecord[] {
  let start = requests.length > 0 ? Number.POSITIVE_INFINITY : 0;
  for (const r of requests) start = Math.min(start, r.arrival);
  const replica = new Replica(profile, start, { fastPath: options.fastPath ?? true });
  for (const r of requests) {
    if (replica.add(r) !== undefined) throw new RangeError(`request ${r.id} does not fit ${profile.id}`);
  }
  replica.runUntilIdle();
  return replica.takeFinished();
}

/** Saturated throughput of one replica: MLPerf Offline-like, every request offered at once. */
export interface SaturatedSummary extends RunSummary {
  /** Output tokens/s in steady state: over the middle of the run, excluding the ramp-up and the drain. */
  steadyOutputTokensPerSecond: number;
}

/** Throughput of a replica given `count` requests at once (MLPerf Offline-like). */
export function saturatedThroughput(
  profile: ServingProfile,
  shape: WorkloadShape,
  count = 4000,
  seed = 7,
): SaturatedSummary {
  const requests = burstRequests(shape, count, seed);
  const replica = new Replica(profile, 0);
  for (const r of requests) {
    if (replica.add(r) !== undefined) throw new RangeError(`request ${r.id} does not fit ${profile.id}`);
  }
  // Sample the generation counter once per simulated second; the window is chosen once the makespan is known.
  const samples: number[] = [0];
  for (let t = 1; replica.inFlight > 0; t++) {
    replica.advanceTo(t);
    samples.push(replica.metrics().generationTokensTotal);
  }
  const records = replica.takeFinished();
  const summary = summarize(records);
  const from = Math.floor(samples.length * 0.1);
  const to = Math.max(from + 1, Math.floor(samples.length * 0.8));
  return { ...summary, steadyOutputTokensPerSecond: (samples[to]! - samples[from]!) / (to - from) };
}

/** Latency and throughput at `rate` requests/s of Poisson arrivals for `durationSeconds` (MLPerf Server-like). */
export function atRate(
  profile: ServingProfile,
  shape: WorkloadShape,
  rate: number,
  durationSeconds = 300,
  seed = 11,
): RunSummary {
  return summarize(serveAll(profile, poissonRequests({ shape, rate, durationSeconds, seed })));
}

export function meetsSlo(s: RunSummary, slo: LatencySlo): boolean {
  const key = `p${slo.percentile}` as const;
  // A run of one-token answers has no TPOT (NaN): only TTFT decides.
  return s.ttft[key] <= slo.ttftSeconds && !(s.tpot[key] > slo.tpotSeconds);
}

export interface SloCapacity {
  /** Highest Poisson rate (requests/s) found that meets the SLO; 0 when none does. */
  rate: number;
  /** The trial at that rate; undefined when no rate meets the SLO. */
  summary: RunSummary | undefined;
  /** Output tokens/s at that rate. */
  outputTokensPerSecond: number;
  /** Prompt + output tokens/s at that rate (the spec's maxTokensPerSecond). */
  totalTokensPerSecond: number;
}

/**
 * The highest Poisson arrival rate at which one replica meets `slo` on `shape`, by bisection between 0 and
 * the saturated rate. `durationSeconds` per trial; relative precision `tolerance`.
 */
export function maxRateAtSlo(
  profile: ServingProfile,
  shape: WorkloadShape,
  slo: LatencySlo = MLPERF_SERVER_SLO,
  options: { durationSeconds?: number; tolerance?: number; seed?: number } = {},
): SloCapacity {
  const duration = options.durationSeconds ?? 600; // MLPerf's minimum run
  const tolerance = options.tolerance ?? 0.01;
  const seed = options.seed ?? 11;
  const means = meanLengths(shape);
  const saturated = saturatedThroughput(profile, shape);
  // Never above the saturated rate: a slightly overloaded replica can pass a finite trial while its queue grows.
  const top = saturated.steadyOutputTokensPerSecond / means.output;
  let hi = top;
  let lo = 0;
  let best: RunSummary | undefined;
  let bestRate = 0;
  // Stop at the precision asked for, or once below `tolerance` of the top when nothing passes.
  while (hi - lo > tolerance * hi && hi > tolerance * top) {
    const mid = (lo + hi) / 2;
    const s = atRate(profile, shape, mid, duration, seed);
    if (meetsSlo(s, slo)) {
      lo = mid;
      best = s;
      bestRate = mid;
    } else {
      hi = mid;
    }
  }
  return {
    rate: bestRate,
    summary: best,
    outputTokensPerSecond: bestRate * means.output,
    totalTokensPerSecond: bestRate * (means.output + means.prompt),
  };
}

/** Requests a replica can hold at once: max_num_seqs, or the KV cache divided by the mean request footprint. */
export function maxConcurrentRequests(profile: ServingProfile, shape: WorkloadShape): number {
  const m = meanLengths(shape);
  return Math.max(
    1,
    Math.min(profile.maxNumSeqs, Math.floor(profile.kvCapacityTokens / (m.prompt + m.output))),
  );
}
