// Pure: whether a GPUNodePool's provisioning stands stalled, and until when. A node asked for that has not
// registered within twice provisioningSeconds plus a minute is late; the pool then reports ProviderFailing
// (ProvisioningStalled) and the planner counts only the nodes it has. That plan stops asking for the late
// node, so the evidence goes (the placeholder a provider shows for a node asked for goes with the ask): a
// stall read afresh on every reconcile would clear at once, the plan would ask again, and the clock would
// start again, for ever. So a stall is held, as a provider's "no capacity" is (CAPACITY_HOLD_MS) and as
// cluster-autoscaler backs off a node group after a failed scale-up: it stands until a hold after it was
// last seen, then growth is tried again; a registered node the pool did not have when the stall was recorded
// ends it sooner (the provider evidently works again).
import { Reason } from "../../apis/conditions.ts";
import type { PoolNode } from "../../nodepools/provider.ts";

/**
 * The hold after a first stall was last seen, doubling with each stall that follows before the provider
 * proved it works, to STALL_HOLD_MAX_MS: cluster-autoscaler's node group backoff (its
 * --initial-node-group-backoff-duration and --max-node-group-backoff-duration defaults). Doubling, because
 * each try costs a whole 2 * provisioningSeconds + 60 s during which the planner counts on nodes that do not
 * come (replicas wait Pending instead of going to another pool): a provider that stays down is tried every
 * 5, 10, 20, then 30 minutes, not every 5 for ever; capped, so one that comes back unnoticed (no node
 * registers while nothing is asked) is tried again within half an hour.
 */
export const STALL_HOLD_MS = 5 * 60_000;
export const STALL_HOLD_MAX_MS = 30 * 60_000;
/** A stall seen this long after the last one starts again at STALL_HOLD_MS (cluster-autoscaler's reset timeout). */
export const STALL_RESET_MS = 3 * 60 * 60_000;

/** What the controller keeps of a pool's stalls between reconciles. */
export interface StallMemory {
  /** Stalls in a row, this one included: the hold is STALL_HOLD_MS * 2^(strikes - 1), at most the max. */
  strikes: number;
  /** The pool's registered nodes when this stall was recorded: a node not among them ends it. */
  registered: readonly string[];
  /** The late nodes as last seen, and how long they had been given. */
  late: readonly string[];
  allowedMs: number;
  /** When late nodes were last seen (ms since the epoch). */
  seenMs: number;
  /** The hold's end: seenMs plus the hold. */
  untilMs: number;
}

export interface Stall {
  /** Keep for the next reconcile; undefined: nothing to remember. */
  memory?: StallMemory;
  /** The ProvisioningStalled condition's message while the stall stands; undefined: not stalled. */
  stalled?: string;
  /** When the hold ends, to look again then. */
  requeueAfterMs?: number;
  /** Why no stall stands now, when one was remembered: the note of the ProvisioningResumed event. */
  resumed?: string;
}

/** A node asked for is late this long after it was: twice provisioningSeconds plus a minute. */
const lateAfterMs = (provisioningMs: number): number => 2 * provisioningMs + 60_000;

export const holdFor = (strikes: number): number =>
  Math.min(STALL_HOLD_MAX_MS, STALL_HOLD_MS * 2 ** Math.max(0, strikes - 1));

const registeredOf = (nodes: readonly PoolNode[]) =>
  nodes.filter((n) => n.state !== "registering" && n.state !== "deleting").map((n) => n.name);

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
const inARow = (strikes: number) => (strikes > 1 ? ` (stall ${strikes} in a row)` : "");

export function stall(input: {
  previous?: StallMemory;
  nodes: readonly PoolNode[];
  provisioningMs: number;
  nowMs: number;
}): Stall {
  const { nodes, nowMs } = input;
  const allowedMs = lateAfterMs(input.provisioningMs);
  const late = nodes.filter((n) => n.state === "registering" && nowMs - n.createdAt > allowedMs);
  const registered = registeredOf(nodes);
  const was = input.previous;
  const fresh = was ? registered.filter((n) => !was.registered.includes(n)) : [];
  let resumed: string | undefined;
  let previous = was;
  // A node registered that the pool did not have: the provider works again, the streak is forgotten.
  if (was && fresh.length) {
    if (nowMs < was.untilMs) resumed = `node(s) ${fresh.join(", ")} registered: the provider works again`;
    previous = undefined;
  }
  if (previous && nowMs - previous.seenMs >= STALL_RESET_MS) previous = undefined;
  const holding = previous && nowMs < previous.untilMs ? previous : undefined;

  if (late.length) {
    // Seen again within the hold: the same stall, its hold counted from now. Otherwise one more in a row.
    const strikes = holding ? holding.strikes : (previous?.strikes ?? 0) + 1;
    const hold = holdFor(strikes);
    const memory: StallMemory = {
      strikes,
      registered: holding ? holding.registered : registered,
      late: late.map((n) => n.name),
      allowedMs,
      seenMs: nowMs,
      untilMs: nowMs + hold,
    };
    // No countdown in the sentence while they are seen: it is a status message, rewritten only on a change.
    return {
      memory,
      stalled: `${late.length} node(s) asked for have not registered after ${Math.round(allowedMs / 1000)} s (${memory.late.join(", ")}); no more are asked for while they count; the pool counts only the nodes it has until ${minutes(hold)} after they were last seen late${inARow(strikes)}, unless a new node registers; then growth is tried again`,
      requeueAfterMs: hold,
    };
  }
  if (holding) {
    return {
      memory: holding,
      stalled: `${holding.late.length ? `${holding.late.length} node(s) asked for did not register within ${Math.round(holding.allowedMs / 1000)} s (${holding.late.join(", ")})` : "the pool reported nodes asked for that did not register in time before the operator restarted"}; the pool counts only the nodes it has until ${new Date(holding.untilMs).toISOString()}${inARow(holding.strikes)}, unless a new node registers; then growth is tried again`,
      requeueAfterMs: holding.untilMs - nowMs,
    };
  }
  resumed ??= previous
    ? `the ${minutes(holdFor(previous.strikes))} hold after the stall ended: growth is tried again`
    : undefined;
  return { ...(previous ? { memory: previous } : {}), ...(resumed ? { resumed } : {}) };
}

/**
 * The stall a pool's status reports, taken up by an operator that has no memory of it (restarted, or a new
 * leader): the hold starts again from now, for STALL_HOLD_MS, with the nodes made before the condition's
 * lastTransitionTime as the ones the pool had. Forgetting it instead would clear the condition at once, and
 * the plan would ask the stalled pool again (a stall again 2 * provisioningSeconds + 60 s later): each
 * restart would cost the replicas that wait for it. Undefined when the status reports no stall.
 */
export function stallFromStatus(input: {
  condition?: { status?: string; reason?: string; lastTransitionTime?: string };
  nodes: readonly PoolNode[];
  provisioningMs: number;
  nowMs: number;
}): StallMemory | undefined {
  const c = input.condition;
  if (c?.status !== "True" || c.reason !== Reason.ProvisioningStalled) return undefined;
  // The nodes the pool had when the stall began: a node made since then that has registered ends it.
  const since = Date.parse(c.lastTransitionTime ?? "");
  const had = Number.isFinite(since) ? input.nodes.filter((n) => n.createdAt <= since) : input.nodes;
  return {
    strikes: 1,
    registered: registeredOf(had),
    late: [],
    allowedMs: lateAfterMs(input.provisioningMs),
    seenMs: input.nowMs,
    untilMs: input.nowMs + STALL_HOLD_MS,
  };
}
