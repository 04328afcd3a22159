import { describe, expect, it } from "vitest";
import { capacityPhrase, checkTargets, latestAskLine } from "./report.ts";
import type { SuiteOutput } from "./suite.ts";

describe("latestAskLine", () => {
  const base = { attainment: 0.99, warm: 14, to: 64 };
  it("says by when capacity must be asked for, and whether any demand seen by then asked for it", () => {
    const line = latestAskLine({
      ...base,
      seconds: 210,
      reached: { at: 210, attainment: 0.996 },
      missed: { at: 220, attainment: 0.9868 },
      busiestNeedBefore: 13,
    });
    expect(line).toContain("must be asked for by 210 s");
    expect(line).toContain("at 220 s, 98.68%");
    expect(line).toContain("needed 13 replicas");
    expect(line).toContain("before any demand calls for it");
    const seen = latestAskLine({
      ...base,
      seconds: 880,
      reached: { at: 880, attainment: 0.9902 },
      missed: { at: 890, attainment: 0.9898 },
      busiestNeedBefore: 19,
    });
    expect(seen).not.toContain("before any demand");
  });
  it("says when the warm fleet is enough, and when no policy reaches the target", () => {
    expect(
      latestAskLine({
        ...base,
        seconds: 3600,
        reached: { at: 3600, attainment: 0.995 },
        busiestNeedBefore: 9,
      }),
    ).toContain("warm fleet of 14 alone reaches 99.50%");
    expect(latestAskLine({ ...base, missed: { at: 0, attainment: 0.97 } })).toContain(
      "no policy starting from this warm start",
    );
  });
});

describe("checkTargets", () => {
  const entry = (family: string, sloAttainment: number, gpuHours: number, params = {}) => ({
    family,
    params,
    sloAttainment,
    gpuHours,
  });
  const suite = (clairvoyantAttainment: number) =>
    ({
      input: { day: false },
      result: {
        policies: {
          inferops: entry("inferops", 0.995, 20),
          clairvoyant: entry("clairvoyant", clairvoyantAttainment, 18, { attainmentTarget: 0.99 }),
        },
      },
    }) as unknown as SuiteOutput;
  it("checks the ratio against a clairvoyant bound whose replay meets its target", () => {
    const [, ratio] = checkTargets(suite(0.992));
    expect(ratio).toMatchObject({ met: true, detail: "20.00 / 18.00 = 1.11x" });
    expect(ratio!.skipped).toBeUndefined();
  });
  it("gives no ratio against a bound whose replay misses its own target, and says why", () => {
    const [, ratio] = checkTargets(suite(0.62));
    expect(ratio).toMatchObject({ skipped: true, met: false });
    expect(ratio!.detail).toContain("replayed, meets the SLO for 62.00% of requests, under the 99.00%");
    expect(ratio!.detail).not.toMatch(/\dx/);
  });
});

describe("capacityPhrase", () => {
  it("gives each fleet size's capacity with the samples' range, the median when made monotone, and a collapse", () => {
    const pts = [
      {
        replicas: 1,
        requestsPerSecond: 1,
        tokensPerReplica: 860,
        measuredTokensPerReplica: 900,
        spread: { min: 700, max: 1300, samples: 3 },
        attainment: 0.99,
        running: 0,
        waiting: 0,
        inFlight: 0,
        kv: 0,
      },
      {
        replicas: 2,
        requestsPerSecond: 0,
        tokensPerReplica: 0,
        collapsed: true,
        attainment: 0.4,
        running: 0,
        waiting: 0,
        inFlight: 0,
        kv: 0,
      },
    ];
    expect(capacityPhrase(pts)).toBe(
      "1: 860 (700-1300), median 900, 2: 0 (only 40.00% meet the SLO even alone)",
    );
  });
});
