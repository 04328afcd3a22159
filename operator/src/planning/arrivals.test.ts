import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backlogNoise, estimateArrivals, MIN_GROWTH_SPAN_SECONDS, RATE_WINDOW_SECONDS } from "./arrivals.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => T0 + s * 1000;

describe("estimateArrivals", () => {
  it("adds the growth of the requests in the servers to the completion rate (vLLM)", () => {
    // 20 requests in the servers 60 s ago, 80 now: 1 request/s more arrived than finished.
    const e = estimateArrivals({
      server: "vllm",
      arrivalRate: 2,
      queueDepth: 50,
      runningRequests: 30,
      history: [
        [at(0), 20],
        [at(30), 50],
      ],
      nowMs: at(60),
    })!;
    expect(e.growth).toBeCloseTo(1, 9);
    expect(e.rate).toBeCloseTo(3, 9);
    expect(e.inSystem).toEqual([
      [at(0), 20],
      [at(30), 50],
      [at(60), 80],
    ]);
  });

  it("takes a draining backlog off the completion rate, not a change within noise, and needs a long enough span", () => {
    // 90 requests in the servers a minute ago, 10 now, 5 completed per second: 80 of the minute's 300
    // completions were the backlog's, so about 3.67 requests/s arrived.
    const drain = estimateArrivals({
      server: "sglang",
      arrivalRate: 5,
      queueDepth: 0,
      runningRequests: 10,
      history: [[at(0), 90]],
      nowMs: at(60),
    })!;
    expect(drain.growth).toBe(0);
    expect(drain.drain).toBeCloseTo(80 / 60, 9);
    expect(drain.rate).toBeCloseTo(5 - 80 / 60, 9);
    // 12 fewer over the minute at 5 requests/s is 0.2/s, within noise (0.25/s): nothing taken off.
    const noise = estimateArrivals({
      server: "vllm",
      arrivalRate: 5,
      queueDepth: 0,
      runningRequests: 10,
      history: [[at(0), 22]],
      nowMs: at(60),
    })!;
    expect(noise).toMatchObject({ rate: 5, drain: 0 });
    const short = estimateArrivals({
      server: "vllm",
      arrivalRate: 5,
      queueDepth: 40,
      runningRequests: 10,
      history: [[at(60 - MIN_GROWTH_SPAN_SECONDS + 1), 0]],
      nowMs: at(60),
    })!;
    expect(short.growth).toBe(0);
  });

  it("does not correct servers that count arrivals (TGI) or custom queries, but keeps their history", () => {
    for (const server of ["tgi", "custom"]) {
      const e = estimateArrivals({
        server,
        arrivalRate: 2,
        queueDepth: 50,
        runningRequests: 30,
        history: [[at(0), 0]],
        nowMs: at(60),
      })!;
      expect(e).toMatchObject({ rate: 2, growth: 0 });
      expect(e.inSystem).toHaveLength(2);
    }
  });

  it("forgets readings older than the rate window; says nothing without an arrival rate", () => {
    const e = estimateArrivals({
      server: "vllm",
      arrivalRate: 1,
      queueDepth: 0,
      runningRequests: 0,
      history: [
        [at(0), 100],
        [at(100), 0],
      ],
      nowMs: at(100 + RATE_WINDOW_SECONDS),
    })!;
    expect(e.inSystem.map(([t]) => t)).toEqual([at(100), at(100 + RATE_WINDOW_SECONDS)]);
    expect(
      estimateArrivals({
        server: "vllm",
        arrivalRate: undefined,
        queueDepth: 3,
        runningRequests: 1,
        history: [],
        nowMs: T0,
      }),
    ).toBeUndefined();
  });

  it("plans within the window's change of the completion rate, never below zero or above it by more than growth", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 500 })), {
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: 500 }),
        fc.constantFrom("vllm", "sglang", "triton", "tgi", "llamacpp", "custom"),
        (rate, readings, now, server) => {
          const history = [...readings]
            .sort((a, b) => a[0] - b[0])
            .map(([t, n]): [number, number] => [at(t), n]);
          const e = estimateArrivals({
            server,
            arrivalRate: rate,
            queueDepth: now,
            runningRequests: 0,
            history,
            nowMs: at(60),
          })!;
          const first = history[0];
          const change = first ? Math.abs(now - first[1]) / MIN_GROWTH_SPAN_SECONDS : 0;
          expect(e.rate).toBeGreaterThanOrEqual(0);
          expect(e.rate).toBeGreaterThanOrEqual(rate - change - 1e-9);
          expect(e.rate).toBeLessThanOrEqual(rate + change + 1e-9);
          // Only a fall beyond noise is taken off, and only from servers that count completions.
          if (e.rate < rate) {
            expect(-e.trend).toBeGreaterThan(backlogNoise(rate));
            expect(["tgi", "custom"]).not.toContain(server);
          }
        },
      ),
    );
  });
});
