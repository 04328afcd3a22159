import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  attainmentAlone,
  combinePoints,
  measurePoint,
  mixOf,
  nonDecreasing,
  type RequestMix,
  tokensPerReplica,
} from "./capacity.ts";
import { capacityCurve, syntheticTrace, testScenario } from "./testing.ts";
import { makeTrace } from "./trace.ts";

describe("mixOf", () => {
  it("samples only the requests that fit the servers' context, and says when none does", () => {
    const reqs = Array.from({ length: 100 }, (_, i) => ({
      arrival: i,
      prompt: i % 4 === 0 ? 40_000 : 500,
      output: 100,
    }));
    const trace = makeTrace("t", reqs);
    const mix = mixOf(trace, 1000, 7, 32_768);
    expect(Math.max(...mix.prompt)).toBe(500);
    expect(mixOf(trace, 1000, 7).prompt).toContain(40_000);
    expect(() => mixOf(trace, 10, 7, 100)).toThrow(/none of its 100 requests fits a context of 100 tokens/);
  });
});

describe("nonDecreasing", () => {
  it("is the isotonic fit: non-decreasing, the same total, unchanged when already monotone", () => {
    expect(nonDecreasing([1, 3, 2, 4])).toEqual([1, 2.5, 2.5, 4]);
    expect(nonDecreasing([5, 1, 1])).toEqual([7 / 3, 7 / 3, 7 / 3]);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { maxLength: 12 }), (xs) => {
        const ys = nonDecreasing(xs);
        expect(ys.length).toBe(xs.length);
        for (let i = 1; i < ys.length; i++) expect(ys[i]!).toBeGreaterThanOrEqual(ys[i - 1]! - 1e-9);
        const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);
        expect(sum(ys)).toBeCloseTo(sum(xs), 6);
        const sorted = [...xs].sort((a, b) => a - b);
        if (xs.every((x, i) => x === sorted[i])) expect(ys).toEqual(xs);
      }),
    );
  });
});

describe("combinePoints", () => {
  const pts = (replicas: number, ...tokens: number[]) =>
    capacityCurve(tokens.map((t) => [replicas, (t * replicas) / 1000, t])).points;
  it("takes each fleet size's median sample with the samples' spread, then makes capacity per replica non-decreasing", () => {
    const out = combinePoints([...pts(1, 900, 700, 1300), ...pts(2, 800, 850, 820), ...pts(4, 1500)], 1000);
    expect(out.map((p) => p.replicas)).toEqual([1, 2, 4]);
    expect(out[0]!.spread).toEqual({ min: 700, max: 1300, samples: 3 });
    expect(out[0]!.measuredTokensPerReplica).toBe(900);
    expect(out[1]!.measuredTokensPerReplica).toBe(820);
    // 900 then 820: pooled to 860 for both; the rates follow.
    expect(out[0]!.tokensPerReplica).toBeCloseTo(860, 9);
    expect(out[1]!.tokensPerReplica).toBeCloseTo(860, 9);
    expect(out[1]!.requestsPerSecond).toBeCloseTo((860 * 2) / 1000, 9);
    expect(out[2]!.tokensPerReplica).toBe(1500);
    const curve = { ...capacityCurve([]), points: out };
    // Total capacity grows with the fleet.
    for (let n = 2; n <= 8; n++)
      expect(n * tokensPerReplica(curve, n)).toBeGreaterThan((n - 1) * tokensPerReplica(curve, n - 1));
  });
});

describe("capacity at the SLO of a mix no fleet can serve", () => {
  it("does not bisect towards 0 requests/s labelled attained: it says the mix misses the SLO even alone", async () => {
    const sc = testScenario();
    // 30,000-token prompts on an L4: the prefill alone takes longer than the 2 s TTFT objective.
    const long: RequestMix = { prompt: new Int32Array(50).fill(30_000), output: new Int32Array(50).fill(50) };
    expect(attainmentAlone(sc, long)).toBe(0);
    const p = await measurePoint(sc, long, 2);
    expect(p).toMatchObject({ replicas: 2, requestsPerSecond: 0, tokensPerReplica: 0, collapsed: true });
    expect(p.attainment).toBe(0);
    const fine = mixOf(
      syntheticTrace(60, () => 2, { seed: 4 }),
      200,
    );
    expect(attainmentAlone(sc, fine)).toBe(1);
  });
});
