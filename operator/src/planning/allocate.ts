// Stage 2: place each service's replicas on its variants (GPU pools), size the pools, and enforce the
// CapacityBudgets. A simple, deterministic allocation; the full optimisation (HiGHS) replaces the placement
// and the cuts later, behind the same inputs and outputs.
//
// 1. Variants are ranked per service by cost per token: pool.costPerNodeHour / gpu.count * gpusPerReplica /
//    profile.maxTokensPerSecond; variants without a profile come after, by cost per replica-hour; ties keep
//    spec order. A variant whose pool is unknown, or whose gpusPerReplica exceeds the pool's gpu.count, is
//    unusable.
// 2. Services are served by priority (then name): first every service's minReplicas, then the rest of what
//    its behaviour allows. Replicas stay on the variant they run on (no churn: a scale-up adds to the best
//    variant with room, a scale-down removes from the worst), and a variant takes a replica only while its
//    pool can still hold all replicas placed on it within maxNodes (static pools: the nodes they have). A
//    pool grows for a service only when its provisioningSeconds fit within the service's lead time
//    (input.leadSeconds): otherwise such services share the GPUs of the nodes it has, or at least those their
//    replicas hold on it now (the optimiser's rule, optimise.ts).
//    Nodes are counted by first-fit decreasing packing of the replicas' GPU requests: ceil(GPUs / gpu.count)
//    when sizes divide the node, more when they do not.
// 3. Budgets (budgets.ts accounting): while a budget's limit in force is exceeded, one replica is cut from
//    the lowest-priority service in scope that contributes to that limit and is above its minReplicas; among
//    equal priorities, from the one granted the largest share of what it asked (fair shares), then by name.
//    A replica is removed from the service's least preferred contributing variant. When only minimums (and
//    services in mode Recommend, whose replicas nobody scales) remain, the budget is reported violated.
// 4. Pools: nodes = max(minNodes, nodes the placed replicas need), at most maxNodes; static pools keep their
//    nodes. Nodes are removed by the pool's provider after scaleDownDelaySeconds of emptiness, not here.

import type { Limits } from "../apis/capacitybudget.ts";
import { Reason } from "../apis/conditions.ts";
import type { Accelerator } from "../apis/inferenceservice.ts";
import {
  addUsage,
  countsAgainst,
  describeUse,
  emptyUsage,
  exceedsLimit,
  footprintUse,
  limitNames,
  nearLimit,
  plannedLimits,
  type ReplicaFootprint,
  replicaFootprint,
  type Usage,
} from "./budgets.ts";
import { DEFAULT_PROVISIONING_SECONDS } from "./decide.ts";
import type { BudgetPlan, BudgetSnapshot, PoolPlan, PoolSnapshot } from "./types.ts";

export interface VariantOption {
  pool: string;
  /** Position in spec.accelerators. */
  index: number;
  gpusPerReplica: number;
  gpuType: string;
  /** profile.maxTokensPerSecond, when given. */
  tokensPerSecond?: number;
  /** profile.maxConcurrentRequests, when given. */
  slots?: number;
  footprint: ReplicaFootprint;
  /** Dollars per million tokens at the profile's capacity, when profiled. */
  costPerMillionTokens?: number;
}

/** The service's usable variants, best first, and the unusable ones with why. */
export function variantOptions(
  accelerators: readonly Accelerator[],
  pools: ReadonlyMap<string, PoolSnapshot>,
): { options: VariantOption[]; unusable: { pool: string; why: string }[] } {
  const options: VariantOption[] = [];
  const unusable: { pool: string; why: string }[] = [];
  accelerators.forEach((a, index) => {
    const pool = pools.get(a.pool);
    if (!pool) {
      unusable.push({ pool: a.pool, why: `GPUNodePool ${a.pool} does not exist` });
      return;
    }
    const { gpu } = pool.spec;
    if (a.gpusPerReplica > gpu.count) {
      unusable.push({
        pool: a.pool,
        why: `a replica requests ${a.gpusPerReplica} GPUs but nodes of GPUNodePool ${a.pool} have ${gpu.count}`,
      });
      return;
    }
    const footprint = replicaFootprint(pool.spec, a.gpusPerReplica, pool.power?.wattsPerGPU);
    const tps = a.profile?.maxTokensPerSecond;
    options.push({
      pool: a.pool,
      index,
      gpusPerReplica: a.gpusPerReplica,
      gpuType: gpu.type,
      tokensPerSecond: tps,
      slots: a.profile?.maxConcurrentRequests,
      footprint,
      costPerMillionTokens: tps !== undefined ? (footprint.costPerHour / tps / 3600) * 1e6 : undefined,
    });
  });
  options.sort((x, y) => {
    const px = x.costPerMillionTokens;
    const py = y.costPerMillionTokens;
    if (px !== undefined && py !== undefined && px !== py) return px - py;
    if (px !== undefined && py === undefined) return -1;
    if (px === undefined && py !== undefined) return 1;
    if (px === undefined && x.footprint.costPerHour !== y.footprint.costPerHour) {
      return x.footprint.costPerHour - y.footprint.costPerHour;
    }
    return x.index - y.index;
  });
  return { options, unusable };
}

/** Nodes of `perNode` GPUs needed for replicas of the given sizes (GPUs -> count): first-fit decreasing. */
export function nodesFor(counts: ReadonlyMap<number, number>, perNode: number): number {
  const gpus = chainGPUs(counts, perNode);
  if (gpus !== undefined) return Math.ceil(gpus / perNode);
  // Open nodes grouped by free GPUs: [free, nodes], in opening order.
  let groups: [number, number][] = [];
  let nodes = 0;
  const sizes = [...counts].filter(([, n]) => n > 0).sort((a, b) => b[0] - a[0]);
  for (const [size, count] of sizes) {
    if (size > perNode) return Number.POSITIVE_INFINITY;
    let n = count;
    const next: [number, number][] = [];
    for (const [free, c] of groups) {
      const per = Math.floor(free / size);
      if (n === 0 || per === 0) {
        next.push([free, c]);
        continue;
      }
      const full = Math.min(c, Math.floor(n / per));
      if (full > 0) next.push([free - per * size, full]);
      n -= full * per;
      let rest = c - full;
      if (rest > 0 && n > 0) {
        next.push([free - n * size, 1]);
        n = 0;
        rest--;
      }
      if (rest > 0) next.push([free, rest]);
    }
    if (n > 0) {
      const perNew = Math.floor(perNode / size);
      const full = Math.floor(n / perNew);
      const rem = n % perNew;
      if (full > 0) next.push([perNode - perNew * size, full]);
      if (rem > 0) next.push([perNode - rem * size, 1]);
      nodes += full + (rem > 0 ? 1 : 0);
    }
    groups = next;
  }
  return nodes;
}

/**
 * The GPUs of the replicas when their sizes (and `adding`, when given) divide each other and the node (1, 2,
 * 4 on 8), else undefined.
 * Such sizes pack without gaps (first-fit decreasing leaves each node's free GPUs a multiple of the next
 * size), so they need ceil(GPUs / perNode) nodes.
 */
function chainGPUs(
  counts: ReadonlyMap<number, number>,
  perNode: number,
  adding?: number,
): number | undefined {
  if (adding !== undefined && (adding > perNode || perNode % adding !== 0)) return undefined;
  let gpus = 0;
  for (const [size, n] of counts) {
    if (n <= 0) continue;
    if (size > perNode || perNode % size !== 0) return undefined;
    if (adding !== undefined && (adding < size ? size % adding : adding % size) !== 0) return undefined;
    for (const [other, m] of counts) {
      if (m > 0 && other < size && size % other !== 0) return undefined;
    }
    gpus += size * n;
  }
  return gpus;
}

export interface ServiceAsk {
  key: string;
  namespace: string;
  priority: number;
  minReplicas: number;
  /** Replicas wanted (after behaviour and bounds). */
  desired: number;
  /** Usable variants, best first (variantOptions). */
  options: VariantOption[];
  /** Why the other variants are unusable, for messages. */
  unusable?: string[];
  /** Every variant in spec order, for the output (unusable ones get 0). */
  pools: string[];
  /** Replicas per pool now. */
  current: Record<string, number>;
  /** Pods per pool being deleted and still holding their GPUs (VariantState.terminating). */
  draining?: Record<string, number>;
  /** Mode Recommend: nothing is scaled; its current replicas are what the cluster holds. */
  fixed: boolean;
}

export interface Placement {
  variants: { pool: string; replicas: number }[];
  total: number;
  /** Set when pools or budgets gave less than desired. */
  limitedBy?: { reason: string; message: string };
}

export interface Allocation {
  services: Map<string, Placement>;
  pools: PoolPlan[];
  budgets: BudgetPlan[];
}

interface PoolState {
  snap: PoolSnapshot;
  /** Most nodes the pool may have: maxNodes, or the nodes it has when static. */
  nodeLimit: number;
  /** Replicas placed on the pool: GPUs per replica -> replicas. */
  counts: Map<number, number>;
  /** A placement wanted more than the pool could hold. */
  refused: boolean;
  /** GPUs the pool offers services whose lead time is shorter than its provisioning (leadTimeGPUs). */
  shortCap: number;
  /** GPUs such services' replicas use on it. */
  shortUsed: number;
  /** Set when such a service wanted more than shortCap: why, for the pool's and the service's messages. */
  leadNote?: string;
}

interface AskState {
  ask: ServiceAsk;
  /** Replicas placed per option (ask.options' order). */
  placed: number[];
  /** Each option's pool. */
  pools: PoolState[];
  /** Per option: whether its pool can add nodes for this service within its lead time (growsWithin). */
  growable: boolean[];
  total: number;
  /** Replicas refused for want of pool room. */
  short: number;
  /** Pools that could not add nodes within its lead time when it wanted more (their leadNote). */
  leadLimited?: Set<PoolState>;
  /** Replicas cut per budget and limit: "budget\u0000limit" -> n. */
  cuts?: Map<string, number>;
  /** The budget figures of its latest cut per budget and limit ("budget\u0000limit"), oldest first. */
  cutUse?: Map<string, { budget: string; limits: Limits; limit: string; use: number }>;
}

/**
 * Whether a pool can add nodes for a service within its lead time (seconds; undefined: no limit): static
 * pools never add nodes (their limit is the nodes they have), others when provisioningSeconds fit.
 */
export function growsWithin(pool: PoolSnapshot, leadSeconds: number | undefined): boolean {
  const prov = pool.spec.provisioningSeconds ?? DEFAULT_PROVISIONING_SECONDS;
  return pool.spec.provider.type === "static" || leadSeconds === undefined || prov <= leadSeconds;
}

/** Why a service whose lead time is shorter than the pool's provisioning got no more of it. */
export function leadTimeNote(pool: PoolSnapshot, existing: number): string {
  const prov = pool.spec.provisioningSeconds ?? DEFAULT_PROVISIONING_SECONDS;
  return `GPUNodePool ${pool.name} cannot add nodes within the lead time (provisioningSeconds ${prov}): only its ${existing} nodes count, and they are full`;
}

function fits(pool: PoolState, size: number, k: number): boolean {
  const counts = new Map(pool.counts);
  counts.set(size, (counts.get(size) ?? 0) + k);
  return nodesFor(counts, pool.snap.spec.gpu.count) <= pool.nodeLimit;
}

/** The most of `want` replicas of `size` GPUs the pool can still hold. */
function room(pool: PoolState, size: number, want: number): number {
  if (want <= 0) return 0;
  const perNode = pool.snap.spec.gpu.count;
  const gpus = chainGPUs(pool.counts, perNode, size);
  if (gpus !== undefined) {
    // Sizes that pack without gaps: the GPUs left on nodeLimit nodes.
    return Math.max(0, Math.min(want, Math.floor((pool.nodeLimit * perNode - gpus) / size)));
  }
  if (fits(pool, size, want)) return want;
  let lo = 0;
  let hi = want; // fits(lo), !fits(hi)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(pool, size, mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The most of `want` replicas the service can still place on option `i`: room, and the lead-time rule. */
function roomFor(st: AskState, pool: PoolState, i: number, want: number): number {
  const size = st.ask.options[i]!.gpusPerReplica;
  const k = room(pool, size, want);
  return st.growable[i] ? k : Math.min(k, Math.max(0, Math.floor((pool.shortCap - pool.shortUsed) / size)));
}

function put(st: AskState, pool: PoolState, i: number, k: number): void {
  if (k <= 0) return;
  const option = st.ask.options[i]!;
  pool.counts.set(option.gpusPerReplica, (pool.counts.get(option.gpusPerReplica) ?? 0) + k);
  if (!st.growable[i]) pool.shortUsed += option.gpusPerReplica * k;
  st.placed[i]! += k;
  st.total += k;
}

function take(st: AskState, pool: PoolState, i: number): void {
  const option = st.ask.options[i]!;
  pool.counts.set(option.gpusPerReplica, (pool.counts.get(option.gpusPerReplica) ?? 0) - 1);
  if (!st.growable[i]) pool.shortUsed -= option.gpusPerReplica;
  st.placed[i]! -= 1;
  st.total -= 1;
}

/** Places up to `upTo` replicas in all: first where replicas run now, then on the best variants with room. */
function place(st: AskState, upTo: number): void {
  const { ask } = st;
  ask.options.forEach((o, i) => {
    const pool = st.pools[i]!;
    const stay = Math.min((ask.current[o.pool] ?? 0) - st.placed[i]!, upTo - st.total);
    put(st, pool, i, roomFor(st, pool, i, stay));
  });
  ask.options.forEach((o, i) => {
    const pool = st.pools[i]!;
    const want = upTo - st.total;
    const k = roomFor(st, pool, i, want);
    if (k < want) {
      pool.refused = true;
      if (room(pool, o.gpusPerReplica, want) > k) {
        pool.leadNote = leadTimeNote(pool.snap, Math.min(pool.snap.nodes, pool.snap.spec.maxNodes));
        st.leadLimited ??= new Set();
        st.leadLimited.add(pool);
      }
    }
    put(st, pool, i, k);
  });
}

/** An advisory split for a service nothing scales (mode Recommend): current stays, more on the best, fewer off the worst. */
export function advisorySplit(ask: ServiceAsk): Map<string, number> {
  const out = new Map(ask.options.map((o) => [o.pool, ask.current[o.pool] ?? 0]));
  let have = [...out.values()].reduce((a, b) => a + b, 0);
  for (let i = ask.options.length - 1; i >= 0 && have > ask.desired; i--) {
    const p = ask.options[i]!.pool;
    const cut = Math.min(out.get(p)!, have - ask.desired);
    out.set(p, out.get(p)! - cut);
    have -= cut;
  }
  const best = ask.options[0];
  if (have < ask.desired && best) out.set(best.pool, out.get(best.pool)! + ask.desired - have);
  return out;
}

function byPriority(a: AskState, b: AskState): number {
  return b.ask.priority - a.ask.priority || (a.ask.key < b.ask.key ? -1 : a.ask.key > b.ask.key ? 1 : 0);
}

export function allocate(input: {
  asks: readonly ServiceAsk[];
  pools: readonly PoolSnapshot[];
  budgets: readonly BudgetSnapshot[];
  nowMs: number;
  /** Lead time per service key (seconds); a pool grows for a service only within it. Absent: no limit. */
  leadSeconds?: ReadonlyMap<string, number>;
}): Allocation {
  const pools = new Map<string, PoolState>(
    input.pools.map((p) => [
      p.name,
      {
        snap: p,
        nodeLimit:
          p.spec.provider.type === "static" || p.cannotGrow !== undefined
            ? Math.min(p.nodes, p.spec.maxNodes)
            : p.spec.maxNodes,
        counts: new Map(),
        refused: false,
        shortCap: 0,
        shortUsed: 0,
      },
    ]),
  );
  const states = input.asks.map((ask): AskState => {
    const lead = input.leadSeconds?.get(ask.key);
    return {
      ask,
      placed: ask.options.map(() => 0),
      pools: ask.options.map((o) => pools.get(o.pool)!),
      growable: ask.options.map((o) => growsWithin(pools.get(o.pool)!.snap, lead)),
      total: 0,
      short: 0,
    };
  });
  // Services whose lead time is shorter than a pool's provisioning get only the nodes it has, or at least
  // the GPUs their replicas hold on it now (a replica that runs keeps its node).
  const held = new Map<string, number>();
  for (const st of states) {
    st.ask.options.forEach((o, i) => {
      if (!st.growable[i])
        held.set(o.pool, (held.get(o.pool) ?? 0) + o.gpusPerReplica * (st.ask.current[o.pool] ?? 0));
    });
  }
  for (const pool of pools.values()) {
    const existing = Math.min(pool.snap.nodes, pool.snap.spec.maxNodes);
    pool.shortCap = Math.max(pool.snap.spec.gpu.count * existing, held.get(pool.snap.name) ?? 0);
  }

  // Services nobody scales hold what they hold: it occupies pools and counts against budgets.
  for (const st of states.filter((s) => s.ask.fixed)) {
    st.ask.options.forEach((o, i) => {
      put(st, pools.get(o.pool)!, i, st.ask.current[o.pool] ?? 0);
    });
  }
  const scaled = states.filter((s) => !s.ask.fixed).sort(byPriority);
  for (const st of scaled) place(st, Math.min(st.ask.minReplicas, st.ask.desired));
  for (const st of scaled) place(st, st.ask.desired);
  for (const st of scaled) st.short = st.ask.desired - st.total;

  const budgets = enforceBudgets(input.budgets, states, pools, input.nowMs);

  const services = new Map<string, Placement>();
  for (const st of states) services.set(st.ask.key, placement(st));
  return {
    services,
    pools: input.pools.map((p) => {
      const st = pools.get(p.name)!;
      return poolPlan(p, st.counts, st.refused, st.leadNote);
    }),
    budgets,
  };
}

/** Replicas placed on a pool (its last option there, as a map by pool would keep). */
function placedOn(st: AskState, pool: string): number {
  for (let i = st.ask.options.length - 1; i >= 0; i--)
    if (st.ask.options[i]!.pool === pool) return st.placed[i]!;
  return 0;
}

function placement(st: AskState): Placement {
  const { ask } = st;
  const split = ask.fixed ? advisorySplit(ask) : undefined;
  const variants = ask.pools.map((pool) => ({
    pool,
    replicas: split ? (split.get(pool) ?? 0) : placedOn(st, pool),
  }));
  const total = variants.reduce((s, v) => s + v.replicas, 0);
  if (ask.fixed) return { variants, total };
  let limitedBy: Placement["limitedBy"];
  if (ask.options.length === 0 && ask.desired > 0) {
    limitedBy = {
      reason: Reason.NoUsableVariant,
      message: `no variant can be placed: ${(ask.unusable ?? []).join("; ") || "spec.accelerators names no usable GPUNodePool"}`,
    };
  } else if (st.short > 0) {
    limitedBy = {
      reason: Reason.PoolAtMaxNodes,
      message: `${st.short} of ${ask.desired} replicas do not fit: GPUNodePools ${ask.options.map((o) => o.pool).join(", ")} are full (at maxNodes, static, or unable to add nodes now: see their GPUNodePools)${[...(st.leadLimited ?? [])].map((p) => `; ${p.leadNote}`).join("")}${total < ask.minReplicas ? ` (below minReplicas ${ask.minReplicas})` : ""}`,
    };
  }
  if (st.cuts && st.cuts.size > 0) {
    const cut = [...st.cuts.values()].reduce((a, b) => a + b, 0);
    const budget = {
      reason: Reason.BudgetBinding,
      message: `${cut} replicas held back by CapacityBudget: ${[...st.cutUse!.values()].map((c) => `${c.budget} ${c.limit} (${describeUse(c.use, c.limits, c.limit)})`).join("; ")}`,
    };
    limitedBy = limitedBy
      ? { reason: budget.reason, message: `${budget.message}; ${limitedBy.message}` }
      : budget;
  }
  return { variants, total, limitedBy };
}

/**
 * A pool's nodes for the replicas placed on it (GPUs per replica -> replicas); `refused` when a placement
 * wanted more than it holds, `note` says why when it is not maxNodes.
 */
export function poolPlan(
  snap: PoolSnapshot,
  counts: ReadonlyMap<number, number>,
  refused: boolean,
  note?: string,
): PoolPlan {
  const pool = { snap };
  const { spec } = snap;
  const needed = nodesFor(counts, spec.gpu.count);
  const gpus = [...counts].reduce((s, [size, n]) => s + size * n, 0);
  const what = `${gpus} GPUs requested need ${needed} nodes of ${spec.gpu.count}`;
  if (spec.provider.type === "static") {
    return {
      name: pool.snap.name,
      nodes: {
        value: pool.snap.nodes,
        reason: Reason.StaticPool,
        message: `provider static: the pool keeps its ${pool.snap.nodes} nodes (${what})`,
      },
    };
  }
  const wanted = Math.max(spec.minNodes, needed);
  if (snap.cannotGrow !== undefined && refused) {
    return {
      name: pool.snap.name,
      nodes: {
        value: Math.min(wanted, spec.maxNodes),
        reason: snap.cannotGrowReason ?? Reason.CapacityUnavailable,
        message: `${what}; the pool cannot add nodes now (${snap.cannotGrow}): only its ${snap.nodes} nodes count`,
      },
    };
  }
  if (wanted > spec.maxNodes || refused) {
    return {
      name: pool.snap.name,
      nodes: {
        value: Math.min(wanted, spec.maxNodes),
        reason: Reason.PoolAtMaxNodes,
        message: `${what}; ${note ?? `more replicas wanted the pool than maxNodes ${spec.maxNodes} holds`}`,
      },
    };
  }
  if (spec.minNodes >= needed && spec.minNodes > 0) {
    return {
      name: pool.snap.name,
      nodes: { value: wanted, reason: Reason.PoolMinNodes, message: `minNodes ${spec.minNodes} (${what})` },
    };
  }
  return { name: pool.snap.name, nodes: { value: wanted, reason: Reason.NodesForReplicas, message: what } };
}

function usageOf(states: readonly AskState[]): Usage {
  const u = emptyUsage();
  for (const st of states) {
    st.ask.options.forEach((o, i) => {
      addUsage(u, o.footprint, st.placed[i]!);
    });
  }
  return u;
}

function inScope(b: BudgetSnapshot, st: AskState): boolean {
  return b.namespaces === undefined || b.namespaces.includes(st.ask.namespace);
}

/** What the states use of one named limit: usageOf(states)'s figure for it, summed in the same order. */
function limitUsed(states: readonly AskState[], limit: string): number {
  let u = 0;
  if (limit === "costPerHour" || limit === "powerWatts") {
    const cost = limit === "costPerHour";
    for (const st of states) {
      const { options } = st.ask;
      for (let i = 0; i < options.length; i++) {
        const f = options[i]!.footprint;
        u += (cost ? f.costPerHour : f.powerWatts) * st.placed[i]!;
      }
    }
    return u;
  }
  const type = limit.slice("gpus/".length);
  for (const st of states) {
    const { options } = st.ask;
    for (let i = 0; i < options.length; i++) {
      const f = options[i]!.footprint;
      if (f.gpuType === type) u += f.gpus * st.placed[i]!;
    }
  }
  return u;
}

/**
 * Whom a budget cuts next for a limit: the lowest-priority service in scope above its minReplicas with a
 * replica that counts against the limit; then the largest share of what it asked, the most replicas, the key.
 * A heap of the services in that order, each entry with the replicas the service had when it went in: a cut
 * only moves a service later in the order, so an entry whose service has fewer replicas now goes back in
 * with them, and the first entry that is still current is the next to cut.
 */
class Victims {
  private heap: { st: AskState; total: number }[] = [];
  private readonly limit: string;
  constructor(scope: readonly AskState[], limit: string) {
    this.limit = limit;
    for (const st of scope) if (this.eligible(st)) this.push(st);
  }

  private eligible(st: AskState): boolean {
    return (
      !st.ask.fixed &&
      st.total > st.ask.minReplicas &&
      st.ask.options.some((o, i) => st.placed[i]! > 0 && countsAgainst(o.footprint, this.limit))
    );
  }

  private before(a: { st: AskState; total: number }, b: { st: AskState; total: number }): boolean {
    return cutBefore(a.st.ask, a.total, b.st.ask, b.total) < 0;
  }

  push(st: AskState): void {
    const h = this.heap;
    h.push({ st, total: st.total });
    for (let i = h.length - 1; i > 0; ) {
      const up = (i - 1) >> 1;
      if (!this.before(h[i]!, h[up]!)) break;
      [h[i], h[up]] = [h[up]!, h[i]!];
      i = up;
    }
  }

  private pop(): { st: AskState; total: number } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  /** The next service to cut (taken out: push it back after the cut), or undefined when none is left. */
  next(): AskState | undefined {
    for (let e = this.pop(); e; e = this.pop()) {
      if (e.total !== e.st.total) {
        this.push(e.st);
        continue;
      }
      if (this.eligible(e.st)) return e.st;
    }
    return undefined;
  }
}

function cutBefore(a: ServiceAsk, aTotal: number, b: ServiceAsk, bTotal: number): number {
  return (
    a.priority - b.priority ||
    bTotal / b.desired - aTotal / a.desired ||
    bTotal - aTotal ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

/** Cuts replicas until every budget's limits in force hold, or only minimums are left (then: violated). */
function enforceBudgets(
  budgets: readonly BudgetSnapshot[],
  states: AskState[],
  pools: Map<string, PoolState>,
  nowMs: number,
): BudgetPlan[] {
  const ordered = [...budgets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const ctx = ordered.map((b) => ({
    budget: b,
    ...plannedLimits(b.spec, nowMs),
    scope: states.filter((st) => inScope(b, st)),
    violated: new Map<string, string>(),
    heldBack: new Map<string, { key: string; replicas: number; limit: string }>(),
    /** What the scope uses per limit: summed once, then less each replica cut (see used). */
    known: new Map<string, number>(),
    /** Whom to cut next per limit (victims). */
    queues: new Map<string, Victims>(),
  }));
  // A sum kept up to date cut by cut drifts from a fresh sum by rounding; near the limit, where the drift
  // could change a decision, the scope is summed again, so every decision is the one a fresh sum makes.
  const used = (c: (typeof ctx)[number], limit: string): number => {
    let use = c.known.get(limit);
    if (use === undefined || nearLimit(use, c.limits, limit)) {
      use = limitUsed(c.scope, limit);
      c.known.set(limit, use);
    }
    return use;
  };
  const cut = (victim: AskState, i: number): void => {
    const { footprint } = victim.ask.options[i]!;
    take(victim, pools.get(victim.ask.options[i]!.pool)!, i);
    for (const c of ctx) {
      if (!inScope(c.budget, victim)) continue;
      for (const [l, use] of c.known) {
        if (countsAgainst(footprint, l)) c.known.set(l, use - footprintUse(footprint, l));
      }
    }
  };

  for (;;) {
    let acted = false;
    for (const c of ctx) {
      // The first limit in force that the scope exceeds and that is not already reported violated.
      let limit: string | undefined;
      let use = 0;
      for (const l of limitNames(c.limits)) {
        if (c.violated.has(l)) continue;
        use = used(c, l);
        if (exceedsLimit(use, c.limits, l)) {
          limit = l;
          break;
        }
      }
      if (limit === undefined) continue;
      acted = true;
      let queue = c.queues.get(limit);
      if (!queue) {
        queue = new Victims(c.scope, limit);
        c.queues.set(limit, queue);
      }
      const victim = queue.next();
      if (!victim) {
        c.violated.set(
          limit,
          `${limit}: minimums alone use ${describeUse(use, c.limits, limit)}` +
            (c.scope.some((st) => st.ask.fixed) ? " (services in mode Recommend count as they run)" : ""),
        );
        break;
      }
      const i = victim.ask.options.findLastIndex(
        (o, j) => victim.placed[j]! > 0 && countsAgainst(o.footprint, limit),
      );
      cut(victim, i);
      queue.push(victim);
      const id = `${c.budget.name}\u0000${limit}`;
      victim.cuts ??= new Map();
      victim.cutUse ??= new Map();
      const n = (victim.cuts.get(id) ?? 0) + 1;
      victim.cuts.set(id, n);
      victim.cutUse.delete(id);
      victim.cutUse.set(id, { budget: c.budget.name, limits: c.limits, limit, use: used(c, limit) });
      c.heldBack.set(`${victim.ask.key}\u0000${limit}`, { key: victim.ask.key, replicas: n, limit });
      break;
    }
    if (!acted) break;
  }

  const plans = new Map(ctx.map((c) => [c.budget, budgetPlan(c)] as const));
  return budgets.map((b) => plans.get(b)!);
}

function budgetPlan(c: {
  budget: BudgetSnapshot;
  window?: string;
  scope: AskState[];
  violated: Map<string, string>;
  heldBack: Map<string, { key: string; replicas: number; limit: string }>;
}): BudgetPlan {
  return budgetResult(c.budget.name, usageOf(c.scope), [...c.heldBack.values()], c.window, [
    ...c.violated.values(),
  ]);
}

/** A budget's line in the Plan: what its scope uses, who was held back, and what minimums alone exceed. */
export function budgetResult(
  name: string,
  usage: Usage,
  heldBack: BudgetPlan["heldBack"],
  window: string | undefined,
  violated: readonly string[],
): BudgetPlan {
  const plan: BudgetPlan = {
    name,
    used: {
      costPerHour: usage.costPerHour,
      powerWatts: usage.powerWatts,
      gpus: Object.fromEntries(Object.entries(usage.gpus).filter(([, n]) => n > 0)),
    },
    heldBack,
  };
  if (window !== undefined) plan.activeWindow = window;
  if (violated.length > 0) plan.violated = violated.join("; ");
  return plan;
}
