// Test pools for the provider tests: a GPUNodePool as the API server would hold it (defaults applied).
import { gpuNodePoolSpecSchema } from "../apis/gpunodepool.ts";
import type { PlanStamp, Pool } from "./provider.ts";

export const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

/** A pool of 8-GPU H100 nodes, generation 1, with `spec` overriding the defaults. */
export function testPool(name: string, spec: Record<string, unknown> = {}, generation = 1): Pool {
  return {
    metadata: { name, generation },
    spec: gpuNodePoolSpecSchema.parse({
      gpu: { type: "nvidia-h100-80gb", count: 8, memoryGiB: 80 },
      power: { busyWattsPerGPU: 700, idleWattsPerGPU: 90 },
      costPerNodeHour: 98.32,
      maxNodes: 10,
      provisioningSeconds: 120,
      nodeTaints: [{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }],
      provider: { type: "kwok" },
      ...spec,
    }),
  };
}

/** A plan made now for the pool's generation. */
export const planFor = (pool: Pool, madeAt: number): PlanStamp => ({
  generation: pool.metadata.generation ?? 0,
  madeAt,
});
