// Which pods a scale-down removes: the ReplicaSet controller deletes the pods with the lowest
// `controller.kubernetes.io/pod-deletion-cost` first (after unscheduled and not-ready ones). Before it lowers a
// Deployment's replicas, the reconciler ranks that Deployment's pods so that the replicas that go are the ones
// whose removal frees the most and disrupts the least: pods not ready, then pods on nodes the GPUNodePool
// controller is draining, then pods alone (or nearly) on their node, whose node then empties and can go.
// Pods sharing a node with many of inferops' pods go last: removing them frees no node.
import type { KubeObject } from "../../kube/client.ts";

export const POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

/** Cost of a pod that is not ready, or not yet on a node: removed first. */
export const COST_NOT_READY = -1000;
/** Cost of a pod on a node being drained (inferops.dev/draining): it is leaving anyway. */
export const COST_DRAINING_NODE = -500;
/** Per pod of inferops' on the same node, this pod included. */
export const COST_PER_NODE_NEIGHBOUR = 100;

type Pod = KubeObject & {
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[] };
};

const ready = (p: Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** What ranks one pod for removal. */
export interface RemovalCandidate {
  /** Bound to a node and Ready. */
  ready: boolean;
  /** Its node is being drained. */
  nodeDraining: boolean;
  /** inferops' pods on its node that are not being deleted, this one included. */
  podsOnNode: number;
}

/**
 * The pod-deletion-cost of one pod: the rule the operator writes (deletionCosts) and the simulated fleet
 * applies to the inferops policy's scale-downs (simulation/fleet.ts), so that both remove the same pods.
 */
export function deletionCost(pod: RemovalCandidate): number {
  if (!pod.ready) return COST_NOT_READY;
  if (pod.nodeDraining) return COST_DRAINING_NODE;
  return COST_PER_NODE_NEIGHBOUR * Math.max(1, pod.podsOnNode);
}

/**
 * pod-deletion-cost per pod name for `pods` (one Deployment's), given every pod of inferops' (to count
 * neighbours per node) and the names of nodes being drained. Pure.
 */
export function deletionCosts(
  pods: readonly KubeObject[],
  allPods: readonly KubeObject[],
  drainingNodes: ReadonlySet<string>,
): Map<string, number> {
  const perNode = new Map<string, number>();
  for (const p of allPods as Pod[]) {
    const node = p.spec?.nodeName;
    if (node && !p.metadata?.deletionTimestamp) perNode.set(node, (perNode.get(node) ?? 0) + 1);
  }
  const out = new Map<string, number>();
  for (const p of pods as Pod[]) {
    const name = p.metadata?.name;
    if (!name || p.metadata?.deletionTimestamp) continue;
    const node = p.spec?.nodeName;
    out.set(
      name,
      deletionCost({
        ready: Boolean(node) && ready(p),
        nodeDraining: node !== undefined && drainingNodes.has(node),
        podsOnNode: node ? (perNode.get(node) ?? 1) : 0,
      }),
    );
  }
  return out;
}
