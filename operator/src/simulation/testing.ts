// Helpers shared by the simulator's tests (not part of the public API).

import { capacityBudgetSpecSchema } from "../apis/capacitybudget.ts";
import { gpuNodePoolSpecSchema } from "../apis/gpunodepool.ts";
import { inferenceServiceSpecSchema } from "../apis/inferenceservice.ts";
import { getProfile } from "../serving/profiles.ts";
import { mulberry32 } from "../serving/workload.ts";
import type { CapacityCurve } from "./capacity.ts";
import { DEFAULT_SLO, type Scenario } from "./scenario.ts";
import { makeTrace, type Trace } from "./trace.ts";

export const L4 = "llama-3.1-8b-fp8/l4";

/** A GPUNodePool and an InferenceService as a user writes them, for `inferops simulate --config`. */
export const SIMULATE_CONFIG = `apiVersion: inferops.dev/v1alpha1
kind: GPUNodePool
metadata: { name: l4 }
spec:
  gpu: { type: nvidia-l4, count: 1, memoryGiB: 24 }
  power: { busyWattsPerGPU: 72, idleWattsPerGPU: 16 }
  costPerNodeHour: 0.8
  maxNodes: 8
  provisioningSeconds: 120
  provider: { type: kwok }
---
apiVersion: inferops.dev/v1alpha1
kind: InferenceService
metadata: { name: llm, namespace: team-a }
spec:
  model: { name: meta-llama/Llama-3.1-8B-Instruct, server: vllm }
  template: { spec: { containers: [{ name: vllm }] } }
  accelerators:
    - pool: l4
      profile: { maxTokensPerSecond: 2780, maxConcurrentRequests: 62 }
  scaling: { maxReplicas: 8, targets: { ttftSeconds: 2, itlSeconds: 0.1 } }
`;

/** One service on one L4 pool (one GPU per node), defaults everywhere else. */
export function testScenario(
  options: {
    pool?: Record<string, unknown>;
    scaling?: Record<string, unknown>;
    budgets?: { name: string; spec: Record<string, unknown> }[];
  } = {},
): Scenario {
  const profile = getProfile(L4);
  const spec = inferenceServiceSpecSchema.parse({
    model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
    template: { spec: { containers: [{ name: "vllm" }] } },
    accelerators: [
      {
        pool: "l4",
        profile: {
          maxTokensPerSecond: profile.spec.maxTokensPerSecond,
          maxConcurrentRequests: profile.spec.maxConcurrentRequests,
        },
      },
    ],
    scaling: {
      minReplicas: 1,
      maxReplicas: 32,
      targets: { ttftSeconds: 2, itlSeconds: 0.1 },
      ...options.scaling,
    },
  });
  return {
    service: { namespace: "test", name: "svc", spec },
    pools: [
      {
        name: "l4",
        spec: gpuNodePoolSpecSchema.parse({
          gpu: { type: "nvidia-l4", count: 1, memoryGiB: 24 },
          power: { busyWattsPerGPU: 72, idleWattsPerGPU: 16 },
          costPerNodeHour: 1,
          maxNodes: 64,
          provider: { type: "kwok" },
          ...options.pool,
        }),
      },
    ],
    budgets: (options.budgets ?? []).map((b) => ({
      name: b.name,
      spec: capacityBudgetSpecSchema.parse(b.spec),
    })),
    profiles: { l4: profile },
    slo: DEFAULT_SLO,
    intervalSeconds: 10,
  };
}

/** Poisson arrivals whose rate is `rate(t)` (requests/s), by thinning; chat-like lengths. Seeded. */
export function syntheticTrace(
  durationSeconds: number,
  rate: (t: number) => number,
  options: { seed?: number; peak?: number; prompt?: number; output?: number } = {},
): Trace {
  const rand = mulberry32(options.seed ?? 3);
  const peak =
    options.peak ?? Math.max(...Array.from({ length: 200 }, (_, i) => rate((i / 200) * durationSeconds)));
  const reqs: { arrival: number; prompt: number; output: number }[] = [];
  let t = 0;
  for (;;) {
    t += -Math.log(1 - rand()) / peak;
    if (t > durationSeconds) break;
    const keep = rand() < rate(t) / peak;
    const p = Math.round((options.prompt ?? 800) * (0.5 + rand()));
    const o = Math.round((options.output ?? 150) * (0.5 + rand()));
    if (keep) reqs.push({ arrival: t, prompt: p, output: o });
  }
  return makeTrace("synthetic", reqs, { durationSeconds, startMs: Date.UTC(2024, 0, 1) });
}

/** A measured capacity curve from (fleet size, requests/s, tokens/s per replica) points, at 99% attainment. */
export function capacityCurve(
  points: [replicas: number, requestsPerSecond: number, tokensPerReplica: number][],
): CapacityCurve {
  return {
    profile: "p",
    attainment: 0.99,
    meanTokens: 1000,
    points: points.map(([replicas, requestsPerSecond, tokensPerReplica]) => ({
      replicas,
      requestsPerSecond,
      tokensPerReplica,
      attainment: 0.99,
      running: 0,
      waiting: 0,
      inFlight: 0,
      kv: 0,
    })),
  };
}
