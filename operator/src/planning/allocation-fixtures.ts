// Fixtures shared by the allocation tests (allocate.test.ts, optimise.test.ts): the example pools and a
// service ask built through the real variant ranking.
import type { Accelerator } from "../apis/inferenceservice.ts";
import { type ServiceAsk, variantOptions } from "./allocate.ts";
import { pool, serviceSpec } from "./testkit.ts";
import type { PoolSnapshot } from "./types.ts";

// The example pools: H100 nodes of 8 at $98.32/h, L40S nodes of 4 at $10.49/h.
export const h100 = pool("h100", {
  gpu: { type: "nvidia-h100", count: 8, memoryGiB: 80 },
  costPerNodeHour: 98.32,
  maxNodes: 2,
});
export const l40s = pool("l40s", {
  gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 },
  power: { busyWattsPerGPU: 350, idleWattsPerGPU: 35 },
  costPerNodeHour: 10.49,
  maxNodes: 2,
});
/** The L40S pool with one node and a provider that cannot add more now (its ProviderFailing condition). */
export const l40sStuck: PoolSnapshot = {
  ...l40s,
  nodes: 1,
  readyNodes: 1,
  allocatableGPUs: 4,
  cannotGrow: "CapacityUnavailable: NodeClaim l40s-x did not launch: InsufficientCapacity",
};
/** An L40S pool whose nodes take 900 s to come, and an H100 pool whose nodes take 120 s (lead-time rule). */
export const l40sSlow = pool("l40s", {
  gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 },
  costPerNodeHour: 10.49,
  maxNodes: 10,
  provisioningSeconds: 900,
});
export const h100Fast = pool("h100", { costPerNodeHour: 98.32, maxNodes: 2, provisioningSeconds: 120 });
/** A service on the L40S pool only. */
export const onL40s: Accelerator[] = serviceSpec({
  accelerators: [{ pool: "l40s", gpusPerReplica: 1 }],
}).accelerators;
export const llama: Accelerator[] = serviceSpec({
  accelerators: [
    { pool: "h100", gpusPerReplica: 1, profile: { maxTokensPerSecond: 5100, maxConcurrentRequests: 256 } },
    { pool: "l40s", gpusPerReplica: 1, profile: { maxTokensPerSecond: 1200, maxConcurrentRequests: 128 } },
  ],
}).accelerators;

export function ask(
  key: string,
  {
    accelerators = llama,
    on = [h100, l40s],
    ...over
  }: Partial<ServiceAsk> & { accelerators?: Accelerator[]; on?: PoolSnapshot[] } = {},
): ServiceAsk {
  const pools = new Map(on.map((p) => [p.name, p]));
  return {
    key,
    namespace: key.split("/")[0]!,
    priority: 500,
    minReplicas: 1,
    desired: 1,
    options: variantOptions(accelerators, pools).options,
    pools: accelerators.map((a) => a.pool),
    current: {},
    fixed: false,
    ...over,
  };
}
