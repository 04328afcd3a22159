import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { windowNeeds } from "../operator/src/simulation/capacity.ts";
import { traceResultSchema } from "../operator/src/simulation/results.ts";
import { primaryPool } from "../operator/src/simulation/scenario.ts";
import { capacityCurve } from "../operator/src/simulation/testing.ts";
import { makeTrace, superpose, windowLoad } from "../operator/src/simulation/trace.ts";
import {
  H100_PROFILE_ID,
  h100Scenario,
  MIN_PEAK_REPLICAS,
  STANDARD_TRACES,
  scaleForPeak,
  standardScenario,
} from "./standard.ts";

const curve = capacityCurve([[1, 1, 1000]]);

describe("the standard benchmark", () => {
  it("simulates inferops' defaults with the profile's numbers and the SLO as targets", () => {
    const sc = standardScenario();
    const svc = sc.service.spec;
    expect(primaryPool(sc)).toBe("l4");
    expect(svc.accelerators[0]!.profile).toEqual({
      maxTokensPerSecond: sc.profiles.l4!.spec.maxTokensPerSecond,
      maxConcurrentRequests: sc.profiles.l4!.spec.maxConcurrentRequests,
    });
    expect(svc.scaling.targets).toMatchObject({
      ttftSeconds: 2,
      itlSeconds: 0.1,
      tokenUtilization: 0.8,
      queueDepthPerReplica: 4,
    });
    expect(svc.scaling.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    expect(svc.scaling.maxReplicas).toBeGreaterThanOrEqual(4 * MIN_PEAK_REPLICAS);
  });

  it("runs the same service on one-H100 nodes with the H100 profile in the spec, for long prompts", () => {
    const sc = h100Scenario();
    expect(primaryPool(sc)).toBe("h100");
    expect(sc.profiles.h100!.id).toBe(H100_PROFILE_ID);
    expect(sc.service.spec.accelerators[0]!.profile!.maxTokensPerSecond).toBe(
      sc.profiles.h100!.spec.maxTokensPerSecond,
    );
    expect(sc.pools[0]!.spec.gpu).toMatchObject({ type: "nvidia-h100-80gb", count: 1 });
    expect(sc.service.spec.scaling).toEqual(standardScenario().service.spec.scaling);
  });

  it("scales a trace by the fewest copies whose peak minute needs the replicas asked", () => {
    // 100 requests of 1000 tokens each per minute: 1,667 tokens/s; a replica serves 1000.
    const reqs = Array.from({ length: 600 }, (_, i) => ({ arrival: i * 0.6, prompt: 900, output: 100 }));
    const trace = makeTrace("t", reqs, { durationSeconds: 360 });
    const k = scaleForPeak(trace, curve, 10);
    const peak = (j: number) => Math.max(...windowNeeds(curve, windowLoad(superpose(trace, j))));
    expect(peak(k)).toBeGreaterThanOrEqual(10);
    expect(peak(k - 1)).toBeLessThan(10);
    expect(() => scaleForPeak(trace, curve, 10_000, 3)).toThrow(/no scale/);
  });

  it("keeps committed results in the results format", () => {
    const dir = join(import.meta.dirname, "results");
    // The standard traces' files (other benchmarks may keep their own results beside them).
    const files = existsSync(dir)
      ? readdirSync(dir).filter((f) => STANDARD_TRACES.some((t) => f === `${t}.json`))
      : [];
    for (const f of files) {
      const parsed = traceResultSchema.parse(JSON.parse(readFileSync(join(dir, f), "utf8")));
      expect(`${parsed.trace}.json`).toBe(f);
      expect(Object.keys(parsed.policies)).toEqual(
        expect.arrayContaining(["inferops", "instant", "clairvoyant"]),
      );
    }
  });
});
