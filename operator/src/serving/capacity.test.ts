import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MLPERF_SERVER_SLO,
  maxRateAtSlo,
  meetsSlo,
  percentile,
  type RunSummary,
  serveAll,
  summarize,
} from "./capacity.ts";
import { testProfile } from "./testing.ts";
import {
  burstRequests,
  CHAT_LIKE,
  MLPERF_LIKE,
  meanLengths,
  mulberry32,
  poissonRequests,
  sampleLength,
} from "./workload.ts";

describe("percentile", () => {
  it.each([
    { values: [], p: 50, want: Number.NaN },
    { values: [3], p: 99, want: 3 },
    { values: [4, 1, 3, 2], p: 50, want: 2 },
    { values: [4, 1, 3, 2], p: 75, want: 3 },
    { values: Array.from({ length: 100 }, (_, i) => i + 1), p: 99, want: 99 },
  ])("p$p of $values.length values is $want", ({ values, p, want }) => {
    expect(percentile(values, p)).toEqual(want);
  });
});

describe("meetsSlo", () => {
  const summary = (ttft: number, tpot: number): RunSummary => ({
    requests: 1,
    outputTokensPerSecond: 1,
    totalTokensPerSecond: 1,
    ttft: { p50: ttft, p90: ttft, p99: ttft, mean: ttft },
    tpot: { p50: tpot, p90: tpot, p99: tpot, mean: tpot },
    makespanSeconds: 1,
    preemptions: 0,
  });
  it.each([
    { ttft: 1.9, tpot: 0.09, ok: true },
    { ttft: 2.0, tpot: 0.1, ok: true },
    { ttft: 2.1, tpot: 0.05, ok: false },
    { ttft: 0.5, tpot: 0.11, ok: false },
    { ttft: 0.5, tpot: Number.NaN, ok: true }, // only one-token answers: no TPOT to judge
  ])("TTFT $ttft s, TPOT $tpot s -> $ok", ({ ttft, tpot, ok }) => {
    expect(meetsSlo(summary(ttft, tpot), MLPERF_SERVER_SLO)).toBe(ok);
  });
});

describe("serving a batch of requests", () => {
  it("refuses to summarize nothing and to serve a request that cannot fit", () => {
    expect(() => summarize([])).toThrow(/no finished requests/);
    expect(() =>
      serveAll(testProfile(), [{ id: "big", arrival: 0, promptTokens: 299, outputTokens: 2 }]),
    ).toThrow(/does not fit/);
  });

  it("finds a rate that meets the SLO, and none above the saturated rate", () => {
    const p = testProfile({
      kvCapacityTokens: 4000,
      maxModelLen: 300,
      maxNumSeqs: 16,
      maxNumBatchedTokens: 256,
    });
    const shape = {
      name: "tiny",
      prompt: { median: 60, sigma: 0.3, min: 8, max: 200 },
      output: { median: 20, sigma: 0.3, min: 2, max: 80 },
    };
    const c = maxRateAtSlo(
      p,
      shape,
      { ttftSeconds: 2, tpotSeconds: 0.1, percentile: 99 },
      { durationSeconds: 200 },
    );
    expect(c.rate).toBeGreaterThan(0);
    expect(meetsSlo(c.summary!, { ttftSeconds: 2, tpotSeconds: 0.1, percentile: 99 })).toBe(true);
    const m = meanLengths(shape);
    expect(c.totalTokensPerSecond).toBeCloseTo(c.rate * (m.prompt + m.output), 6);
    // An unreachable objective (TTFT below one step) leaves nothing.
    const none = maxRateAtSlo(
      p,
      shape,
      { ttftSeconds: 0.001, tpotSeconds: 0.1, percentile: 99 },
      { durationSeconds: 200 },
    );
    expect(none.rate).toBe(0);
    expect(none.summary).toBeUndefined();
  });
});

describe("workloads", () => {
  it("draws lengths inside their bounds", () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(MLPERF_LIKE, CHAT_LIKE), (seed, shape) => {
        const rand = mulberry32(seed);
        for (let i = 0; i < 50; i++) {
          const p = sampleLength(shape.prompt, rand);
          expect(Number.isInteger(p) && p >= shape.prompt.min && p <= shape.prompt.max).toBe(true);
        }
      }),
    );
  });

  it("is deterministic per seed and follows the rate", () => {
    const a = poissonRequests({ shape: MLPERF_LIKE, rate: 20, durationSeconds: 500, seed: 3 });
    expect(poissonRequests({ shape: MLPERF_LIKE, rate: 20, durationSeconds: 500, seed: 3 })).toEqual(a);
    expect(poissonRequests({ shape: MLPERF_LIKE, rate: 20, durationSeconds: 500, seed: 4 })).not.toEqual(a);
    expect(a.length / 500).toBeGreaterThan(19);
    expect(a.length / 500).toBeLessThan(21);
    for (let i = 1; i < a.length; i++) expect(a[i]!.arrival).toBeGreaterThanOrEqual(a[i - 1]!.arrival);
    expect(burstRequests(MLPERF_LIKE, 10, 1).every((r) => r.arrival === 0)).toBe(true);
  });

  it("needs a rate and an end", () => {
    expect(() => poissonRequests({ shape: MLPERF_LIKE, rate: 0, count: 1, seed: 1 })).toThrow(/rate/);
    expect(() => poissonRequests({ shape: MLPERF_LIKE, rate: 1, seed: 1 })).toThrow(
      /count or a durationSeconds/,
    );
  });

  it("has MLPerf-like means of about 970 prompt and 130 output tokens", () => {
    const m = meanLengths(MLPERF_LIKE);
    expect(m.prompt).toBeGreaterThan(940);
    expect(m.prompt).toBeLessThan(1000);
    expect(m.output).toBeGreaterThan(125);
    expect(m.output).toBeLessThan(135);
  });
});
