import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocateNeeds, measureWindowMisses, ownNeed, sliceTrace, type WindowMisses } from "./needs.ts";
import { capacityCurve, syntheticTrace, testScenario } from "./testing.ts";

const w = (window: number, requests: number, from: number, misses: number[]): WindowMisses => ({
  window,
  requests,
  from,
  misses,
});

describe("allocateNeeds", () => {
  it("spends the miss budget where a replica saves the most for the fewest misses", () => {
    // 1,000 requests, 1% budget: 10 misses. Window 0 gives up a replica for 2 misses, window 1 for 9.
    const needs = allocateNeeds([w(0, 500, 3, [40, 2, 0]), w(1, 500, 3, [90, 9, 0])], 0.99);
    expect([...needs]).toEqual([4, 5]);
  });
  it("takes replicas that change nothing first, and keeps every window at its best when the budget is spent", () => {
    expect([...allocateNeeds([w(0, 100, 1, [0, 0, 0])], 0.99)]).toEqual([1]);
    expect([...allocateNeeds([w(0, 100, 1, [50, 5, 3])], 0.99)]).toEqual([3]);
  });
  it("treats misses as non-increasing in replicas (a measured bump only lowers the bound)", () => {
    // 4 replicas measured worse than 3: it counts as 3's misses, so 4 is never needed.
    expect([...allocateNeeds([w(0, 1000, 2, [80, 5, 7])], 0.99)]).toEqual([3]);
  });
  it("never exceeds the budget it could meet, and never goes below what was measured", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            requests: fc.integer({ min: 0, max: 2000 }),
            from: fc.integer({ min: 1, max: 5 }),
            drops: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 6 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        fc.constantFrom(0.9, 0.99, 0.999),
        (spec, attainment) => {
          const windows = spec.map((s, i) => {
            // Misses decrease to 0 at the top: each entry subtracts a drop.
            const total = s.drops.reduce((a, b) => a + b, 0);
            let left = Math.min(total, s.requests);
            const misses = [left, ...s.drops.map((d) => (left = Math.max(0, left - d)))];
            misses[misses.length - 1] = 0;
            return w(i, s.requests, s.from, misses);
          });
          const needs = allocateNeeds(windows, attainment);
          const requests = windows.reduce((a, x) => a + x.requests, 0);
          let missed = 0;
          windows.forEach((x, i) => {
            const k = needs[i]! - x.from;
            expect(k).toBeGreaterThanOrEqual(0);
            expect(k).toBeLessThan(x.misses.length);
            missed += Math.min(...x.misses.slice(0, k + 1));
          });
          expect(missed).toBeLessThanOrEqual(Math.floor((1 - attainment) * requests));
        },
      ),
    );
  });
});

describe("ownNeed", () => {
  it("is the fewest replicas keeping the window's own misses within its share", () => {
    expect(ownNeed(w(0, 1000, 2, [300, 40, 10, 0]), 0.99)).toBe(4);
    expect(ownNeed(w(0, 1000, 2, [300, 40, 11, 12]), 0.99)).toBe(5);
  });
});

describe("sliceTrace", () => {
  it("keeps the requests of [from, to), shifted to start at 0", () => {
    const t = syntheticTrace(300, () => 2, { seed: 5 });
    const s = sliceTrace(t, 60, 120);
    expect(s.durationSeconds).toBe(60);
    const inside = [...t.arrivals].filter((a) => a >= 60 && a < 120);
    expect([...s.arrivals]).toEqual(inside.map((a) => a - 60));
    expect(s.prompt.length).toBe(inside.length);
  });
});

describe("measureWindowMisses", () => {
  it("finds more replicas for a window whose requests arrive in one burst than for the same requests spread out", async () => {
    const sc = testScenario();
    const curve = capacityCurve([
      [1, 2, 1000],
      [4, 8, 1000],
    ]);
    const spread = syntheticTrace(180, () => 3, { seed: 9 });
    // The same number of requests in window 1, all in its first 3 seconds.
    const burst = {
      ...spread,
      arrivals: Float64Array.from(spread.arrivals, (a) => (a >= 60 && a < 120 ? 60 + (a - 60) / 20 : a)),
    };
    const opts = { windowSeconds: 60, minReplicas: 1, maxReplicas: 32 };
    const calm = (await measureWindowMisses(spread, sc, curve, 1, 2, opts))[0]!;
    const hit = (await measureWindowMisses(burst, sc, curve, 1, 2, opts))[0]!;
    expect(hit.requests).toBe(calm.requests);
    expect(ownNeed(hit, 0.99)).toBeGreaterThan(ownNeed(calm, 0.99));
  });
});
