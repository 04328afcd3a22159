// The node provider: how a GPUNodePool's nodes are observed and how the pool is scaled to a target,
// whatever makes the nodes (kwok, Cluster API, Karpenter, or nobody: static). Modelled on Karpenter's
// CloudProvider, narrower: observe the pool's nodes from the provider's own objects, and scale to a
// target given the nodes that may be removed. Level-triggered and idempotent: scale() reads the world
// and converges it, so calling it twice with the same request changes nothing the second time.
//
// The checks every provider shares live here, in nodeProvider(): a plan made for another generation of the
// pool or too long ago is not acted on (Karpenter validates a disruption again just before it acts), the
// target stays within minNodes..maxNodes, and a node is removed only when the caller offered it, it is a
// node of the pool, the pool has more nodes than it needs, and the node runs no pod (checked just before).
// Each provider file implements a Driver: what it observes, and how it adds and removes nodes.
import type { GPUNodePool, ProviderType } from "../apis/gpunodepool.ts";
import { ANNOTATION_DRAINING, GPU_RESOURCE } from "../apis/labels.ts";
import type { KubeApi, KubeObject } from "../kube/client.ts";
import { ApiError, wrap } from "../kube/errors.ts";
import { pathFor, R } from "../kube/resources.ts";

/**
 * registering: asked for, not yet a Ready node (a VM booting, a Machine provisioning, a NodeClaim launching);
 * ready: Ready and schedulable; notReady: registered once, not Ready now; cordoned: unschedulable;
 * draining: cordoned by inferops to be removed; deleting: on its way out.
 */
export type NodeState = "registering" | "ready" | "notReady" | "cordoned" | "draining" | "deleting";

export interface PoolNode {
  /**
   * The Node's name; while no Node exists yet, the name of the provider's object that becomes one (a
   * Machine, a NodeClaim). This is the name a caller passes back as removable.
   */
  name: string;
  state: NodeState;
  /** Allocatable nvidia.com/gpu; the pool's gpu.count while registering. */
  gpus: number;
  /** When the node (or the object that becomes it) was created, ms since the epoch. */
  createdAt: number;
  /** For a registering node whose provider knows: when it is expected to register, ms since the epoch. */
  expectedAt?: number;
  /** The uid of the object named: a removal deletes that object and not a namesake created since. */
  uid?: string;
  /** The provider's object that holds the node, when that is not the Node (a Machine, a NodeClaim). */
  holder?: string;
  /**
   * For a node asked for: why the provider says it will not come, in its own words (a NodeClaim whose launch
   * failed for want of capacity, say). The controller reports it and the planner stops counting on growth.
   */
  failure?: string;
  /**
   * For a registered node that is not Ready: since when (its Ready condition's last transition, ms since the
   * epoch), and whether its kubelet stopped reporting (Ready Unknown, as the node lifecycle controller marks
   * a node it no longer hears from) rather than not being ready yet (Ready False, as a booting node is).
   */
  notReady?: { since: number; unreachable: boolean };
}

/** What a provider needs of a GPUNodePool. */
export type Pool = Pick<GPUNodePool, "metadata" | "spec">;

/** The plan a scale request carries out: the pool generation it was made for, and when (ms since the epoch). */
export interface PlanStamp {
  generation: number;
  madeAt: number;
}

export interface ScaleRequest {
  /** Nodes the pool should have, registering ones included. Held within minNodes..maxNodes. */
  target: number;
  /** Names of nodes (PoolNode.name) that may be removed, most preferred first: drained, or never registered. */
  removable: readonly string[];
  /**
   * Of the removable, nodes lost for good (not Ready for LOST_REMOVE_MS, planning/nodes.ts): always removed,
   * without waiting for their pods, which cannot be reached (they go with the Node); the target, which no
   * longer counts them, brings their replacement.
   */
  lost?: readonly string[];
  plan: PlanStamp;
}

export interface ScaleResult {
  /** stale: the plan was not acted on; unchanged: nothing needed doing; acted: something was written. */
  outcome: "stale" | "unchanged" | "acted";
  /** Why, in a sentence (for logs, events and conditions). */
  message: string;
  /** The target after holding it within minNodes..maxNodes. */
  target: number;
  /** Nodes asked for. */
  added: number;
  /** Nodes removed (or, for Cluster API, marked and scaled away). */
  removed: string[];
  /** Removable nodes that were not removed, and why. */
  kept: { name: string; reason: string }[];
  /** When something the provider waits for is due (a kwok node registering): reconcile again then. */
  requeueAfterMs?: number;
}

export interface NodeProvider {
  readonly type: ProviderType;
  /** The pool's nodes, as the provider's own objects show them. */
  observe(pool: Pool): Promise<PoolNode[]>;
  /** Converges the pool on request.target, removing only nodes of request.removable. */
  scale(pool: Pool, request: ScaleRequest): Promise<ScaleResult>;
}

/** What one provider file implements; nodeProvider() adds the checks every provider shares. */
export interface Driver {
  readonly type: ProviderType;
  observe(pool: Pool): Promise<PoolNode[]>;
  /**
   * Moves the pool toward `target` nodes. `remove` holds nodes already checked (offered, of the pool, empty,
   * no more than the surplus); `nodes` is what observe() just returned. Returns the nodes it asked for.
   */
  resize(
    pool: Pool,
    target: number,
    remove: readonly PoolNode[],
    nodes: readonly PoolNode[],
  ): Promise<{ added: number; wrote: boolean; requeueAfterMs?: number }>;
}

// ---------------------------------------------------------------------------------------------------------
// Typed errors: the planner learns from them that a pool cannot grow, and places replicas elsewhere.

export type ProviderErrorCode = "NotFound" | "InsufficientCapacity" | "Unsupported" | "Conflict";

export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly code: ProviderErrorCode;
  constructor(code: ProviderErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
  }
}

const hasCode = (err: unknown, code: ProviderErrorCode) => err instanceof ProviderError && err.code === code;
/** The provider's object (MachineDeployment, Karpenter NodePool) does not exist. */
export const isProviderNotFound = (err: unknown): boolean => hasCode(err, "NotFound");
/** The provider cannot get more nodes now (the cloud is out of them). */
export const isInsufficientCapacity = (err: unknown): boolean => hasCode(err, "InsufficientCapacity");
/** The provider cannot do what was asked (a static pool asked to change). */
export const isUnsupported = (err: unknown): boolean => hasCode(err, "Unsupported");
/** Someone else changed the object in between; the next reconcile reads it again. */
export const isProviderConflict = (err: unknown): boolean => hasCode(err, "Conflict");

/** The provider's object named in the pool's spec, or NotFound naming the field that is not set. */
export function requiredRef<T>(pool: Pool, field: string, value: T | undefined): T {
  if (value === undefined || value === "")
    throw new ProviderError("NotFound", `pool ${pool.metadata.name}: ${field} is not set`);
  return value;
}

/** An API error met while `doing`: NotFound and Conflict become ProviderErrors; the rest is wrapped. */
export function providerError(doing: string, err: unknown): Error {
  if (err instanceof ProviderError) return err;
  const message = `${doing}: ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof ApiError && err.code === "NotFound")
    return new ProviderError("NotFound", message, { cause: err });
  if (err instanceof ApiError && err.code === "Conflict")
    return new ProviderError("Conflict", message, { cause: err });
  return wrap(doing, err);
}

// ---------------------------------------------------------------------------------------------------------
// The shared checks.

/** How long a plan may be acted on after it was made, by default. */
export const PLAN_TTL_MS = 60_000;

export interface ProviderDeps {
  now: () => number;
  /** Why the node may not be removed now (a pod it runs), or undefined when it is empty. */
  occupant: (node: string) => Promise<string | undefined>;
  planTtlMs?: number;
}

/** Why a plan is stale for this pool now, or undefined when it may be acted on. */
export function staleness(pool: Pool, plan: PlanStamp, now: number, ttlMs = PLAN_TTL_MS): string | undefined {
  const generation = pool.metadata.generation;
  if (generation !== undefined && generation !== plan.generation)
    return `the plan was made for generation ${plan.generation} of the pool, which is now at ${generation}`;
  const age = now - plan.madeAt;
  if (age > ttlMs)
    return `the plan is ${Math.round(age / 1000)} s old (at most ${Math.round(ttlMs / 1000)} s)`;
  return undefined;
}

/** The nodes that count towards the target: all but those on their way out. */
export const liveNodes = (nodes: readonly PoolNode[]) => nodes.filter((n) => n.state !== "deleting");

export function nodeProvider(driver: Driver, deps: ProviderDeps): NodeProvider {
  return {
    type: driver.type,
    observe: (pool) => driver.observe(pool),
    async scale(pool, request) {
      const spec = pool.spec;
      const target = Math.min(
        spec.maxNodes,
        Math.max(spec.minNodes, Math.max(0, Math.round(request.target))),
      );
      const result: ScaleResult = {
        outcome: "unchanged",
        message: "",
        target,
        added: 0,
        removed: [],
        kept: [],
      };
      const stale = staleness(pool, request.plan, deps.now(), deps.planTtlMs);
      if (stale) return { ...result, outcome: "stale", message: `not acting: ${stale}` };

      const nodes = await driver.observe(pool);
      const live = liveNodes(nodes);
      const byName = new Map(live.map((n) => [n.name, n]));
      const remove: PoolNode[] = [];
      let surplus = live.length - target;
      for (const name of new Set(request.removable)) {
        const node = byName.get(name);
        let reason: string | undefined;
        if (!node)
          reason = nodes.some((n) => n.name === name) ? "already deleting" : "not a node of the pool";
        else if (request.lost?.includes(name))
          reason = undefined; // not capacity: the target asks for its replacement
        else if (surplus <= 0) reason = "the pool needs it: no more nodes than the target";
        else reason = await deps.occupant(name);
        if (reason || !node) result.kept.push({ name, reason: reason ?? "not a node of the pool" });
        else {
          remove.push(node);
          surplus--;
        }
      }

      const done = await driver.resize(pool, target, remove, nodes);
      const removed = remove.map((n) => n.name);
      const outcome = done.wrote ? "acted" : "unchanged";
      const parts = [
        `${live.length} node(s), target ${target}`,
        ...(done.added ? [`asked for ${done.added}`] : []),
        ...(removed.length ? [`removed ${removed.join(", ")}`] : []),
        ...(surplus > 0 && live.length > target ? [`${surplus} more to remove once drained`] : []),
      ];
      return {
        ...result,
        outcome,
        message: parts.join("; "),
        added: done.added,
        removed,
        ...(done.requeueAfterMs !== undefined ? { requeueAfterMs: done.requeueAfterMs } : {}),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Reading Nodes and Pods, shared by the providers that see Nodes.

interface NodeFields {
  spec?: {
    unschedulable?: boolean;
    taints?: { key: string; value?: string; effect?: string }[];
    providerID?: string;
  };
  status?: {
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
  };
}
export type NodeObject = KubeObject & NodeFields;

const time = (iso: string | undefined) => (iso ? Date.parse(iso) : 0);

export const nodeIsReady = (n: NodeObject) =>
  (n.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** A Node as a PoolNode; `registering` when the provider knows it has not registered yet. */
export function poolNodeOf(n: NodeObject, pool: Pool, registering = false): PoolNode {
  const allocatable = Number(n.status?.allocatable?.[GPU_RESOURCE] ?? Number.NaN);
  const state: NodeState = n.metadata?.deletionTimestamp
    ? "deleting"
    : n.metadata?.annotations?.[ANNOTATION_DRAINING] !== undefined
      ? "draining"
      : n.spec?.unschedulable
        ? "cordoned"
        : registering
          ? "registering"
          : nodeIsReady(n)
            ? "ready"
            : "notReady";
  const ready = n.status?.conditions?.find((c) => c.type === "Ready");
  return {
    name: n.metadata?.name ?? "",
    state,
    gpus: Number.isFinite(allocatable) ? allocatable : pool.spec.gpu.count,
    createdAt: time(n.metadata?.creationTimestamp),
    ...(n.metadata?.uid ? { uid: n.metadata.uid } : {}),
    ...(state === "notReady"
      ? {
          notReady: {
            since: time(ready?.lastTransitionTime ?? n.metadata?.creationTimestamp),
            unreachable: ready?.status === "Unknown",
          },
        }
      : {}),
  };
}

export const timeOf = time;

/** `k=v,k2=v2`: the label selector of exactly these labels. */
export const selectorOf = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** The Nodes a label selector picks, for pool `pool`. */
export async function listNodes(
  client: Pick<KubeApi, "list">,
  pool: Pool,
  labelSelector: string,
): Promise<NodeObject[]> {
  try {
    return (await client.list<NodeObject>(pathFor(R.nodes), { labelSelector })).items;
  } catch (err) {
    throw providerError(`listing the nodes of pool ${pool.metadata.name} (${labelSelector})`, err);
  }
}

interface PodFields {
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

/**
 * Why a node may not be removed: the first pod bound to it that is still running and is not a DaemonSet's
 * or a static (mirror) pod, which go with the node. Undefined when there is none.
 */
export function kubeOccupant(client: Pick<KubeApi, "list">): (node: string) => Promise<string | undefined> {
  return async (node) => {
    const pods = await client.list<KubeObject & PodFields>(pathFor(R.pods), {
      fieldSelector: `spec.nodeName=${node}`,
    });
    const blocking = pods.items.find(
      (p) =>
        p.status?.phase !== "Succeeded" &&
        p.status?.phase !== "Failed" &&
        p.metadata?.annotations?.["kubernetes.io/config.mirror"] === undefined &&
        !(p.metadata?.ownerReferences ?? []).some((o) => o.kind === "DaemonSet"),
    );
    return blocking ? `runs pod ${blocking.metadata?.namespace}/${blocking.metadata?.name}` : undefined;
  };
}
