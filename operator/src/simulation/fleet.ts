// The simulated cluster: GPU node pools with nodes that take provisioningSeconds to become Ready, model-server
// pods that are scheduled onto free GPUs, load the model for modelLoadSeconds and then serve (a serving-model
// Replica each), a router that sends every request to the ready replica with the least outstanding work, and
// the meters: node-hours billed from provisioning start, busy and idle power, CapacityBudget usage. With other
// services in the scenario (Scenario.otherServices), each request belongs to one service and is routed among
// that service's ready replicas only (each service has pools of its own).
//
// Lifecycle of a pod: pending (no free GPU on a Ready node) -> loading (bound; the model loads) -> ready
// (routable) -> draining (removed by a scale-down: no new requests, in-flight ones finish) -> gone.
// Scale-down removes pods the way a ReplicaSet does: pending first, then loading, then ready ones, the lowest
// pod-deletion-cost first where the policy sets one (inferops, as the operator does: deletionCost in
// controllers/inferenceservice/deletion.ts, so pods alone on their node go first), then the most recently
// ready first.
//
// Nodes are the node scaling that ships, run as the GPUNodePool controller runs it (reconcileNodes): the
// pool's target is the nodes the policy's plan asks for (inferops' Plan.pools), held within minNodes..maxNodes
// as the controller holds it; a policy that plans no nodes (the baselines) gets what its pods need (first-fit
// decreasing over their GPUs, planning/allocate.ts nodesFor), a cluster autoscaler's stand-in. The operator's
// node policy (planning/nodes.ts nodePolicy) says which draining node comes back, which node is cordoned and
// drained (once no target of the last scaleDownDelaySeconds wanted it; a registering node first, then the fewest pods) and which
// goes; evicted pods are replaced by pending ones (a ReplicaSet); and the nodes themselves live in the node
// providers' in-memory cloud (nodepools/fake.ts), scaled through the NodeProvider interface and its shared
// checks (nodepools/provider.ts): a node registers provisioningSeconds after it was asked for, and only an
// offered, empty node beyond the target is removed.
import type { GPUNodePoolSpec } from "../apis/gpunodepool.ts";
import { deletionCost } from "../controllers/inferenceservice/deletion.ts";
import { FakeCloud } from "../nodepools/fake.ts";
import type { NodeProvider, Pool } from "../nodepools/provider.ts";
import { nodesFor } from "../planning/allocate.ts";
import {
  addUsage,
  emptyUsage,
  exceededLimits,
  inScope,
  limitsInForce,
  replicaFootprint,
  type Usage,
} from "../planning/budgets.ts";
import { DRAIN_TIMEOUT_MS, nodePolicy, nodeTarget, type TargetHistory } from "../planning/nodes.ts";
import type { ReplicaMetrics } from "../serving/metrics.ts";
import { Replica } from "../serving/replica.ts";
import type { ServingProfile } from "../serving/types.ts";
import {
  clientTimeoutOf,
  contextTokensOf,
  type Scenario,
  servedProfile,
  serviceOfPool,
  servicesOf,
} from "./scenario.ts";

export type PodState = "pending" | "loading" | "ready" | "draining";

export interface Pod {
  id: number;
  pool: string;
  /** The service whose replica it is: its index in servicesOf(scenario) (0: the scenario's service). */
  service: number;
  state: PodState;
  gpus: number;
  createdAt: number;
  /** Set while bound to a node. */
  node?: Node;
  /** When loading ends (loading pods). */
  readyAt?: number;
  /** When it became ready. */
  readySince?: number;
  /** The model server, from ready on. */
  server?: Replica;
}

export interface Node {
  /** The provider's name for it (the Node's name). */
  name: string;
  pool: string;
  createdAt: number;
  readyAt: number;
  ready: boolean;
  freeGpus: number;
  pods: number;
  /** Cordoned and draining since (ms on the fleet's clock), as the node policy chose it. */
  drainingSince?: number;
  removedAt?: number;
  /** Billing closed (at the end of the billed period). */
  billed?: boolean;
}

/**
 * Which pods a scale-down removes first. notReadyFirst: a ReplicaSet's order (pending, loading, then ready
 * ones, the most recently ready first). deletionCost: the same with the pod-deletion-cost the operator sets
 * before it scales down (controllers/inferenceservice/deletion.ts) ranking the ready ones, so that a pod
 * alone on its node goes before one sharing its node. readyFirst: ready ones first (the bounds).
 */
export type PodDeletion = "notReadyFirst" | "deletionCost" | "readyFirst";

/** How the fleet's timings differ from the pools' and profiles' (the instant bound has no lead time). */
export interface FleetOverrides {
  provisioningSeconds?: number;
  modelLoadSeconds?: number;
  scaleDownDelaySeconds?: number;
  /** Which pods a scale-down removes first (default notReadyFirst, a ReplicaSet's order). */
  deletion?: PodDeletion;
}

interface PoolState {
  name: string;
  spec: GPUNodePoolSpec;
  /** The pool as its provider sees it (provisioningSeconds overridden where the fleet's timings differ). */
  pool: Pool;
  profile?: ServingProfile;
  nodes: Node[];
  /** Nodes the policy's plan asks for (inferops' Plan.pools), once it has planned them. */
  policyNodes?: number;
  /** The node policy's memory: the targets of the last scale-down delay. */
  targets?: TargetHistory;
  provisioningSeconds: number;
  scaleDownDelaySeconds: number;
  loadSeconds: number;
  gpusPerReplica: number;
}

/** Outcome of a request, by trace index. */
export interface RequestOutcomes {
  /** Time to first token, seconds, from the trace arrival; NaN until served. */
  ttft: Float64Array;
  /** Mean inter-token latency; NaN until served. */
  itl: Float64Array;
  /** 1 when refused (prompt + output longer than the servers' context, vLLM's max_model_len). */
  refused: Uint8Array;
  /** 1 when its client gave up waiting (Scenario.clientTimeoutSeconds) and the server aborted it. */
  abandoned: Uint8Array;
}

export class Fleet {
  readonly scenario: Scenario;
  readonly #pools = new Map<string, PoolState>();
  readonly #pods: Pod[] = [];
  /** Ready pods (routable), in the order they became ready. */
  #routable: Pod[] = [];
  /** The same, per service. */
  readonly #routableOf: Pod[][];
  /** The service of each pool. */
  readonly #serviceOf: Map<string, number>;
  /** The service of each request, by trace index (all 0 with one service). */
  readonly #requestService: Uint8Array | undefined;
  readonly #draining = new Set<Pod>();
  readonly #deletion: PodDeletion;
  #nextPod = 0;
  #rr = 0;
  /** The nodes' cloud, on the fleet's clock (ms), and the provider the GPUNodePool controller would use. */
  readonly #cloud: FakeCloud;
  readonly #provider: NodeProvider;
  #nowMs = 0;
  /** Requests the router holds while none of their service's replicas is ready: trace indices, FIFO per service. */
  readonly #held: { queue: number[]; head: number }[];
  /** Lifecycle times to wake up at (node ready, pod ready, a held node target running out). */
  readonly #wakes = new Set<number>();
  readonly arrivals: Float64Array;
  readonly prompt: Int32Array;
  readonly output: Int32Array;
  readonly outcomes: RequestOutcomes;
  served = 0;
  refused = 0;
  abandoned = 0;
  /** Billing: node-seconds and dollars over [0, billUntil]. */
  #billUntil: number;
  gpuSeconds = 0;
  /** The same per pool. */
  readonly gpuSecondsByPool = new Map<string, number>();
  costUsd = 0;
  /** Set when a pod or node changed since the last call to takeChanged(). */
  #changed = true;
  /** The longest request any of a service's pools' servers accept (prompt + output tokens), per service. */
  readonly #context: number[];

  constructor(
    scenario: Scenario,
    requests: { arrivals: Float64Array; prompt: Int32Array; output: Int32Array; service?: Uint8Array },
    options: { billUntil: number; overrides?: FleetOverrides },
  ) {
    this.scenario = scenario;
    this.arrivals = requests.arrivals;
    this.prompt = requests.prompt;
    this.output = requests.output;
    const n = requests.arrivals.length;
    this.outcomes = {
      ttft: new Float64Array(n).fill(Number.NaN),
      itl: new Float64Array(n).fill(Number.NaN),
      refused: new Uint8Array(n),
      abandoned: new Uint8Array(n),
    };
    this.#billUntil = options.billUntil;
    const o = options.overrides ?? {};
    this.#deletion = o.deletion ?? "notReadyFirst";
    const services = servicesOf(scenario);
    this.#serviceOf = serviceOfPool(scenario);
    this.#requestService = requests.service;
    this.#routableOf = services.map(() => []);
    this.#held = services.map(() => ({ queue: [], head: 0 }));
    const context = services.map(() => 0);
    for (const p of scenario.pools) {
      const profile = servedProfile(scenario, p.name);
      const svc = this.#serviceOf.get(p.name) ?? 0;
      if (profile) context[svc] = Math.max(context[svc]!, contextTokensOf(scenario, p.name));
      const acc = services[svc]!.spec.accelerators.find((a) => a.pool === p.name);
      const provisioningSeconds = o.provisioningSeconds ?? p.spec.provisioningSeconds;
      this.#pools.set(p.name, {
        name: p.name,
        spec: p.spec,
        pool: { metadata: { name: p.name, generation: 1 }, spec: { ...p.spec, provisioningSeconds } },
        profile,
        nodes: [],
        provisioningSeconds,
        scaleDownDelaySeconds: o.scaleDownDelaySeconds ?? p.spec.scaleDownDelaySeconds,
        loadSeconds: o.modelLoadSeconds ?? profile?.modelLoadSeconds ?? 60,
        gpusPerReplica: acc?.gpusPerReplica ?? 1,
      });
    }
    this.#context = context;
    this.#cloud = new FakeCloud({ now: () => this.#nowMs });
    this.#provider = this.#cloud.provider();
  }

  // ---- views ----

  /** Pods that exist (not gone), any pool. */
  get pods(): readonly Pod[] {
    return this.#pods;
  }

  get routable(): readonly Pod[] {
    return this.#routable;
  }

  get heldRequests(): number {
    return this.#held.reduce((n, h) => n + h.queue.length - h.head, 0);
  }

  /** Pods a Deployment counts as its replicas (not draining). */
  desired(pool: string): number {
    let n = 0;
    for (const p of this.#pods) if (p.pool === pool && p.state !== "draining") n++;
    return n;
  }

  readyCount(pool: string): number {
    let n = 0;
    for (const p of this.#routable) if (p.pool === pool) n++;
    return n;
  }

  poolNames(): string[] {
    return [...this.#pools.keys()];
  }

  /** A pool's nodes (provisioning ones included), oldest first. */
  nodesOf(pool: string): readonly Node[] {
    return this.#pool(pool).nodes;
  }

  nodeCount(pool?: string): number {
    let n = 0;
    for (const p of this.#pools.values()) if (pool === undefined || p.name === pool) n += p.nodes.length;
    return n;
  }

  /** Ready pods' metrics at `t` (each server advanced to t first). */
  readyMetrics(t: number): { pod: Pod; metrics: ReplicaMetrics }[] {
    return this.#routable.map((pod) => {
      pod.server!.advanceTo(t);
      return { pod, metrics: pod.server!.metrics() };
    });
  }

  /** Requests in flight on each ready pod at `t` (advances them). */
  inFlight(pod: Pod, t: number): number {
    pod.server!.advanceTo(t);
    return pod.server!.inFlight;
  }

  /** True (and resets) when pods or nodes changed since the last call. */
  takeChanged(): boolean {
    const c = this.#changed;
    this.#changed = false;
    return c;
  }

  #pool(name: string): PoolState {
    const p = this.#pools.get(name);
    if (!p) throw new RangeError(`fleet: no pool ${name}`);
    return p;
  }

  // ---- time ----

  /** The earliest lifecycle time after which the fleet must be woken; Infinity when none. */
  nextWake(): number {
    let m = Number.POSITIVE_INFINITY;
    for (const w of this.#wakes) if (w < m) m = w;
    return m;
  }

  #wakeAt(t: number): void {
    this.#wakes.add(t);
  }

  /**
   * Processes lifecycle events due at or before t: nodes registering (as their provider reports them) and
   * pods becoming ready. The nodes' own reconcile (reconcileNodes) follows.
   */
  wake(t: number): void {
    for (const w of this.#wakes) if (w <= t) this.#wakes.delete(w);
    this.#nowMs = Math.round(t * 1000);
    let readied = false;
    for (const p of this.#pools.values()) {
      if (p.nodes.every((n) => n.ready)) continue;
      const registered = new Set(
        this.#cloud
          .nodes(p.name)
          .filter((n) => n.state !== "registering")
          .map((n) => n.name),
      );
      for (const n of p.nodes) {
        if (!n.ready && registered.has(n.name)) {
          n.ready = true;
          this.#changed = true;
        }
      }
    }
    this.#schedule(t);
    for (const pod of this.#pods) {
      if (pod.state === "loading" && pod.readyAt! <= t) {
        this.#makeReady(pod, pod.readyAt!);
        readied = true;
      }
    }
    if (readied) this.#dispatchHeld(t);
  }

  #makeReady(pod: Pod, at: number): void {
    const profile = this.#pool(pod.pool).profile;
    if (!profile) throw new RangeError(`fleet: pool ${pod.pool} has no serving profile`);
    pod.state = "ready";
    pod.readySince = at;
    pod.server = new Replica(profile, at, {
      modelName: servicesOf(this.scenario)[pod.service]!.spec.model.name,
      abandonAfterSeconds: clientTimeoutOf(this.scenario),
    });
    this.#routable.push(pod);
    this.#routableOf[pod.service]!.push(pod);
    this.#changed = true;
  }

  // ---- initial state ----

  /**
   * Warm start: `replicas` ready pods on `pool` at t0 (and on each of `others`' pools, for the other
   * services), on Ready nodes (billing counts from 0 only). A pool holds at most maxNodes: pods beyond them
   * stay pending, as in a cluster.
   */
  warmStart(pool: string, replicas: number, t0 = 0, others: { pool: string; replicas: number }[] = []): void {
    const started = new Set<PoolState>();
    for (const start of [{ pool, replicas }, ...others]) {
      const p = this.#pool(start.pool);
      started.add(p);
      for (let i = 0; i < start.replicas; i++) this.#pods.push(this.#newPod(start.pool, t0));
      const nodes = Math.min(p.spec.maxNodes, Math.max(p.spec.minNodes, this.#nodesNeeded(p)));
      for (let i = 0; i < nodes; i++) this.#addReadyNode(p, t0);
    }
    this.#schedule(t0);
    for (const pod of this.#pods) if (pod.state === "loading") this.#makeReady(pod, t0);
    // Other pools start at their minNodes, Ready.
    for (const other of this.#pools.values()) {
      if (started.has(other)) continue;
      for (let i = 0; i < other.spec.minNodes; i++) this.#addReadyNode(other, t0);
    }
    this.#wakes.clear();
  }

  // ---- scaling ----

  #newPod(pool: string, t: number): Pod {
    const p = this.#pool(pool);
    return {
      id: this.#nextPod++,
      pool,
      service: this.#serviceOf.get(pool) ?? 0,
      state: "pending",
      gpus: p.gpusPerReplica,
      createdAt: t,
    };
  }

  /** Sets the replicas of a pool's Deployment: adds pending pods or removes pods (draining ready ones). */
  setReplicas(pool: string, replicas: number, t: number): void {
    const target = Math.max(0, Math.floor(replicas));
    const current = this.#pods.filter((p) => p.pool === pool && p.state !== "draining");
    if (target > current.length) {
      for (let i = current.length; i < target; i++) this.#pods.push(this.#newPod(pool, t));
      this.#changed = true;
      this.#schedule(t);
    } else if (target < current.length) {
      const rank = (p: Pod) =>
        this.#deletion === "readyFirst"
          ? p.state === "ready"
            ? 0
            : p.state === "loading"
              ? 1
              : 2
          : p.state === "pending"
            ? 0
            : p.state === "loading"
              ? 1
              : 2;
      const costs = this.#deletion === "deletionCost" ? this.#deletionCosts(current) : undefined;
      const cost = (p: Pod) => costs?.get(p) ?? 0;
      const victims = [...current]
        .sort(
          (a, b) =>
            rank(a) - rank(b) ||
            cost(a) - cost(b) ||
            (b.readySince ?? b.createdAt) - (a.readySince ?? a.createdAt) ||
            b.id - a.id,
        )
        .slice(0, current.length - target);
      for (const v of victims) this.#remove(v, t);
      this.#changed = true;
    }
  }

  /**
   * The pod-deletion-cost of each of `pods`, as the operator sets it before a scale-down: from its state, its
   * node's drain, and the pods on its node that are not being deleted (every pod here is the policy's).
   */
  #deletionCosts(pods: readonly Pod[]): Map<Pod, number> {
    const onNode = new Map<Node, number>();
    for (const p of this.#pods)
      if (p.node && p.state !== "draining") onNode.set(p.node, (onNode.get(p.node) ?? 0) + 1);
    return new Map(
      pods.map((p) => [
        p,
        deletionCost({
          ready: p.state === "ready" && p.node !== undefined,
          nodeDraining: p.node?.drainingSince !== undefined,
          podsOnNode: p.node ? (onNode.get(p.node) ?? 1) : 0,
        }),
      ]),
    );
  }

  /** Nodes the policy's plan asks for a pool: the pool's target from now on (reconcileNodes). */
  setPolicyNodes(pool: string, nodes: number | undefined): void {
    this.#pool(pool).policyNodes = nodes;
  }

  #remove(pod: Pod, t: number): void {
    if (pod.state === "ready") {
      pod.state = "draining";
      this.#routable = this.#routable.filter((x) => x !== pod);
      this.#routableOf[pod.service] = this.#routableOf[pod.service]!.filter((x) => x !== pod);
      this.#draining.add(pod);
      this.#finishDrain(pod, t);
      return;
    }
    this.#release(pod);
  }

  /** A pod leaves: its GPUs are freed. */
  #release(pod: Pod): void {
    const i = this.#pods.indexOf(pod);
    if (i >= 0) this.#pods.splice(i, 1);
    this.#draining.delete(pod);
    const node = pod.node;
    if (node) {
      node.freeGpus += pod.gpus;
      node.pods--;
      pod.node = undefined;
    }
    this.#changed = true;
  }

  /** Ends a drain when its server holds no request: collects its records and releases it. */
  #finishDrain(pod: Pod, t: number): boolean {
    const server = pod.server!;
    server.advanceTo(t);
    this.#collect(server);
    if (server.inFlight > 0) return false;
    this.#release(pod);
    return true;
  }

  /** Checks draining pods (called on every sample tick); true when there were any (nodes may empty). */
  checkDrains(t: number): boolean {
    if (this.#draining.size === 0) return false;
    for (const pod of [...this.#draining]) this.#finishDrain(pod, t);
    return true;
  }

  /** Binds pending pods to Ready nodes with free GPUs (first fit, oldest node first). */
  #schedule(t: number): void {
    for (const pod of this.#pods) {
      if (pod.state !== "pending") continue;
      const p = this.#pool(pod.pool);
      const node = p.nodes.find((n) => n.ready && n.drainingSince === undefined && n.freeGpus >= pod.gpus);
      if (!node) continue;
      node.freeGpus -= pod.gpus;
      node.pods++;
      pod.node = node;
      pod.state = "loading";
      pod.readyAt = t + p.loadSeconds;
      this.#wakeAt(pod.readyAt);
      this.#changed = true;
    }
  }

  /** Nodes the pool's pods need (pending, loading, ready and draining pods all hold or want GPUs). */
  #nodesNeeded(p: PoolState): number {
    const counts = new Map<number, number>();
    for (const pod of this.#pods)
      if (pod.pool === p.name) counts.set(pod.gpus, (counts.get(pod.gpus) ?? 0) + 1);
    const n = nodesFor(counts, p.spec.gpu.count);
    return Number.isFinite(n) ? n : p.spec.maxNodes;
  }

  /** A Ready node from the start (the warm fleet): added to the cloud as registered. */
  #addReadyNode(p: PoolState, t: number): void {
    this.#nowMs = Math.round(t * 1000);
    this.#adopt(p, this.#cloud.add(p.pool, "ready"), t, t, true);
  }

  /** The fleet's record of a node its provider holds: where pods bind, what is billed and draws power. */
  #adopt(p: PoolState, name: string, createdAt: number, readyAt: number, ready: boolean): void {
    p.nodes.push({ name, pool: p.name, createdAt, readyAt, ready, freeGpus: p.spec.gpu.count, pods: 0 });
    // Pending pods are bound at the next wake (at once for a node that registered at once).
    this.#wakeAt(readyAt);
    this.#changed = true;
  }

  /**
   * The pools' nodes, as the GPUNodePool controller reconciles them (controllers/gpunodepool/reconcile.ts):
   * the target is the plan's nodes held within minNodes..maxNodes (without a node plan: what the pods need);
   * the provider's nodes and the pods on them go to the operator's node policy (planning/nodes.ts), whose
   * answer is carried out (uncordon, cordon and drain, evict), then the provider scales to the target
   * removing only the nodes the policy offered. Called after every lifecycle event, decision, and sample
   * tick with pods draining.
   */
  async reconcileNodes(t: number): Promise<void> {
    const now = Math.round(t * 1000);
    this.#nowMs = now;
    for (const p of this.#pools.values()) {
      if (p.spec.provider.type === "static") continue;
      const target = nodeTarget(p.spec, p.policyNodes ?? this.#nodesNeeded(p));
      const mine = new Map(p.nodes.map((n) => [n.name, n]));
      const node = (name: string) => {
        const n = mine.get(name);
        if (!n) throw new RangeError(`fleet: pool ${p.name} has no node ${name}`);
        return n;
      };
      const observed = await this.#provider.observe(p.pool);
      const decision = nodePolicy({
        target,
        nodes: observed.map((n) => {
          const drainingSince = mine.get(n.name)?.drainingSince;
          return {
            name: n.name,
            state: n.state,
            ownedPods: mine.get(n.name)?.pods ?? 0,
            otherPods: 0,
            ...(n.state === "draining" && drainingSince !== undefined ? { drainingSince } : {}),
          };
        }),
        now,
        scaleDownDelayMs: p.scaleDownDelaySeconds * 1000,
        ...(p.targets ? { targets: p.targets } : {}),
        drainTimeoutMs: DRAIN_TIMEOUT_MS,
      });
      p.targets = decision.targets;
      // What the controller writes to the Nodes (cordon and the draining annotation, or their removal).
      for (const u of decision.uncordon) {
        this.#cloud.setState(u.name, "ready");
        node(u.name).drainingSince = undefined;
      }
      for (const name of decision.drain) {
        this.#cloud.setState(name, "draining");
        node(name).drainingSince = now;
      }
      for (const name of decision.evict) this.#evict(node(name), t);
      // The pods each node still runs: the provider removes only an empty node.
      for (const n of p.nodes) this.#cloud.setPods(n.name, n.pods);
      const result = await this.#provider.scale(p.pool, {
        target,
        removable: decision.remove,
        plan: { generation: 1, madeAt: now },
      });
      this.#sync(p, t);
      for (const wait of [decision.requeueAfterMs, result.requeueAfterMs])
        if (wait !== undefined) this.#wakeAt((now + wait) / 1000);
    }
  }

  /** Takes the provider's nodes over: the ones it added are provisioning, the ones it removed are billed and go. */
  #sync(p: PoolState, t: number): void {
    const held = this.#cloud.nodes(p.name);
    const names = new Set(held.map((n) => n.name));
    for (const n of [...p.nodes]) {
      if (names.has(n.name)) continue;
      this.#bill(n, t);
      n.removedAt = t;
      p.nodes.splice(p.nodes.indexOf(n), 1);
      this.#changed = true;
    }
    const known = new Set(p.nodes.map((n) => n.name));
    for (const n of held) {
      if (known.has(n.name)) continue;
      const registering = n.state === "registering";
      this.#adopt(p, n.name, t, (n.expectedAt ?? n.createdAt) / 1000, !registering);
    }
  }

  /**
   * Evicts the pods of a draining node, as the Eviction API does: a ready pod drains its requests and goes,
   * a loading one goes at once, and the Deployment's ReplicaSet makes a pending pod for each.
   */
  #evict(node: Node, t: number): void {
    const victims = this.#pods.filter((pod) => pod.node === node && pod.state !== "draining");
    for (const pod of victims) {
      this.#remove(pod, t);
      this.#pods.push(this.#newPod(pod.pool, t));
    }
    if (victims.length > 0) this.#changed = true;
  }

  #bill(n: Node, end: number): void {
    if (n.billed) return;
    n.billed = true;
    const p = this.#pool(n.pool);
    const from = Math.max(0, n.createdAt);
    const to = Math.min(end, this.#billUntil);
    if (to <= from) return;
    const hours = (to - from) / 3600;
    this.gpuSeconds += (to - from) * p.spec.gpu.count;
    this.gpuSecondsByPool.set(
      n.pool,
      (this.gpuSecondsByPool.get(n.pool) ?? 0) + (to - from) * p.spec.gpu.count,
    );
    this.costUsd += hours * p.spec.costPerNodeHour;
  }

  /** Bills the nodes still alive up to the end of billing. */
  closeBilling(): void {
    for (const p of this.#pools.values()) for (const n of p.nodes) this.#bill(n, this.#billUntil);
  }

  // ---- meters ----

  /** Total draw now, watts: idle per GPU on every node, busy for GPUs whose replica has requests in flight. */
  powerWatts(t: number): number {
    let w = 0;
    for (const p of this.#pools.values())
      w += p.nodes.length * p.spec.gpu.count * p.spec.power.idleWattsPerGPU;
    for (const pod of this.#pods) {
      if (!pod.server || !pod.node) continue;
      pod.server.advanceTo(t);
      if (pod.server.inFlight > 0) {
        const spec = this.#pool(pod.pool).spec;
        w += pod.gpus * (spec.power.busyWattsPerGPU - spec.power.idleWattsPerGPU);
      }
    }
    return w;
  }

  /**
   * True when the usage of the pods of the services in a budget's scope exceeds a limit it has in force
   * (budgets.ts accounting: every pod that exists, pending and draining ones included, counts).
   */
  overBudget(nowMs: number): boolean {
    if (this.scenario.budgets.length === 0) return false;
    const namespaces = servicesOf(this.scenario).map((s) => s.namespace);
    return this.scenario.budgets.some((b) => {
      const usage: Usage = emptyUsage();
      for (const pod of this.#pods) {
        if (!inScope(b, namespaces[pod.service]!)) continue;
        addUsage(usage, replicaFootprint(this.#pool(pod.pool).spec, pod.gpus), 1);
      }
      return exceededLimits(usage, limitsInForce(b.spec, nowMs).limits).length > 0;
    });
  }

  // ---- requests ----

  /**
   * Sends request `i` at time t to the ready replica with the least outstanding work; holds it when none is
   * ready. A request longer than every server's context is refused at once, as vLLM answers it with 400.
   */
  route(i: number, t: number): void {
    const svc = this.#requestService?.[i] ?? 0;
    if (this.prompt[i]! + this.output[i]! > this.#context[svc]!) {
      this.outcomes.refused[i] = 1;
      this.refused++;
      return;
    }
    const r = this.#routableOf[svc]!;
    if (r.length === 0) {
      this.#held[svc]!.queue.push(i);
      return;
    }
    const n = r.length;
    const start = this.#rr++ % n;
    let best = r[start]!;
    best.server!.advanceTo(t);
    let load = best.server!.inFlight;
    for (let k = 1; k < n && load > 0; k++) {
      const pod = r[(start + k) % n]!;
      pod.server!.advanceTo(t);
      const l = pod.server!.inFlight;
      if (l < load) {
        best = pod;
        load = l;
      }
    }
    this.#send(best, i, t);
  }

  #send(pod: Pod, i: number, t: number): void {
    const why = pod.server!.add({
      id: i,
      arrival: t,
      promptTokens: this.prompt[i]!,
      outputTokens: this.output[i]!,
    });
    if (why !== undefined) {
      this.outcomes.refused[i] = 1;
      this.refused++;
    }
  }

  /** Sends the requests held by the router, oldest first, once their service's replicas are ready. */
  #dispatchHeld(t: number): void {
    this.#held.forEach((held, svc) => {
      while (held.head < held.queue.length && this.#routableOf[svc]!.length > 0) {
        this.route(held.queue[held.head++]!, t);
      }
      if (held.head === held.queue.length) {
        held.queue = [];
        held.head = 0;
      }
    });
  }

  #collect(server: Replica): void {
    for (const rec of server.takeFinished()) {
      const i = rec.id as number;
      this.outcomes.ttft[i] = rec.firstToken - this.arrivals[i]!;
      this.outcomes.itl[i] = rec.meanItl;
      this.served++;
    }
    for (const id of server.takeAbandoned()) {
      this.outcomes.abandoned[id as number] = 1;
      this.abandoned++;
    }
  }

  /** Advances every server to t and collects finished requests. */
  collectAll(t: number): void {
    for (const pod of this.#pods) {
      if (!pod.server) continue;
      pod.server.advanceTo(t);
      this.#collect(pod.server);
    }
  }

  /** Runs every server until idle (end of the run) and collects. */
  finishAll(): void {
    for (const pod of this.#pods) {
      if (!pod.server) continue;
      pod.server.runUntilIdle();
      this.#collect(pod.server);
    }
  }

  /** Requests accounted for: served, refused or given up by their clients. */
  get accounted(): number {
    return this.served + this.refused + this.abandoned;
  }
}
