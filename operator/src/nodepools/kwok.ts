// kwok: fake GPU nodes for the local cluster and the demo, shaped like a cloud's. A scale-up creates Node
// objects carrying the pool's labels and taints, nvidia.com/gpu capacity and allocatable, NVIDIA's GPU
// feature-discovery labels, a providerID kwok://<pool>/<node> and the owner label inferops.dev/pool=<pool>.
// A new node is created tainted node.cloudprovider.kubernetes.io/uninitialized and without kwok's
// annotation, so nothing schedules on it and kwok leaves it NotReady: a cloud VM booting. Once the pool's
// provisioningSeconds have passed since the Node's creationTimestamp (the intent, recorded durably by the
// API server itself, so an operator restart loses nothing), scale() registers it: it removes that taint and
// adds kwok.x-k8s.io/node=fake, and kwok makes it Ready. A scale-down deletes the chosen Nodes.
import { randomBytes } from "node:crypto";
import {
  LABEL_MANAGED_BY,
  LABEL_POOL,
  MANAGED_BY,
  poolNodeLabels,
} from "../controllers/inferenceservice/objects.ts";
import type { KubeApi } from "../kube/client.ts";
import { isNotFound } from "../kube/errors.ts";
import { pathFor, R } from "../kube/resources.ts";
import {
  type Driver,
  GPU_RESOURCE,
  listNodes,
  liveNodes,
  type NodeObject,
  type Pool,
  type PoolNode,
  poolNodeOf,
  providerError,
} from "./provider.ts";

/** The taint a cloud node carries until it is initialised (the cloud-controller-manager's). */
export const TAINT_UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized";
/** The annotation kwok manages nodes by (hack/controlplane/cluster.sh starts it with this selector). */
export const KWOK_ANNOTATION = "kwok.x-k8s.io/node";

const providerIDPrefix = (pool: string) => `kwok://${pool}/`;

/** Per-GPU host resources, about those of cloud GPU instances (a 8-GPU node: 192 CPUs, 1,920 GiB). */
const CPUS_PER_GPU = 24;
const MEMORY_GIB_PER_GPU = 240;

/** The Node a scale-up creates: registering until scale() registers it. */
export function kwokNode(pool: Pool, name: string): NodeObject {
  const { gpu } = pool.spec;
  const capacity = {
    cpu: String(CPUS_PER_GPU * gpu.count),
    memory: `${MEMORY_GIB_PER_GPU * gpu.count}Gi`,
    "ephemeral-storage": "1000Gi",
    pods: "110",
    [GPU_RESOURCE]: String(gpu.count),
  };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": `${gpu.type}-x${gpu.count}`,
        // NVIDIA GPU feature discovery's labels.
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": gpu.type.toUpperCase(),
        "nvidia.com/gpu.count": String(gpu.count),
        "nvidia.com/gpu.memory": String(Math.round(gpu.memoryGiB * 1024)),
        type: "kwok",
        ...poolNodeLabels(pool),
        [LABEL_POOL]: pool.metadata.name,
        [LABEL_MANAGED_BY]: MANAGED_BY,
      },
    },
    spec: {
      providerID: `${providerIDPrefix(pool.metadata.name)}${name}`,
      taints: [
        ...(pool.spec.nodeTaints ?? []),
        { key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" },
      ],
    },
    status: { capacity, allocatable: capacity },
  };
}

/** Not registered yet: made by this provider and still carrying the uninitialized taint. */
const registering = (n: NodeObject, pool: string) =>
  (n.spec?.providerID ?? "").startsWith(providerIDPrefix(pool)) &&
  n.metadata?.annotations?.[KWOK_ANNOTATION] === undefined &&
  (n.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED);

export class KwokProvider implements Driver {
  readonly type = "kwok" as const;
  readonly #client: KubeApi;
  readonly #now: () => number;

  constructor(deps: { client: KubeApi; now: () => number }) {
    this.#client = deps.client;
    this.#now = deps.now;
  }

  async observe(pool: Pool): Promise<PoolNode[]> {
    const provisioningMs = pool.spec.provisioningSeconds * 1000;
    const nodes = await listNodes(this.#client, pool, `${LABEL_POOL}=${pool.metadata.name}`);
    return nodes.map((n) => {
      const node = poolNodeOf(n, pool, registering(n, pool.metadata.name));
      return node.state === "registering" ? { ...node, expectedAt: node.createdAt + provisioningMs } : node;
    });
  }

  async resize(pool: Pool, target: number, remove: readonly PoolNode[], nodes: readonly PoolNode[]) {
    let wrote = false;
    for (const n of remove) {
      try {
        await this.#client.delete(pathFor(R.nodes, { name: n.name }), undefined, {
          preconditions: { uid: n.uid },
        });
        wrote = true;
      } catch (err) {
        if (!isNotFound(err))
          throw providerError(`deleting node ${n.name} of pool ${pool.metadata.name}`, err);
      }
    }
    const now = this.#now();
    for (const n of nodes)
      if (n.state === "registering" && n.expectedAt !== undefined && n.expectedAt <= now)
        wrote = (await this.#register(pool, n.name)) || wrote;

    const added = Math.max(0, target - (liveNodes(nodes).length - remove.length));
    for (let i = 0; i < added; i++) {
      const name = `${pool.metadata.name}-${randomBytes(4).toString("hex")}`;
      try {
        await this.#client.create(pathFor(R.nodes), kwokNode(pool, name));
        wrote = true;
      } catch (err) {
        throw providerError(`creating node ${name} of pool ${pool.metadata.name}`, err);
      }
    }

    const waiting = nodes.filter((n) => n.state === "registering" && (n.expectedAt ?? 0) > now);
    const next = Math.min(
      ...waiting.map((n) => n.expectedAt as number),
      ...(added ? [now + pool.spec.provisioningSeconds * 1000] : []),
    );
    return { added, wrote, ...(Number.isFinite(next) ? { requeueAfterMs: Math.max(0, next - now) } : {}) };
  }

  /** The node's VM has booted: lift the taint and let kwok run it. Only the version read is patched. */
  async #register(pool: Pool, name: string): Promise<boolean> {
    const doing = `registering node ${name} of pool ${pool.metadata.name}`;
    try {
      const node = await this.#client.get<NodeObject>(pathFor(R.nodes, { name }));
      if (!registering(node, pool.metadata.name)) return false;
      await this.#client.patch(pathFor(R.nodes, { name }), {
        metadata: {
          resourceVersion: node.metadata?.resourceVersion,
          annotations: { [KWOK_ANNOTATION]: "fake" },
        },
        spec: { taints: (node.spec?.taints ?? []).filter((t) => t.key !== TAINT_UNINITIALIZED) },
      });
      return true;
    } catch (err) {
      throw providerError(doing, err);
    }
  }
}
