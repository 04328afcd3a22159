import { describe, expect, it } from "vitest";
import { inlineRunner } from "./jobs.ts";
import { staticPolicy } from "./policies/static.ts";
import { raiseWindows, refineNeeds } from "./refine.ts";
import { simulate } from "./simulate.ts";
import { syntheticTrace, testScenario } from "./testing.ts";

describe("raiseWindows", () => {
  it("raises nothing when the replay meets the target", () => {
    const r = raiseWindows([3, 3], { requests: [500, 500], misses: [5, 4] }, 0.99, 10);
    expect(r.raise.size).toBe(0);
  });
  it("raises the windows with the most misses beyond their share until they cover twice the excess", () => {
    // 1,000 requests, budget 10, 40 misses: excess 30. Window 2 (30) and window 0 (20) cover 60.
    const r = raiseWindows(
      [3, 3, 3, 3],
      { requests: [250, 250, 250, 250], misses: [20, 2, 30, 1] },
      0.99,
      10,
    );
    expect([...r.raise.entries()].sort()).toEqual([
      [0, 4],
      [2, 4],
    ]);
  });
  it("raises by a tenth where more than a tenth of a window misses, never above the limit, and counts windows at the limit", () => {
    const r = raiseWindows([40, 10, 9], { requests: [100, 100, 100], misses: [50, 50, 50] }, 0.99, 10);
    expect(r.raise.get(0)).toBeUndefined(); // 40 > limit: at the limit
    expect(r.raise.get(1)).toBeUndefined();
    expect(r.raise.get(2)).toBe(10);
    expect(r.atLimit).toBe(2);
  });
});

describe("refineNeeds", () => {
  it("raises the needs of a load at the edge of what a fleet carries until the replay, backlog carried, meets the target", async () => {
    const sc = testScenario();
    // A steady load at the edge of what 2 L4 replicas carry: 2 meet the SLO for about 78% of requests, with
    // the queue built in one minute carried into the next.
    const trace = syntheticTrace(1200, () => 9.5, { seed: 7, prompt: 500, output: 150 });
    const stay = async (n: number) =>
      (await simulate(trace, sc, staticPolicy(n), { warmReplicas: n })).sloAttainment;
    const needs = new Int32Array(20).fill(2);
    expect(await stay(2)).toBeLessThan(0.99);
    const refined = await refineNeeds(inlineRunner(), {
      trace,
      durationSeconds: 1200,
      scenario: sc,
      windowSeconds: 60,
      needs,
      warm: 2,
      attainment: 0.99,
      limit: 32,
      params: {},
    });
    expect(refined.met).toBe(true);
    expect(refined.instant.sloAttainment).toBeGreaterThanOrEqual(0.99);
    expect(refined.rounds).toBeGreaterThan(1);
    expect(Math.max(...refined.raised)).toBeGreaterThan(0);
    expect(Math.min(...refined.raised)).toBeGreaterThanOrEqual(0);
    expect([...refined.needs]).toEqual([...needs].map((n, w) => n + refined.raised[w]!));
    // Held at the limit, it says so instead of raising.
    const held = await refineNeeds(inlineRunner(), {
      trace,
      durationSeconds: 1200,
      scenario: sc,
      windowSeconds: 60,
      needs,
      warm: 2,
      attainment: 0.99,
      limit: 2,
      params: {},
    });
    expect(held.met).toBe(false);
    expect(held.rounds).toBe(1);
    expect(held.atLimit).toBeGreaterThan(0);
  }, 30_000);
});
