// An in-memory cloud of GPU nodes behind the provider interface, for unit tests (and the simulator's node
// model): nodes it is asked for register after the pool's provisioningSeconds on its clock, removed nodes
// go at once, a capacity can run out, and a failure can be injected. No I/O.
import type { ProviderType } from "../apis/gpunodepool.ts";
import {
  type Driver,
  liveNodes,
  type NodeProvider,
  type NodeState,
  nodeProvider,
  type Pool,
  type PoolNode,
  ProviderError,
} from "./provider.ts";

interface FakeNode extends PoolNode {
  pool: string;
  pods: number;
}

export interface FakeCloudOptions {
  /** The cloud's clock, ms since the epoch (a simulator passes virtual time). */
  now: () => number;
  /** The provider type it reports. Default kwok. */
  type?: ProviderType;
  /** Most nodes the cloud can give, across pools; asking for more throws InsufficientCapacity. */
  capacity?: number;
}

export class FakeCloud implements Driver {
  readonly type: ProviderType;
  readonly #now: () => number;
  readonly #nodes = new Map<string, FakeNode>();
  #seq = 0;
  #failure?: Error;
  capacity: number;
  /** Calls to resize() that changed something. */
  writes = 0;

  constructor(opts: FakeCloudOptions) {
    this.#now = opts.now;
    this.type = opts.type ?? "kwok";
    this.capacity = opts.capacity ?? Number.POSITIVE_INFINITY;
  }

  /** The provider the controller (or the simulator) uses: this cloud behind the shared checks. */
  provider(opts: { planTtlMs?: number } = {}): NodeProvider {
    return nodeProvider(this, {
      now: this.#now,
      occupant: async (name) => {
        const pods = this.#nodes.get(name)?.pods ?? 0;
        return pods > 0 ? `runs ${pods} pod(s)` : undefined;
      },
      ...opts,
    });
  }

  /** The next observe() or resize() throws this (once). */
  failNext(err: Error): void {
    this.#failure = err;
  }

  #throwInjected(): void {
    const err = this.#failure;
    this.#failure = undefined;
    if (err) throw err;
  }

  /** Registers the nodes whose provisioning time has passed. */
  #advance(): void {
    const now = this.#now();
    for (const n of this.#nodes.values())
      if (n.state === "registering" && n.expectedAt !== undefined && n.expectedAt <= now) {
        n.state = "ready";
        n.expectedAt = undefined;
      }
  }

  /** Adds a node directly (a test's starting state): registered unless a state is given. */
  add(pool: Pool, state: NodeState = "ready", pods = 0): string {
    return this.#create(pool, state, pods);
  }

  #create(pool: Pool, state: NodeState, pods: number): string {
    const now = this.#now();
    const name = `${pool.metadata.name}-${++this.#seq}`;
    this.#nodes.set(name, {
      name,
      pool: pool.metadata.name,
      state,
      gpus: pool.spec.gpu.count,
      createdAt: now,
      ...(state === "registering" ? { expectedAt: now + pool.spec.provisioningSeconds * 1000 } : {}),
      pods,
    });
    return name;
  }

  /** Pods now running on a node (what makes it not removable). */
  setPods(node: string, pods: number): void {
    const n = this.#nodes.get(node);
    if (n) n.pods = pods;
  }

  /** Marks a node asked for as one that will not come (a launch refused for want of capacity), or removes it. */
  refuse(node: string, failure: string): void {
    const n = this.#nodes.get(node);
    if (n) n.failure = failure;
  }

  forget(node: string): void {
    this.#nodes.delete(node);
  }

  /** Sets a node's state as the controller would (cordon, drain) or a failure would (notReady). */
  setState(node: string, state: NodeState): void {
    const n = this.#nodes.get(node);
    if (n) n.state = state;
  }

  nodes(pool: string): PoolNode[] {
    this.#advance();
    return [...this.#nodes.values()].filter((n) => n.pool === pool).map(({ pool: _, pods: __, ...n }) => n);
  }

  async observe(pool: Pool): Promise<PoolNode[]> {
    this.#throwInjected();
    return this.nodes(pool.metadata.name);
  }

  async resize(pool: Pool, target: number, remove: readonly PoolNode[], nodes: readonly PoolNode[]) {
    this.#throwInjected();
    for (const n of remove) this.#nodes.delete(n.name);
    const want = target - (liveNodes(nodes).length - remove.length);
    const room = this.capacity - this.#nodes.size;
    const added = Math.max(0, Math.min(want, room));
    for (let i = 0; i < added; i++) this.#create(pool, "registering", 0);
    if (added || remove.length) this.writes++;
    if (want > added)
      throw new ProviderError(
        "InsufficientCapacity",
        `pool ${pool.metadata.name}: the cloud has ${room} node(s) left, ${want} were asked for`,
      );
    const pending = [...this.#nodes.values()].filter((n) => n.pool === pool.metadata.name && n.expectedAt);
    const next = Math.min(...pending.map((n) => n.expectedAt as number));
    const now = this.#now();
    return {
      added,
      wrote: added > 0 || remove.length > 0,
      ...(pending.length ? { requeueAfterMs: Math.max(0, next - now) } : {}),
    };
  }
}
