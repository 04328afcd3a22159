// karpenter: the pool is a Karpenter NodePool (karpenter.sh/v1), which provisions nodes for pending pods.
// Its nodes are the Nodes and NodeClaims labelled karpenter.sh/nodepool=<name> (a NodeClaim with no Node yet
// is registering). A scale sets, by server-side apply, the NodePool's spec.limits["nvidia.com/gpu"] to the
// target times the pool's GPUs per node, so Karpenter provisions what the plan needs and no more, and its
// spec.disruption to consolidationPolicy WhenEmpty with consolidateAfter Never, so Karpenter does not
// remove nodes the plan keeps: scale-down is inferops', which deletes the chosen node's NodeClaim (Karpenter
// then terminates the instance). Karpenter's other disruption (drift, expiry, budgets) stays the user's.
// A NodeClaim whose launch failed (Karpenter leaves the reason on its Launched condition, InsufficientCapacity
// or LaunchFailed and the cloud's message, then deletes it and tries again) is reported as the node's failure,
// so the pool says it cannot get capacity instead of waiting in silence.
import { GPU_RESOURCE } from "../apis/labels.ts";
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

  constructor(deps: { client: KubeApi }) {
    this.#client = deps.client;
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
    await this.#nodePool(pool);
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
      const path = n.holder ? pathFor(R.nodeClaims, { name: n.holder }) : pathFor(R.nodes, { name: n.name });
      try {
        await this.#client.delete(path, undefined, { preconditions: { uid: n.uid } });
        wrote = true;
      } catch (err) {
        if (!isNotFound(err))
          throw providerError(`removing node ${n.name} of Karpenter NodePool ${name}`, err);
      }
    }

    const current = await this.#nodePool(pool);
    const limit = String(target * pool.spec.gpu.count);
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
    return { added: Math.max(0, target - (liveNodes(nodes).length - remove.length)), wrote };
  }
}
