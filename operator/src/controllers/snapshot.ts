// Pure: the decision engine's Snapshot from what the informers hold and what the metric sources read.
import { capacityBudgetSchema } from "../apis/capacitybudget.ts";
import { type LabelSelector, selectorMatches } from "../apis/common.ts";
import { ConditionType } from "../apis/conditions.ts";
import { type GPUNodePool, gpuNodePoolSchema, gpuNodePoolStatusSchema } from "../apis/gpunodepool.ts";
import { inferenceServiceSchema, inferenceServiceStatusSchema } from "../apis/inferenceservice.ts";
import {
  GPU_RESOURCE,
  LABEL_SERVICE,
  LABEL_VARIANT,
  owningServiceKey,
  poolNodeLabels,
} from "../apis/labels.ts";
import { parseSpec } from "../apis/validate.ts";
import type { KubeObject } from "../kube/client.ts";
import type {
  BudgetSnapshot,
  LearnedModel,
  PlannerMemory,
  PoolSnapshot,
  ServiceSnapshot,
  Signals,
  Snapshot,
} from "../planning/types.ts";
import { type PoolPower, type PowerReading, poolPower } from "../signals/power.ts";

export interface World {
  services: readonly KubeObject[];
  pools: readonly KubeObject[];
  budgets: readonly KubeObject[];
  deployments: readonly KubeObject[];
  nodes: readonly KubeObject[];
  pods: readonly KubeObject[];
  namespaces: readonly KubeObject[];
}

export type SignalsByService = Map<string, { signals?: Signals; error?: string }>;

const labelsMatch = (labels: Record<string, string> | undefined, want: Record<string, string>) =>
  Object.entries(want).every(([k, v]) => labels?.[k] === v);

const nodeReady = (n: KubeObject) =>
  ((n.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some(
    (c) => c.type === "Ready" && c.status === "True",
  );

const gpusOf = (n: KubeObject) =>
  Number(
    (n.status as { allocatable?: Record<string, string> } | undefined)?.allocatable?.[GPU_RESOURCE] ?? 0,
  );

function podGPUs(p: KubeObject): number {
  const containers =
    (p.spec as { containers?: { resources?: { requests?: Record<string, string> } }[] })?.containers ?? [];
  return containers.reduce((s, c) => s + Number(c.resources?.requests?.[GPU_RESOURCE] ?? 0), 0);
}

export function poolSnapshot(
  pool: GPUNodePool,
  nodes: readonly KubeObject[],
  pods: readonly KubeObject[],
): PoolSnapshot {
  const selector = poolNodeLabels(pool);
  const mine = nodes.filter((n) => labelsMatch(n.metadata?.labels, selector));
  const names = new Set(mine.map((n) => n.metadata?.name));
  const ready = mine.filter(nodeReady);
  const phase = (p: KubeObject) => (p.status as { phase?: string } | undefined)?.phase;
  const failing = pool.status?.conditions?.find(
    (c) => c.type === ConditionType.ProviderFailing && c.status === "True",
  );
  return {
    ...(failing && pool.spec.provider.type !== "static"
      ? { cannotGrow: `${failing.reason}: ${failing.message}`, cannotGrowReason: failing.reason }
      : {}),
    name: pool.metadata.name,
    spec: pool.spec,
    nodes: mine.length,
    readyNodes: ready.length,
    allocatableGPUs: ready.reduce((s, n) => s + gpusOf(n), 0),
    usedGPUs: pods
      .filter(
        (p) =>
          names.has((p.spec as { nodeName?: string } | undefined)?.nodeName) &&
          phase(p) !== "Succeeded" &&
          phase(p) !== "Failed",
      )
      .reduce((s, p) => s + podGPUs(p), 0),
  };
}

/** Budgets in scope by namespace: the selector resolved against the namespaces' labels. */
function budgetNamespaces(
  selector: LabelSelector | undefined,
  namespaces: readonly KubeObject[],
): string[] | undefined {
  if (!selector) return undefined;
  return namespaces
    .filter((ns) => selectorMatches(selector, ns.metadata?.labels ?? {}))
    .map((ns) => ns.metadata?.name ?? "");
}

/**
 * The pool's power from this round's reading of spec.power.measured: measured when it covers every Ready node
 * of the pool with a fresh sample, nominal otherwise (signals/power.ts).
 */
export function measuredPoolPower(
  pool: PoolSnapshot,
  nodes: readonly KubeObject[],
  reading: PowerReading | undefined,
): PoolPower {
  const selector = poolNodeLabels({ metadata: { name: pool.name }, spec: pool.spec });
  const ready = nodes.filter((n) => labelsMatch(n.metadata?.labels, selector) && nodeReady(n));
  return poolPower({
    power: pool.spec.power,
    nodes: ready.map((n) => ({ name: n.metadata?.name ?? "", gpus: gpusOf(n) })),
    usedGPUs: pool.usedGPUs,
    ...(reading ? { reading } : {}),
  });
}

export function buildSnapshot(
  world: World,
  signals: SignalsByService,
  memory: PlannerMemory,
  intervalMs: number,
  /** This round's readings of measured power, per pool (pools with spec.power.measured). */
  power?: ReadonlyMap<string, PowerReading>,
): Snapshot {
  const pools = world.pools.flatMap((raw) => {
    const p = parseSpec(gpuNodePoolSchema, raw);
    if (!p.success) return [];
    const status = gpuNodePoolStatusSchema.safeParse(raw.status ?? {});
    const pool = status.success ? { ...p.data, status: status.data } : p.data;
    return [poolSnapshot(pool, world.nodes, world.pods)];
  });
  // Pods being deleted on a Ready node, by namespace/service/variant: they hold their GPUs until gone. One
  // on a node that is not Ready may stay terminating until the node goes, and must not hold budget that long.
  const readyNodes = new Set(world.nodes.filter(nodeReady).map((n) => n.metadata?.name));
  const deleting = new Map<string, number>();
  for (const p of world.pods) {
    const labels = p.metadata?.labels;
    if (!p.metadata?.deletionTimestamp || !labels?.[LABEL_SERVICE]) continue;
    if (!readyNodes.has((p.spec as { nodeName?: string } | undefined)?.nodeName)) continue;
    const k = `${p.metadata.namespace}/${labels[LABEL_SERVICE]}/${labels[LABEL_VARIANT] ?? ""}`;
    deleting.set(k, (deleting.get(k) ?? 0) + 1);
  }
  // Each service's Deployments, in one pass over them all.
  const owned = new Map<string, KubeObject[]>();
  for (const d of world.deployments) {
    const k = owningServiceKey(d);
    if (k === undefined) continue;
    const list = owned.get(k);
    if (list) list.push(d);
    else owned.set(k, [d]);
  }
  // A planner without memory of a service (a new leader, a restarted operator) starts from what the last one
  // learned and kept in status.learned, instead of the profiles alone: a capacity below them or a headroom
  // held replicas up, and starting without them would let the fleet down to what the profiles say.
  const restored: PlannerMemory["services"] = {};
  const services: ServiceSnapshot[] = world.services.flatMap((raw) => {
    if (raw.metadata?.deletionTimestamp) return [];
    const p = parseSpec(inferenceServiceSchema, raw);
    if (!p.success) return [];
    const svc = p.data;
    const namespace = svc.metadata.namespace ?? "default";
    const key = `${namespace}/${svc.metadata.name}`;
    if (!memory.services[key]) {
      const learned = restoredLearning(raw.status);
      if (learned) restored[key] = { recommendations: [], scaleEvents: [], rates: [], learned };
    }
    const deployments = owned.get(key) ?? [];
    const sig = signals.get(key);
    return [
      {
        key,
        namespace,
        name: svc.metadata.name,
        generation: svc.metadata.generation ?? 0,
        spec: svc.spec,
        variants: deployments.map((d) => {
          const pool = d.metadata?.labels?.[LABEL_VARIANT] ?? "";
          const terminating = deleting.get(`${namespace}/${svc.metadata.name}/${pool}`) ?? 0;
          return {
            pool,
            replicas: (d.spec as { replicas?: number } | undefined)?.replicas ?? 0,
            readyReplicas: (d.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0,
            ...(terminating ? { terminating } : {}),
          };
        }),
        ...(sig?.signals ? { signals: sig.signals } : {}),
        ...(sig?.error ? { signalsError: sig.error } : {}),
      },
    ];
  });
  const budgets: BudgetSnapshot[] = world.budgets.flatMap((raw) => {
    const p = parseSpec(capacityBudgetSchema, raw);
    if (!p.success) return [];
    const namespaces = budgetNamespaces(p.data.spec.scope.namespaceSelector, world.namespaces);
    return [{ name: p.data.metadata.name, spec: p.data.spec, ...(namespaces ? { namespaces } : {}) }];
  });
  // A pool that asks for measured power carries it (or why it counts nominal watts instead).
  const measured = pools.map((p) =>
    p.spec.power.measured ? { ...p, power: measuredPoolPower(p, world.nodes, power?.get(p.name)) } : p,
  );
  const withRestored =
    Object.keys(restored).length > 0 ? { ...memory, services: { ...memory.services, ...restored } } : memory;
  return { intervalMs, services, pools: measured, budgets, memory: withRestored };
}

/** status.learned as the planner's LearnedModel, relaxing from when it was written; undefined if none. */
export function restoredLearning(status: unknown): LearnedModel | undefined {
  const parsed = learnedStatusSchema.safeParse((status as { learned?: unknown } | undefined)?.learned);
  if (!parsed.success || !parsed.data) return undefined;
  const { capacityScale, sloHeadroom, observedAt } = parsed.data;
  const atMs = Date.parse(observedAt);
  if (!Number.isFinite(atMs) || (capacityScale === undefined && sloHeadroom === undefined)) return undefined;
  return {
    ...(capacityScale !== undefined ? { capacityScale, atMs } : {}),
    // Above the profiles, it was served at the SLO (or probed): the planner holds it as such.
    ...(capacityScale !== undefined && capacityScale > 1 ? { servedAtSlo: capacityScale } : {}),
    ...(sloHeadroom !== undefined ? { sloHeadroom, sloHeadroomAtMs: atMs } : {}),
  };
}

const learnedStatusSchema = inferenceServiceStatusSchema.shape.learned;
