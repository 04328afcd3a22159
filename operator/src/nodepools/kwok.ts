// kwok: fake GPU nodes for the local cluster and the demo, shaped like a cloud's: Node objects carrying the
// pool's labels and taints, nvidia.com/gpu capacity and allocatable, NVIDIA's GPU feature-discovery labels,
// a providerID kwok://<pool>/<node>, the owner label inferops.dev/pool=<pool>, and kwok's annotation
// kwok.x-k8s.io/node=fake (kwok then makes them Ready and runs their pods).
//
// A cloud VM takes provisioningSeconds to boot, and no Node exists until it registers. So a scale-up
// records its intent first: the names of the nodes asked for and when, in the GPUNodePool's annotation
// inferops.dev/kwok-provisioning (a merge patch of that one key, guarded by resourceVersion), so that an
// operator restarted in between loses nothing and asks for nothing twice. Those nodes are `registering`;
// once their provisioningSeconds have passed, scale() creates their Node objects and drops them from the
// annotation. (Creating the Node early, unmanaged, and annotating it later does not work: kwok 0.8 takes
// on a node only when it first sees it.) A scale-down deletes the chosen Nodes, or forgets a node still
// provisioning.
import { randomBytes } from "node:crypto";
import { GPU_RESOURCE, LABEL_MANAGED_BY, LABEL_POOL, MANAGED_BY, poolNodeLabels } from "../apis/labels.ts";
import type { KubeApi, KubeObject } from "../kube/client.ts";
import { isAlreadyExists, isNotFound } from "../kube/errors.ts";
import { pathFor, R } from "../kube/resources.ts";
import {
  type Driver,
  listNodes,
  liveNodes,
  type NodeObject,
  type Pool,
  type PoolNode,
  poolNodeOf,
  providerError,
} from "./provider.ts";

/** The annotation kwok manages nodes by (hack/controlplane/cluster.sh starts it with this selector). */
export const KWOK_ANNOTATION = "kwok.x-k8s.io/node";
/** On the GPUNodePool: the nodes asked for and not created yet, as JSON {name: RFC 3339 time asked}. */
export const ANNOTATION_PROVISIONING = "inferops.dev/kwok-provisioning";

const providerIDPrefix = (pool: string) => `kwok://${pool}/`;

/** Per-GPU host resources, about those of cloud GPU instances (a 8-GPU node: 192 CPUs, 1,920 GiB). */
const CPUS_PER_GPU = 24;
const MEMORY_GIB_PER_GPU = 240;

/** The Node of a kwok pool's node, as created once it has booted. */
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
      annotations: { [KWOK_ANNOTATION]: "fake" },
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
      taints: pool.spec.nodeTaints ?? [],
    },
    status: { capacity, allocatable: capacity },
  };
}

type Provisioning = Record<string, string>;

function provisioningOf(pool: KubeObject): Provisioning {
  const raw = pool.metadata?.annotations?.[ANNOTATION_PROVISIONING];
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as Provisioning) : {};
  } catch {
    return {};
  }
}

export class KwokProvider implements Driver {
  readonly type = "kwok" as const;
  readonly #client: KubeApi;
  readonly #now: () => number;

  constructor(deps: { client: KubeApi; now: () => number }) {
    this.#client = deps.client;
    this.#now = deps.now;
  }

  /** The GPUNodePool as the API server has it now: the intent recorded may be newer than the caller's copy. */
  async #current(pool: Pool): Promise<KubeObject> {
    try {
      return await this.#client.get(pathFor(R.gpuNodePools, { name: pool.metadata.name }));
    } catch (err) {
      throw providerError(`reading GPUNodePool ${pool.metadata.name}`, err);
    }
  }

  async #read(pool: Pool) {
    const [current, nodes] = await Promise.all([
      this.#current(pool),
      listNodes(this.#client, pool, `${LABEL_POOL}=${pool.metadata.name}`),
    ]);
    return { current, provisioning: provisioningOf(current), nodes };
  }

  async observe(pool: Pool): Promise<PoolNode[]> {
    const { provisioning, nodes } = await this.#read(pool);
    const existing = new Set(nodes.map((n) => n.metadata?.name));
    const provisioningMs = pool.spec.provisioningSeconds * 1000;
    return [
      ...nodes.map((n) => poolNodeOf(n, pool)),
      ...Object.entries(provisioning)
        .filter(([name]) => !existing.has(name))
        .map(([name, at]): PoolNode => {
          const createdAt = Date.parse(at);
          return {
            name,
            state: "registering",
            gpus: pool.spec.gpu.count,
            createdAt,
            expectedAt: createdAt + provisioningMs,
          };
        }),
    ];
  }

  async resize(pool: Pool, target: number, remove: readonly PoolNode[], nodes: readonly PoolNode[]) {
    const name = pool.metadata.name;
    const { current, provisioning, nodes: objects } = await this.#read(pool);
    const existing = new Set(objects.map((n) => n.metadata?.name));
    const next: Provisioning = Object.fromEntries(
      Object.entries(provisioning).filter(([n]) => !existing.has(n)),
    );
    let wrote = false;

    for (const n of remove) {
      if (n.name in next) {
        delete next[n.name];
        continue;
      }
      try {
        await this.#client.delete(pathFor(R.nodes, { name: n.name }), undefined, {
          preconditions: { uid: n.uid },
        });
        wrote = true;
      } catch (err) {
        if (!isNotFound(err)) throw providerError(`deleting node ${n.name} of pool ${name}`, err);
      }
    }

    // Booted: the Node registers. Created before the intent is dropped, so a crash in between only leaves
    // an entry the next call prunes.
    const now = this.#now();
    const provisioningMs = pool.spec.provisioningSeconds * 1000;
    for (const [node, at] of Object.entries(next)) {
      if (Date.parse(at) + provisioningMs > now) continue;
      try {
        await this.#client.create(pathFor(R.nodes), kwokNode(pool, node));
        wrote = true;
      } catch (err) {
        if (!isAlreadyExists(err)) throw providerError(`creating node ${node} of pool ${name}`, err);
      }
      delete next[node];
    }

    const added = Math.max(0, target - (liveNodes(nodes).length - remove.length));
    const asked = new Date(now).toISOString();
    for (let i = 0; i < added; i++) next[`${name}-${randomBytes(4).toString("hex")}`] = asked;

    if (JSON.stringify(next) !== JSON.stringify(provisioning)) {
      await this.#record(name, current, next);
      wrote = true;
    }
    const due = Object.values(next).map((at) => Date.parse(at) + provisioningMs);
    return { added, wrote, ...(due.length ? { requeueAfterMs: Math.max(0, Math.min(...due) - now) } : {}) };
  }

  /** Records the nodes still provisioning on the GPUNodePool, only over the version read. */
  async #record(name: string, current: KubeObject, provisioning: Provisioning): Promise<void> {
    const value = Object.keys(provisioning).length ? JSON.stringify(provisioning) : null;
    try {
      await this.#client.patch(pathFor(R.gpuNodePools, { name }), {
        metadata: {
          resourceVersion: current.metadata?.resourceVersion,
          annotations: { [ANNOTATION_PROVISIONING]: value },
        },
      } as KubeObject);
    } catch (err) {
      throw providerError(`recording the nodes provisioning on GPUNodePool ${name}`, err);
    }
  }
}
