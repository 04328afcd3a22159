// PURE: the node policy of a GPUNodePool. Given the nodes the Plan wants and the nodes the pool has, which
// draining node comes back, which node starts draining and which drained node may go. The GPUNodePool
// controller carries the answer out through the pool's provider; the simulator runs the same function, on
// the providers' in-memory cloud (simulation/fleet.ts reconcileNodes, nodepools/fake.ts).
//
// Gentle scale-down: a node is chosen to go only once no target of the last scaleDownDelaySeconds wanted it
// (the pool is held at the highest target of that window, as HPA's stabilization window holds replicas), so
// a pool coming down by steps follows the plan one delay behind, step by step, and a node the plan wanted a
// moment ago is never removed. Until the policy has seen a whole delay of targets (a new operator, a new
// leader), it holds every serving node. The chosen nodes are those whose removal disturbs least (never registered, then
// running fewest of inferops' pods, a node not Ready before a Ready one), never one running pods inferops does not own
// (unless the pool allows evicting them); a chosen node is cordoned and drained, and offered for removal
// only once no pod is left. A plan that wants nodes back uncordons draining nodes before any is added, and
// a drain that does not finish within drainTimeoutMs is undone. (A drain no reconcile of the pool will
// finish, its pool deleted or static, is undone by the controller: controllers/gpunodepool/reconcile.ts.)

import type { GPUNodePoolSpec } from "../apis/gpunodepool.ts";

/** The nodes a pool is scaled to for `wanted` (the plan's nodes): held within minNodes..maxNodes. */
export function nodeTarget(spec: Pick<GPUNodePoolSpec, "minNodes" | "maxNodes">, wanted: number): number {
  return Math.min(spec.maxNodes, Math.max(spec.minNodes, wanted));
}

/** A registered node not Ready (Ready False) for this long is replaced as lost (cluster-autoscaler waits 20 min to remove one). */
export const NOT_READY_REPLACE_MS = 5 * 60_000;
/**
 * A node not Ready for this long is removed (cluster-autoscaler's --scale-down-unready-time): it was replaced
 * long ago, serves nothing, and a cloud bills it.
 */
export const LOST_REMOVE_MS = 20 * 60_000;

type MaybeLost = { state: string; notReady?: { since: number; unreachable: boolean } };

const isLost = (n: MaybeLost, now: number) =>
  n.state === "notReady" &&
  n.notReady !== undefined &&
  (n.notReady.unreachable || now - n.notReady.since >= NOT_READY_REPLACE_MS);

const isLostForGood = (n: MaybeLost, now: number) =>
  isLost(n, now) && now - n.notReady!.since >= LOST_REMOVE_MS;

/** Lost nodes not Ready for LOST_REMOVE_MS: removed without a drain (their pods cannot be reached). */
export function lostForGood<N extends MaybeLost>(nodes: readonly N[], now: number): N[] {
  return nodes.filter((n) => isLostForGood(n, now));
}

/**
 * The nodes to ask the provider for: the plan's, and one more for each node lost (its kubelet stopped
 * reporting, Ready Unknown, or not Ready for NOT_READY_REPLACE_MS), within maxNodes. A node still booting
 * (Ready False for less than that) is not replaced. A lost node is kept meanwhile (it may come back: the
 * pool then has one node more than the plan wants, which goes after scaleDownDelaySeconds), until it has
 * not been Ready for LOST_REMOVE_MS: then it no longer counts, and is removed (`lostForGood`).
 */
export function targetWithLost(
  planned: number,
  nodes: readonly MaybeLost[],
  now: number,
  maxNodes: number,
): number {
  const lost = nodes.filter((n) => isLost(n, now) && !isLostForGood(n, now)).length;
  return Math.min(maxNodes, planned + lost);
}

/** A node of the pool as the policy sees it (the provider's PoolNode state and the pods bound to it). */
export interface PolicyNode {
  name: string;
  state: "registering" | "ready" | "notReady" | "cordoned" | "draining" | "deleting";
  /** Pods of inferops' InferenceServices running on it. */
  ownedPods: number;
  /** Other pods that stop a removal (DaemonSet and mirror pods excluded). */
  otherPods: number;
  /** For a draining node: when its drain began (ms since the epoch). */
  drainingSince?: number;
}

export interface NodePolicyInput {
  /** Nodes the plan wants, held within minNodes..maxNodes. */
  target: number;
  nodes: readonly PolicyNode[];
  now: number;
  scaleDownDelayMs: number;
  /** The targets of the earlier calls (the last answer's `targets`); none on a new operator. */
  targets?: TargetHistory;
  /** A drain that has not emptied its node after this long is undone. */
  drainTimeoutMs: number;
  /** Whether pods inferops does not own may be evicted (otherwise their nodes are never chosen). */
  evictOtherPods?: boolean;
}

export interface NodePolicy {
  /** Draining nodes to bring back, and why. */
  uncordon: { name: string; reason: string }[];
  /** Nodes to cordon and start draining now. */
  drain: string[];
  /** Draining nodes (those of `drain` included) that still run pods to evict. */
  evict: string[];
  /** Nodes the provider may remove now: drained, or never registered. */
  remove: string[];
  /** Keep for the next call: the targets of the last scaleDownDelaySeconds. */
  targets: [number, number][];
  /** When to look again: a held target running out, or a drain's timeout. */
  requeueAfterMs?: number;
  /** What the policy waits for, in a sentence (status messages). */
  waiting?: string;
}

/** How long a drain may take before it is undone (a PodDisruptionBudget that never allows the eviction). */
export const DRAIN_TIMEOUT_MS = 15 * 60_000;

/**
 * Targets over time, oldest first: [epoch ms from which it stood, target], each standing until the next. The
 * first stood at or before the start of the delay window once the policy has seen a whole window.
 */
export type TargetHistory = readonly (readonly [number, number])[];

export interface HeldTarget {
  /** Nodes held: the highest target of the last scaleDownDelayMs, or every serving node before a whole one was seen. */
  held: number;
  /** The history to keep, with this call's target. */
  targets: [number, number][];
  /** When the held count may next fall (epoch ms), if it is above the target. */
  fallsAt?: number;
}

/** The nodes a pool holds: no target of the last scaleDownDelayMs is given up (rules in the file header). */
export function heldTarget(input: {
  target: number;
  serving: number;
  now: number;
  scaleDownDelayMs: number;
  targets?: TargetHistory;
}): HeldTarget {
  const { target, now } = input;
  const start = now - input.scaleDownDelayMs;
  const all: [number, number][] = (input.targets ?? []).filter(([t]) => t < now).map(([t, v]) => [t, v]);
  if (all.at(-1)?.[1] !== target) all.push([now, target]);
  // An entry stands until the next: it is kept while that next one is inside the window.
  const targets = all.filter((_, i) => i === all.length - 1 || (all[i + 1]?.[0] ?? now) > start);
  const first = targets[0] ?? [now, target];
  const covered = first[0] <= start && input.scaleDownDelayMs > 0;
  let held = Math.max(...targets.map(([, v]) => v));
  if (input.scaleDownDelayMs <= 0) held = target;
  else if (!covered) held = Math.max(held, input.serving);
  if (held <= target) return { held, targets };
  // The held count can fall when the window gives up an entry (when the next one is a delay old), or
  // covers the whole delay.
  const exits = targets.slice(1).map(([t]) => t + input.scaleDownDelayMs);
  if (!covered) exits.push(first[0] + input.scaleDownDelayMs);
  const later = exits.filter((t) => t > now);
  return { held, targets, ...(later.length ? { fallsAt: Math.min(...later) } : {}) };
}

const busy = (n: PolicyNode) => n.ownedPods + n.otherPods;

/** Lower is removed first: never registered, then fewest pods, a node not Ready before a Ready one. */
function disruption(n: PolicyNode): number {
  if (n.state === "registering") return -1;
  return 2 * busy(n) + (n.state === "notReady" ? 0 : 1);
}

export function nodePolicy(input: NodePolicyInput): NodePolicy {
  const { now, target } = input;
  const live = input.nodes.filter((n) => n.state !== "deleting");
  let draining = live.filter((n) => n.state === "draining");
  const serving = live.filter((n) => n.state !== "draining");
  const out: NodePolicy = { uncordon: [], drain: [], evict: [], remove: [], targets: [] };
  const soon: number[] = [];

  // The plan wants more than the serving nodes: draining nodes come back first, the busiest first.
  const deficit = target - serving.length;
  if (deficit > 0 && draining.length > 0) {
    const back = [...draining].sort((a, b) => busy(b) - busy(a)).slice(0, deficit);
    for (const n of back)
      out.uncordon.push({ name: n.name, reason: `the plan wants ${target} node(s) again` });
    const names = new Set(back.map((n) => n.name));
    draining = draining.filter((n) => !names.has(n.name));
  }

  // A drain that cannot finish (a PodDisruptionBudget, a pod that will not go) is undone after its timeout.
  for (const n of draining) {
    const since = n.drainingSince ?? now;
    const stuck = busy(n) > 0 && now - since >= input.drainTimeoutMs;
    if (stuck) {
      out.uncordon.push({
        name: n.name,
        reason: `its drain did not finish within ${Math.round(input.drainTimeoutMs / 1000)} s (${busy(n)} pod(s) left)`,
      });
    } else if (n.otherPods > 0 && !input.evictOtherPods) {
      out.uncordon.push({ name: n.name, reason: `it runs ${n.otherPods} pod(s) inferops does not own` });
    } else if (busy(n) > 0) {
      out.evict.push(n.name);
      soon.push(since + input.drainTimeoutMs - now);
    } else out.remove.push(n.name);
  }

  // Serving nodes above every target of the last scaleDownDelaySeconds: choose which go.
  const hold = heldTarget({
    target,
    serving: serving.length,
    now,
    scaleDownDelayMs: input.scaleDownDelayMs,
    ...(input.targets ? { targets: input.targets } : {}),
  });
  out.targets = hold.targets;
  if (hold.fallsAt !== undefined) soon.push(hold.fallsAt - now);
  const surplus = serving.length - hold.held;
  const held = Math.min(serving.length, hold.held) - target;
  if (held > 0)
    // No countdown in the sentence: it becomes a status message, which must not change every reconcile.
    out.waiting = `${held} node(s) more than the plan wants, held: a node goes once the plan has not wanted it for scaleDownDelaySeconds (${Math.round(input.scaleDownDelayMs / 1000)} s)`;
  if (surplus > 0) {
    const candidates = serving
      .filter((n) => n.state !== "cordoned" && (input.evictOtherPods || n.otherPods === 0))
      .sort((a, b) => disruption(a) - disruption(b) || a.name.localeCompare(b.name))
      .slice(0, surplus);
    for (const n of candidates) {
      if (n.state === "registering") out.remove.push(n.name);
      else {
        out.drain.push(n.name);
        if (busy(n) > 0) out.evict.push(n.name);
        else out.remove.push(n.name);
      }
    }
    if (candidates.length < surplus)
      out.waiting = `${surplus - candidates.length} node(s) more than the plan wants run pods inferops does not own, or were cordoned by someone else: kept`;
  }
  if (soon.length) out.requeueAfterMs = Math.max(1000, Math.min(...soon));
  return out;
}
