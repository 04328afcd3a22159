// The standard benchmark: Llama-3.1-8B (FP8) on vLLM, one L4 per replica and per node, the shared Azure LLM
// inference traces (conversation and code), each rate-scaled by superposition until the peak minute needs
// at least 16 replicas, and a 24-hour conversation day. The service spec is what a user would apply with
// inferops' defaults: bounds, the profile from the serving model's calibration, and the SLO targets.
import { resolve } from "node:path";
import { gpuNodePoolSpecSchema } from "../operator/src/apis/gpunodepool.ts";
import { inferenceServiceSpecSchema } from "../operator/src/apis/inferenceservice.ts";
import { getProfile } from "../operator/src/serving/profiles.ts";
import { type CapacityCurve, windowNeeds } from "../operator/src/simulation/capacity.ts";
import { DEFAULT_SLO, type Scenario } from "../operator/src/simulation/scenario.ts";
import { superpose, type Trace, windowLoad } from "../operator/src/simulation/trace.ts";

/** Where the shared traces live (never copied into the repo). */
export const TRACES_DIR = resolve(import.meta.dirname, "../../shared/traces");

export const PROFILE_ID = "llama-3.1-8b-fp8/l4";

/**
 * One L4 (24 GB) per node: AWS g6.xlarge-class, $0.8048 per hour on demand (us-east-1 list price);
 * NVIDIA L4 datasheet: 72 W board power; idle about 16 W (a fifth, as nvidia-smi shows idle L4s).
 */
export const L4_POOL = gpuNodePoolSpecSchema.parse({
  gpu: { type: "nvidia-l4", count: 1, memoryGiB: 24 },
  power: { busyWattsPerGPU: 72, idleWattsPerGPU: 16 },
  costPerNodeHour: 0.8048,
  minNodes: 0,
  maxNodes: 64,
  provider: { type: "kwok" },
});

export function standardScenario(): Scenario {
  const profile = getProfile(PROFILE_ID);
  const spec = inferenceServiceSpecSchema.parse({
    model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
    template: { spec: { containers: [{ name: "vllm", image: "vllm/vllm-openai:v0.11.0" }] } },
    accelerators: [
      {
        pool: "l4",
        gpusPerReplica: 1,
        profile: {
          maxTokensPerSecond: profile.spec.maxTokensPerSecond,
          maxConcurrentRequests: profile.spec.maxConcurrentRequests,
        },
      },
    ],
    scaling: {
      minReplicas: 1,
      maxReplicas: 64,
      targets: { ttftSeconds: DEFAULT_SLO.ttftSeconds, itlSeconds: DEFAULT_SLO.itlSeconds },
    },
  });
  return {
    service: { namespace: "bench", name: "llama-8b", spec },
    pools: [{ name: "l4", spec: L4_POOL }],
    budgets: [],
    profiles: { l4: profile },
    slo: DEFAULT_SLO,
    intervalSeconds: 10,
  };
}

/** Names of the standard set's results (bench/results/<name>.json). */
export const STANDARD_TRACES = ["conv", "code", "conv-day"] as const;

/** The standard traces' peak minute must need at least this many replicas. */
export const MIN_PEAK_REPLICAS = 16;

/** The fewest superposed copies of `trace` whose peak 60 s window needs at least `minPeak` replicas. */
export function scaleForPeak(trace: Trace, curve: CapacityCurve, minPeak: number, maxCopies = 256): number {
  for (let k = 1; k <= maxCopies; k++) {
    const needs = windowNeeds(curve, windowLoad(superpose(trace, k)));
    let peak = 0;
    for (const n of needs) peak = Math.max(peak, n);
    if (peak >= minPeak) return k;
  }
  throw new RangeError(`no scale up to ${maxCopies} copies makes the peak need ${minPeak} replicas`);
}
