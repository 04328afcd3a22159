// What is simulated: one InferenceService (its spec as the user would apply it), the GPUNodePools it may run
// on, the CapacityBudgets in force, and the serving profile that plays each variant's replicas. Plain data,
// so it crosses worker_threads unchanged.
import type { CapacityBudgetSpec } from "../apis/capacitybudget.ts";
import type { GPUNodePoolSpec } from "../apis/gpunodepool.ts";
import type { Accelerator, InferenceServiceSpec } from "../apis/inferenceservice.ts";
import { variantOptions } from "../planning/allocate.ts";
import type { PoolSnapshot } from "../planning/types.ts";
import { PROFILES } from "../serving/profiles.ts";
import type { GpuType, ServingProfile } from "../serving/types.ts";

/** The per-request objective the report scores: a request meets it when both hold. */
export interface Slo {
  ttftSeconds: number;
  itlSeconds: number;
}

export const DEFAULT_SLO: Slo = { ttftSeconds: 2, itlSeconds: 0.1 };

export interface Scenario {
  service: { namespace: string; name: string; spec: InferenceServiceSpec };
  pools: { name: string; spec: GPUNodePoolSpec }[];
  budgets: { name: string; spec: CapacityBudgetSpec; namespaces?: string[] }[];
  /** The simulated replica of each variant, by pool name. */
  profiles: Record<string, ServingProfile>;
  slo: Slo;
  /** inferops' evaluation interval, seconds (the operator's default --interval is 10 s). */
  intervalSeconds: number;
}

/** A scenario that cannot be simulated: says what to change. */
export class ScenarioError extends Error {
  readonly code = "ScenarioError";
  constructor(message: string) {
    super(message);
    this.name = "ScenarioError";
  }
}

/** The serving model's GPU type for a pool's gpu.type (nvidia-h100-80gb -> H100), when one matches. */
export function gpuTypeOf(poolGpuType: string): GpuType | undefined {
  const t = poolGpuType.toLowerCase();
  if (t.includes("h100") || t.includes("h200")) return "H100";
  if (t.includes("a100")) return "A100";
  if (t.includes("l40s")) return "L40S";
  if (/(^|[^a-z0-9])l4($|[^0-9])/.test(t)) return "L4";
  return undefined;
}

/**
 * The serving profile for a variant: same GPU type (from the pool's gpu.type), same GPUs per replica, and a
 * model of the same size (a "70b" in the model name picks the 70B profiles, otherwise 8B).
 */
export function profileFor(model: string, accelerator: Accelerator, pool: GPUNodePoolSpec): ServingProfile {
  const gpu = gpuTypeOf(pool.gpu.type);
  const big = /70b/i.test(model);
  const match = PROFILES.find(
    (p) => p.gpu === gpu && p.gpusPerReplica === accelerator.gpusPerReplica && /70b/i.test(p.id) === big,
  );
  if (!match) {
    throw new ScenarioError(
      `no serving profile for pool ${accelerator.pool} (gpu.type ${pool.gpu.type}, ${accelerator.gpusPerReplica} GPUs per replica, model ${model}); ` +
        `pass --profile ${accelerator.pool}=<id> with one of: ${PROFILES.map((p) => p.id).join(", ")}`,
    );
  }
  return match;
}

/** Pool snapshots with nothing running, for ranking variants. */
function emptyPools(scenario: Pick<Scenario, "pools">): Map<string, PoolSnapshot> {
  return new Map(
    scenario.pools.map((p) => [
      p.name,
      { name: p.name, spec: p.spec, nodes: 0, readyNodes: 0, allocatableGPUs: 0, usedGPUs: 0 },
    ]),
  );
}

/**
 * The variant the fleet starts on and the baselines run on (one Deployment, as an HPA/KEDA/KPA user has):
 * the service's best variant as plan() ranks them (cost per token), among those with a simulated profile.
 */
export function primaryPool(scenario: Pick<Scenario, "pools" | "service" | "profiles">): string {
  const { options } = variantOptions(scenario.service.spec.accelerators, emptyPools(scenario));
  const best = options.find((o) => scenario.profiles[o.pool] !== undefined);
  if (!best) {
    throw new ScenarioError(
      `InferenceService ${scenario.service.namespace}/${scenario.service.name}: none of its accelerators names a GPUNodePool in the configuration (${scenario.service.spec.accelerators.map((a) => a.pool).join(", ")})`,
    );
  }
  return best.pool;
}

/** The accelerator entry of a pool. */
export function acceleratorOf(scenario: Pick<Scenario, "service">, pool: string): Accelerator {
  const a = scenario.service.spec.accelerators.find((x) => x.pool === pool);
  if (!a) throw new ScenarioError(`pool ${pool} is not a variant of the service`);
  return a;
}

export function poolSpec(scenario: Pick<Scenario, "pools">, pool: string): GPUNodePoolSpec {
  const p = scenario.pools.find((x) => x.name === pool);
  if (!p) throw new ScenarioError(`GPUNodePool ${pool} is not in the configuration`);
  return p.spec;
}

/** Seconds from asking for a replica on `pool` (no node free) to it serving: provisioning plus model load. */
export function leadSeconds(scenario: Pick<Scenario, "pools" | "profiles">, pool: string): number {
  const spec = poolSpec(scenario, pool);
  return spec.provisioningSeconds + (scenario.profiles[pool]?.modelLoadSeconds ?? 60);
}
