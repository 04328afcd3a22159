// karpenter: the pool is a Karpenter NodePool (karpenter.sh/v1), which provisions nodes for pending pods.
// Its nodes are the Nodes and NodeClaims labelled karpenter.sh/nodepool=<name> (a NodeClaim with no Node yet
// is registering). A scale sets, by server-side apply, the NodePool's spec.limits["nvidia.com/gpu"] to the
// nodes kept (the target, or more while the node policy has not removed them) times the pool's GPUs per node,
// so Karpenter provisions what the plan needs and no more, and its spec.disruption to consolidationPolicy
// WhenEmpty with consolidateAfter Never, so Karpenter does not remove nodes the plan keeps: scale-down is
// inferops', which deletes the chosen node's NodeClaim (Karpenter then terminates the instance). Karpenter's
// other disruption (drift, expiry, budgets) stays the user's.
// A NodeClaim whose launch failed (Karpenter leaves the reason on its Launched condition, InsufficientCapacity
// or LaunchFailed and the cloud's message, then deletes it and tries again) is reported as the node's failure,
// so the pool says it cannot get capacity instead of waiting in silence.
// Karpenter makes a NodeClaim only for pods it cannot place, so "asked for" is not a count there: while the
// pool's pods wait unschedulable and the NodePool's nodes and NodeClaims are fewer than the limit inferops
// set, the nodes those pods need beyond the NodeClaims launching (at most the shortfall) are nodes asked
// for, `registering` since this provider first saw them missing (again whenever Karpenter claims more),
// named `<nodePool>/no-claim-<i>`. Karpenter down or unable to act then makes the pool report
// ProvisioningStalled, as a Cluster API that makes no Machine does. (A restarted operator starts that clock
// again: a stall is reported later, never sooner.)
import { GPU_RESOURCE, LABEL_VARIANT } from "../apis/labels.ts";
import type { KubeApi, KubeObject } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import { pathFor, R } from "../kube/resources.ts";
import {
  type Driver,
  liveNodes,
  type NodeObject,
  type Pool,
  type PoolNode,
  poolNodeOf,
  providerError,
  requiredRef,
  timeOf,
} from "./provider.ts";

/** The label Karpenter puts on the NodeClaims and Nodes of a NodePool. */
export const NODEPOOL_LABEL = "karpenter.sh/nodepool";
/** Karpenter's disruption settings under inferops: only inferops removes the pool's nodes. */
export const DISRUPTION = { consolidationPolicy: "WhenEmpty", consolidateAfter: "Never" } as const;

type NodePool = KubeObject & {
  spec?: {
    limits?: Record<string, string>;
    disruption?: { consolidationPolicy?: string; consolidateAfter?: string };
  };
};
type NodeClaim = KubeObject & {
  status?: {
    nodeName?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
};

/**
 * Nodes pending pods need that Karpenter has made no NodeClaim for are named `<nodePool>/no-claim-<i>`: no
 * Kubernetes object has a "/" in its name, so it never collides with a Node's or a NodeClaim's.
 */
export const MISSING_CLAIM_INFIX = "/no-claim-";

type PendingPod = KubeObject & {
  spec?: {
    containers?: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
  };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string }[] };
};

/** GPUs a pod asks for (its containers' nvidia.com/gpu, limits where requests are not given). */
const podGPUs = (p: PendingPod) =>
  (p.spec?.containers ?? []).reduce((n, c) => {
    const v = Number(c.resources?.requests?.[GPU_RESOURCE] ?? c.resources?.limits?.[GPU_RESOURCE] ?? 0);
    return n + (Number.isFinite(v) && v > 0 ? v : 0);
  }, 0);

/** A pod the scheduler found no node for (PodScheduled False, Unschedulable): what Karpenter provisions for. */
const unschedulable = (p: PendingPod) =>
  !p.metadata?.deletionTimestamp &&
  (p.status?.phase ?? "Pending") === "Pending" &&
  (p.status?.conditions ?? []).some(
    (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
  );

/** Reasons Karpenter gives a Launched condition while a launch is still under way. */
const LAUNCHING = new Set(["", "AwaitingReconciliation", "Unknown", "CapacityEvidencePending"]);

/** Why a NodeClaim's launch failed, from its Launched condition; undefined while it launches or launched. */
export function launchFailure(claim: NodeClaim): string | undefined {
  const launched = claim.status?.conditions?.find((c) => c.type === "Launched");
  if (!launched || launched.status === "True") return undefined;
  const reason = launched.reason ?? "";
  if (launched.status !== "False" && LAUNCHING.has(reason)) return undefined;
  const what = `NodeClaim ${claim.metadata?.name ?? ""} did not launch`;
  return [`${what}: ${reason || "Launched False"}`, launched.message].filter(Boolean).join(": ");
}

export class KarpenterProvider implements Driver {
  readonly type = "karpenter" as const;
  readonly #client: KubeApi;
  readonly #now: () => number;
  /** Per pool: since when pending pods have waited for nodes Karpenter has not claimed, and its nodes then. */
  readonly #missingSince = new Map<string, { since: number; live: number }>();

  constructor(deps: { client: KubeApi; now?: () => number }) {
    this.#client = deps.client;
    this.#now = deps.now ?? Date.now;
  }

  #name(pool: Pool): string {
    return requiredRef(pool, "provider.karpenter.nodePool", pool.spec.provider.karpenter?.nodePool);
  }

  async #nodePool(pool: Pool): Promise<NodePool> {
    const name = this.#name(pool);
    try {
      return await this.#client.get<NodePool>(pathFor(R.karpenterNodePools, { name }));
    } catch (err) {
      throw providerError(
        `reading Karpenter NodePool ${name} (pool ${pool.metadata.name}; check provider.karpenter.nodePool)`,
        err,
      );
    }
  }

  async observe(pool: Pool): Promise<PoolNode[]> {
    const name = this.#name(pool);
    const nodePool = await this.#nodePool(pool);
    const observed = await this.#observed(pool, name);
    // Nodes the pool's unschedulable pods need, within what the limit allows, that Karpenter has not claimed.
    const limit = Number(nodePool.spec?.limits?.[GPU_RESOURCE]);
    const allowed = Number.isFinite(limit) ? Math.floor(limit / pool.spec.gpu.count) : 0;
    const shortfall = allowed - liveNodes(observed).length;
    const needed = shortfall > 0 ? await this.#nodesPodsWaitFor(pool) : 0;
    // Pods stay unschedulable while the NodeClaims made for them launch: those nodes are on their way.
    const launching = observed.filter((n) => n.state === "registering").length;
    const missing = Math.min(shortfall, needed - launching);
    const key = pool.metadata.name;
    if (missing <= 0) {
      this.#missingSince.delete(key);
      return observed;
    }
    // The clock starts again whenever Karpenter claims more: a large scale-up claimed wave by wave is progress.
    const live = liveNodes(observed).length;
    const last = this.#missingSince.get(key);
    const since = last && live <= last.live ? last.since : this.#now();
    this.#missingSince.set(key, { since, live });
    for (let i = 0; i < missing; i++)
      observed.push({
        name: `${name}${MISSING_CLAIM_INFIX}${i}`,
        state: "registering",
        gpus: pool.spec.gpu.count,
        createdAt: since,
      });
    return observed;
  }

  /** Nodes the pool's pods that no node can take need (their GPUs over the pool's GPUs per node). */
  async #nodesPodsWaitFor(pool: Pool): Promise<number> {
    let pods: PendingPod[];
    try {
      pods = (
        await this.#client.list<PendingPod>(pathFor(R.pods), {
          labelSelector: `${LABEL_VARIANT}=${pool.metadata.name}`,
          fieldSelector: "status.phase=Pending",
        })
      ).items;
    } catch (err) {
      throw providerError(`listing the pending pods of pool ${pool.metadata.name}`, err);
    }
    const gpus = pods.filter(unschedulable).reduce((n, p) => n + Math.max(1, podGPUs(p)), 0);
    return Math.ceil(gpus / pool.spec.gpu.count);
  }

  async #observed(pool: Pool, name: string): Promise<PoolNode[]> {
    const labelSelector = `${NODEPOOL_LABEL}=${name}`;
    let nodes: NodeObject[];
    let claims: NodeClaim[];
    try {
      nodes = (await this.#client.list<NodeObject>(pathFor(R.nodes), { labelSelector })).items;
      claims = (await this.#client.list<NodeClaim>(pathFor(R.nodeClaims), { labelSelector })).items;
    } catch (err) {
      throw providerError(`listing the nodes and NodeClaims of Karpenter NodePool ${name}`, err);
    }
    const claimOf = new Map(claims.map((c) => [c.status?.nodeName ?? "", c]));
    const named = new Set(nodes.map((n) => n.metadata?.name));
    const holder = (c: NodeClaim | undefined) =>
      c ? { holder: c.metadata?.name ?? "", ...(c.metadata?.uid ? { uid: c.metadata.uid } : {}) } : {};
    return [
      ...nodes.map((n) => ({ ...poolNodeOf(n, pool), ...holder(claimOf.get(n.metadata?.name ?? "")) })),
      ...claims
        .filter((c) => !named.has(c.status?.nodeName))
        .map(
          (c): PoolNode => ({
            name: c.metadata?.name ?? "",
            state: c.metadata?.deletionTimestamp ? "deleting" : "registering",
            gpus: pool.spec.gpu.count,
            createdAt: timeOf(c.metadata?.creationTimestamp),
            ...holder(c),
            ...(launchFailure(c) ? { failure: launchFailure(c) } : {}),
          }),
        ),
    ];
  }

  async resize(pool: Pool, target: number, remove: readonly PoolNode[], nodes: readonly PoolNode[]) {
    const name = this.#name(pool);
    let wrote = false;
    for (const n of remove) {
      // A node Karpenter never claimed has nothing to delete: the lower limit below is its removal.
      if (n.name.includes(MISSING_CLAIM_INFIX)) continue;
      const path = n.holder ? pathFor(R.nodeClaims, { name: n.holder }) : pathFor(R.nodes, { name: n.name });
      try {
        await this.#client.delete(path, undefined, { preconditions: { uid: n.uid } });
        wrote = true;
      } catch (err) {
        if (!isNotFound(err))
          throw providerError(`removing node ${n.name} of Karpenter NodePool ${name}`, err);
      }
    }

    // The limit covers the nodes kept, not the target alone: the nodes the node policy holds (a target of the
    // last scaleDownDelaySeconds, a drain under way) and did not offer for removal stay counted, as a Cluster
    // API MachineDeployment keeps its replicas. A node Karpenter never claimed has no object to keep it: a
    // limit lowered to the target would drop it at once, the one way a node goes here without the policy
    // choosing it (a plan made while the pool reports ProvisioningStalled wants no node it has not got, and
    // the limit read 0 while the pods that needed the node still waited).
    const kept = Math.max(target, liveNodes(nodes).length - remove.length);
    const current = await this.#nodePool(pool);
    const limit = String(kept * pool.spec.gpu.count);
    const disruption = current.spec?.disruption;
    if (
      current.spec?.limits?.[GPU_RESOURCE] !== limit ||
      disruption?.consolidationPolicy !== DISRUPTION.consolidationPolicy ||
      disruption?.consolidateAfter !== DISRUPTION.consolidateAfter
    ) {
      try {
        await this.#client.apply(pathFor(R.karpenterNodePools, { name }), {
          apiVersion: "karpenter.sh/v1",
          kind: "NodePool",
          metadata: { name },
          spec: { limits: { [GPU_RESOURCE]: limit }, disruption: { ...DISRUPTION } },
        });
        wrote = true;
      } catch (err) {
        throw providerError(`setting the limits of Karpenter NodePool ${name}`, err);
      }
    }
    // Karpenter adds nodes for pending pods, within the limit: what the pool may now gain.
    return { added: kept - (liveNodes(nodes).length - remove.length), wrote };
  }
}
