import { describe, expect, it } from "vitest";
import {
  erlangB,
  erlangC,
  MAX_MODELLED_SLOTS,
  predictTtft,
  type ReplicaModel,
  replicasForTtft,
} from "./queueing.ts";

// One request = 50 prompt + 50 output tokens; 200 tokens/s per replica: mu = 2 requests/s, prefill 0.25 s.
const mm1: ReplicaModel = { tokensPerSecond: 200, slots: 1, promptTokens: 50, outputTokens: 50 };

describe("Erlang formulas", () => {
  it.each([
    // [c, a, B, C]
    [1, 1, 0.5, 1],
    [1, 0.5, 1 / 3, 0.5], // M/M/1: P(wait) = rho
    [2, 1, 0.2, 1 / 3],
    [10, 5, 0.01838, 0.0361],
  ])("c=%d a=%d: B=%f C=%f", (c, a, b, cc) => {
    expect(erlangB(c, a)).toBeCloseTo(b, 4);
    expect(erlangC(c, a)).toBeCloseTo(cc, 4);
  });

  it("C is 1 at or beyond saturation and 0 without load", () => {
    expect(erlangC(4, 4)).toBe(1);
    expect(erlangC(4, 9)).toBe(1);
    expect(erlangC(4, 0)).toBe(0);
  });

  it("stays finite for thousands of servers", () => {
    const c = erlangC(5000, 4900);
    expect(c).toBeGreaterThan(0);
    expect(c).toBeLessThan(1);
  });
});

describe("predictTtft", () => {
  it("matches M/M/1's p95 wait plus prefill", () => {
    // lambda 1, mu 2: P(W > t) = 0.5 e^{-t}; p95: ln(10).
    const p = predictTtft(1, 1, mm1);
    expect(p.wait).toBeCloseTo(Math.log(10), 6);
    expect(p.prefill).toBeCloseTo(0.25, 6);
    expect(p.seconds).toBeCloseTo(Math.log(10) + 0.25, 6);
    expect(p.utilization).toBeCloseTo(0.5, 6);
  });

  it("is infinite at or beyond saturation, and the prefill alone without arrivals", () => {
    expect(predictTtft(1, 2, mm1).seconds).toBe(Number.POSITIVE_INFINITY);
    expect(predictTtft(0, 1, mm1).seconds).toBe(Number.POSITIVE_INFINITY);
    expect(predictTtft(3, 0, mm1).seconds).toBeCloseTo(0.25, 6);
  });

  it("applies the Allen-Cunneen factor (ca2 + cs2) / 2 to the wait", () => {
    const base = predictTtft(1, 1, mm1).wait;
    expect(predictTtft(1, 1, { ...mm1, arrivalScv: 1, serviceScv: 0 }).wait).toBeCloseTo(base / 2, 6);
    expect(predictTtft(1, 1, { ...mm1, arrivalScv: 0, serviceScv: 0 }).wait).toBe(0);
  });

  it("falls as replicas are added and rises with arrivals", () => {
    const model = { ...mm1, slots: 8 };
    let last = Number.POSITIVE_INFINITY;
    for (let n = 1; n <= 12; n++) {
      const t = predictTtft(n, 12, model).seconds;
      expect(t).toBeLessThanOrEqual(last);
      last = t;
    }
    expect(predictTtft(8, 14, model).seconds).toBeGreaterThanOrEqual(predictTtft(8, 12, model).seconds);
  });

  it("more slots per replica (batching) wait less at the same utilisation", () => {
    expect(predictTtft(4, 6, { ...mm1, slots: 16 }).wait).toBeLessThan(predictTtft(4, 6, mm1).wait);
  });
});

describe("replicasForTtft", () => {
  it.each([
    [0.5, 1],
    [1, 5],
    [2, 20],
    [0.3, 3],
  ])("target %fs at %d req/s: the fewest replicas that meet it", (target, rate) => {
    const r = replicasForTtft(target, rate, mm1, 1000);
    expect(r.met).toBe(true);
    expect(predictTtft(r.replicas, rate, mm1).seconds).toBeLessThanOrEqual(target);
    expect(predictTtft(r.replicas - 1, rate, mm1).seconds).toBeGreaterThan(target);
  });

  it("needs no replica without arrivals", () => {
    expect(replicasForTtft(1, 0, mm1, 10)).toMatchObject({ met: true, replicas: 0 });
  });

  it("says unattainable when the prefill alone exceeds the target", () => {
    expect(replicasForTtft(0.2, 1, mm1, 10)).toMatchObject({ met: false, unattainable: true });
  });

  it("stops at the limit and says so", () => {
    const r = replicasForTtft(0.3, 50, mm1, 10);
    expect(r).toMatchObject({ met: false, unattainable: false });
    expect(r.replicas).toBeGreaterThanOrEqual(10);
  });

  it("bounds the work for huge slot counts", () => {
    const r = replicasForTtft(2, 500, { ...mm1, tokensPerSecond: 20000, slots: 100000 }, 10000);
    expect(r.met).toBe(true);
    expect(MAX_MODELLED_SLOTS).toBe(256);
  });
});
