// Seeded synthetic workloads for calibration, tests and benchmarks. Deterministic: same seed, same requests.
import type { RequestSpec } from "./types.ts";

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A log-normal length distribution, clipped, rounded to whole tokens. */
export interface LengthDistribution {
  median: number;
  /** Standard deviation of the underlying normal (0: every length equals the median). */
  sigma: number;
  min: number;
  max: number;
}

/** Prompt and output lengths of a workload. */
export interface WorkloadShape {
  name: string;
  prompt: LengthDistribution;
  output: LengthDistribution;
}

/**
 * MLPerf Inference v5.1 Llama-3.1-8B (CNN/DailyMail summarisation)-like lengths: prompts around 900-1,000
 * tokens (news articles of ~780 words at ~1.3 Llama-3 tokens per word, capped at 2,048), summaries around
 * 130 tokens. See docs/serving-model.md for where these come from and how uncertain they are.
 */
export const MLPERF_LIKE: WorkloadShape = {
  name: "mlperf-llama3.1-8b-like",
  prompt: { median: 900, sigma: 0.4, min: 128, max: 2048 },
  output: { median: 120, sigma: 0.4, min: 16, max: 512 },
};

/** A chat-like, decode-heavier shape (for tests and benchmarks). */
export const CHAT_LIKE: WorkloadShape = {
  name: "chat-like",
  prompt: { median: 600, sigma: 0.9, min: 16, max: 6000 },
  output: { median: 150, sigma: 0.8, min: 4, max: 1500 },
};

function normal(rand: () => number): number {
  // Box-Muller; 1 - u keeps the log argument in (0, 1].
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function sampleLength(d: LengthDistribution, rand: () => number): number {
  const x = d.sigma === 0 ? d.median : d.median * Math.exp(d.sigma * normal(rand));
  return Math.min(d.max, Math.max(d.min, Math.round(x)));
}

export interface PoissonOptions {
  shape: WorkloadShape;
  /** Requests per second. */
  rate: number;
  /** Stop after this many requests... */
  count?: number;
  /** ...or once arrivals pass this many seconds after `start`. */
  durationSeconds?: number;
  start?: number;
  seed: number;
}

/** Poisson arrivals with lengths drawn from `shape`. */
export function poissonRequests(o: PoissonOptions): RequestSpec[] {
  if (!(o.rate > 0)) throw new RangeError(`rate must be > 0, got ${o.rate}`);
  if (o.count === undefined && o.durationSeconds === undefined) {
    throw new RangeError("poissonRequests needs a count or a durationSeconds");
  }
  const rand = mulberry32(o.seed);
  const start = o.start ?? 0;
  const end = o.durationSeconds === undefined ? Number.POSITIVE_INFINITY : start + o.durationSeconds;
  const max = o.count ?? Number.POSITIVE_INFINITY;
  const out: RequestSpec[] = [];
  let t = start;
  while (out.length < max) {
    t += -Math.log(1 - rand()) / o.rate;
    if (t > end) break;
    out.push({
      id: out.length,
      arrival: t,
      promptTokens: sampleLength(o.shape.prompt, rand),
      outputTokens: sampleLength(o.shape.output, rand),
    });
  }
  return out;
}

/** `count` requests all arriving at `start` (MLPerf's Offline scenario). */
export function burstRequests(shape: WorkloadShape, count: number, seed: number, start = 0): RequestSpec[] {
  const rand = mulberry32(seed);
  const out: RequestSpec[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      id: i,
      arrival: start,
      promptTokens: sampleLength(shape.prompt, rand),
      outputTokens: sampleLength(shape.output, rand),
    });
  }
  return out;
}

/** Mean prompt and output lengths of a shape, estimated from `samples` seeded draws. */
export function meanLengths(
  shape: WorkloadShape,
  samples = 20000,
  seed = 1,
): { prompt: number; output: number } {
  const rand = mulberry32(seed);
  let p = 0;
  let o = 0;
  for (let i = 0; i < samples; i++) {
    p += sampleLength(shape.prompt, rand);
    o += sampleLength(shape.output, rand);
  }
  return { prompt: p / samples, output: o / samples };
}
