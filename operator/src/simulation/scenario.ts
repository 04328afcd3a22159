// What is simulated: one InferenceService (its spec as the user would apply it), the GPUNodePools it may run
// on, the CapacityBudgets in force, and the serving profile that plays each variant's replicas; optionally
// other InferenceServices sharing the fleet and its budgets (each on pools of its own, with its own trace).
// Plain data, so it crosses worker_threads unchanged.
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

export interface ScenarioService {
  namespace: string;
  name: string;
  spec: InferenceServiceSpec;
}

export interface Scenario {
  service: ScenarioService;
  /**
   * Other InferenceServices on the same fleet, planned together with `service` (priorities, shared
   * budgets) and each fed its own trace (RunOptions.otherTraces). Each runs on pools no other service
   * names, so that a pool's replicas are one service's. Only the inferops policy scales them.
   */
  otherServices?: ScenarioService[];
  pools: { name: string; spec: GPUNodePoolSpec }[];
  budgets: { name: string; spec: CapacityBudgetSpec; namespaces?: string[] }[];
  /** The simulated replica of each variant, by pool name. */
  profiles: Record<string, ServingProfile>;
  slo: Slo;
  /** inferops' evaluation interval, seconds (the operator's default --interval is 10 s). */
  intervalSeconds: number;
  /**
   * The context the model servers are started with (vLLM --max-model-len), when it is not the serving
   * profiles' own `maxModelLen` (32,768 for the Llama-3.1 profiles). A request whose prompt plus output
   * exceeds it is refused, as vLLM answers it with HTTP 400.
   */
  contextTokens?: number;
  /**
   * How long a client waits for its request's first step before it gives up, seconds (the model server then
   * aborts the request). Default DEFAULT_CLIENT_TIMEOUT_SECONDS; Infinity: clients wait for ever.
   */
  clientTimeoutSeconds?: number;
}

/**
 * The client timeout the simulator assumes unless told: the OpenAI Python client's default (600 s), and
 * LiteLLM's. A request that waited that long has missed any TTFT objective many times over; what changes
 * is that the servers stop working through a backlog nobody is waiting for. Clients do not retry.
 */
export const DEFAULT_CLIENT_TIMEOUT_SECONDS = 600;

/** How long the scenario's clients wait for a first token (clientTimeoutSeconds, or the default). */
export function clientTimeoutOf(scenario: Pick<Scenario, "clientTimeoutSeconds">): number {
  return scenario.clientTimeoutSeconds ?? DEFAULT_CLIENT_TIMEOUT_SECONDS;
}

/** Every simulated service: `service` first, then `otherServices`. */
export function servicesOf(scenario: Pick<Scenario, "service" | "otherServices">): ScenarioService[] {
  return [scenario.service, ...(scenario.otherServices ?? [])];
}

/**
 * The index (in servicesOf) of the service each pool serves. Throws when two services name one pool: the
 * simulated fleet keeps a pool's replicas as one Deployment's.
 */
export function serviceOfPool(scenario: Pick<Scenario, "service" | "otherServices">): Map<string, number> {
  const out = new Map<string, number>();
  servicesOf(scenario).forEach((svc, i) => {
    for (const a of svc.spec.accelerators) {
      const other = out.get(a.pool);
      if (other !== undefined && other !== i) {
        throw new ScenarioError(
          `GPUNodePool ${a.pool} is named by two simulated services; give each service pools of its own`,
        );
      }
      out.set(a.pool, i);
    }
  });
  return out;
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

/** The context of a pool's model servers: the longest prompt + output they accept (vLLM max_model_len). */
export function contextTokensOf(
  scenario: Pick<Scenario, "profiles" | "contextTokens">,
  pool: string,
): number {
  const profile = scenario.profiles[pool];
  if (!profile) throw new ScenarioError(`pool ${pool} has no serving profile`);
  return scenario.contextTokens ?? profile.maxModelLen;
}

/** The serving profile a pool's replicas run: the pool's, started with the scenario's context. */
export function servedProfile(
  scenario: Pick<Scenario, "profiles" | "contextTokens">,
  pool: string,
): ServingProfile | undefined {
  const profile = scenario.profiles[pool];
  if (!profile || scenario.contextTokens === undefined || scenario.contextTokens === profile.maxModelLen)
    return profile;
  return { ...profile, maxModelLen: scenario.contextTokens };
}

/**
 * Checks that every simulated server can be started with the scenario's context: vLLM refuses to start
 * when its KV cache cannot hold one request of max_model_len tokens.
 */
export function checkContext(scenario: Pick<Scenario, "profiles" | "contextTokens">): void {
  const c = scenario.contextTokens;
  if (c === undefined) return;
  if (!Number.isInteger(c) || c < 2)
    throw new ScenarioError(`the context must be an integer >= 2 tokens, got ${c}`);
  for (const [pool, profile] of Object.entries(scenario.profiles)) {
    if (profile.kvCapacityTokens < c) {
      throw new ScenarioError(
        `a context of ${c} tokens does not fit pool ${pool}'s KV cache (${profile.id}: ${profile.kvCapacityTokens} tokens): vLLM would refuse to start; use a context of at most ${profile.kvCapacityTokens} or more GPUs per replica`,
      );
    }
  }
}

/**
 * The most replicas of the service's primary pool any fleet may hold: the service's maxReplicas, and what
 * the pool's maxNodes hold (replicas per node times maxNodes), whichever is fewer; and which limit it is.
 */
export function replicaLimit(scenario: Pick<Scenario, "pools" | "service" | "profiles">): {
  replicas: number;
  limit: string;
} {
  const pool = primaryPool(scenario);
  const spec = poolSpec(scenario, pool);
  const perNode = Math.floor(spec.gpu.count / acceleratorOf(scenario, pool).gpusPerReplica);
  const byNodes = perNode * spec.maxNodes;
  const max = scenario.service.spec.scaling.maxReplicas;
  return byNodes < max
    ? {
        replicas: byNodes,
        limit: `maxNodes ${spec.maxNodes} of GPUNodePool ${pool} (${perNode} replica${perNode === 1 ? "" : "s"} per node)`,
      }
    : { replicas: max, limit: `maxReplicas ${max}` };
}

/** Seconds from asking for a replica on `pool` (no node free) to it serving: provisioning plus model load. */
export function leadSeconds(scenario: Pick<Scenario, "pools" | "profiles">, pool: string): number {
  const spec = poolSpec(scenario, pool);
  return spec.provisioningSeconds + (scenario.profiles[pool]?.modelLoadSeconds ?? 60);
}
