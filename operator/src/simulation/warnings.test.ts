import { describe, expect, it } from "vitest";
import type { WindowMisses } from "./needs.ts";
import { replicaLimit } from "./scenario.ts";
import { fleetSizesFor, prepareSuite } from "./suite.ts";
import { capacityCurve, syntheticTrace, testScenario } from "./testing.ts";
import { beyondContext, checkProfile, curveUnservable, needsUnservable, warningLines } from "./warnings.ts";

const w = (window: number, requests: number, from: number, misses: number[]): WindowMisses => ({
  window,
  requests,
  from,
  misses,
});

describe("replicaLimit", () => {
  it("is maxReplicas, or what the pool's maxNodes hold when fewer", () => {
    expect(replicaLimit(testScenario({ scaling: { maxReplicas: 10 } }))).toEqual({
      replicas: 10,
      limit: "maxReplicas 10",
    });
    expect(replicaLimit(testScenario({ scaling: { maxReplicas: 10 }, pool: { maxNodes: 3 } }))).toEqual({
      replicas: 3,
      limit: "maxNodes 3 of GPUNodePool l4 (1 replica per node)",
    });
  });
});

describe("beyondContext", () => {
  it("counts the requests longer than the servers' context, by the scenario's context", () => {
    const t = syntheticTrace(60, () => 5, { seed: 2, prompt: 1000, output: 100 });
    const sc = testScenario();
    expect(beyondContext(t, sc)).toMatchObject({ contextTokens: 32_768, requests: 0, share: 0 });
    const over = [...t.prompt].filter((p, i) => p + t.output[i]! > 1000).length;
    const b = beyondContext(t, { ...sc, contextTokens: 1000 });
    expect(b.requests).toBe(over);
    expect(b.share).toBeCloseTo(over / t.arrivals.length, 12);
  });
});

describe("needsUnservable", () => {
  const limit = { replicas: 4, limit: "maxReplicas 4" };
  it("is silent when the measured windows fit the miss budget within the limit", () => {
    expect(needsUnservable([w(0, 1000, 2, [300, 5, 0])], 0.99, limit)).toBeUndefined();
  });
  it("names the limit and the best attainment when even the limit misses too many", () => {
    const msg = needsUnservable([w(0, 1000, 2, [300, 100, 50])], 0.99, limit, 9);
    expect(msg).toContain("with 4 replicas (maxReplicas 4) in every minute, only 95.00% of its requests");
    expect(msg).toContain("needs about 9 replicas");
  });
  it("says when more replicas stop helping before the limit", () => {
    expect(needsUnservable([w(0, 1000, 1, [300, 50, 50])], 0.99, limit)).toContain(
      "more replicas stop helping before 4",
    );
  });
});

describe("checkProfile and the warnings", () => {
  const curve = capacityCurve([
    [1, 1, 1000],
    [4, 8, 2000],
  ]);
  it("compares the spec's profile with the measured capacity at the busiest minute's fleet", () => {
    const sc = testScenario(); // profile 2,780 tokens/s
    const p = checkProfile(sc, curve, 4)!;
    expect(p).toMatchObject({ pool: "l4", spec: 2780, measured: 2000, fleet: 4 });
    expect(p.ratio).toBeCloseTo(1.39, 2);
    const [line] = warningLines({ profile: p });
    expect(line).toContain(
      "maxTokensPerSecond is 2,780 tokens/s per replica, 1.39x what this trace's mix measures",
    );
    expect(line).toContain("put maxTokensPerSecond: 2000 in the spec");
    // Within 20%: no warning.
    expect(warningLines({ profile: { ...p, measured: 2500, ratio: 2780 / 2500 } })).toEqual([]);
  });
  it("says a collapsed curve serves nothing", () => {
    const sc = testScenario();
    expect(curveUnservable(curve, sc)).toBeUndefined();
    const collapsed = {
      ...curve,
      points: curve.points.map((x) => ({ ...x, collapsed: true, attainment: 0.4 })),
    };
    expect(curveUnservable(collapsed, sc)).toContain("only 40.00% of its requests meet it");
  });
  it("says how many requests are refused, and by which limit a warm start was held", () => {
    const lines = warningLines({
      beyondContext: { contextTokens: 32_768, requests: 1124, share: 0.1033, longest: 90_000 },
      warmClamp: { wanted: 2451, replicas: 64, limit: "maxReplicas 64" },
    });
    expect(lines[0]).toContain(
      "1,124 requests (10.33% of the trace) are longer than the servers' context of 32,768",
    );
    expect(lines[1]).toContain("held at 64 replicas by maxReplicas 64: the trace's first minute needs 2,451");
  });
});

describe("a suite's warm start", () => {
  it("is held within the replica limit, and the suite says so", () => {
    const sc = testScenario({ scaling: { maxReplicas: 8 } });
    const trace = syntheticTrace(120, () => 2, { seed: 1 });
    const curve = capacityCurve([[1, 1, 1000]]);
    const input = { name: "t", trace, day: false, scenario: sc, curve, baselines: "quick" as const };
    const needs = {
      perWindow: Int32Array.from([8, 8]),
      warm: 2451,
      windows: [w(0, 100, 8, [0]), w(1, 100, 8, [0])],
    };
    const p = prepareSuite(input, needs);
    expect(p.warm).toBe(8);
    expect(p.warmClamp).toEqual({ wanted: 2451, replicas: 8, limit: "maxReplicas 8" });
    expect(p.warnings.join("\n")).toContain("held at 8 replicas by maxReplicas 8");
    // Every configuration swept is within the limit too.
    for (const { job } of p.jobs) {
      if (job.kind !== "run") continue;
      expect(job.options.warmReplicas).toBeLessThanOrEqual(8);
      if (job.policy.family === "static") expect(job.policy.replicas).toBeLessThanOrEqual(8);
    }
    expect(prepareSuite(input, { ...needs, warm: 3 }).warmClamp).toBeUndefined();
  });
});

describe("fleetSizesFor", () => {
  it("measures no fleet larger than the replica limit, and the limit itself between two powers of two", () => {
    // About 60 replicas' worth of tokens at the profile's 2,780 tokens/s.
    const trace = syntheticTrace(120, () => 170, { seed: 3 });
    expect(fleetSizesFor(trace, testScenario({ scaling: { maxReplicas: 64 } }))).toEqual([
      1, 2, 4, 8, 16, 32, 64,
    ]);
    expect(
      fleetSizesFor(trace, testScenario({ scaling: { maxReplicas: 64 }, pool: { maxNodes: 6 } })),
    ).toEqual([1, 2, 4, 6]);
  });
});
