// The GPUNodePool reconcile: carry out the latest plan's nodes for the pool through its provider, level-
// triggered. Read the pool (cache), its nodes (the provider) and the pods on them; ask the pure node policy
// (planning/nodes.ts) which draining node comes back, which node is cordoned and drained and which drained
// node goes; do that (merge patches of the node, the Eviction API, provider.scale()); write status once when
// it changed; record an event for every node asked for, registered, cordoned, uncordoned and removed.
//
// Crash safety: a node chosen for removal carries inferops.dev/draining=<when the drain began> and the label
// inferops.dev/draining-pool=<pool> while it is cordoned. A restarted operator reads it back as a draining
// node and finishes the drain, or uncordons it when the plan wants it again or its drain timed out. A node
// whose drain no reconcile of its pool will finish is uncordoned: its pool was deleted (the pool's key is
// reconciled after each Plan while such a node is left, controller.ts), is static, does not validate, or
// its provider no longer shows the node. Nothing is deleted then, and no finalizer holds a pool's deletion.
// A failing provider is not called again before its backoff (5 s doubling to 5 min) has passed; meanwhile
// the node policy still runs on the provider's last answer, for its uncordons only (a plan that wants a
// draining node back, a drain that timed out), which ask nothing of the provider (a restarted operator has
// no last answer: it waits for the provider's first). The provider counts nodes it was asked for, so asking
// again never adds twice. A provider's "no capacity" and a stall of nodes asked for (stall.ts) stand a
// while after they were last seen: the plans they cause, which count only the pool's nodes, take their
// evidence away, and must not clear them at once.
// A node is announced as registered (NodeRegistered) when this process saw it registering and then sees it
// registered: the registration seen happen, not guessed from timestamps, so a restarted operator announces
// none of the nodes that joined before it, and no node the pool never asked for (one added by hand). The
// memory is in-process only (no API write); a node that registers while no operator runs (a restart, a new
// leader taking the lease) goes unannounced, which is the price of never announcing one twice.
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { ConditionType, Reason } from "../../apis/conditions.ts";
import { type GPUNodePool, type GPUNodePoolStatus, gpuNodePoolSchema } from "../../apis/gpunodepool.ts";
import {
  ANNOTATION_DRAINING,
  GPU_RESOURCE,
  LABEL_DRAINING_POOL,
  LABEL_MANAGED_BY,
  MANAGED_BY,
} from "../../apis/labels.ts";
import { formatErrors, parseSpec, toFieldErrors } from "../../apis/validate.ts";
import type { KubeApi, KubeObject } from "../../kube/client.ts";
import { isNotFound, TerminalError, wrap } from "../../kube/errors.ts";
import type { EventRecorder, Regarding } from "../../kube/events.ts";
import { evictPod } from "../../kube/eviction.ts";
import type { ReconcileResult } from "../../kube/queue.ts";
import { pathFor, R } from "../../kube/resources.ts";
import { applyStatus, StatusWrites, statusContested } from "../../kube/status.ts";
import type { Metrics } from "../../metrics.ts";
import {
  isInsufficientCapacity,
  isProviderNotFound,
  isUnsupported,
  type NodeObject,
  type NodeProvider,
  type PoolNode,
  poolNodeOf,
} from "../../nodepools/provider.ts";
import {
  DRAIN_TIMEOUT_MS,
  heldTarget,
  LOST_REMOVE_MS,
  lostForGood,
  type NodePolicy,
  nodePolicy,
  nodeTarget,
  type PolicyNode,
  type TargetHistory,
  targetWithLost,
} from "../../planning/nodes.ts";
import type { Plan, Snapshot } from "../../planning/types.ts";
import * as events from "./events.ts";
import { type StallMemory, stall, stallFromStatus } from "./stall.ts";
import { computePoolStatus, conditionOf, invalidPoolStatus, type ProviderHealth } from "./status.ts";

const BACKOFF_BASE_MS = 5_000;
const BACKOFF_MAX_MS = 5 * 60_000;
/**
 * How long a provider's "no capacity" stands after it was last seen: Karpenter deletes a NodeClaim that could
 * not launch within seconds, and keeps its own unavailable-offerings cache about three minutes. Meanwhile
 * the pool reports CapacityUnavailable and the planner counts only the nodes it has; then growth is tried again.
 */
export const CAPACITY_HOLD_MS = 5 * 60_000;
/** While pods are being evicted, look again this soon. */
const DRAIN_POLL_MS = 5_000;

export interface PoolReconcilerDeps {
  client: Pick<KubeApi, "list" | "get" | "patch" | "create" | "apply">;
  pools: { get(name: string): KubeObject | undefined };
  /** inferops' pods (the managed-by label), for the GPUs in use. */
  pods: { list(): readonly KubeObject[] };
  /** The nodes this controller cordoned to drain (LABEL_DRAINING_POOL), whatever their pool. */
  draining: { list(): readonly KubeObject[] };
  providers: (type: GPUNodePool["spec"]["provider"]["type"]) => NodeProvider;
  events: Pick<EventRecorder, "record">;
  log: Logger;
  /** The latest Plan, with the Snapshot and time it was made from; undefined before the first. */
  planned: () => { plan: Plan; snapshot: Snapshot; nowMs: number } | undefined;
  now?: () => number;
  drainTimeoutMs?: number;
  metrics?: PoolMetrics;
}

export type PoolMetrics = Pick<
  Metrics,
  "poolNodes" | "poolCost" | "poolPower" | "poolProviderFailing" | "poolNodeOperations"
>;

const NODE_STATES = ["desired", "current", "registered", "ready", "draining"] as const;

/** Drops a deleted pool's series. */
export function forgetPoolMetrics(metrics: PoolMetrics, pool: string): void {
  for (const state of NODE_STATES) metrics.poolNodes.remove({ pool, state });
  metrics.poolCost.remove({ pool });
  metrics.poolPower.remove({ pool });
  metrics.poolProviderFailing.remove({ pool });
  for (const operation of ["requested", "cordoned", "uncordoned", "removed", "evicted"])
    metrics.poolNodeOperations.remove({ pool, operation });
}

interface PoolMemory {
  /** The node policy's targets of the last scaleDownDelaySeconds (planning/nodes.ts heldTarget). */
  targets?: TargetHistory;
  failures: number;
  retryAt?: number;
  failing?: { reason: string; message: string };
  /** The provider's last word that a node asked for will not come, and until when it stands. */
  capacity?: { message: string; untilMs: number };
  /** The last stall of nodes asked for, held after it was last seen (stall.ts). */
  stall?: StallMemory;
  /** Whether the stall the status reported when this process first reconciled the pool was taken up. */
  stallKnown?: boolean;
  /** What the provider showed last: status while it backs off. */
  nodes?: PoolNode[];
  /** The nodes this process has seen registering (by joinKey), and when each was asked for (joined()). */
  registering?: Map<string, number>;
}

interface PodFields {
  spec?: { nodeName?: string; containers?: { resources?: { requests?: Record<string, string> } }[] };
  status?: { phase?: string };
}
type Pod = KubeObject & PodFields;

const terminal = (p: Pod) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
/** DaemonSet and mirror pods go with their node: they neither block a removal nor are evicted. */
const goesWithNode = (p: Pod) =>
  p.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined ||
  (p.metadata?.ownerReferences ?? []).some((o) => o.kind === "DaemonSet");
const owned = (p: Pod) => p.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY;
const gpusOf = (p: Pod) =>
  (p.spec?.containers ?? []).reduce((s, c) => s + Number(c.resources?.requests?.[GPU_RESOURCE] ?? 0), 0);

function failureOf(err: unknown): { reason: string; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (isProviderNotFound(err)) return { reason: Reason.ProviderNotFound, message };
  if (isInsufficientCapacity(err)) return { reason: Reason.InsufficientCapacity, message };
  if (isUnsupported(err)) return { reason: Reason.ProviderUnsupported, message };
  return { reason: Reason.ProviderError, message };
}

export function makePoolReconciler(deps: PoolReconcilerDeps) {
  const now = deps.now ?? Date.now;
  const drainTimeoutMs = deps.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
  const memory = new Map<string, PoolMemory>();
  const statusWrites = new StatusWrites();

  async function podsOn(node: string): Promise<Pod[]> {
    const list = await deps.client.list<Pod>(pathFor(R.pods), { fieldSelector: `spec.nodeName=${node}` });
    return list.items.filter((p) => !terminal(p) && !goesWithNode(p));
  }

  /** The Node as the API server has it now; undefined when it is gone. */
  async function readNode(node: string): Promise<NodeObject | undefined> {
    try {
      return await deps.client.get<NodeObject>(pathFor(R.nodes, { name: node }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw wrap(`reading node ${node}`, err);
    }
  }

  /** Cordons the node to drain it for `drain.pool` since `drain.at`, or (null) uncordons it: the Node after. */
  async function patchNode(
    node: string,
    drain: { pool: string; at: string } | null,
  ): Promise<NodeObject | undefined> {
    try {
      return await deps.client.patch<NodeObject>(pathFor(R.nodes, { name: node }), {
        metadata: {
          annotations: { [ANNOTATION_DRAINING]: drain?.at ?? null },
          labels: { [LABEL_DRAINING_POOL]: drain?.pool ?? null },
        },
        spec: { unschedulable: drain !== null },
      } as KubeObject);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw wrap(`${drain === null ? "uncordoning" : "cordoning"} node ${node}`, err);
    }
  }

  /**
   * Uncordons the nodes cordoned for pool `pool` (LABEL_DRAINING_POOL) that no reconcile of it will finish,
   * but those in `keep`, with an event regarding `about` (default: the node). Each is read first, so that a
   * node the cache still shows draining is not uncordoned twice. Throws, to be retried with backoff, when
   * the API server does not answer.
   */
  async function release(
    pool: string,
    why: string,
    log: Logger,
    about?: Regarding,
    keep: ReadonlySet<string> = new Set(),
  ): Promise<void> {
    for (const cached of deps.draining.list()) {
      const node = cached.metadata?.name ?? "";
      if (cached.metadata?.labels?.[LABEL_DRAINING_POOL] !== pool || keep.has(node)) continue;
      const live = await readNode(node);
      if (!live || live.metadata?.labels?.[LABEL_DRAINING_POOL] !== pool) continue;
      if (!(await patchNode(node, null))) continue;
      deps.metrics?.poolNodeOperations.inc({ pool, operation: "uncordoned" });
      log.info({ node }, `uncordoned: ${why}`);
      await deps.events.record(
        about ?? { apiVersion: "v1", kind: "Node", name: node, uid: live.metadata?.uid },
        events.nodeUncordoned(node, why),
      );
    }
  }

  return async function reconcile(name: string): Promise<ReconcileResult | undefined> {
    const raw = deps.pools.get(name);
    if (!raw || raw.metadata?.deletionTimestamp) {
      // No reconcile of a deleted pool will finish its drains: they are undone, and nothing is deleted.
      await release(name, `its GPUNodePool ${name} was deleted`, deps.log.child({ name }));
      memory.delete(name);
      statusWrites.forget(R.gpuNodePools, undefined, name);
      if (deps.metrics) forgetPoolMetrics(deps.metrics, name);
      return undefined;
    }
    const log = deps.log.child({ name });
    const about = events.regarding(raw);
    const previous = raw.status as GPUNodePoolStatus | undefined;
    const nowMs = now();
    const nowIso = new Date(nowMs).toISOString();
    const parsed = parseSpec(gpuNodePoolSchema, raw);
    if (!parsed.success) {
      // Admitted by the API server (an object stored under an older CRD) but not usable: say so, naming the
      // field, instead of leaving the pool silently alone.
      const message = formatErrors(toFieldErrors(parsed.error));
      const status = invalidPoolStatus(previous, raw.metadata?.generation ?? 0, message, nowIso);
      if (!isDeepStrictEqual(normalise(status), normalise(previous))) {
        await applyStatus(deps.client, R.gpuNodePools, raw, status);
        await deps.events.record(about, events.invalid(name, message));
      }
      await release(name, `GPUNodePool ${name} cannot be used: ${message}`, log, about);
      throw new TerminalError(`GPUNodePool ${name} does not validate: ${message}`);
    }
    const pool = parsed.data;
    const spec = pool.spec;
    const generation = pool.metadata.generation ?? 0;
    const mem = memory.get(name) ?? { failures: 0 };
    memory.set(name, mem);
    const provider = deps.providers(spec.provider.type);

    const fail = async (err: unknown): Promise<void> => {
      mem.failures++;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (mem.failures - 1));
      mem.retryAt = nowMs + delay;
      mem.failing = failureOf(err);
      log.warn({ err, retryInMs: delay }, "node provider failed");
      await deps.events.record(about, events.providerFailing(mem.failing.reason, mem.failing.message, delay));
    };
    const recovered = async () => {
      if (mem.failing) {
        await deps.events.record(about, events.providerRecovered());
        log.info("node provider recovered");
      }
      mem.failures = 0;
      mem.retryAt = undefined;
      mem.failing = undefined;
    };

    // A static pool removes no node: a drain begun under another provider is undone (before the provider
    // observes, so that status shows it).
    const isStatic = spec.provider.type === "static";
    if (isStatic) await release(name, `GPUNodePool ${name} is static: it removes no node`, log, about);

    // While it backs off, the provider is not called at all (its last answer stands for status): wakes by
    // plans and by this controller's own status writes must not turn into attempts.
    const backingOff = mem.retryAt !== undefined && nowMs < mem.retryAt;
    let nodes: PoolNode[] = mem.nodes ?? [];
    let observed = false;
    if (!backingOff) {
      try {
        nodes = await provider.observe(pool);
        observed = true;
        // Remembered before act(): kwok creates the Node of a node whose provisioningSeconds have passed in
        // the scale call, so the observation after it shows registered a node only this one shows registering.
        mem.registering = withRegistering(mem.registering, nodes);
      } catch (err) {
        await fail(err);
      }
    }

    // Backing off now, or since observe() just failed.
    const waiting = mem.retryAt !== undefined && nowMs < mem.retryAt;
    const planned = deps.planned();
    const poolPlan = planned?.plan.pools.find((p) => p.name === name);
    const planSpec = planned?.snapshot.pools.find((p) => p.name === name)?.spec;
    let activity: { scaling: "up" | "down"; message: string } | undefined;
    let requeueAfterMs: number | undefined;
    // A plan made for another spec of the pool waits for the next one.
    const planFits = poolPlan !== undefined && !isStatic && isDeepStrictEqual(planSpec, spec);
    const mayAct = planFits && !waiting;

    const count = (operation: string, n = 1) => {
      if (n > 0) deps.metrics?.poolNodeOperations.inc({ pool: name, operation }, n);
    };
    // A node its provider no longer shows (another provider now, the node's labels changed) is not the
    // pool's to remove: its drain is undone.
    if (observed && !isStatic)
      await release(
        name,
        `the provider of GPUNodePool ${name} no longer shows it among the pool's nodes`,
        log,
        about,
        new Set(nodes.map((n) => n.name)),
      );

    // Nothing more to ask of the provider than what it just answered: it recovered.
    if (observed && !mayAct) await recovered();
    if (waiting) requeueAfterMs = (mem.retryAt ?? nowMs) - nowMs;
    if (mayAct && planned && poolPlan) {
      const target = nodeTarget(spec, poolPlan.nodes.value);
      const acted = await act(target, poolPlan.nodes.message, planned.nowMs);
      activity = acted.activity;
      requeueAfterMs = acted.requeueAfterMs;
      if (acted.nodes) nodes = acted.nodes;
    } else if (planFits && waiting && poolPlan && nodes.some((n) => n.state === "draining")) {
      // While the provider backs off, the node policy's uncordons still happen (they ask nothing of it): a
      // plan that wants a draining node back, a drain that timed out. Its other choices wait.
      const { decision } = await weigh(nodeTarget(spec, poolPlan.nodes.value), false);
      await uncordon(decision.uncordon);
      if (decision.requeueAfterMs !== undefined)
        requeueAfterMs = Math.min(requeueAfterMs ?? decision.requeueAfterMs, decision.requeueAfterMs);
    }

    /**
     * The node policy's decision on `nodes` (the provider's answer, or its last one while it backs off).
     * Each draining node is read again: its annotation says since when it drains, or that it no longer does.
     * `choose`: whether nodes may be chosen to drain now; pods of serving nodes are read only then.
     */
    async function weigh(planned: number, choose: boolean) {
      const live = nodes.filter((n) => n.state !== "deleting");
      // A lost node serves nothing: one more is asked for while it stays so, and after LOST_REMOVE_MS it is
      // removed, without a drain: its pods cannot be reached (planning/nodes.ts).
      const target = targetWithLost(planned, live, nowMs, spec.maxNodes);
      const gone = new Set(lostForGood(live, nowMs).map((n) => n.name));
      // Pods are read node by node only when the policy weighs them: a drain under way, or serving nodes
      // above every target of the delay (while a target holds them, no node is chosen, and the API server
      // is spared the lists).
      const delayMs = spec.scaleDownDelaySeconds * 1000;
      const servingNow = live.filter((n) => n.state !== "draining" && !gone.has(n.name)).length;
      const choosing =
        servingNow > target &&
        servingNow >
          heldTarget({
            target,
            serving: servingNow,
            now: nowMs,
            scaleDownDelayMs: delayMs,
            ...(mem.targets ? { targets: mem.targets } : {}),
          }).held;
      const needPods = choose && (choosing || live.some((n) => n.state === "draining"));
      const policyNodes: PolicyNode[] = [];
      const podsByNode = new Map<string, Pod[]>();
      for (const n of nodes) {
        if (gone.has(n.name)) continue;
        let state = n.state;
        let drainingSince: number | undefined;
        if (state === "draining") {
          const node = await readNode(n.name);
          if (!node) continue;
          const at = node.metadata?.annotations?.[ANNOTATION_DRAINING];
          if (at === undefined) state = poolNodeOf(node, pool).state;
          else drainingSince = Date.parse(at);
          // Cordoned before the label existed: labelled, so that the pool's deletion finds it.
          if (at !== undefined && node.metadata?.labels?.[LABEL_DRAINING_POOL] === undefined)
            await labelDraining(n.name);
        }
        let ownedPods = 0;
        let otherPods = 0;
        if ((needPods || state === "draining") && state !== "registering" && state !== "deleting") {
          const pods = await podsOn(n.name);
          podsByNode.set(n.name, pods);
          ownedPods = pods.filter(owned).length;
          otherPods = pods.length - ownedPods;
        }
        policyNodes.push({
          name: n.name,
          state,
          ownedPods,
          otherPods,
          ...(state === "draining" ? { drainingSince } : {}),
        });
      }
      const decision = nodePolicy({
        target,
        nodes: policyNodes,
        now: nowMs,
        scaleDownDelayMs: delayMs,
        ...(mem.targets ? { targets: mem.targets } : {}),
        drainTimeoutMs,
        evictOtherPods: spec.drainUnmanagedPods ?? false,
      });
      mem.targets = decision.targets;
      return { target, gone, decision, podsByNode };
    }

    async function labelDraining(node: string): Promise<void> {
      try {
        await deps.client.patch(pathFor(R.nodes, { name: node }), {
          metadata: { labels: { [LABEL_DRAINING_POOL]: name } },
        } as KubeObject);
      } catch (err) {
        if (!isNotFound(err)) throw wrap(`labelling node ${node} as draining for pool ${name}`, err);
      }
    }

    /** Uncordons the policy's nodes; `nodes` shows them as they are now. */
    async function uncordon(list: NodePolicy["uncordon"]): Promise<void> {
      for (const u of list) {
        const after = await patchNode(u.name, null);
        if (after) {
          const state = poolNodeOf(after, pool).state;
          nodes = nodes.map((n) => (n.name === u.name ? { ...n, state } : n));
        }
        count("uncordoned");
        log.info({ node: u.name }, `uncordoned: ${u.reason}`);
        await deps.events.record(about, events.nodeUncordoned(u.name, u.reason));
      }
    }

    async function act(planned: number, why: string, madeAt: number) {
      const { target, gone, decision, podsByNode } = await weigh(planned, true);
      for (const node of gone)
        log.info({ node }, `not Ready for ${LOST_REMOVE_MS / 60_000} minutes: removing it without a drain`);
      await uncordon(decision.uncordon);
      for (const node of decision.drain) {
        await patchNode(node, { pool: name, at: nowIso });
        count("cordoned");
        log.info({ node }, "cordoned to drain and remove");
        await deps.events.record(
          about,
          events.nodeCordoned(node, `the plan wants ${target} node(s) (${why})`),
        );
      }
      for (const node of decision.evict) {
        const blocked: string[] = [];
        for (const p of podsByNode.get(node) ?? []) {
          if (p.metadata?.deletionTimestamp) continue;
          const ref = { namespace: p.metadata?.namespace ?? "", name: p.metadata?.name ?? "" };
          const outcome = await evictPod(deps.client, { ...ref, uid: p.metadata?.uid });
          if (outcome === "blocked") blocked.push(`${ref.namespace}/${ref.name}`);
          if (outcome === "evicted") count("evicted");
        }
        if (blocked.length) await deps.events.record(about, events.evictionBlocked(node, blocked));
      }

      let result: Awaited<ReturnType<NodeProvider["scale"]>> | undefined;
      try {
        result = await provider.scale(pool, {
          target,
          removable: [...gone, ...decision.remove],
          ...(gone.size ? { lost: [...gone] } : {}),
          plan: { generation, madeAt },
        });
        await recovered();
      } catch (err) {
        await fail(err);
      }
      count("requested", result?.added ?? 0);
      count("removed", result?.removed.length ?? 0);
      if (result?.added) await deps.events.record(about, events.nodesRequested(result.added, target, why));
      for (const node of result?.removed ?? []) {
        log.info({ node }, "removed");
        await deps.events.record(about, events.nodeRemoved(node));
      }
      if (result?.outcome === "acted" || decision.uncordon.length || decision.drain.length)
        log.info({ target, message: result?.message }, "pool scaled");

      const after = result?.outcome === "acted" || decision.drain.length || decision.uncordon.length;
      const observed = after ? await provider.observe(pool).catch(() => undefined) : undefined;
      const liveAfter = (observed ?? nodes).filter((n) => n.state !== "deleting");
      const serving = liveAfter.filter((n) => n.state !== "draining");
      const activityNow =
        liveAfter.some((n) => n.state === "registering") || serving.length < target
          ? { scaling: "up" as const, message: `${liveAfter.length} node(s), the plan wants ${target}` }
          : liveAfter.length > target
            ? {
                scaling: "down" as const,
                message: decision.waiting ?? `${liveAfter.length} node(s), the plan wants ${target}`,
              }
            : undefined;
      const waits = [
        decision.requeueAfterMs,
        result?.requeueAfterMs,
        decision.evict.length ? DRAIN_POLL_MS : undefined,
        mem.retryAt !== undefined ? mem.retryAt - nowMs : undefined,
      ].filter((x): x is number => x !== undefined);
      return {
        activity: activityNow,
        requeueAfterMs: waits.length ? Math.max(0, Math.min(...waits)) : undefined,
        nodes: observed,
      };
    }

    mem.nodes = nodes;
    const arrivals = joined(mem.registering, nodes, nowMs);
    mem.registering = arrivals.registering;
    for (const { name: node, afterMs } of arrivals.joined) {
      log.info({ node, afterSeconds: Math.round(afterMs / 1000) }, "registered");
      await deps.events.record(about, events.nodeRegistered(node, name, afterMs, spec.provisioningSeconds));
    }
    const refused = nodes.filter((n) => n.failure);
    if (refused.length) {
      const message = refused.map((n) => n.failure).join("; ");
      const fresh = !mem.capacity || nowMs >= mem.capacity.untilMs;
      mem.capacity = { message, untilMs: nowMs + CAPACITY_HOLD_MS };
      if (fresh) {
        log.warn({ message }, "the provider cannot get capacity");
        await deps.events.record(about, events.capacityUnavailable(message, CAPACITY_HOLD_MS));
      }
    } else if (mem.capacity && nowMs >= mem.capacity.untilMs) mem.capacity = undefined;
    // A stall the status reports and this process has not seen (a restart, a new leader) is taken up, not
    // forgotten (stall.ts stallFromStatus).
    if (!mem.stallKnown) {
      mem.stallKnown = true;
      mem.stall ??= stallFromStatus({
        condition: conditionOf(previous, ConditionType.ProviderFailing),
        nodes,
        provisioningMs: spec.provisioningSeconds * 1000,
        nowMs,
      });
    }
    const late = stall({
      ...(mem.stall ? { previous: mem.stall } : {}),
      nodes,
      provisioningMs: spec.provisioningSeconds * 1000,
      nowMs,
    });
    mem.stall = late.memory;
    // Look again when a hold ends: nothing else may wake the pool then.
    for (const left of [mem.capacity ? mem.capacity.untilMs - nowMs : undefined, late.requeueAfterMs])
      if (left !== undefined)
        requeueAfterMs = requeueAfterMs === undefined ? left : Math.min(requeueAfterMs, left);
    const health: ProviderHealth = {
      ...(mem.failing ? { failing: mem.failing } : {}),
      ...(mem.capacity ? { capacity: mem.capacity.message } : {}),
      ...(late.stalled ? { stalled: late.stalled } : {}),
    };
    const names = new Set(nodes.map((n) => n.name));
    const usedGPUs = (deps.pods.list() as Pod[])
      .filter((p) => names.has(p.spec?.nodeName ?? "") && !terminal(p))
      .reduce((s, p) => s + gpusOf(p), 0);
    const status = computePoolStatus({
      spec,
      generation,
      previous,
      nodes,
      usedGPUs,
      plan: poolPlan,
      health,
      activity,
      nowIso,
      ...(planned ? { power: planned.snapshot.pools.find((p) => p.name === name)?.power } : {}),
    });
    if (deps.metrics) exportPool(deps.metrics, name, status);
    if (!isDeepStrictEqual(normalise(status), normalise(previous))) {
      let write: Awaited<ReturnType<StatusWrites["write"]>>;
      try {
        write = await statusWrites.write(deps.client, R.gpuNodePools, raw, status, nowMs);
      } catch (err) {
        await deps.events.record(about, events.statusFailed(err));
        throw err;
      }
      if (write.contestStarted) {
        log.warn("another writer keeps rewriting this status; not writing it for a while");
        await deps.events.record(about, statusContested("GPUNodePool"));
      }
      const measured = !write.written
        ? undefined
        : events.powerTransition(
            conditionOf(previous, ConditionType.PowerMeasured),
            conditionOf(status, ConditionType.PowerMeasured),
          );
      if (measured) {
        log.info({ reason: measured.reason }, measured.note);
        await deps.events.record(about, measured);
      }
      // Once when the condition turns to a stall, once when the stall's hold ends (a stall still held but
      // outranked by a provider failure has not resumed).
      const wasStalled = isStalled(conditionOf(previous, ConditionType.ProviderFailing));
      const stalledNow = isStalled(conditionOf(status, ConditionType.ProviderFailing));
      if (write.written && stalledNow && !wasStalled) {
        log.warn({ stalled: health.stalled }, "nodes asked for have not registered in time");
        await deps.events.record(about, events.provisioningStalled(health.stalled ?? ""));
      } else if (write.written && wasStalled && !stalledNow && !health.stalled) {
        log.info({ why: late.resumed }, "provisioning resumed");
        await deps.events.record(about, events.provisioningResumed(late.resumed));
      }
    }
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  };
}

/**
 * What names a node across its registration: the provider's object that becomes it (a Machine, a NodeClaim:
 * PoolNode.holder), or, when there is none, the node itself (kwok shows a node asked for under its Node's
 * name). A placeholder for a node no object exists for yet (`<md>/no-machine-0`) matches nothing: the node
 * is announced if its Machine or NodeClaim is seen registering, as it is for longer than the interval
 * between plans (10 s by default; a VM boots meanwhile) unless no operator ran then.
 */
const joinKey = (n: PoolNode) => n.holder ?? n.name;
const registered = (n: PoolNode) => n.state !== "registering" && n.state !== "deleting";

/** `seen` and the nodes registering in `nodes` that it lacks, asked for when they were created. */
export function withRegistering(
  seen: ReadonlyMap<string, number> | undefined,
  nodes: readonly PoolNode[],
): Map<string, number> {
  const next = new Map(seen);
  for (const n of nodes)
    if (n.state === "registering" && !next.has(joinKey(n))) next.set(joinKey(n), n.createdAt);
  return next;
}

/**
 * Pure: the nodes seen registering before (`seen`: joinKey -> when asked for) that `nodes` shows registered,
 * with how long they took; and the nodes registering now, to remember (the rest are forgotten: announced, or
 * gone before they came). A node registered when first seen is not among them. The time taken ends at the
 * Node's creation, which is its registration (a kubelet registers it; kwok creates it then), unless that is
 * no later than the ask (the fake cloud's node is one object throughout): then when it was seen registered.
 */
export function joined(
  seen: ReadonlyMap<string, number> | undefined,
  nodes: readonly PoolNode[],
  nowMs: number,
): { joined: { name: string; afterMs: number }[]; registering: Map<string, number> } {
  const arrived: { name: string; afterMs: number }[] = [];
  const registering = new Map<string, number>();
  for (const n of nodes) {
    const askedAt = seen?.get(joinKey(n));
    if (n.state === "registering") registering.set(joinKey(n), askedAt ?? n.createdAt);
    else if (askedAt !== undefined && registered(n)) {
      const at = n.createdAt > askedAt ? Math.min(n.createdAt, nowMs) : nowMs;
      arrived.push({ name: n.name, afterMs: Math.max(0, at - askedAt) });
    }
  }
  return { joined: arrived, registering };
}

const isStalled = (c: { status?: string; reason?: string } | undefined) =>
  c?.status === "True" && c.reason === Reason.ProvisioningStalled;

/** The pool's gauges, from its status. */
function exportPool(m: PoolMetrics, pool: string, status: GPUNodePoolStatus): void {
  const values = {
    desired: status.desiredNodes,
    current: status.nodes,
    registered: status.registeredNodes,
    ready: status.readyNodes,
    draining: status.drainingNodes,
  };
  for (const state of NODE_STATES) {
    const v = values[state];
    if (v === undefined) m.poolNodes.remove({ pool, state });
    else m.poolNodes.set({ pool, state }, v);
  }
  m.poolCost.set({ pool }, status.costPerHour ?? 0);
  m.poolPower.set({ pool }, status.powerWatts ?? 0);
  const failing = status.conditions?.find((c) => c.type === ConditionType.ProviderFailing);
  m.poolProviderFailing.set({ pool }, failing?.status === "True" ? 1 : 0);
}

/** JSON round-trip, so undefined fields and key order do not count as changes. */
const normalise = (o: unknown) => JSON.parse(JSON.stringify(o ?? {}));
