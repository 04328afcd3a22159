// clusterAPI: the pool is a Cluster API MachineDeployment (cluster.x-k8s.io/v1beta1). Its nodes are its
// Machines (label cluster.x-k8s.io/deployment-name) and the Nodes their status.nodeRef names. A scale
// sets the MachineDeployment's replicas through its scale subresource. A scale-down first marks each
// chosen Machine with cluster.x-k8s.io/delete-machine, which Cluster API's MachineSets delete before any
// other, then lowers replicas by the Machines marked: the node the controller drained is the one removed.
// A marked Machine the plan no longer removes is unmarked. A Machine that failed for want of resources
// (status.failureReason InsufficientResources) makes a scale-up fail with InsufficientCapacity.
// Replicas asked for that Cluster API has not made a Machine for yet (its controllers down, or stalled) are
// nodes too, `registering` since this provider first saw them missing: they keep the planner from asking
// again, and once late they make the pool report ProvisioningStalled. (A restarted operator starts that
// clock again: a stall is reported later, never sooner.)

import { poolNodeLabels } from "../apis/labels.ts";
import type { KubeApi, KubeObject } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import { pathFor, R } from "../kube/resources.ts";
import {
  type Driver,
  listNodes,
  liveNodes,
  type NodeObject,
  type Pool,
  type PoolNode,
  ProviderError,
  poolNodeOf,
  providerError,
  requiredRef,
  selectorOf,
  timeOf,
} from "./provider.ts";

/** Cluster API's annotation: a MachineSet scaling down deletes the Machines that carry it first. */
export const DELETE_MACHINE_ANNOTATION = "cluster.x-k8s.io/delete-machine";
/** The label Cluster API puts on the Machines of a MachineDeployment. */
export const DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name";
/**
 * A replica of the MachineDeployment that has no Machine yet is named `<machineDeployment>/no-machine-<i>`:
 * no Kubernetes object has a "/" in its name, so it never collides with a Machine's.
 */
export const MISSING_MACHINE_INFIX = "/no-machine-";
/** Cluster API's MachineStatusError for a machine the infrastructure had no resources for. */
const INSUFFICIENT_RESOURCES = "InsufficientResources";

type Machine = KubeObject & {
  status?: { phase?: string; nodeRef?: { name?: string }; failureReason?: string; failureMessage?: string };
};
type Scale = KubeObject & { spec?: { replicas?: number } };

export class ClusterAPIProvider implements Driver {
  readonly type = "clusterAPI" as const;
  readonly #client: KubeApi;
  readonly #now: () => number;
  /** Per pool: since when its MachineDeployment has had fewer Machines than replicas. */
  readonly #missingSince = new Map<string, number>();

  constructor(deps: { client: KubeApi; now?: () => number }) {
    this.#client = deps.client;
    this.#now = deps.now ?? Date.now;
  }

  #ref(pool: Pool): { namespace: string; name: string } {
    return requiredRef(
      pool,
      "provider.clusterAPI.machineDeployment",
      pool.spec.provider.clusterAPI?.machineDeployment,
    );
  }

  async #scale(pool: Pool): Promise<Scale> {
    const { namespace, name } = this.#ref(pool);
    try {
      return await this.#client.get<Scale>(
        pathFor(R.machineDeployments, { namespace, name, subresource: "scale" }),
      );
    } catch (err) {
      throw providerError(
        `reading the scale of MachineDeployment ${namespace}/${name} (pool ${pool.metadata.name}; check provider.clusterAPI.machineDeployment)`,
        err,
      );
    }
  }

  async #machines(pool: Pool): Promise<Machine[]> {
    const { namespace, name } = this.#ref(pool);
    try {
      const list = await this.#client.list<Machine>(pathFor(R.machines, { namespace }), {
        labelSelector: `${DEPLOYMENT_NAME_LABEL}=${name}`,
      });
      return list.items;
    } catch (err) {
      throw providerError(`listing the Machines of MachineDeployment ${namespace}/${name}`, err);
    }
  }

  /** The Nodes of the machines: one list by the pool's labels, a read for any it did not find. */
  async #nodes(pool: Pool, machines: Machine[]): Promise<Map<string, NodeObject>> {
    const listed = await listNodes(this.#client, pool, selectorOf(poolNodeLabels(pool)));
    const found = new Map(listed.map((n) => [n.metadata?.name ?? "", n]));
    for (const m of machines) {
      const name = m.status?.nodeRef?.name;
      if (!name || found.has(name)) continue;
      try {
        found.set(name, await this.#client.get<NodeObject>(pathFor(R.nodes, { name })));
      } catch (err) {
        if (!isNotFound(err)) throw providerError(`reading node ${name} of pool ${pool.metadata.name}`, err);
      }
    }
    return found;
  }

  async observe(pool: Pool): Promise<PoolNode[]> {
    const scale = await this.#scale(pool);
    const machines = await this.#machines(pool);
    const nodes = await this.#nodes(pool, machines);
    const observed = machines.map((m) => machineNode(pool, m, nodes));
    // Replicas without a Machine yet: nodes asked for, registering.
    const missing = (scale.spec?.replicas ?? 0) - liveNodes(observed).length;
    const key = pool.metadata.name;
    if (missing <= 0) {
      this.#missingSince.delete(key);
      return observed;
    }
    const since = this.#missingSince.get(key) ?? this.#now();
    this.#missingSince.set(key, since);
    const { name } = this.#ref(pool);
    for (let i = 0; i < missing; i++)
      observed.push({
        name: `${name}${MISSING_MACHINE_INFIX}${i}`,
        state: "registering",
        gpus: pool.spec.gpu.count,
        createdAt: since,
      });
    return observed;
  }

  async resize(pool: Pool, target: number, remove: readonly PoolNode[], nodes: readonly PoolNode[]) {
    const { namespace, name } = this.#ref(pool);
    const live = liveNodes(nodes);
    const scale = await this.#scale(pool);
    const replicas = scale.spec?.replicas ?? 0;
    const desired = Math.max(target, live.length - remove.length);
    const machines = await this.#machines(pool);
    if (desired > Math.max(replicas, live.length)) {
      const failed = machines.find((m) => m.status?.failureReason === INSUFFICIENT_RESOURCES);
      if (failed)
        throw new ProviderError(
          "InsufficientCapacity",
          `pool ${pool.metadata.name}: Machine ${namespace}/${failed.metadata?.name} failed for want of resources (${failed.status?.failureMessage ?? INSUFFICIENT_RESOURCES}); not asking MachineDeployment ${namespace}/${name} for more`,
        );
    }

    let wrote = false;
    const marked = new Set(remove.map((n) => n.holder ?? n.name));
    for (const m of machines) {
      if (m.metadata?.deletionTimestamp) continue;
      const has = m.metadata?.annotations?.[DELETE_MACHINE_ANNOTATION] !== undefined;
      const want = marked.has(m.metadata?.name ?? "");
      if (has === want) continue;
      const path = pathFor(R.machines, { namespace, name: m.metadata?.name });
      try {
        await this.#client.patch(path, {
          metadata: { annotations: { [DELETE_MACHINE_ANNOTATION]: want ? "true" : null } },
        } as KubeObject);
        wrote = true;
      } catch (err) {
        throw providerError(
          `${want ? "marking" : "unmarking"} Machine ${namespace}/${m.metadata?.name} for deletion`,
          err,
        );
      }
    }

    if (desired !== replicas) {
      try {
        await this.#client.patch(pathFor(R.machineDeployments, { namespace, name, subresource: "scale" }), {
          spec: { replicas: desired },
        });
        wrote = true;
      } catch (err) {
        throw providerError(`scaling MachineDeployment ${namespace}/${name} to ${desired}`, err);
      }
    }
    return { added: Math.max(0, desired - Math.max(replicas, live.length)), wrote };
  }
}

const REGISTERING_PHASES = new Set(["Pending", "Provisioning", "Provisioned"]);

function machineNode(pool: Pool, m: Machine, nodes: Map<string, NodeObject>): PoolNode {
  const name = m.metadata?.name ?? "";
  const holder = { holder: name, ...(m.metadata?.uid ? { uid: m.metadata.uid } : {}) };
  const base = { gpus: pool.spec.gpu.count, createdAt: timeOf(m.metadata?.creationTimestamp) };
  if (m.metadata?.deletionTimestamp || m.status?.phase === "Deleting" || m.status?.phase === "Deleted")
    return { name: m.status?.nodeRef?.name ?? name, state: "deleting", ...base, ...holder };
  const node = nodes.get(m.status?.nodeRef?.name ?? "");
  if (node) return { ...poolNodeOf(node, pool), ...holder };
  const registering = m.status?.phase === undefined || REGISTERING_PHASES.has(m.status.phase);
  return { name, state: registering ? "registering" : "notReady", ...base, ...holder };
}
