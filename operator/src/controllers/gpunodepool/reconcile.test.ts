import pino from "pino";
import { describe, expect, it } from "vitest";
import { ConditionType, Reason } from "../../apis/conditions.ts";
import type { GPUNodePoolStatus } from "../../apis/gpunodepool.ts";
import { ANNOTATION_DRAINING, LABEL_DRAINING_POOL, LABEL_MANAGED_BY, MANAGED_BY } from "../../apis/labels.ts";
import type { KubeObject } from "../../kube/client.ts";
import { ApiError } from "../../kube/errors.ts";
import type { EventSpec, Regarding } from "../../kube/events.ts";
import { FakeKube } from "../../kube/fake.ts";
import { pathFor, R } from "../../kube/resources.ts";
import { createMetrics, type Metrics } from "../../metrics.ts";
import { FakeCloud } from "../../nodepools/fake.ts";
import { nodeProviders } from "../../nodepools/index.ts";
import { kwokNode } from "../../nodepools/kwok.ts";
import { type NodeProvider, type PoolNode, ProviderError } from "../../nodepools/provider.ts";
import { T0, testPool } from "../../nodepools/testing.ts";
import { LOST_REMOVE_MS } from "../../planning/nodes.ts";
import type { Plan, Snapshot } from "../../planning/types.ts";
import { CAPACITY_HOLD_MS, forgetPoolMetrics, makePoolReconciler } from "./reconcile.ts";
import { STALL_HOLD_MS } from "./stall.ts";

const log = pino({ level: "silent" });

/**
 * A node as an operator leaves it mid-drain: cordoned, with the draining annotation since T0, and (`labelled`)
 * the draining-pool label a cordon sets since it exists.
 */
function leftDraining<N extends KubeObject>(n: N, labelled = false): N {
  return {
    ...n,
    metadata: {
      ...n.metadata,
      annotations: { [ANNOTATION_DRAINING]: new Date(T0).toISOString() },
      ...(labelled ? { labels: { ...n.metadata?.labels, [LABEL_DRAINING_POOL]: NAME } } : {}),
    },
    spec: { ...(n.spec as object), unschedulable: true },
  };
}
const NAME = "gpu";
const POOL_PATH = pathFor(R.gpuNodePools, { name: NAME });
const DELAY_S = 60;

function setup(opts: { provider?: NodeProvider; spec?: Record<string, unknown>; metrics?: Metrics } = {}) {
  let t = T0;
  const now = () => t;
  const kube = new FakeKube({ now });
  const pool = testPool(NAME, { scaleDownDelaySeconds: DELAY_S, provisioningSeconds: 30, ...opts.spec });
  kube.seed(POOL_PATH, { apiVersion: "inferops.dev/v1alpha1", kind: "GPUNodePool", ...pool });
  const stored = () => kube.peek<KubeObject>(POOL_PATH)!;
  let wanted: number | undefined;
  let planSpec = stored().spec as Record<string, unknown>;
  const recorded: EventSpec[] = [];
  /** What each recorded event is about, in the same order. */
  const about: Regarding[] = [];
  /** What the cache of draining nodes shows, when a test freezes it (a cache behind the API server). */
  let drainingCache: KubeObject[] | undefined;
  const labelledDraining = () =>
    kube.peekAll(pathFor(R.nodes)).filter((n) => n.metadata?.labels?.[LABEL_DRAINING_POOL] !== undefined);
  const providers = nodeProviders({ client: kube, now });
  /** The lists the reconciler asks for (path and field selector). */
  const lists: string[] = [];
  const client = {
    get: kube.get.bind(kube),
    patch: kube.patch.bind(kube),
    create: kube.create.bind(kube),
    apply: kube.apply.bind(kube),
    list: ((path, query) => {
      lists.push(`${path}?${query?.fieldSelector ?? ""}`);
      return kube.list(path, query);
    }) as FakeKube["list"],
  };
  const build = () =>
    makePoolReconciler({
      client,
      pools: { get: () => stored() },
      pods: {
        list: () =>
          kube.peekAll(pathFor(R.pods)).filter((p) => p.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY),
      },
      draining: { list: () => drainingCache ?? labelledDraining() },
      providers: (type) => opts.provider ?? providers[type],
      events: {
        record: async (r, e) => {
          recorded.push(e);
          about.push(r);
          return true;
        },
      },
      log,
      now,
      drainTimeoutMs: 300_000,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      planned: () =>
        wanted === undefined
          ? undefined
          : {
              plan: {
                services: [],
                budgets: [],
                memory: { services: {} },
                pools: [
                  { name: NAME, nodes: { value: wanted, reason: Reason.NodesForReplicas, message: "test" } },
                ],
              } as Plan,
              snapshot: { pools: [{ name: NAME, spec: planSpec }] } as unknown as Snapshot,
              nowMs: t,
            },
    });
  let reconcile = build();
  const nodes = () => kube.peekAll<KubeObject & { spec?: { unschedulable?: boolean } }>(pathFor(R.nodes));
  return {
    kube,
    lists,
    recorded,
    about,
    nodes,
    node: (name: string) => nodes().find((n) => n.metadata?.name === name),
    deletePool: () => kube.delete(POOL_PATH),
    /** The pool's spec changed by its owner (a new generation). */
    setSpec: (patch: Record<string, unknown>) =>
      kube.seed(POOL_PATH, { ...stored(), spec: { ...(stored().spec as object), ...patch } }),
    /** From now on the cache of draining nodes shows what it shows now. */
    freezeDrainingCache: () => {
      drainingCache = labelledDraining();
    },
    status: () => stored().status as GPUNodePoolStatus,
    condition: (type: string) =>
      (stored().status as GPUNodePoolStatus).conditions?.find((c) => c.type === type),
    want: (n: number | undefined) => {
      wanted = n;
    },
    stalePlanSpec: () => {
      planSpec = { ...planSpec, maxNodes: 99 };
    },
    now,
    advance: (ms: number) => {
      t += ms;
    },
    reconcile: () => reconcile(NAME),
    /** A new operator process: the reconciler's memory is gone. */
    restart: () => {
      reconcile = build();
    },
    /** A registered node of the pool, as the kwok provider creates it. */
    addNode: (name: string) => {
      const node = kwokNode(pool, name);
      return kube.seed(pathFor(R.nodes, { name }), {
        ...node,
        status: { ...node.status, conditions: [{ type: "Ready", status: "True" }] },
      });
    },
    addPod: (name: string, node: string, ours = true) =>
      kube.seed(pathFor(R.pods, { namespace: "team", name }), {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "team", labels: ours ? { [LABEL_MANAGED_BY]: MANAGED_BY } : {} },
        spec: {
          nodeName: node,
          containers: [{ name: "c", resources: { requests: { "nvidia.com/gpu": "2" } } }],
        },
        status: { phase: "Running" },
      }),
  };
}

describe("GPUNodePool reconcile", () => {
  it("does nothing to the nodes before the first plan, and says so", async () => {
    const w = setup();
    w.addNode("gpu-a");
    await w.reconcile();
    expect(w.kube.writes.map((x) => x.path)).toEqual([`${POOL_PATH}/status`]);
    expect(w.condition(ConditionType.Ready)?.reason).toBe(Reason.AwaitingPlan);
    expect(w.status()).toMatchObject({ nodes: 1, registeredNodes: 1, costPerHour: 98.32 });
  });

  it("asks the provider for the plan's nodes once, and reports them registering, then Ready", async () => {
    const w = setup();
    w.want(2);
    await w.reconcile();
    expect(w.recorded.map((e) => e.reason)).toEqual([Reason.NodesRequested]);
    expect(w.status()).toMatchObject({ desiredNodes: 2, nodes: 2, registeredNodes: 0, readyNodes: 0 });
    expect(w.condition(ConditionType.Scaling)).toMatchObject({ status: "True", reason: Reason.ScalingUp });
    expect(w.condition(ConditionType.Ready)?.status).toBe("False");

    // Asked again before they register: nothing more is asked for.
    await w.reconcile();
    expect(w.recorded).toHaveLength(1);

    w.advance(30_000);
    await w.reconcile();
    expect(w.nodes()).toHaveLength(2);
    expect(w.status()).toMatchObject({ nodes: 2, registeredNodes: 2 });
  });

  it("writes nothing in a steady state", async () => {
    const w = setup();
    w.addNode("gpu-a");
    w.addPod("p", "gpu-a");
    w.want(1);
    await w.reconcile();
    const writes = w.kube.writes.length;
    await w.reconcile();
    await w.reconcile();
    expect(w.kube.writes.length).toBe(writes);
    expect(w.status()).toMatchObject({ usedGPUs: 2, allocatableGPUs: 8, freeGPUs: 6, desiredNodes: 1 });
  });

  it("holds a node the plan wanted within scaleDownDelaySeconds, then cordons the empty one and removes it, keeping the busy one", async () => {
    const w = setup();
    w.addNode("gpu-a");
    w.addNode("gpu-b");
    w.addPod("p", "gpu-a");
    w.want(1);
    await w.reconcile();
    expect(w.nodes()).toHaveLength(2);
    expect(w.condition(ConditionType.Scaling)).toMatchObject({ reason: Reason.ScalingDown });
    expect(w.condition(ConditionType.Scaling)?.message).toMatch(
      /more than the plan wants, held: a node goes once the plan has not wanted it for scaleDownDelaySeconds \(60 s\)/,
    );

    // While the delay runs, no pod list is asked of the API server.
    const podLists = () => w.lists.filter((l) => l.startsWith("/api/v1/pods")).length;
    await w.reconcile();
    expect(podLists()).toBe(0);

    w.advance(DELAY_S * 1000);
    await w.reconcile();
    expect(w.nodes().map((n) => n.metadata?.name)).toEqual(["gpu-a"]);
    expect(w.recorded.map((e) => e.reason)).toEqual([Reason.NodeCordoned, Reason.NodeRemoved]);
    const cordon = w.kube.writes.find((x) => x.verb === "patch" && x.path.endsWith("/nodes/gpu-b"));
    expect(cordon?.body).toMatchObject({ spec: { unschedulable: true } });
  });

  it("drains a busy node through the Eviction API and deletes it only once it is empty", async () => {
    const w = setup();
    w.addNode("gpu-a");
    w.addNode("gpu-b");
    w.addPod("p1", "gpu-a");
    w.addPod("p2", "gpu-a");
    w.addPod("p3", "gpu-b");
    w.want(1);
    await w.reconcile();
    w.advance(DELAY_S * 1000);
    const res = await w.reconcile();
    // gpu-b runs fewer pods: it goes; its pod is evicted, the node stays until the next look.
    expect(w.kube.writes.some((x) => x.path.endsWith("/pods/p3/eviction"))).toBe(true);
    expect(w.nodes().map((n) => n.metadata?.name)).toEqual(["gpu-a", "gpu-b"]);
    expect(w.nodes()[1]?.metadata?.annotations?.[ANNOTATION_DRAINING]).toBeDefined();
    expect(w.status().drainingNodes).toBe(1);
    expect(res?.requeueAfterMs).toBeGreaterThan(0);
    w.advance(5000);
    await w.reconcile();
    expect(w.nodes().map((n) => n.metadata?.name)).toEqual(["gpu-a"]);
  });

  it("removes a node lost for LOST_REMOVE_MS without a drain, its stuck pods notwithstanding, and keeps its replacement", async () => {
    const w = setup();
    w.addNode("gpu-a");
    const lost = w.addNode("gpu-lost");
    // Its kubelet stopped reporting at T0: Ready Unknown; its pods stay Terminating, nobody can reach them.
    w.kube.seed(pathFor(R.nodes, { name: "gpu-lost" }), {
      ...lost,
      status: {
        ...(lost as { status?: object }).status,
        conditions: [{ type: "Ready", status: "Unknown", lastTransitionTime: new Date(T0).toISOString() }],
      },
    });
    w.addPod("p1", "gpu-a");
    const stuck = w.addPod("p2", "gpu-lost");
    w.kube.seed(pathFor(R.pods, { namespace: "team", name: "p2" }), {
      ...stuck,
      metadata: { ...stuck.metadata, deletionTimestamp: new Date(T0).toISOString() },
    });
    w.want(1);
    await w.reconcile();
    w.advance(DELAY_S * 1000);
    await w.reconcile();
    // Lost for a minute: kept (it may come back), and counted as one more node to have.
    expect(w.nodes().map((n) => n.metadata?.name)).toEqual(["gpu-a", "gpu-lost"]);
    w.advance(LOST_REMOVE_MS);
    await w.reconcile();
    expect(w.nodes().map((n) => n.metadata?.name)).toEqual(["gpu-a"]);
    expect(w.kube.writes.some((x) => x.path.includes("/eviction"))).toBe(false);
    expect(w.recorded.map((e) => e.reason)).not.toContain(Reason.NodeCordoned);
    expect(w.recorded.map((e) => e.reason)).toContain(Reason.NodeRemoved);
  });

  it("never drains a node running pods inferops does not own", async () => {
    const w = setup();
    w.addNode("gpu-a");
    w.addNode("gpu-b");
    w.addPod("p1", "gpu-a");
    w.addPod("theirs", "gpu-b", false);
    w.want(1);
    await w.reconcile();
    w.advance(DELAY_S * 1000);
    await w.reconcile();
    expect(w.kube.writes.some((x) => x.path.endsWith("/pods/theirs/eviction"))).toBe(false);
    expect(w.kube.writes.some((x) => x.path.endsWith("/nodes/gpu-b"))).toBe(false);
  });

  it("restarted with a node left cordoned: finishes its removal when the plan still drops it", async () => {
    const w = setup();
    w.addNode("gpu-a");
    w.addNode("gpu-b");
    w.want(1);
    await w.reconcile();
    w.advance(DELAY_S * 1000);
    // The operator cordoned gpu-b and died before the delete.
    w.kube.seed(pathFor(R.nodes, { name: "gpu-b" }), {
      ...w.nodes()[1]!,
      metadata: {
        ...w.nodes()[1]!.metadata,
        annotations: { [ANNOTATION_DRAINING]: new Date(T0).toISOString() },
      },
      spec: { unschedulable: true },
    });
    w.restart();
    await w.reconcile();
    expect(w.nodes().map((n) => n.metadata?.name)).toEqual(["gpu-a"]);
  });

  it("restarted with a node left cordoned: uncordons it when the plan wants it back", async () => {
    const w = setup();
    w.addNode("gpu-a");
    const b = w.addNode("gpu-b");
    w.kube.seed(pathFor(R.nodes, { name: "gpu-b" }), leftDraining(b));
    w.want(2);
    await w.reconcile();
    const node = w.nodes().find((n) => n.metadata?.name === "gpu-b");
    expect(node?.spec?.unschedulable).toBe(false);
    expect(node?.metadata?.annotations?.[ANNOTATION_DRAINING]).toBeUndefined();
    expect(w.recorded.map((e) => e.reason)).toEqual([Reason.NodeUncordoned]);
    // No node was asked for: the one brought back was enough.
    expect(w.kube.peek<KubeObject>(POOL_PATH)?.metadata?.annotations).toBeUndefined();
  });

  it("reports a pool it cannot use, naming the field, with an event, and leaves its nodes alone", async () => {
    const w = setup();
    w.addNode("gpu-a");
    const stored = w.kube.peek<KubeObject>(POOL_PATH)!;
    w.kube.seed(POOL_PATH, { ...stored, spec: { ...(stored.spec as object), maxNodes: -1 } });
    w.want(3);
    await expect(w.reconcile()).rejects.toThrow(/spec.maxNodes/);
    expect(w.condition(ConditionType.Valid)).toMatchObject({ status: "False", reason: Reason.InvalidSpec });
    expect(w.condition(ConditionType.Valid)?.message).toMatch(/spec.maxNodes/);
    expect(w.condition(ConditionType.Ready)?.status).toBe("False");
    expect(w.recorded.map((e) => e.reason)).toEqual([Reason.InvalidSpec]);
    expect(w.nodes()).toHaveLength(1);
    // Again: nothing new to write or say.
    const writes = w.kube.writes.length;
    await expect(w.reconcile()).rejects.toThrow();
    expect(w.kube.writes.length).toBe(writes);
    expect(w.recorded).toHaveLength(1);
  });

  it("does not act on a plan made for another spec of the pool", async () => {
    const w = setup();
    w.want(3);
    w.stalePlanSpec();
    await w.reconcile();
    expect(w.recorded).toEqual([]);
    expect(w.status().nodes).toBe(0);
  });

  it("backs off a failing provider, with a condition and an event, and recovers", async () => {
    let calls = 0;
    let failing = true;
    const provider: NodeProvider = {
      type: "kwok",
      observe: async () => [],
      scale: async () => {
        calls++;
        if (failing) throw new ProviderError("InsufficientCapacity", "the cloud is out of GPUs");
        return { outcome: "unchanged", message: "", target: 1, added: 0, removed: [], kept: [] };
      },
    };
    const w = setup({ provider });
    w.want(1);
    const first = await w.reconcile();
    expect(calls).toBe(1);
    expect(first?.requeueAfterMs).toBe(5000);
    expect(w.condition(ConditionType.ProviderFailing)).toMatchObject({
      status: "True",
      reason: Reason.InsufficientCapacity,
    });
    expect(w.condition(ConditionType.Ready)?.status).toBe("False");
    expect(w.recorded.map((e) => e.reason)).toEqual([Reason.InsufficientCapacity]);
    // Woken again within the backoff (a new plan): the provider is not called.
    w.advance(1000);
    await w.reconcile();
    expect(calls).toBe(1);
    w.advance(4000);
    const second = await w.reconcile();
    expect(calls).toBe(2);
    expect(second?.requeueAfterMs).toBe(10_000);
    failing = false;
    w.advance(10_000);
    await w.reconcile();
    expect(w.condition(ConditionType.ProviderFailing)).toMatchObject({ status: "False" });
    expect(w.recorded.at(-1)?.reason).toBe(Reason.ProviderRecovered);
  });

  it("does not observe a failing provider again while it backs off, however often it is woken", async () => {
    let observed = 0;
    const provider: NodeProvider = {
      type: "kwok",
      observe: async () => {
        observed++;
        throw new ProviderError("NotFound", "MachineDeployment team/missing not found");
      },
      scale: async () => {
        throw new Error("not reached");
      },
    };
    const w = setup({ provider });
    w.want(1);
    for (let i = 0; i < 3; i++) await w.reconcile();
    expect(observed).toBe(1);
    expect(w.condition(ConditionType.ProviderFailing)).toMatchObject({ reason: Reason.ProviderNotFound });
    expect(w.recorded.map((e) => e.note)).toEqual([
      "MachineDeployment team/missing not found; next attempt in 5 s",
    ]);
    w.advance(5000);
    await w.reconcile();
    expect(observed).toBe(2);
    expect(w.recorded.at(-1)?.note).toMatch(/next attempt in 10 s/);
  });

  it("a static pool whose nodes cannot be read reports it, keeps the nodes it last saw, and recovers", async () => {
    let fail = false;
    const provider: NodeProvider = {
      type: "static",
      observe: async () => {
        if (fail) throw new Error("listing the nodes of pool gpu: connection refused");
        return [{ name: "gpu-a", state: "ready", gpus: 8, createdAt: T0 }];
      },
      scale: async () => {
        throw new Error("a static pool is never scaled");
      },
    };
    const w = setup({ provider, spec: { provider: { type: "static" } } });
    w.want(1);
    await w.reconcile();
    fail = true;
    w.advance(1000);
    await w.reconcile();
    expect(w.condition(ConditionType.ProviderFailing)).toMatchObject({
      status: "True",
      reason: Reason.ProviderError,
    });
    expect(w.status().nodes).toBe(1);
    fail = false;
    w.advance(5000);
    await w.reconcile();
    expect(w.condition(ConditionType.ProviderFailing)?.status).toBe("False");
    expect(w.recorded.at(-1)?.reason).toBe(Reason.ProviderRecovered);
  });

  it("asks a cloud that runs out of nodes for no more than it can give", async () => {
    const cloud = new FakeCloud({ now: () => T0, capacity: 2 });
    const w = setup({ provider: cloud.provider() });
    w.want(5);
    for (let i = 0; i < 10; i++) {
      await w.reconcile();
      w.advance(60_000);
    }
    expect(cloud.nodes(NAME)).toHaveLength(2);
    expect(w.condition(ConditionType.ProviderFailing)?.reason).toBe(Reason.InsufficientCapacity);
  });

  it("reports a node the provider says will not come as CapacityUnavailable, with one event, and keeps saying so for a while after it is gone", async () => {
    const cloud = new FakeCloud({ now: () => w.now() });
    const w = setup({ provider: cloud.provider() });
    w.want(1);
    await w.reconcile();
    const [asked] = cloud.nodes(NAME);
    cloud.refuse(
      asked!.name,
      "NodeClaim gpu-x did not launch: InsufficientCapacity: no g6.xlarge in us-east-1a",
    );
    await w.reconcile();
    expect(w.condition(ConditionType.ProviderFailing)).toMatchObject({
      status: "True",
      reason: Reason.CapacityUnavailable,
      message: expect.stringContaining("InsufficientCapacity: no g6.xlarge"),
    });
    await w.reconcile();
    expect(w.recorded.filter((e) => e.reason === Reason.CapacityUnavailable)).toHaveLength(1);
    // The provider drops the claim (Karpenter deletes it): the word stands for CAPACITY_HOLD_MS.
    cloud.forget(asked!.name);
    w.advance(CAPACITY_HOLD_MS - 1_000);
    const waiting = await w.reconcile();
    expect(w.condition(ConditionType.ProviderFailing)?.reason).toBe(Reason.CapacityUnavailable);
    expect(waiting?.requeueAfterMs).toBeLessThanOrEqual(1_000);
    w.advance(1_000);
    await w.reconcile();
    expect(w.condition(ConditionType.ProviderFailing)).toMatchObject({ status: "False" });
  });

  /** A provider that shows `nodes()` and is asked for nothing more (scale changes nothing). */
  const showing = (nodes: () => PoolNode[]): NodeProvider => ({
    type: "kwok",
    observe: async () => nodes(),
    scale: async (_pool, r) => ({
      outcome: "unchanged",
      message: "",
      target: r.target,
      added: 0,
      removed: [],
      kept: [],
    }),
  });
  /** A replica asked for at T0 that no Machine ever came for (provisioningSeconds 30: late after 120 s). */
  const missing: PoolNode = { name: "md/no-machine-0", state: "registering", gpus: 8, createdAt: T0 };
  const ready = (name: string): PoolNode => ({ name, state: "ready", gpus: 8, createdAt: T0 });
  const stalledFor = (w: ReturnType<typeof setup>) =>
    w.kube
      .peek<KubeObject & { status?: GPUNodePoolStatus }>(POOL_PATH)
      ?.status?.conditions?.find((c) => c.type === ConditionType.ProviderFailing);

  it("holds ProvisioningStalled for STALL_HOLD_MS after the late node was last seen, though the plan stopped asking for it, then tries growth again", async () => {
    let shown = [ready("gpu-a"), missing];
    const w = setup({ provider: showing(() => shown) });
    w.want(2);
    await w.reconcile();
    expect(stalledFor(w)?.status).toBe("False");
    w.advance(121_000);
    await w.reconcile();
    expect(stalledFor(w)).toMatchObject({ status: "True", reason: Reason.ProvisioningStalled });
    expect(stalledFor(w)?.message).toMatch(/1 node\(s\) asked for have not registered after 120 s/);
    // The plan, counting only the pool's nodes, wants one: the replica asked for goes, and with it the
    // evidence of the stall. The condition stands, saying until when.
    w.want(1);
    shown = [ready("gpu-a")];
    w.advance(10_000);
    const held = await w.reconcile();
    const until = new Date(T0 + 121_000 + STALL_HOLD_MS).toISOString();
    expect(stalledFor(w)).toMatchObject({ status: "True", reason: Reason.ProvisioningStalled });
    expect(stalledFor(w)?.message).toContain(`counts only the nodes it has until ${until}`);
    expect(stalledFor(w)?.message).toContain("then growth is tried again");
    expect(held?.requeueAfterMs).toBeLessThanOrEqual(STALL_HOLD_MS - 10_000);
    // Woken meanwhile: still held, nothing new written or said; it looks again when the hold ends.
    const writes = w.kube.writes.length;
    w.advance(STALL_HOLD_MS - 10_001);
    const last = await w.reconcile();
    expect(stalledFor(w)?.status).toBe("True");
    expect(last?.requeueAfterMs).toBe(1);
    expect(w.kube.writes.length).toBe(writes);
    // The hold ends: growth is tried again.
    w.advance(1);
    await w.reconcile();
    expect(stalledFor(w)).toMatchObject({ status: "False", reason: Reason.ProviderHealthy });
    const said = w.recorded.filter((e) => e.reason.startsWith("Provisioning"));
    expect(said.map((e) => e.reason)).toEqual([Reason.ProvisioningStalled, Reason.ProvisioningResumed]);
    expect(said[1]?.note).toBe("the 5 min hold after the stall ended: growth is tried again");
  });

  /** A pool whose one node asked for is late (2 x 30 s + 60 s): stalled. `show` sets what it shows next. */
  async function stalledPool() {
    let shown = [ready("gpu-a"), missing];
    const w = setup({ provider: showing(() => shown) });
    w.want(2);
    w.advance(121_000);
    await w.reconcile();
    expect(stalledFor(w)?.reason).toBe(Reason.ProvisioningStalled);
    return {
      w,
      show: (nodes: PoolNode[]) => {
        shown = nodes;
      },
    };
  }

  it("restarted while the pool reports a stall it no longer shows: the new process holds it, not clears it", async () => {
    const { w, show } = await stalledPool();
    // The plan stops asking; then the operator restarts (or another instance takes the lease).
    w.want(1);
    show([ready("gpu-a")]);
    w.advance(30_000);
    w.restart();
    const held = await w.reconcile();
    expect(stalledFor(w)).toMatchObject({ status: "True", reason: Reason.ProvisioningStalled });
    expect(stalledFor(w)?.message).toContain("before the operator restarted");
    expect(held?.requeueAfterMs).toBe(STALL_HOLD_MS);
    expect(w.recorded.filter((e) => e.reason === Reason.ProvisioningResumed)).toEqual([]);
    // The hold the new process took up ends: growth is tried again.
    w.advance(STALL_HOLD_MS);
    await w.reconcile();
    expect(stalledFor(w)).toMatchObject({ status: "False", reason: Reason.ProviderHealthy });
  });

  it("ends a stall's hold as soon as a node registers that the pool did not have, and not for one it had", async () => {
    const { w, show } = await stalledPool();
    show([ready("gpu-a")]);
    w.advance(30_000);
    await w.reconcile();
    expect(stalledFor(w)?.reason).toBe(Reason.ProvisioningStalled);
    // gpu-a goes NotReady and comes back: a node the pool had, no sign the provider works.
    show([{ ...ready("gpu-a"), state: "notReady" }]);
    w.advance(1_000);
    await w.reconcile();
    show([ready("gpu-a")]);
    w.advance(1_000);
    await w.reconcile();
    expect(stalledFor(w)?.reason).toBe(Reason.ProvisioningStalled);
    // A new node registers, well within the hold: the provider works again.
    show([ready("gpu-a"), ready("gpu-b")]);
    w.advance(1_000);
    const after = await w.reconcile();
    expect(stalledFor(w)).toMatchObject({ status: "False", reason: Reason.ProviderHealthy });
    expect(after?.requeueAfterMs).toBeUndefined();
    expect(w.recorded.at(-1)).toMatchObject({
      reason: Reason.ProvisioningResumed,
      note: "node(s) gpu-b registered: the provider works again",
    });
  });

  it("a Karpenter pool whose NodeClaim never comes: the limit is not dropped under the stall, and neither it nor the condition flaps", async () => {
    const w = setup({ spec: { provider: { type: "karpenter", karpenter: { nodePool: "np" } } } });
    const np = pathFor(R.karpenterNodePools, { name: "np" });
    w.kube.seed(np, { apiVersion: "karpenter.sh/v1", kind: "NodePool", metadata: { name: "np" }, spec: {} });
    // The service's replica waits for a node, unschedulable; no Karpenter makes a NodeClaim for it.
    w.kube.seed(pathFor(R.pods, { namespace: "team", name: "r1" }), {
      metadata: { name: "r1", namespace: "team", labels: { "inferops.dev/variant": NAME } },
      spec: { containers: [{ name: "c", resources: { requests: { "nvidia.com/gpu": "8" } } }] },
      status: {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }],
      },
    });
    const limit = () =>
      Number(
        w.kube.peek<KubeObject & { spec?: { limits?: Record<string, string> } }>(np)?.spec?.limits?.[
          "nvidia.com/gpu"
        ],
      );
    // The planner: one node for the replica, or, while the pool reports ProviderFailing, only the nodes it
    // has (none registered).
    const trace: { t: number; limit: number; stalled: boolean }[] = [];
    for (let t = 0; t <= 30 * 60_000; t += 10_000) {
      w.want(stalledFor(w)?.status === "True" ? 0 : 1);
      await w.reconcile();
      trace.push({ t, limit: limit(), stalled: stalledFor(w)?.status === "True" });
      w.advance(10_000);
    }
    const changes = <K extends "limit" | "stalled">(k: K) =>
      trace.filter((x, i) => i === 0 || x[k] !== trace[i - 1]![k]).map((x) => [x.t / 1000, x[k]]);
    // Late after 130 s. The node policy holds the node asked for a scaleDownDelaySeconds (60 s) before it lets
    // it go, and the limit keeps it meanwhile (it read 0 at once before, at 140 s, and the stall cleared with
    // it). The stall holds 5 minutes after it was last seen (190 s), then growth is tried again: late again,
    // it holds 10 minutes; then 20. Before, both flapped every 150 s (the limit changed 24 times).
    expect(changes("limit")).toEqual([
      [0, 8],
      [200, 0],
      [500, 8],
      [700, 0],
      [1300, 8],
      [1500, 0],
    ]);
    expect(changes("stalled")).toEqual([
      [0, false],
      [130, true],
      [490, false],
      [630, true],
      [1290, false],
      [1430, true],
    ]);
    const said = w.recorded.filter((e) => e.reason.startsWith("Provisioning")).map((e) => e.reason);
    expect(said).toEqual([
      Reason.ProvisioningStalled,
      Reason.ProvisioningResumed,
      Reason.ProvisioningStalled,
      Reason.ProvisioningResumed,
      Reason.ProvisioningStalled,
    ]);
  });

  describe("NodeRegistered", () => {
    const registeredEvents = (w: ReturnType<typeof setup>) =>
      w.recorded.filter((e) => e.reason === Reason.NodeRegistered);

    it("says once, per node, that a node asked for registered, and how long it took", async () => {
      const w = setup();
      w.want(2);
      await w.reconcile();
      w.advance(10_000);
      await w.reconcile();
      expect(registeredEvents(w)).toEqual([]);
      w.advance(20_000);
      await w.reconcile();
      const names = w.nodes().map((n) => n.metadata?.name ?? "");
      expect(names).toHaveLength(2);
      expect(registeredEvents(w).map((e) => e.note)).toEqual(
        names.map((n) => `node ${n} registered in pool ${NAME} after 30 s (provisioningSeconds 30)`),
      );
      expect(registeredEvents(w)[0]).toMatchObject({ type: "Normal", action: "Register" });
      // Further reconciles: nothing more said, nothing written.
      const writes = w.kube.writes.length;
      for (let i = 0; i < 3; i++) {
        w.advance(10_000);
        await w.reconcile();
      }
      expect(registeredEvents(w)).toHaveLength(2);
      expect(w.kube.writes.length).toBe(writes);
    });

    it("restarted with nodes already registered: says nothing of them, but of one still registering when it registers", async () => {
      const w = setup();
      w.addNode("gpu-old");
      w.want(2);
      await w.reconcile();
      w.advance(30_000);
      await w.reconcile();
      expect(registeredEvents(w)).toHaveLength(1);
      const before = w.recorded.length;
      // A new process: every node of the pool is registered.
      w.restart();
      for (let i = 0; i < 3; i++) {
        await w.reconcile();
        w.advance(10_000);
      }
      expect(w.recorded.slice(before)).toEqual([]);
      // The plan wants one more; the operator restarts while it boots. The new process first sees it
      // registering in the reconcile whose scale call makes its Node: announced, once.
      w.want(3);
      await w.reconcile();
      w.advance(30_000);
      w.restart();
      await w.reconcile();
      await w.reconcile();
      expect(registeredEvents(w)).toHaveLength(2);
      expect(registeredEvents(w)[1]?.note).toMatch(/after 30 s \(provisioningSeconds 30\)$/);
    });

    it("follows a node from the Machine or NodeClaim that becomes it, and ignores nodes nobody asked for", async () => {
      // A Cluster API pool: Machine md-abc provisions, then its Node node-1 registers; node-2 appears, added
      // by hand; a placeholder for a replica no Machine came for goes.
      let shown: PoolNode[] = [
        ready("gpu-a"),
        { name: "md-abc", holder: "md-abc", state: "registering", gpus: 8, createdAt: T0 },
        { ...missing, createdAt: T0 },
      ];
      const w = setup({ provider: showing(() => shown) });
      w.want(3);
      await w.reconcile();
      w.advance(90_000);
      shown = [
        ready("gpu-a"),
        { name: "node-1", holder: "md-abc", state: "notReady", gpus: 8, createdAt: T0 + 75_000 },
        ready("node-2"),
      ];
      await w.reconcile();
      expect(registeredEvents(w).map((e) => e.note)).toEqual([
        `node node-1 registered in pool ${NAME} after 75 s (provisioningSeconds 30)`,
      ]);
      await w.reconcile();
      expect(registeredEvents(w)).toHaveLength(1);
    });
  });

  it("exports the pool's nodes, cost, power, provider health and node operations, and drops them with the pool", async () => {
    const metrics = createMetrics();
    const w = setup({ metrics });
    w.want(2);
    await w.reconcile();
    const value = async (name: string, labels: Record<string, string>) =>
      (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) =>
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
      )?.value;
    expect(await value("inferops_pool_nodes", { pool: NAME, state: "desired" })).toBe(2);
    expect(await value("inferops_pool_nodes", { pool: NAME, state: "current" })).toBe(2);
    expect(await value("inferops_pool_nodes", { pool: NAME, state: "registered" })).toBe(0);
    expect(await value("inferops_pool_cost_dollars_per_hour", { pool: NAME })).toBeCloseTo(196.64);
    expect(await value("inferops_pool_provider_failing", { pool: NAME })).toBe(0);
    expect(await value("inferops_pool_node_operations_total", { pool: NAME, operation: "requested" })).toBe(
      2,
    );
    forgetPoolMetrics(metrics, NAME);
    expect(await value("inferops_pool_nodes", { pool: NAME, state: "desired" })).toBeUndefined();
    expect(await value("inferops_pool_node_operations_total", { pool: NAME })).toBeUndefined();
  });
});

describe("GPUNodePool reconcile: a drain no reconcile of the pool will finish is undone", () => {
  const pdb = (_verb: string, path: string) =>
    path.endsWith("/eviction")
      ? new ApiError("Cannot evict pod as it would violate the pod's disruption budget", {
          code: "TooManyRequests",
          status: 429,
        })
      : undefined;
  type Node = NonNullable<ReturnType<ReturnType<typeof setup>["node"]>>;
  const cordoned = (n: Node | undefined) => ({
    unschedulable: n?.spec?.unschedulable,
    draining: n?.metadata?.annotations?.[ANNOTATION_DRAINING] !== undefined,
    pool: n?.metadata?.labels?.[LABEL_DRAINING_POOL],
  });
  const uncordoned = { unschedulable: false, draining: false, pool: undefined };

  /** gpu-b, running a pod a PodDisruptionBudget holds, cordoned by the pool to be drained and removed. */
  async function draining(opts: Parameters<typeof setup>[0] = {}) {
    const w = setup(opts);
    w.addNode("gpu-a");
    w.addNode("gpu-b");
    w.addPod("p1", "gpu-a");
    w.addPod("p2", "gpu-a");
    w.addPod("p3", "gpu-b");
    w.kube.fault = pdb;
    w.want(1);
    await w.reconcile();
    w.advance(DELAY_S * 1000);
    await w.reconcile();
    expect(cordoned(w.node("gpu-b"))).toEqual({ unschedulable: true, draining: true, pool: NAME });
    expect(w.recorded.at(-1)?.reason).toBe(Reason.EvictionBlocked);
    return w;
  }

  it("a pool deleted while its node drains: the node is uncordoned, with an event on the node, and nothing is deleted", async () => {
    const w = await draining();
    await w.deletePool();
    const writes = w.kube.writes.length;
    await w.reconcile();
    expect(cordoned(w.node("gpu-b"))).toEqual(uncordoned);
    expect(w.kube.writes.slice(writes).map((x) => `${x.verb} ${x.path}`)).toEqual([
      "patch /api/v1/nodes/gpu-b",
    ]);
    expect(w.nodes()).toHaveLength(2);
    expect(w.recorded.at(-1)).toMatchObject({
      reason: Reason.NodeUncordoned,
      note: `uncordoned node gpu-b: its GPUNodePool ${NAME} was deleted`,
    });
    expect(w.about.at(-1)).toMatchObject({ kind: "Node", name: "gpu-b" });
    // Nothing left to undo: again, nothing is written.
    await w.reconcile();
    expect(w.kube.writes.length).toBe(writes + 1);
  });

  it("a pool deleted while its node drains and the API server does not answer: fails, to be retried with backoff, then uncordons", async () => {
    const w = await draining();
    await w.deletePool();
    w.kube.fault = (verb, path) =>
      path.startsWith("/api/v1/nodes/")
        ? new ApiError(`${verb} ${path}: connection refused`, { code: "ECONNREFUSED", status: 0 })
        : undefined;
    await expect(w.reconcile()).rejects.toThrow(/node gpu-b: .*connection refused/);
    expect(cordoned(w.node("gpu-b")).draining).toBe(true);
    w.kube.fault = undefined;
    await w.reconcile();
    expect(cordoned(w.node("gpu-b"))).toEqual(uncordoned);
  });

  it("a deleted pool whose draining node is already gone (the cache not yet told): nothing to do, no error", async () => {
    const w = await draining();
    w.freezeDrainingCache();
    await w.kube.delete(pathFor(R.nodes, { name: "gpu-b" }));
    await w.deletePool();
    const writes = w.kube.writes.length;
    const events = w.recorded.length;
    await w.reconcile();
    expect(w.kube.writes.length).toBe(writes);
    expect(w.recorded.length).toBe(events);
  });

  it("a pool made static while its node drains: the node is uncordoned, and status shows it", async () => {
    const w = await draining();
    w.kube.fault = undefined;
    w.setSpec({ provider: { type: "static" } });
    await w.reconcile();
    expect(cordoned(w.node("gpu-b"))).toEqual(uncordoned);
    expect(w.nodes()).toHaveLength(2);
    expect(w.recorded.at(-1)).toMatchObject({
      reason: Reason.NodeUncordoned,
      note: `uncordoned node gpu-b: GPUNodePool ${NAME} is static: it removes no node`,
    });
    expect(w.about.at(-1)).toMatchObject({ kind: "GPUNodePool", name: NAME });
    expect(w.status()).toMatchObject({ nodes: 2, drainingNodes: 0 });
  });

  it("a pool that no longer validates while its node drains: the node is uncordoned", async () => {
    const w = await draining();
    w.setSpec({ maxNodes: -1 });
    await expect(w.reconcile()).rejects.toThrow(/spec.maxNodes/);
    expect(cordoned(w.node("gpu-b"))).toEqual(uncordoned);
    expect(w.nodes()).toHaveLength(2);
  });

  it("a draining node the pool's provider no longer shows is uncordoned; while the provider cannot be read, it is left", async () => {
    let fail = false;
    const provider: NodeProvider = {
      type: "kwok",
      observe: async () => {
        if (fail) throw new ProviderError("NotFound", "Karpenter NodePool np not found");
        return [{ name: "gpu-a", state: "ready", gpus: 8, createdAt: T0 }];
      },
      scale: async (_pool, r) => ({
        outcome: "unchanged",
        message: "",
        target: r.target,
        added: 0,
        removed: [],
        kept: [],
      }),
    };
    const w = setup({ provider });
    w.addNode("gpu-a");
    const b = w.addNode("gpu-b");
    w.kube.seed(pathFor(R.nodes, { name: "gpu-b" }), leftDraining(b, true));
    w.want(1);
    fail = true;
    await w.reconcile();
    expect(cordoned(w.node("gpu-b")).draining).toBe(true);
    fail = false;
    w.advance(5000);
    await w.reconcile();
    expect(cordoned(w.node("gpu-b"))).toEqual(uncordoned);
    expect(w.recorded.find((e) => e.reason === Reason.NodeUncordoned)?.note).toBe(
      `uncordoned node gpu-b: the provider of GPUNodePool ${NAME} no longer shows it among the pool's nodes`,
    );
  });

  it("a node cordoned before the pool label existed gets it, so that the pool's deletion still finds it", async () => {
    const w = setup();
    w.addNode("gpu-a");
    const b = w.addNode("gpu-b");
    w.kube.seed(pathFor(R.nodes, { name: "gpu-b" }), leftDraining(b));
    w.addPod("p1", "gpu-a");
    w.addPod("p3", "gpu-b");
    w.kube.fault = pdb;
    w.want(1);
    await w.reconcile();
    expect(cordoned(w.node("gpu-b"))).toEqual({ unschedulable: true, draining: true, pool: NAME });
    await w.deletePool();
    await w.reconcile();
    expect(cordoned(w.node("gpu-b"))).toEqual(uncordoned);
  });

  it("while the provider backs off, a plan that wants the draining node back uncordons it without calling the provider; a plan that still drops it leaves it", async () => {
    let calls = 0;
    let broken = false;
    let kwok: NodeProvider | undefined;
    const provider: NodeProvider = {
      type: "kwok",
      observe: async (pool) => {
        calls++;
        if (broken) throw new Error("listing the nodes of pool gpu: connection refused");
        return kwok!.observe(pool);
      },
      scale: async () => {
        calls++;
        throw new ProviderError("Conflict", "deleting node gpu-b of pool gpu: the object has been modified");
      },
    };
    const w = setup({ provider });
    kwok = nodeProviders({ client: w.kube, now: w.now }).kwok;
    w.addNode("gpu-a");
    w.addPod("p1", "gpu-a");
    const b = w.addNode("gpu-b");
    w.kube.seed(pathFor(R.nodes, { name: "gpu-b" }), leftDraining(b, true));
    // Drained: offered for removal, and the provider fails to remove it. It backs off 5 s.
    w.want(1);
    await w.reconcile();
    expect(calls).toBe(2);
    expect(w.condition(ConditionType.ProviderFailing)?.status).toBe("True");
    // Within the backoff, the provider now failing to answer at all.
    broken = true;
    w.advance(1000);
    await w.reconcile();
    expect(cordoned(w.node("gpu-b")).draining).toBe(true);
    w.want(2);
    w.advance(1000);
    await w.reconcile();
    expect(calls).toBe(2);
    expect(cordoned(w.node("gpu-b"))).toEqual(uncordoned);
    expect(w.recorded.at(-1)).toMatchObject({
      reason: Reason.NodeUncordoned,
      note: "uncordoned node gpu-b: the plan wants 2 node(s) again",
    });
    expect(w.status().drainingNodes).toBe(0);
    // The backoff over, the provider still fails: nothing more to undo.
    const uncordons = w.recorded.filter((e) => e.reason === Reason.NodeUncordoned).length;
    w.advance(5000);
    await w.reconcile();
    expect(calls).toBe(3);
    expect(w.recorded.filter((e) => e.reason === Reason.NodeUncordoned)).toHaveLength(uncordons);
  });
});
