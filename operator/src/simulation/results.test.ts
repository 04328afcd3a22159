import { describe, expect, it } from "vitest";
import { formatTraceResult, sig, type TraceResult, traceResultSchema } from "./results.ts";

const result: TraceResult = {
  trace: "conv",
  day: false,
  policies: {
    inferops: {
      family: "inferops",
      params: { intervalSeconds: 10, tokenUtilization: 0.8 },
      sloAttainment: 0.9965,
      gpuHours: 19.28,
      costUsd: 15.52,
      energyKWh: 1.34,
      peakPowerW: 1512,
      budgetViolationSeconds: 0,
      scaleActions: 3,
      ttftP50: 0.2,
      ttftP95: 0.69,
      ttftP99: 0.89,
      refused: 0,
      abandoned: 0,
    },
    "hpa-running-29-w300": {
      family: "hpa",
      params: { metric: "running", target: 29, scaleDownWindowSeconds: 300 },
      sloAttainment: 0.995,
      gpuHours: 17.7,
      costUsd: 14.2,
      energyKWh: 1.2,
      peakPowerW: 1512,
      budgetViolationSeconds: 12,
      scaleActions: 3,
      ttftP50: 0.21,
      ttftP95: 0.73,
      ttftP99: 0.92,
      refused: 12,
      abandoned: 40,
    },
  },
};

describe("the results format", () => {
  it("round-trips through JSON unchanged", () => {
    const text = formatTraceResult(result);
    expect(text.endsWith("\n")).toBe(true);
    expect(traceResultSchema.parse(JSON.parse(text))).toEqual(result);
  });

  it("rejects a field the format does not have, a missing one, and out-of-range values", () => {
    const extra = structuredClone(result) as unknown as { policies: Record<string, Record<string, unknown>> };
    extra.policies.inferops!.timeline = [];
    expect(traceResultSchema.safeParse(extra).success).toBe(false);
    const missing = structuredClone(result) as unknown as {
      policies: Record<string, Record<string, unknown>>;
    };
    delete missing.policies.inferops!.ttftP99;
    expect(traceResultSchema.safeParse(missing).success).toBe(false);
    const bad = structuredClone(result);
    bad.policies.inferops!.sloAttainment = 1.2;
    expect(traceResultSchema.safeParse(bad).success).toBe(false);
    const family = structuredClone(result) as unknown as {
      policies: Record<string, Record<string, unknown>>;
    };
    family.policies.inferops!.family = "vpa";
    expect(() => formatTraceResult(family as unknown as TraceResult)).toThrow();
  });

  it("reads results written before refused requests were counted as refusing none", () => {
    const old = structuredClone(result) as unknown as { policies: Record<string, Record<string, unknown>> };
    delete old.policies.inferops!.refused;
    delete old.policies.inferops!.abandoned;
    expect(traceResultSchema.parse(old).policies.inferops!.refused).toBe(0);
    expect(traceResultSchema.parse(old).policies.inferops!.abandoned).toBe(0);
    const negative = structuredClone(result);
    negative.policies.inferops!.refused = -1;
    expect(traceResultSchema.safeParse(negative).success).toBe(false);
  });

  it("rounds numbers to significant digits", () => {
    expect(sig(19.283532446225482)).toBe(19.2835);
    expect(sig(0)).toBe(0);
    expect(sig(Number.NaN)).toBe(0);
  });
});
