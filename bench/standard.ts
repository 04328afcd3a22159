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

/**
 * One H100 SXM (80 GB) per node, for the robustness suite's long-context traces: the example pool's
 * p5.48xlarge-class list price per GPU ($98.32 / 8 per node-hour), 700 W busy and 90 W idle per GPU
 * (examples/gpunodepool-h100.yaml), one GPU per node like the L4 pool so that node scaling is the same.
 */
export const H100_POOL = gpuNodePoolSpecSchema.parse({
  gpu: { type: "nvidia-h100-80gb", count: 1, memoryGiB: 80 },
  power: { busyWattsPerGPU: 700, idleWattsPerGPU: 90 },
  costPerNodeHour: 12.29,
  minNodes: 0,
  maxNodes: 64,
  provider: { type: "kwok" },
});

export const H100_PROFILE_ID = "llama-3.1-8b-fp8/h100";

/** The service as a user applies it with inferops' defaults, on one pool of one-GPU nodes. */
function scenarioOn(pool: string, poolSpec: Scenario["pools"][number]["spec"], profileId: string): Scenario {
  const profile = getProfile(profileId);
  const spec = inferenceServiceSpecSchema.parse({
    model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
    template: { spec: { containers: [{ name: "vllm", image: "vllm/vllm-openai:v0.11.0" }] } },
    accelerators: [
      {
        pool,
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
    pools: [{ name: pool, spec: poolSpec }],
    budgets: [],
    profiles: { [pool]: profile },
    slo: DEFAULT_SLO,
    intervalSeconds: 10,
  };
}

export function standardScenario(): Scenario {
  return scenarioOn("l4", L4_POOL, PROFILE_ID);
}

/** The same service on H100s (the serving model's H100 profile in the spec): for long prompts. */
export function h100Scenario(): Scenario {
  return scenarioOn("h100", H100_POOL, H100_PROFILE_ID);
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
