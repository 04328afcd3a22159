import { describe, expect, it } from "vitest";
import { clairvoyantBound, instantBound, levelIntervals } from "./bounds.ts";
import { replicasFor, tokensPerReplica, windowNeeds } from "./capacity.ts";
import { inlineRunner } from "./jobs.ts";
import { boundsAt, measureCurve, runSuites } from "./suite.ts";
import { capacityCurve, syntheticTrace, testScenario } from "./testing.ts";
import { windowLoad } from "./trace.ts";

describe("the instant bound", () => {
  it("holds each window's need for the part of the window within the trace", () => {
    const b = instantBound([2, 3, 1], 60, 150);
    expect(b.replicaSeconds).toBe(2 * 60 + 3 * 60 + 1 * 30);
    expect(b.schedule).toEqual([
      { t: 0, replicas: 2 },
      { t: 60, replicas: 3 },
      { t: 120, replicas: 1 },
    ]);
  });
});

describe("the clairvoyant bound", () => {
  it("keeps a level through a gap no longer than the lead time, else releases it and pays the lead again", () => {
    // Level 2 is needed in windows 0, 3 (gap 120 s) and 10 (gap 360 s); lead 150 s; level 2 is warm.
    const needs = [2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2];
    expect(levelIntervals(needs, 2, 60, 660, 150, true)).toEqual([
      [0, 240],
      [450, 660],
    ]);
    // Not warm: the first run is requested a lead time ahead (not before 0).
    expect(levelIntervals(needs, 2, 60, 660, 150, false)).toEqual([
      [0, 240],
      [450, 660],
    ]);
    expect(levelIntervals([1, 1, 1, 1, 3], 3, 60, 300, 150, false)).toEqual([[90, 300]]);
    const b = clairvoyantBound(needs, 60, 660, 150, 2);
    expect(b.replicaSeconds).toBe(660 + 240 + 210);
    expect(b.schedule).toEqual([
      { t: 0, replicas: 2 },
      { t: 240, replicas: 1 },
      { t: 450, replicas: 2 },
    ]);
  });

  it("is never below the instant bound and never above holding the peak", () => {
    const needs = [1, 4, 2, 2, 6, 1, 1, 1, 1, 3, 3, 1];
    for (const lead of [0, 60, 200, 1000]) {
      const c = clairvoyantBound(needs, 60, 720, lead, needs[0]!).replicaSeconds;
      expect(c).toBeGreaterThanOrEqual(instantBound(needs, 60, 720).replicaSeconds);
      expect(c).toBeLessThanOrEqual(6 * 720);
    }
    expect(clairvoyantBound(needs, 60, 720, 0, 1).replicaSeconds).toBe(
      instantBound(needs, 60, 720).replicaSeconds,
    );
  });
});

describe("needs from the measured capacity", () => {
  const curve = capacityCurve([
    [1, 1, 1000],
    [4, 6, 1500],
  ]);

  it("interpolates capacity per replica in log2 of the fleet size, flat beyond the measured sizes", () => {
    expect(tokensPerReplica(curve, 1)).toBe(1000);
    expect(tokensPerReplica(curve, 2)).toBe(1250);
    expect(tokensPerReplica(curve, 16)).toBe(1500);
  });

  it("asks the fewest replicas whose capacity covers the rate, at least the minimum", () => {
    expect(replicasFor(curve, 0)).toBe(1);
    expect(replicasFor(curve, 1000)).toBe(1);
    expect(replicasFor(curve, 2500)).toBe(2);
    expect(replicasFor(curve, 2501)).toBe(3);
    expect(replicasFor(curve, 100, 2)).toBe(2);
    const load = {
      windowSeconds: 60,
      requests: new Float64Array(2),
      tokens: Float64Array.from([60_000, 150_000]),
    };
    expect([...windowNeeds(curve, load)]).toEqual([1, 2]);
  });
});

describe("the clairvoyant bound against every policy", () => {
  it("uses no more GPU-hours than any policy reaching at least its SLO attainment (small synthetic trace)", async () => {
    const sc = testScenario({ pool: { provisioningSeconds: 120, scaleDownDelaySeconds: 120 } });
    // 40 minutes: low, a 15-minute high plateau, low again.
    const trace = syntheticTrace(2400, (t) => (t > 600 && t < 1500 ? 10 : 2), { seed: 4 });
    const runner = inlineRunner();
    const curve = await measureCurve(runner, sc, trace, {
      replicas: [1, 2, 4, 8],
      durationSeconds: 300,
      samples: 1,
      minRequests: 0,
    });
    const [suite] = await runSuites(
      [{ name: "synthetic", trace, day: false, scenario: sc, curve, baselines: "quick" }],
      runner,
    );
    const policies = suite!.result.policies;
    const clair = policies.clairvoyant!;
    expect(Object.keys(policies).length).toBeGreaterThan(8);
    const needs = windowNeeds(curve, windowLoad(trace));
    expect(Math.max(...needs)).toBeGreaterThan(Math.min(...needs));
    for (const [name, p] of Object.entries(policies)) {
      if (name === "clairvoyant" || name === "instant") continue;
      if (p.sloAttainment >= clair.sloAttainment)
        expect(p.gpuHours, name).toBeGreaterThanOrEqual(clair.gpuHours);
    }
    expect(policies.instant!.gpuHours).toBeLessThanOrEqual(clair.gpuHours);
    // Sized again from the same measured windows: the same at the curve's attainment, more at a higher one.
    expect(boundsAt(suite!, curve.attainment).clairvoyant).toBeCloseTo(clair.gpuHours, 4);
    expect(boundsAt(suite!, curve.attainment).instant).toBeCloseTo(policies.instant!.gpuHours, 4);
    const high = boundsAt(suite!, 0.9999);
    expect(high.clairvoyant).toBeGreaterThanOrEqual(clair.gpuHours);
    expect(high.instant).toBeLessThanOrEqual(high.clairvoyant);
    expect(boundsAt(suite!, 0.5).clairvoyant).toBeLessThanOrEqual(clair.gpuHours);
  }, 30_000);
});
