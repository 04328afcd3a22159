import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADAPTERS } from "./adapters/index.ts";
import { aggregateScrapes, aggregateService, type PodWindow } from "./aggregate.ts";
import { parsePromText } from "./prom-text.ts";
import type { PodReading } from "./reading.ts";
import * as expo from "./testdata/expositions.ts";

const INF = Number.POSITIVE_INFINITY;
const INTERVAL = 15_000;
const T0 = 1_700_000_000_000;

function reading(atMs: number, r: Partial<Omit<PodReading, "atMs">> = {}): PodReading {
  return { atMs, gauges: {}, counters: {}, histograms: {}, ...r };
}

const hist = (counts: [number, number, number]) => ({
  buckets: [
    { le: 0.1, count: counts[0] },
    { le: 1, count: counts[1] },
    { le: INF, count: counts[2] },
  ],
});

describe("aggregateService", () => {
  const podA: PodWindow = {
    pod: "a",
    readings: [
      reading(T0, {
        gauges: { queueDepth: 1, runningRequests: 4, kvCacheUtilization: 0.2 },
        counters: { arrivals: 100, promptTokens: 1000, generationTokens: 5000 },
        histograms: { ttft: hist([10, 20, 20]) },
      }),
      reading(T0 + INTERVAL, {
        gauges: { queueDepth: 3, runningRequests: 8, kvCacheUtilization: 0.4 },
        counters: { arrivals: 130, promptTokens: 4000, generationTokens: 8000 },
        histograms: { ttft: hist([10, 50, 60]) }, // +40 obs: 0 ≤0.1, 30 in (0.1,1], 10 above
      }),
    ],
  };
  const podB: PodWindow = {
    pod: "b",
    readings: [
      reading(T0, { counters: { arrivals: 50 }, histograms: { ttft: hist([0, 0, 0]) } }),
      reading(T0 + INTERVAL, {
        gauges: { queueDepth: 2, runningRequests: 6, kvCacheUtilization: 0.8 },
        counters: { arrivals: 15 }, // restarted: counts from zero
        histograms: { ttft: hist([0, 0, 0]) },
      }),
    ],
  };
  const now = T0 + INTERVAL;

  it("sums queue, running and rates, averages KV cache, and takes p95 of the merged increases", () => {
    const s = aggregateService([podA, podB], { nowMs: now, intervalMs: INTERVAL });
    expect(s).toMatchObject({
      observedAtMs: now,
      replicasReporting: 2,
      queueDepth: 5,
      runningRequests: 14,
      kvCacheUtilization: 0.6000000000000001,
    });
    expect(s.arrivalRate).toBeCloseTo((30 + 15) / 15, 9);
    expect(s.promptTokensPerSecond).toBeCloseTo(3000 / 15, 9);
    expect(s.generationTokensPerSecond).toBeCloseTo(3000 / 15, 9);
    // 40 observations: rank 38 falls in +Inf, so p95 is the largest finite bound.
    expect(s.ttftSeconds).toBe(1);
    expect(s.itlSeconds).toBeUndefined();
    // The merged increase, whole, for the share of requests over an objective.
    expect(s.ttftHistogram).toEqual([
      { le: 0.1, count: 0 },
      { le: 1, count: 30 },
      { le: INF, count: 40 },
    ]);
    expect(s.requestItlHistogram).toBeUndefined();
  });

  it("interpolates the quantile asked for", () => {
    const s = aggregateService([podA], { nowMs: now, intervalMs: INTERVAL, quantile: 0.5 });
    // rank 20 of 40: 20 into the 30 of (0.1, 1].
    expect(s.ttftSeconds).toBeCloseTo(0.1 + 0.9 * (20 / 30), 9);
  });

  it("leaves out a pod whose newest reading is older than two intervals: missing, not zero", () => {
    const s = aggregateService([podA, podB], { nowMs: now + 2 * INTERVAL + 1, intervalMs: INTERVAL });
    expect(s.replicasReporting).toBe(0);
    expect(s.queueDepth).toBeUndefined();
    expect(s.arrivalRate).toBeUndefined();
    expect(s.observedAtMs).toBe(now);
  });

  it("uses a pod's gauges from its first reading and its rates from the next", () => {
    const fresh: PodWindow = {
      pod: "c",
      readings: [reading(now, { gauges: { queueDepth: 7 }, counters: { arrivals: 9 } })],
    };
    const s = aggregateService([podA, fresh], { nowMs: now, intervalMs: INTERVAL });
    expect(s.replicasReporting).toBe(2);
    expect(s.queueDepth).toBe(10);
    expect(s.arrivalRate).toBeCloseTo(2, 9); // pod a only
  });

  it("says nothing without pods", () => {
    expect(aggregateService([], { nowMs: now, intervalMs: INTERVAL })).toEqual({
      observedAtMs: now,
      replicasReporting: 0,
    });
  });

  it("does not count a pod that exposes none of its runtime's metrics", () => {
    const s = aggregateService([{ pod: "x", readings: [reading(now)] }], {
      nowMs: now,
      intervalMs: INTERVAL,
    });
    expect(s.replicasReporting).toBe(0);
  });

  it("gives no latency when no request finished in the window, rather than 0", () => {
    const idle: PodWindow = {
      pod: "a",
      readings: [
        reading(T0, { gauges: { queueDepth: 0 }, histograms: { ttft: hist([5, 5, 5]) } }),
        reading(now, { gauges: { queueDepth: 0 }, histograms: { ttft: hist([5, 5, 5]) } }),
      ],
    };
    const s = aggregateService([idle], { nowMs: now, intervalMs: INTERVAL });
    expect(s.queueDepth).toBe(0);
    expect(s.ttftSeconds).toBeUndefined();
  });

  it("does not depend on the order of pods", () => {
    const a = aggregateService([podA, podB], { nowMs: now, intervalMs: INTERVAL });
    const b = aggregateService([podB, podA], { nowMs: now, intervalMs: INTERVAL });
    expect(b).toEqual(a);
  });

  it("never yields a negative rate, whatever the counters do across pods and resets", () => {
    const counterSeq = fc.array(fc.nat(1e6), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(counterSeq, { maxLength: 5 }), (pods) => {
        const windows = pods.map((values, p) => ({
          pod: `p${p}`,
          readings: values.map((v, i) =>
            reading(now - (values.length - 1 - i) * 5000, { counters: { arrivals: v } }),
          ),
        }));
        const s = aggregateService(windows, { nowMs: now, intervalMs: INTERVAL });
        if (s.arrivalRate !== undefined) expect(s.arrivalRate).toBeGreaterThanOrEqual(0);
        expect(s.replicasReporting).toBe(pods.length);
      }),
    );
  });
});

describe("aggregateScrapes", () => {
  it("turns two vLLM scrapes per pod into a service's signals", () => {
    const before: expo.Load = { ...expo.IDLE, promptTokens: 1000, generationTokens: 2000, requests: 10 };
    const after: expo.Load = {
      waiting: 4,
      running: 12,
      kv: 0.3,
      promptTokens: 1000 + 15 * 500,
      generationTokens: 2000 + 15 * 900,
      requests: 10 + 15 * 3,
      ttft: [20, 40, 44, 45],
      itl: [100, 800, 850, 900],
    };
    const scrape = (atMs: number, load: expo.Load, engines = 1) => ({
      atMs,
      samples: parsePromText(expo.vllm(load, { engines })).samples,
    });
    const s = aggregateScrapes(
      ADAPTERS.vllm,
      [
        { pod: "a", scrapes: [scrape(T0, before), scrape(T0 + INTERVAL, after)] },
        { pod: "b", scrapes: [scrape(T0, before, 2), scrape(T0 + INTERVAL, after, 2)] },
      ],
      { nowMs: T0 + INTERVAL, intervalMs: INTERVAL },
    );
    expect(s.replicasReporting).toBe(2);
    expect(s.queueDepth).toBe(8);
    expect(s.runningRequests).toBe(24);
    expect(s.kvCacheUtilization).toBeCloseTo(0.3, 9);
    expect(s.promptTokensPerSecond).toBeCloseTo(1000, 6);
    expect(s.generationTokensPerSecond).toBeCloseTo(1800, 6);
    expect(s.arrivalRate).toBeCloseTo(6, 6);
    // TTFT over 90 observations: rank 85.5 lies in (0.5, 1] holding 8 (80..88).
    expect(s.ttftSeconds).toBeCloseTo(0.5 + 0.5 * ((85.5 - 80) / 8), 9);
    // ITL: rank 1710 of 1800 lies above the 1700 at le=0.1, in +Inf: the largest finite bound.
    expect(s.itlSeconds).toBe(0.1);
  });
});
