// Calibration: the profiles against the published measurements they were fitted to (docs/serving-model.md).
import { describe, expect, it } from "vitest";
import {
  atRate,
  MLPERF_SERVER_SLO,
  maxConcurrentRequests,
  maxRateAtSlo,
  meetsSlo,
  saturatedThroughput,
} from "./capacity.ts";
import { derive, GPUS, getProfile, LLAMA_3_1_8B, PROFILES } from "./profiles.ts";
import { Replica, validateProfile } from "./replica.ts";
import { MLPERF_LIKE, meanLengths, poissonRequests } from "./workload.ts";

const SLOW = 120_000;
const mean = meanLengths(MLPERF_LIKE);

// MLPerf Inference v5.1, Llama-3.1-8B, Red Hat, vLLM 0.10, FP8, one GPU: output tokens/s.
const MLPERF = [
  { id: "llama-3.1-8b-fp8/h100", offline: 5777, server: 5103 },
  { id: "llama-3.1-8b-fp8/l40s", offline: 1642, server: 1207 },
];

describe("profiles", () => {
  it.each(PROFILES.map((p) => [p.id, p] as const))("%s is a valid engine configuration", (_id, p) => {
    expect(() => validateProfile(p)).not.toThrow();
    expect(p.modelLoadSeconds).toBeGreaterThanOrEqual(60);
    expect(p.spec.maxConcurrentRequests).toBeLessThanOrEqual(p.maxNumSeqs);
  });

  it("names the known profiles when asked for an unknown one", () => {
    expect(getProfile("llama-3.1-8b-fp8/h100").gpu).toBe("H100");
    expect(() => getProfile("llama-3.1-8b/tpu")).toThrow(/known: llama-3.1-8b-fp8\/h100/);
  });

  it("refuses FP8 weights on a GPU without FP8 tensor cores", () => {
    expect(() => derive(LLAMA_3_1_8B, GPUS.A100, 1, "fp8")).toThrow(/no fp8 tensor cores/);
  });

  it("covers H100, A100, L40S and L4 for the 8B model", () => {
    const gpus = PROFILES.filter((p) => p.model === LLAMA_3_1_8B.name).map((p) => p.gpu);
    expect(new Set(gpus)).toEqual(new Set(["H100", "A100", "L40S", "L4"]));
  });
});

describe("calibration against MLPerf Inference v5.1 (Llama-3.1-8B, vLLM, one GPU)", () => {
  it.each(MLPERF)(
    "$id: saturated replica within 10% of the Offline result ($offline tok/s)",
    ({ id, offline }) => {
      const s = saturatedThroughput(getProfile(id), MLPERF_LIKE);
      expect(s.steadyOutputTokensPerSecond / offline).toBeGreaterThan(0.9);
      expect(s.steadyOutputTokensPerSecond / offline).toBeLessThan(1.1);
    },
    SLOW,
  );

  it.each(MLPERF)(
    "$id: sustains the Server result ($server tok/s) within MLPerf's p99 TTFT 2 s / TPOT 100 ms",
    ({ id, server }) => {
      const s = atRate(getProfile(id), MLPERF_LIKE, server / mean.output, 600);
      expect(meetsSlo(s, MLPERF_SERVER_SLO)).toBe(true);
      expect(s.outputTokensPerSecond / server).toBeGreaterThan(0.97);
    },
    SLOW,
  );

  it.each(MLPERF)(
    "$id: capacity at the SLO is at most 30% above the Server result (the model has no host-side jitter)",
    ({ id, server }) => {
      // The stored spec number, re-measured below, converted back to output tokens/s.
      const out = (getProfile(id).spec.maxTokensPerSecond * mean.output) / (mean.prompt + mean.output);
      expect(out / server).toBeGreaterThanOrEqual(1);
      expect(out / server).toBeLessThan(1.3);
    },
  );
});

describe("latency anchors", () => {
  const singleStreamItl = (p: ReturnType<typeof getProfile>) => {
    const r = new Replica(p, 0);
    r.add({ id: 1, arrival: 0, promptTokens: 1024, outputTokens: 128 });
    r.runUntilIdle();
    return r.takeFinished()[0]!.meanItl;
  };

  it.each([
    // vLLM, Llama-3.1-8B BF16, concurrency 1: 6.48 ms TPOT on H100 80GB; ~75 tok/s (13.3 ms) on A100 40GB.
    { gpu: "H100" as const, spec: GPUS.H100, measured: 0.00648 },
    {
      gpu: "A100 40GB" as const,
      spec: { ...GPUS.A100, memoryGiB: 39.4, bandwidth: 1.555e12 },
      measured: 1 / 75,
    },
  ])("single-stream BF16 decode on $gpu within 15% of the measured ITL", ({ spec, measured }) => {
    const d = derive(LLAMA_3_1_8B, spec, 1, "bf16");
    const p = { ...getProfile("llama-3.1-8b/a100"), step: d.step, kvCapacityTokens: d.kvCapacityTokens };
    expect(singleStreamItl(p) / measured).toBeGreaterThan(0.85);
    expect(singleStreamItl(p) / measured).toBeLessThan(1.15);
  });

  it.each([
    // At half and most of the SLO capacity: ITL of a loaded server (H100: ~10-30 ms), TTFT well under a second.
    { id: "llama-3.1-8b-fp8/h100", load: 0.5, itl: [0.005, 0.03] },
    { id: "llama-3.1-8b-fp8/h100", load: 0.8, itl: [0.01, 0.05] },
    { id: "llama-3.1-8b-fp8/l40s", load: 0.5, itl: [0.01, 0.05] },
    { id: "llama-3.1-8b/a100", load: 0.5, itl: [0.01, 0.05] },
    { id: "llama-3.1-8b-fp8/l4", load: 0.5, itl: [0.02, 0.08] },
    { id: "llama-3.1-70b-fp8/4xh100", load: 0.5, itl: [0.01, 0.05] },
  ])(
    "$id at $load of capacity: median ITL in $itl s, median TTFT under 0.5 s",
    ({ id, load, itl }) => {
      const p = getProfile(id);
      const rate = (load * p.spec.maxTokensPerSecond) / (mean.prompt + mean.output);
      const s = atRate(p, MLPERF_LIKE, rate, 300, 5);
      expect(s.tpot.p50).toBeGreaterThan(itl[0]!);
      expect(s.tpot.p50).toBeLessThan(itl[1]!);
      expect(s.ttft.p50).toBeLessThan(0.5);
    },
    SLOW,
  );
});

describe("load", () => {
  it.each(PROFILES.map((p) => [p.id, p] as const))(
    "%s: TTFT grows with load (the same requests, arriving faster)",
    (_id, p) => {
      const base = poissonRequests({ shape: MLPERF_LIKE, rate: 1, count: 3000, seed: 21 });
      const capacityRate = p.spec.maxTokensPerSecond / (mean.prompt + mean.output);
      let last = { mean: 0, p90: 0 };
      for (const load of [0.2, 0.5, 0.8, 0.95]) {
        const rate = load * capacityRate;
        const r = new Replica(p, 0);
        for (const q of base) r.add({ ...q, arrival: q.arrival / rate });
        r.runUntilIdle();
        const ttfts = r.takeFinished().map((x) => x.ttft);
        const now = {
          mean: ttfts.reduce((a, b) => a + b, 0) / ttfts.length,
          p90: ttfts.sort((a, b) => a - b)[Math.floor(ttfts.length * 0.9)]!,
        };
        expect(now.mean).toBeGreaterThan(last.mean);
        expect(now.p90).toBeGreaterThan(last.p90);
        last = now;
      }
    },
    SLOW,
  );
});

describe("spec numbers stored in the profiles", () => {
  it.each(PROFILES.map((p) => [p.id, p] as const))(
    "%s: re-measured within 3%",
    (_id, p) => {
      const sat = saturatedThroughput(p, MLPERF_LIKE);
      expect(sat.steadyOutputTokensPerSecond / p.saturatedOutputTokensPerSecond).toBeCloseTo(1, 1);
      expect(Math.abs(sat.steadyOutputTokensPerSecond / p.saturatedOutputTokensPerSecond - 1)).toBeLessThan(
        0.015,
      );
      const c = maxRateAtSlo(p, MLPERF_LIKE, MLPERF_SERVER_SLO);
      expect(Math.abs(c.totalTokensPerSecond / p.spec.maxTokensPerSecond - 1)).toBeLessThan(0.03);
      expect(maxConcurrentRequests(p, MLPERF_LIKE)).toBe(p.spec.maxConcurrentRequests);
    },
    SLOW,
  );
});
