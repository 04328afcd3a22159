// Stage 2 as an optimisation: replicas per (service, variant) and nodes per pool from a small mixed-integer
// program solved with HiGHS (the `highs` package, WebAssembly), with the greedy (allocate.ts) as the
// fallback that always returns a feasible plan. Same inputs and the same Allocation as the greedy.
//
// The objective, lexicographic (HiGHS' multi-objective mode, highest priority first):
//   1. minimums: each priority, highest first, places as many of its services' minReplicas as the pools
//      hold (budgets never cut a minimum: when minimums alone exceed a budget, the budget is violated);
//   2. the rest: each priority, highest first, places as many replicas as pools and budgets allow (a
//      higher priority is never cut for a lower one);
//   3. cost: the lowest cost per token (the variant ranking of allocate.ts: $ per million tokens at the
//      profile's capacity; unprofiled variants after, by $ per replica-hour), plus churn: a running replica
//      that moves pays its model load time (MODEL_LOAD_SECONDS) over the time a plan is expected to hold
//      (PLAN_HOLD_SECONDS), so it moves only when the new variant is at least CHURN_PENALTY cheaper.
// Constraints:
//   - a variant's pool holds its replicas on at most maxNodes nodes (static pools: the nodes they have); a
//     replica never spans nodes. GPUs per replica that divide each other and the node pack exactly by GPU
//     count; other sizes get nodes of their own per size (conservative), and the nodes a pool needs are
//     then counted by first-fit decreasing (allocate.ts nodesFor);
//   - a non-static pool grows for a service only when its provisioningSeconds fit within the service's lead
//     time: otherwise only the nodes it has count for that service's replicas;
//   - each CapacityBudget limit in force (dollars/hour, watts, GPUs per type, over the services in its
//     scope) holds for what the plan adds above the minimums, as budgets.ts counts it.
// Decomposition, so that 10,000 services stay fast: every service first gets its own optimum (closed form:
// its cheapest variants, minus churn). Only the pools and budgets that this ideal exceeds bind; only the
// services touching a binding pool or budget go into the program, the others keep their optimum (their
// usage is a constant in the program's rows). The program's linear relaxation is solved first to find the
// pools and budgets it fills while a service is short (probeProgram): they bind as well. A pool or budget
// the program then fills is added and the program solved again (at most MAX_ROUNDS). Services with identical
// options, priority and budget scopes are one class in the program, split back to services fairly
// (water-filling by share of what each asked).
// Solving: each phase (minimums, then the rest) solves the lexicographic relaxation first; when its replicas
// per priority are whole numbers, a rounded solution reaching them within HiGHS' gap on cost, else one
// integer program for the cost with those totals held, stands for the lexicographic integer program, which
// runs only when neither does (viaRelaxation).
// Determinism: HiGHS is single-threaded here and stops at MAX_MIP_NODES (a count, not a clock); the time
// limit is a safety net, and when it is hit the greedy's plan is used.
import highsModule, { type LinearObjectiveInput } from "highs";
import { Reason } from "../apis/conditions.ts";
import {
  type Allocation,
  advisorySplit,
  allocate,
  budgetResult,
  growsWithin,
  leadTimeNote,
  nodesFor,
  type Placement,
  poolPlan,
  type ServiceAsk,
  type VariantOption,
} from "./allocate.ts";
import {
  addUsage,
  describeLimit,
  emptyUsage,
  exceededLimits,
  type limitsInForce,
  plannedLimits,
  type Usage,
} from "./budgets.ts";
import { MODEL_LOAD_SECONDS } from "./decide.ts";
import type { BudgetPlan, BudgetSnapshot, PoolSnapshot } from "./types.ts";

// The package's types describe its CommonJS build; Node loads its ES module, whose default is the loader.
const loadHighs = highsModule as unknown as typeof highsModule.default;
const highs = await loadHighs();
warmUp();

/** How long a plan is expected to hold: a moved replica's load time is weighed against this. */
export const PLAN_HOLD_SECONDS = 300;
/** A running replica moves only to a variant at least this much cheaper per token (load time / hold). */
export const CHURN_PENALTY = MODEL_LOAD_SECONDS / PLAN_HOLD_SECONDS;
/** Branch-and-bound nodes per solve: the deterministic bound on the solver's work. */
export const MAX_MIP_NODES = 500;
/** Wall-clock safety net per solve; hitting it falls back to the greedy. */
export const DEFAULT_TIME_LIMIT_SECONDS = 1;
const MAX_ROUNDS = 3;
/**
 * Most classes of coupled services one program takes: beyond it HiGHS does not finish within a plan's
 * budget (benchmark: 8,000 classes hit the time limit), so the greedy places them at once.
 */
export const MAX_PROGRAM_CLASSES = 400;
const EPS = 1e-9;

export interface OptimiseInput {
  asks: readonly ServiceAsk[];
  pools: readonly PoolSnapshot[];
  budgets: readonly BudgetSnapshot[];
  nowMs: number;
  /** Lead time per service key (seconds); a pool grows for a service only within it. Absent: no limit. */
  leadSeconds?: ReadonlyMap<string, number>;
  timeLimitSeconds?: number;
}

export interface Optimised extends Allocation {
  /** closedForm: nothing bound; highs: the program placed the coupled services; greedy: the fallback. */
  solver: "closedForm" | "highs" | "greedy";
  /** Why the greedy was used. */
  fallback?: string;
  /** Services that went into the program. */
  coupled: number;
  /**
   * The program's plan was proven optimal (Proof), so the greedy was not run to be compared with it; false
   * when the greedy was run as the incumbent.
   */
  proven?: boolean;
}

interface Opt {
  o: VariantOption;
  /** Per-replica weight of the cost objective. */
  cost: number;
  /** Whether the pool can add nodes for this service within its lead time. */
  growable: boolean;
}

interface Svc {
  ask: ServiceAsk;
  opts: Opt[];
  /** min(minReplicas, desired). */
  min: number;
  /** Replicas per option index (the result). */
  x: number[];
  /** Budgets (indices into Model.budgets) whose scope holds the service. */
  scopes: number[];
  /** Its class signature (classes), made once per plan. */
  sig?: string;
}

interface Cap {
  snap: PoolSnapshot;
  perNode: number;
  /** Most nodes: maxNodes, or the nodes it has when static. */
  limit: number;
  /** Nodes it has (bounded by maxNodes): all a service whose lead time is shorter than provisioning gets. */
  existing: number;
  /** GPUs it offers the services whose lead time is shorter than its provisioning (setShortLead). */
  shortLead: number;
}

interface Limit {
  name: string;
  max: number;
  coef: (o: VariantOption) => number;
}

/**
 * Whether a round's program was solved to optimality (the cost within RELAXED_GAP, HiGHS' gap): packed by
 * GPU count and per-node rows (which every packing obeys) into nodes the plan does not over-commit, every
 * integer program ended optimal rather than at MAX_MIP_NODES, phase 1 placed every minimum (so phase 2,
 * which keeps each class at least at its phase 1 replicas, loses nothing) and no minimum is pinned where
 * phase 1 put it (under a budget the minimums alone exceed). Then no plan, the greedy's included, scores
 * better (compareObjective).
 */
interface Proof {
  exact: boolean;
}

interface BudgetCtx {
  snap: BudgetSnapshot;
  window?: string;
  limits: Limit[];
  raw: ReturnType<typeof limitsInForce>["limits"];
}

/** One tiny solve at load, so that the first plan does not pay the WebAssembly's first-run cost. */
function warmUp(): void {
  const model = highs.createModel({
    format: "lp",
    data: "Maximize\n obj: x\nSubject To\n c: x <= 1\nGenerals\n x\nEnd",
  });
  try {
    model.options.set({ output_flag: false });
    model.run();
  } finally {
    model.dispose();
  }
}

/** The optimiser: same input and result as allocate(), never less feasible. */
export function optimise(input: OptimiseInput): Optimised {
  try {
    return solveAll(input);
  } catch (err) {
    return {
      ...allocate(input),
      solver: "greedy",
      fallback: `optimiser failed: ${err instanceof Error ? err.message : String(err)}`,
      coupled: 0,
    };
  }
}

function limitsOf(spec: ReturnType<typeof limitsInForce>["limits"]): Limit[] {
  const out: Limit[] = [];
  if (spec.costPerHour !== undefined)
    out.push({ name: "costPerHour", max: spec.costPerHour, coef: (o) => o.footprint.costPerHour });
  if (spec.powerWatts !== undefined)
    out.push({ name: "powerWatts", max: spec.powerWatts, coef: (o) => o.footprint.powerWatts });
  for (const g of spec.gpus ?? []) {
    out.push({
      name: `gpus/${g.type}`,
      max: g.max,
      coef: (o) => (o.footprint.gpuType === g.type ? o.footprint.gpus : 0),
    });
  }
  return out;
}

/** Per-replica weights: $ per million tokens; unprofiled variants after every profiled one, by $/hour. */
function weights(options: readonly VariantOption[]): number[] {
  const profiled = options.filter((o) => o.costPerMillionTokens !== undefined);
  const base = 1 + Math.max(0, ...profiled.map((o) => o.costPerMillionTokens!));
  const maxHour = Math.max(EPS, ...options.map((o) => o.footprint.costPerHour));
  return options.map((o) => o.costPerMillionTokens ?? base * (1 + o.footprint.costPerHour / maxHour));
}

/** The service's own optimum, ignoring everyone else: keep what is cheaper to keep, add on the cheapest. */
function ideal(s: Svc): number[] {
  const x = s.opts.map(() => 0);
  const want = s.ask.desired;
  let best = 0;
  for (let i = 1; i < s.opts.length; i++) if (s.opts[i]!.cost < s.opts[best]!.cost) best = i;
  const stays = s.opts
    .map((p, i) => ({ i, cost: p.cost * (1 - CHURN_PENALTY), n: s.ask.current[p.o.pool] ?? 0 }))
    .filter((st) => st.n > 0)
    .sort((a, b) => a.cost - b.cost || a.i - b.i);
  let placed = 0;
  for (const st of stays) {
    if (placed >= want || (s.opts.length > 0 && st.cost > s.opts[best]!.cost && st.i !== best)) break;
    const k = Math.min(st.n, want - placed);
    x[st.i]! += k;
    placed += k;
  }
  if (placed < want && s.opts.length > 0) x[best]! += want - placed;
  return x;
}

function solveAll(input: OptimiseInput): Optimised {
  const caps = new Map<string, Cap>(
    input.pools.map((p) => {
      // A pool whose provider cannot add nodes now holds what it has, like a static one.
      const isStatic = p.spec.provider.type === "static" || p.cannotGrow !== undefined;
      const existing = Math.min(p.nodes, p.spec.maxNodes);
      return [
        p.name,
        {
          snap: p,
          perNode: p.spec.gpu.count,
          limit: isStatic ? existing : p.spec.maxNodes,
          existing,
          shortLead: 0,
        },
      ];
    }),
  );
  const budgets: BudgetCtx[] = input.budgets.map((b) => {
    const f = plannedLimits(b.spec, input.nowMs);
    return { snap: b, ...(f.window ? { window: f.window } : {}), limits: limitsOf(f.limits), raw: f.limits };
  });
  const svcs: Svc[] = input.asks.map((ask) => {
    const w = weights(ask.options);
    const lead = input.leadSeconds?.get(ask.key);
    const opts = ask.options.map((o, i): Opt => {
      return { o, cost: w[i]!, growable: growsWithin(caps.get(o.pool)!.snap, lead) };
    });
    const scopes: number[] = [];
    budgets.forEach((b, j) => {
      if (b.snap.namespaces === undefined || b.snap.namespaces.includes(ask.namespace)) scopes.push(j);
    });
    const s: Svc = { ask, opts, min: Math.min(ask.minReplicas, ask.desired), x: [], scopes };
    s.x = ask.fixed ? opts.map((p) => ask.current[p.o.pool] ?? 0) : ideal(s);
    return s;
  });
  const scaled = svcs.filter((s) => !s.ask.fixed);
  setShortLead(caps, svcs);

  // What binds the ideal.
  const bindingPools = new Set<string>();
  const bindingBudgets = new Set<number>();
  const ideals = poolCounts(svcs);
  for (const [name, cap] of caps) if (!poolHolds(cap, ideals)) bindingPools.add(name);
  budgets.forEach((b, j) => {
    if (b.limits.some((l) => usageOf(svcs, j, l) > l.max * (1 + EPS) + EPS)) bindingBudgets.add(j);
  });

  // The relaxation first: what it fills while a service is short binds as well, so that the rounds below
  // (each two integer programs and a split) start from the pools and budgets they would find filled.
  const couples = (s: Svc) =>
    s.opts.some((p) => bindingPools.has(p.o.pool)) || s.scopes.some((j) => bindingBudgets.has(j));
  const candidates = scaled.filter(couples);
  const candidateClasses = candidates.length > 0 ? classes(candidates) : [];
  if (candidateClasses.length > 0 && candidateClasses.length <= MAX_PROGRAM_CLASSES) {
    const full = probeProgram(
      candidateClasses,
      svcs,
      new Set(candidates),
      caps,
      budgets,
      input.timeLimitSeconds,
    );
    for (const k of full) {
      if (typeof k === "string") bindingPools.add(k);
      else bindingBudgets.add(k);
    }
  }

  let coupled: Svc[] = [];
  let solver: Optimised["solver"] = "closedForm";
  let memo = new Map<string, unknown>();
  // Whether the last round's program was optimal and nothing it filled was left out of it (the rounds
  // converged): its plan is then the best there is.
  let proof: Proof = { exact: false };
  let converged = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = scaled.filter(couples);
    if (next.length === coupled.length) {
      converged = true;
      break;
    }
    coupled = next;
    for (const s of coupled) s.x = ideal(s);
    const inProgram = new Set(coupled);
    const ks = classes(coupled);
    const size = ks.length;
    if (size > MAX_PROGRAM_CLASSES) {
      return {
        ...allocate(input),
        solver: "greedy",
        fallback: `${coupled.length} coupled services in ${size} classes, more than the program takes (${MAX_PROGRAM_CLASSES})`,
        coupled: coupled.length,
      };
    }
    proof = { exact: true };
    const result = solveProgram(ks, svcs, inProgram, caps, budgets, input.timeLimitSeconds, proof);
    if (typeof result === "string") {
      return { ...allocate(input), solver: "greedy", fallback: result, coupled: coupled.length };
    }
    solver = "highs";
    // A pool or budget the coupled services filled may now hold back someone: add it and solve again.
    // What filled() sums holds for verify() and report() as well, unless a next round changes the plan.
    memo = new Map();
    const grown = [...filled(coupled, svcs, caps, budgets, memo)].filter((k) =>
      typeof k === "string" ? !bindingPools.has(k) : !bindingBudgets.has(k),
    );
    if (grown.length === 0) {
      converged = true;
      break;
    }
    for (const k of grown) {
      if (typeof k === "string") bindingPools.add(k);
      else bindingBudgets.add(k);
    }
  }

  const broken = verify(svcs, caps, budgets, memo);
  if (broken) return { ...allocate(input), solver: "greedy", fallback: broken, coupled: coupled.length };
  const out = report(svcs, caps, budgets, input.pools, memo);
  const proven =
    converged &&
    proof.exact &&
    !outsideMayBind(coupled, svcs, caps, budgets) &&
    !minimumsMoveBudgets(svcs, budgets);
  if (solver === "highs" && !proven) {
    // The greedy is the incumbent where the program is not proven optimal: its packing of sizes that do not
    // divide the node is conservative, an integer program may stop at MAX_MIP_NODES, and its classes and rounds
    // are a decomposition, so where the greedy scores better, use it.
    const greedy = allocate(input);
    if (
      compareObjective(objectiveOf(svcs, out), objectiveOf(svcs, greedy)) < 0 &&
      withinLeadTimes(svcs, caps, greedy)
    ) {
      return {
        ...greedy,
        solver: "greedy",
        fallback: "the greedy's plan scored better",
        coupled: coupled.length,
      };
    }
  }
  return {
    ...out,
    solver,
    coupled: coupled.length,
    ...(solver === "highs" ? { proven } : {}),
  };
}

/** A class's churn as the program counts it: replicas its services run on each variant beyond what stays. */
function classChurn(k: Klass, xs: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < xs.length; i++) n += Math.max(0, k.current[i]! - xs[i]!);
  return n;
}

/** The same, summed over its services as split back. */
function splitChurn(k: Klass): number {
  let n = 0;
  for (const s of k.members)
    for (let i = 0; i < s.opts.length; i++)
      n += Math.max(0, (s.ask.current[s.opts[i]!.o.pool] ?? 0) - s.x[i]!);
  return n;
}

/** A replica's most against a budget limit, on the service's dearest variant for it. */
function dearest(s: Svc, l: Limit): number {
  return Math.max(0, ...s.opts.map((p) => l.coef(p.o)));
}

/**
 * Whether where the minimums sit could change what a budget lets the plan add: a budget holds what the plan
 * adds above the minimums as they are placed (effectiveMax), so when the minimums placed on their dearest
 * variants could exceed a limit, another placement of them (the greedy's) may leave the plan more room than
 * the program's phase 1 placement does.
 */
function minimumsMoveBudgets(svcs: readonly Svc[], budgets: readonly BudgetCtx[]): boolean {
  return budgets.some((b, j) =>
    b.limits.some((l) => {
      let most = 0;
      for (const s of svcs) {
        if (!s.scopes.includes(j)) continue;
        if (s.ask.fixed) for (const [i, p] of s.opts.entries()) most += l.coef(p.o) * s.x[i]!;
        else if (s.min > 0) most += s.min * dearest(s, l);
      }
      return most > l.max * (1 + EPS) + EPS;
    }),
  );
}

/**
 * Whether a pool or a budget in which services outside the program hold replicas could constrain the
 * program: whether it would lack room if every program's service put all it asks on it. Moving an outside
 * service could then make room, directly or along a chain of moves (one service moves into the room, letting
 * another take its place), which the program, holding the outside services fixed, does not weigh (the greedy
 * might). Where there is room for all of that, the outside services' rows never bind the program.
 */
function outsideMayBind(
  coupled: readonly Svc[],
  svcs: readonly Svc[],
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
): boolean {
  const inProgram = new Set(coupled);
  const outside = svcs.filter((s) => !s.ask.fixed && !inProgram.has(s) && total(s) > 0);
  if (outside.length === 0) return false;
  // Everything else (outside and fixed services as placed, every program's service at all it asks on each
  // of its variants at once) against each pool that an outside service uses.
  const others = svcs.filter((s) => !inProgram.has(s));
  const use = poolCounts(others);
  const outsidePools = new Set<string>();
  for (const s of outside) {
    s.opts.forEach((p, i) => {
      if (s.x[i]! > 0) outsidePools.add(p.o.pool);
    });
  }
  for (const s of coupled) {
    for (const p of s.opts) {
      if (!outsidePools.has(p.o.pool)) continue;
      addCount(use.all, p.o.pool, p.o.gpusPerReplica, s.ask.desired);
      if (!p.growable) addCount(use.short, p.o.pool, p.o.gpusPerReplica, s.ask.desired);
    }
  }
  for (const name of outsidePools) if (!poolHolds(caps.get(name)!, use)) return true;
  const scopes = new Set(outside.flatMap((s) => s.scopes));
  for (const j of scopes) {
    for (const l of budgets[j]!.limits) {
      let most = usageOf(others, j, l);
      for (const s of coupled) {
        if (s.scopes.includes(j)) most += s.ask.desired * dearest(s, l);
      }
      if (most > l.max * (1 + EPS) + EPS) return true;
    }
  }
  return false;
}

/** Whether an allocation places on each pool no more for short-lead services than the pool has for them. */
function withinLeadTimes(svcs: readonly Svc[], caps: ReadonlyMap<string, Cap>, a: Allocation): boolean {
  const placed = svcs.map((s) => {
    const p = a.services.get(s.ask.key)!;
    const x = s.ask.fixed
      ? s.x
      : s.opts.map((o) => p.variants.find((v) => v.pool === o.o.pool)?.replicas ?? 0);
    return { ...s, x };
  });
  const short = countsByPool(placed, (_, p) => !p.growable);
  for (const cap of caps.values()) {
    if (gpusOf(short.get(cap.snap.name) ?? new Map()) > cap.shortLead) return false;
  }
  return true;
}

/** GPUs per replica -> replicas, per pool, over the given services' replicas (`only` those options). */
function countsByPool(
  svcs: readonly Svc[],
  only?: (s: Svc, p: Opt) => boolean,
): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const s of svcs) {
    for (let i = 0; i < s.opts.length; i++) {
      const k = s.x[i]!;
      const p = s.opts[i]!;
      if (k === 0 || (only && !only(s, p))) continue;
      addCount(out, p.o.pool, p.o.gpusPerReplica, k);
    }
  }
  return out;
}

/** Adds n replicas of `size` GPUs to a pool's counts (countsByPool's maps). */
function addCount(out: Map<string, Map<number, number>>, pool: string, size: number, n: number): void {
  let counts = out.get(pool);
  if (!counts) {
    counts = new Map();
    out.set(pool, counts);
  }
  counts.set(size, (counts.get(size) ?? 0) + n);
}

function gpusOf(counts: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const [size, k] of counts) n += size * k;
  return n;
}

/**
 * Sets each pool's shortLead: the GPUs it offers the services whose lead time is shorter than its
 * provisioning: those of the nodes it has, or at least those their replicas hold on it now (a replica that
 * runs keeps its node).
 */
function setShortLead(caps: ReadonlyMap<string, Cap>, svcs: readonly Svc[]): void {
  const held = new Map<string, number>();
  for (const s of svcs) {
    for (const p of s.opts) {
      if (!p.growable)
        held.set(p.o.pool, (held.get(p.o.pool) ?? 0) + p.o.gpusPerReplica * (s.ask.current[p.o.pool] ?? 0));
    }
  }
  for (const [name, cap] of caps) cap.shortLead = Math.max(cap.perNode * cap.existing, held.get(name) ?? 0);
}

/** What services place per pool: all their replicas, and those of short-lead services. */
interface PoolCounts {
  all: Map<string, Map<number, number>>;
  short: Map<string, Map<number, number>>;
}

function poolCounts(svcs: readonly Svc[]): PoolCounts {
  return { all: countsByPool(svcs), short: countsByPool(svcs, (_, p) => !p.growable) };
}

/** Whether the pool holds what the services place on it (and the short-lead part fits its nodes). */
function poolHolds(cap: Cap, use: PoolCounts, extra?: { size: number; growable: boolean }): boolean {
  const all = new Map(use.all.get(cap.snap.name));
  if (extra) all.set(extra.size, (all.get(extra.size) ?? 0) + 1);
  if (nodesFor(all, cap.perNode) > cap.limit) return false;
  const short = new Map(use.short.get(cap.snap.name));
  if (extra && !extra.growable) short.set(extra.size, (short.get(extra.size) ?? 0) + 1);
  return short.size === 0 || gpusOf(short) <= cap.shortLead;
}

function usageOf(svcs: readonly Svc[], budget: number, l: Limit, only?: (s: Svc) => boolean): number {
  let u = 0;
  for (const s of svcs) {
    if (!s.scopes.includes(budget) || (only && !only(s))) continue;
    s.opts.forEach((p, i) => {
      if (s.x[i]! > 0) u += l.coef(p.o) * s.x[i]!;
    });
  }
  return u;
}

/** The limit a budget holds the plan to: its own, or what the minimums alone use when they exceed it. */
function effectiveMax(l: Limit, minimumsUse: number): number {
  return Math.max(l.max, minimumsUse);
}

/** Minimums' use of a limit: services nobody scales as they run, the others at min(minReplicas, desired). */
function minimumsUse(svcs: readonly Svc[], budget: number, l: Limit): number {
  let u = 0;
  for (const s of svcs) {
    if (!s.scopes.includes(budget)) continue;
    if (s.ask.fixed) {
      s.opts.forEach((p, i) => {
        u += l.coef(p.o) * s.x[i]!;
      });
      continue;
    }
    // The minimum sits where the plan put replicas, cheapest against this limit first.
    let left = Math.min(
      s.min,
      s.x.reduce((a, b) => a + b, 0),
    );
    if (left === 0) continue;
    const order = s.opts.map((p, i) => ({ c: l.coef(p.o), i })).sort((a, b) => a.c - b.c || a.i - b.i);
    for (const { c, i } of order) {
      const k = Math.min(left, s.x[i]!);
      u += c * k;
      left -= k;
    }
  }
  return u;
}

/** Pools and budgets the coupled services left no room in, while a coupled service is short. */
function filled(
  coupled: readonly Svc[],
  svcs: readonly Svc[],
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
  memo: Map<string, unknown>,
): Set<string | number> {
  const out = new Set<string | number>();
  for (const s of coupled) {
    if (total(s) >= s.ask.desired) continue;
    for (const b of blockersOf(s, svcs, caps, budgets, memo)) out.add(b.key);
  }
  return out;
}

function total(s: Svc): number {
  return s.x.reduce((a, b) => a + b, 0);
}

interface Blocker {
  key: string | number;
  kind: "pool" | "lead" | "budget";
  text: string;
  budget?: string;
  limit?: string;
}

/** Memoised within one state of the plan (the caller makes a new memo after any change). */
function cached<T>(memo: Map<string, unknown>, key: string, f: () => T): T {
  if (!memo.has(key)) memo.set(key, f());
  return memo.get(key) as T;
}

/** blockers(), shared by the services of a class (same options and scopes: the same answer). */
function blockersOf(
  s: Svc,
  svcs: readonly Svc[],
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
  memo: Map<string, unknown>,
): Blocker[] {
  const find = () => blockers(s, svcs, caps, budgets, memo);
  return s.sig === undefined ? find() : cached(memo, `blockers ${s.sig}`, find);
}

/** What stops one more replica of the service on each of its variants. */
function blockers(
  s: Svc,
  svcs: readonly Svc[],
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
  memo: Map<string, unknown>,
): Blocker[] {
  const out = new Map<string, Blocker>();
  for (const p of s.opts) {
    const cap = caps.get(p.o.pool)!;
    const use = cached(memo, "pools", () => poolCounts(svcs));
    const all = new Map(use.all.get(cap.snap.name));
    all.set(p.o.gpusPerReplica, (all.get(p.o.gpusPerReplica) ?? 0) + 1);
    if (nodesFor(all, cap.perNode) > cap.limit) {
      out.set(`pool ${cap.snap.name}`, {
        key: cap.snap.name,
        kind: "pool",
        text:
          cap.snap.spec.provider.type === "static"
            ? `GPUNodePool ${cap.snap.name} is static and full at its ${cap.limit} nodes`
            : cap.snap.cannotGrow !== undefined
              ? `GPUNodePool ${cap.snap.name} cannot add nodes now (${cap.snap.cannotGrow}) and is full at its ${cap.limit} nodes`
              : `GPUNodePool ${cap.snap.name} is full at maxNodes ${cap.limit}`,
      });
    } else if (
      !p.growable &&
      !cached(memo, `lead ${cap.snap.name} ${p.o.gpusPerReplica}`, () =>
        poolHolds(cap, use, { size: p.o.gpusPerReplica, growable: false }),
      )
    ) {
      out.set(`lead ${cap.snap.name}`, {
        key: cap.snap.name,
        kind: "lead",
        text: leadTimeNote(cap.snap, cap.existing),
      });
    }
    for (const j of s.scopes) {
      const b = budgets[j]!;
      for (const l of b.limits) {
        const c = l.coef(p.o);
        if (c <= 0) continue;
        const max = effectiveMax(
          l,
          cached(memo, `mins ${j} ${l.name}`, () => minimumsUse(svcs, j, l)),
        );
        if (cached(memo, `use ${j} ${l.name}`, () => usageOf(svcs, j, l)) + c > max * (1 + EPS) + EPS) {
          out.set(`budget ${b.snap.name} ${l.name}`, {
            key: j,
            kind: "budget",
            budget: b.snap.name,
            limit: l.name,
            text: `${b.snap.name} ${l.name} (${describeLimit(
              cached(memo, `usage ${j}`, () => usageFor(svcs, j)),
              b.raw,
              l.name,
            )})`,
          });
        }
      }
    }
  }
  return [...out.values()];
}

function usageFor(svcs: readonly Svc[], budget: number): Usage {
  const u = emptyUsage();
  for (const s of svcs) {
    if (s.scopes.includes(budget)) for (const [i, p] of s.opts.entries()) addUsage(u, p.o.footprint, s.x[i]!);
  }
  return u;
}

/** Everything the plan promises, checked once more on the final numbers: undefined when it holds. */
function verify(
  svcs: readonly Svc[],
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
  memo: Map<string, unknown>,
): string | undefined {
  for (const s of svcs) {
    if (s.ask.fixed) continue;
    if (s.x.some((k) => !Number.isInteger(k) || k < 0)) return `non-integral replicas for ${s.ask.key}`;
    if (total(s) > s.ask.desired) return `${s.ask.key} placed above what it asked`;
  }
  const fixedByPool = countsByPool(svcs, (s) => s.ask.fixed);
  const allByPool = cached(memo, "pools", () => poolCounts(svcs)).all;
  for (const cap of caps.values()) {
    const need = nodesFor(allByPool.get(cap.snap.name) ?? new Map(), cap.perNode);
    if (need > cap.limit && need > nodesFor(fixedByPool.get(cap.snap.name) ?? new Map(), cap.perNode)) {
      return `GPUNodePool ${cap.snap.name} would need ${need} nodes, more than ${cap.limit}`;
    }
  }
  for (const [j, b] of budgets.entries()) {
    for (const l of b.limits) {
      const max = effectiveMax(
        l,
        cached(memo, `mins ${j} ${l.name}`, () => minimumsUse(svcs, j, l)),
      );
      if (cached(memo, `use ${j} ${l.name}`, () => usageOf(svcs, j, l)) > max * (1 + 1e-7) + 1e-7)
        return `CapacityBudget ${b.snap.name} ${l.name} exceeded`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// The program.

interface Klass {
  members: Svc[];
  priority: number;
  opts: Opt[];
  scopes: number[];
  want: number;
  min: number;
  current: number[];
}

/** Services with the same priority, options (pool, size, weight, growability) and budget scopes. */
function classes(coupled: readonly Svc[]): Klass[] {
  const by = new Map<string, Klass>();
  // Numbers stand in the signature by a small id each: writing a fraction as text is slow.
  const ids = new Map<number, number>();
  const id = (v: number) => {
    let i = ids.get(v);
    if (i === undefined) {
      i = ids.size;
      ids.set(v, i);
    }
    return i;
  };
  for (const s of coupled) {
    if (s.sig === undefined) {
      let sig = `${s.ask.priority}|`;
      for (const p of s.opts) {
        const f = p.o.footprint;
        sig += `${p.o.pool}:${p.o.gpusPerReplica}:${id(p.cost)}:${id(f.costPerHour)}:${id(f.powerWatts)}:${p.growable ? 1 : 0},`;
      }
      s.sig = `${sig}|${s.scopes.join(",")}`;
    }
    const sig = s.sig;
    let k = by.get(sig);
    if (!k) {
      k = {
        members: [],
        priority: s.ask.priority,
        opts: s.opts,
        scopes: s.scopes,
        want: 0,
        min: 0,
        current: s.opts.map(() => 0),
      };
      by.set(sig, k);
    }
    k.members.push(s);
    k.want += s.ask.desired;
    k.min += s.min;
    s.opts.forEach((p, i) => {
      k.current[i]! += s.ask.current[p.o.pool] ?? 0;
    });
  }
  return [...by.values()];
}

/** Sparse rows, built one at a time. */
class Rows {
  starts: number[] = [0];
  indices: number[] = [];
  values: number[] = [];
  lower: number[] = [];
  upper: number[] = [];
  /** Per row, the pool (name) or budget (index) it holds, if any. */
  keys: (string | number | undefined)[] = [];
  add(entries: [number, number][], lo: number, hi: number, key?: string | number): void {
    this.keys.push(key);
    const merged = new Map<number, number>();
    for (const [c, v] of entries) merged.set(c, (merged.get(c) ?? 0) + v);
    for (const [c, v] of [...merged].sort((a, b) => a[0] - b[0])) {
      if (v === 0) continue;
      this.indices.push(c);
      this.values.push(v);
    }
    this.starts.push(this.indices.length);
    this.lower.push(lo);
    this.upper.push(hi);
  }
}

interface Column {
  cost: number;
  lower: number;
  upper: number;
  integer: boolean;
  /** A churn column: max(0, current - replicas of column `of`). */
  churn?: { of: number; current: number };
}

/** The services outside the program, and what they place per pool: constants of every phase. */
function outsideOf(svcs: readonly Svc[], inProgram: ReadonlySet<Svc>): { outside: Svc[]; fixed: PoolCounts } {
  const outside = svcs.filter((s) => !inProgram.has(s));
  return {
    outside,
    fixed: { all: countsByPool(outside), short: countsByPool(outside, (_, q) => !q.growable) },
  };
}

/**
 * Solves the coupled services in two programs (minimums, then the rest) and writes their replicas into
 * `s.x`. Returns an error string when HiGHS gives no usable answer.
 */
function solveProgram(
  ks: readonly Klass[],
  svcs: readonly Svc[],
  inProgram: ReadonlySet<Svc>,
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
  timeLimit: number = DEFAULT_TIME_LIMIT_SECONDS,
  proof: Proof = { exact: true },
): string | undefined {
  const { outside, fixed } = outsideOf(svcs, inProgram);
  // Sizes that do not divide each other are packed by GPU count and replicas per node first; when first-fit
  // decreasing cannot pack that, again with nodes of their own per size.
  let error: string | undefined;
  for (const packing of ["relaxed", "separate"] as const) {
    // The relaxed packing bounds every packing: a plan it finds that fits the nodes is optimal; the
    // separate one is conservative.
    if (packing === "separate") proof.exact = false;
    // Phase 1: minimums, pools only.
    const mins = solvePhase(
      ks,
      outside,
      fixed,
      caps,
      budgets,
      timeLimit,
      undefined,
      packing,
      undefined,
      proof,
    );
    if (typeof mins === "string") return mins;
    // Phase 2 holds each class to at least what phase 1 placed: that loses nothing only when phase 1 placed
    // every minimum (another choice of which minimums to place could leave room for more).
    if (ks.some((k, i) => mins[i]!.reduce((a, b) => a + b, 0) < k.min)) proof.exact = false;
    // Phase 2: the rest, with the minimums as lower bounds and the budgets.
    const full = solvePhase(ks, outside, fixed, caps, budgets, timeLimit, mins, packing, undefined, proof);
    if (typeof full === "string") return full;
    for (const [i, k] of ks.entries()) {
      split(k, full[i]!, mins[i]!);
      // The program counts a class's churn; its services may move more when split back (fair shares).
      if (proof.exact && splitChurn(k) > classChurn(k, full[i]!) + EPS) proof.exact = false;
    }
    error = overCommitted(ks, svcs, fixed.all, caps);
    if (!error) return undefined;
  }
  return error;
}

/**
 * The pools and budgets that the program's relaxation fills while a class is short: cheap (no integer
 * program, no split), it tells which pools and budgets a round would find filled before the round is solved.
 */
function probeProgram(
  ks: readonly Klass[],
  svcs: readonly Svc[],
  inProgram: ReadonlySet<Svc>,
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
  timeLimit = DEFAULT_TIME_LIMIT_SECONDS,
): Set<string | number> {
  const { outside, fixed } = outsideOf(svcs, inProgram);
  const full = new Set<string | number>();
  const mins = solvePhase(ks, outside, fixed, caps, budgets, timeLimit, undefined, "relaxed", new Set());
  if (typeof mins === "string") return full;
  solvePhase(ks, outside, fixed, caps, budgets, timeLimit, mins, "relaxed", full);
  return full;
}

/** A pool whose nodes the coupled services' replicas would over-commit, if any. */
function overCommitted(
  ks: readonly Klass[],
  svcs: readonly Svc[],
  others: ReadonlyMap<string, Map<number, number>>,
  caps: ReadonlyMap<string, Cap>,
): string | undefined {
  const pools = new Set(ks.flatMap((k) => k.opts.map((p) => p.o.pool)));
  const all = countsByPool(svcs);
  for (const name of pools) {
    const cap = caps.get(name)!;
    const need = nodesFor(all.get(name) ?? new Map(), cap.perNode);
    if (need > cap.limit && need > nodesFor(others.get(name) ?? new Map(), cap.perNode)) {
      return `GPUNodePool ${name} would need ${need} nodes, more than ${cap.limit}`;
    }
  }
  return undefined;
}

function solvePhase(
  ks: readonly Klass[],
  outside: readonly Svc[],
  outsideUse: PoolCounts,
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
  timeLimit: number,
  mins: number[][] | undefined,
  packing: "relaxed" | "separate",
  /** When given: solve only the relaxation, return its (fractional) values and add its full rows here. */
  probe?: Set<string | number>,
  proof?: Proof,
): number[][] | string {
  const cols: Column[] = [];
  const rows = new Rows();
  // Whether the program has node columns (packing "separate"): the relaxation's rounding does not size them.
  let nodeColumns = false;
  const { all: outsideCounts, short: outsideShort } = outsideUse;
  const memo = new Map<string, unknown>();
  // What the minimums of phase 1 use of each budget limit.
  const minsUse = (j: number, l: Limit) => cached(memo, `mins ${j} ${l.name}`, () => minsUseOf(j, l));
  const minsUseOf = (j: number, l: Limit) =>
    minimumsUse(outside, j, l) +
    ks.reduce(
      (u, k, ki) =>
        k.scopes.includes(j) && mins ? u + k.opts.reduce((a, p, i) => a + l.coef(p.o) * mins[ki]![i]!, 0) : u,
      0,
    );
  // Phase 2 keeps each class's minimums placed; where they may sit moves, except under a budget that the
  // minimums alone exceed (there they stay as phase 1 put them, and nothing above them counts against it).
  const pinned = ks.map((k) =>
    k.scopes.some((j) => budgets[j]!.limits.some((l) => minsUse(j, l) > l.max * (1 + EPS) + EPS)),
  );
  // Pinned minimums stay where phase 1 put them, which may be where phase 2 wanted room (a property test
  // found one: a minimum on the only pool another service can use, with room for it elsewhere).
  if (proof && mins && pinned.some(Boolean)) proof.exact = false;
  const x: number[][] = ks.map((k, ki) =>
    k.opts.map((p, i) => {
      cols.push({
        cost: p.cost,
        lower: mins && pinned[ki] ? mins[ki]![i]! : 0,
        upper: mins ? k.want : k.min,
        integer: true,
      });
      return cols.length - 1;
    }),
  );
  // Each class places at most what its services ask (phase 1: their minimums).
  ks.forEach((k, ki) => {
    rows.add(
      x[ki]!.map((c) => [c, 1]),
      mins ? mins[ki]!.reduce((a, b) => a + b, 0) : -highs.infinity,
      mins ? k.want : k.min,
    );
  });
  // Churn: z >= current - x, weighted by the load time over the plan's hold.
  ks.forEach((k, ki) => {
    k.opts.forEach((p, i) => {
      if (k.current[i]! <= 0) return;
      cols.push({
        cost: p.cost * CHURN_PENALTY,
        lower: 0,
        upper: highs.infinity,
        integer: false,
        churn: { of: x[ki]![i]!, current: k.current[i]! },
      });
      rows.add(
        [
          [x[ki]![i]!, 1],
          [cols.length - 1, 1],
        ],
        k.current[i]!,
        highs.infinity,
      );
    });
  });
  // Pools touched by the program.
  const touched = new Map<string, [number, number, Opt][]>();
  ks.forEach((k, ki) => {
    k.opts.forEach((p, i) => {
      const list = touched.get(p.o.pool) ?? [];
      list.push([ki, x[ki]![i]!, p]);
      touched.set(p.o.pool, list);
    });
  });
  for (const [name, list] of [...touched].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const cap = caps.get(name)!;
    const C = cap.perNode;
    const fixed = outsideCounts.get(name) ?? new Map<number, number>();
    const sizes = [...new Set([...fixed.keys(), ...list.map(([, , p]) => p.o.gpusPerReplica)])].sort(
      (a, b) => a - b,
    );
    const chain = sizes.every((g, i) => C % g === 0 && (i === 0 || g % sizes[i - 1]! === 0));
    if (chain || packing === "relaxed") {
      // Sizes that divide each other and the node pack exactly by GPU count.
      rows.add(
        list.map(([, c, p]) => [c, p.o.gpusPerReplica]),
        -highs.infinity,
        Math.max(0, C * cap.limit - gpusOf(fixed)),
        name,
      );
    }
    if (!chain && packing === "relaxed") {
      // Otherwise also: at most floor(C / g) replicas of g GPUs per node, and one replica of more than half
      // a node per node.
      for (const g of sizes) {
        const of = list.filter(([, , p]) => p.o.gpusPerReplica === g);
        if (of.length > 0) {
          rows.add(
            of.map(([, c]) => [c, 1]),
            -highs.infinity,
            Math.max(0, Math.floor(C / g) * cap.limit - (fixed.get(g) ?? 0)),
            name,
          );
        }
      }
      const big = list.filter(([, , p]) => 2 * p.o.gpusPerReplica > C);
      if (big.length > 0) {
        const fixedBig = [...fixed].reduce((n, [g, k]) => n + (2 * g > C ? k : 0), 0);
        rows.add(
          big.map(([, c]) => [c, 1]),
          -highs.infinity,
          Math.max(0, cap.limit - fixedBig),
          name,
        );
      }
    } else if (!chain) {
      // Nodes per size (conservative): y_g nodes hold floor(C / g) replicas of g GPUs each.
      const ys: number[] = [];
      for (const g of sizes) {
        nodeColumns = true;
        cols.push({ cost: 0, lower: 0, upper: cap.limit, integer: true });
        const y = cols.length - 1;
        ys.push(y);
        rows.add(
          [
            ...list.filter(([, , p]) => p.o.gpusPerReplica === g).map(([, c]): [number, number] => [c, 1]),
            [y, -Math.floor(C / g)],
          ],
          -highs.infinity,
          -(fixed.get(g) ?? 0),
          name,
        );
      }
      const fixedNodes = [...fixed].reduce((n, [g, k]) => n + Math.ceil(k / Math.floor(C / g)), 0);
      rows.add(
        ys.map((y) => [y, 1]),
        -highs.infinity,
        Math.max(cap.limit, fixedNodes),
        name,
      );
    }
    // Services whose lead time is shorter than the pool's provisioning get only the nodes it has.
    const short = list.filter(([, , p]) => !p.growable);
    if (short.length > 0) {
      rows.add(
        short.map(([, c, p]) => [c, p.o.gpusPerReplica]),
        -highs.infinity,
        Math.max(0, cap.shortLead - gpusOf(outsideShort.get(name) ?? new Map())),
        name,
      );
    }
  }
  // Budgets (phase 2): what the plan adds above the minimums stays within each limit in force.
  if (mins) {
    budgets.forEach((b, j) => {
      const inScope = ks.map((k, ki) => [k, ki] as const).filter(([k]) => k.scopes.includes(j));
      if (inScope.length === 0) return;
      for (const l of b.limits) {
        const entries: [number, number][] = [];
        for (const [k, ki] of inScope) {
          k.opts.forEach((p, i) => {
            const c = l.coef(p.o);
            if (c > 0) entries.push([x[ki]![i]!, c]);
          });
        }
        if (entries.length === 0) continue;
        const max = effectiveMax(l, minsUse(j, l));
        rows.add(entries, -highs.infinity, Math.max(0, max - usageOf(outside, j, l)) * (1 + EPS) + EPS, j);
      }
    });
  }

  // Objectives: per priority, highest first, place the most; then the cheapest.
  const priorities = [...new Set(ks.map((k) => k.priority))].sort((a, b) => b - a);
  const n = cols.length;
  const objectives = priorities.map((prio, t) => {
    const coefficients = new Float64Array(n);
    ks.forEach((k, ki) => {
      if (k.priority === prio) for (const c of x[ki]!) coefficients[c] = 1;
    });
    return {
      weight: -1,
      offset: 0,
      coefficients,
      absoluteTolerance: 0.5,
      relativeTolerance: 0,
      priority: priorities.length + 1 - t,
    };
  });
  objectives.push({
    weight: 1,
    offset: 0,
    coefficients: Float64Array.from(cols, (c) => c.cost),
    absoluteTolerance: 0,
    relativeTolerance: 0,
    priority: 0,
  });

  if (probe) {
    const lp = relaxation(cols, rows, objectives, timeLimit);
    if (!lp) return "the relaxation has no optimum";
    for (const key of fullRows(ks, x, rows, lp)) probe.add(key);
    return x.map((cs) => cs.map((c) => lp[c]!));
  }
  const solved =
    (!nodeColumns && viaRelaxation(cols, rows, objectives, x, timeLimit, proof)) ||
    solveMip(cols, rows, objectives, timeLimit, proof);
  if (typeof solved === "string") return solved;
  return x.map((cs) => cs.map((c) => Math.round(solved[c]!)));
}

type Objective = LinearObjectiveInput & { coefficients: Float64Array };

/** Builds a HiGHS model of the program; `integer`: with its integrality (else its linear relaxation). */
function createModel(cols: readonly Column[], rows: Rows, integer: boolean) {
  const n = cols.length;
  const m = rows.lower.length;
  return highs.createModel({
    numCols: n,
    numRows: m,
    colCost: new Float64Array(n),
    colLower: Float64Array.from(cols, (c) => c.lower),
    colUpper: Float64Array.from(cols, (c) => c.upper),
    rowLower: Float64Array.from(rows.lower),
    rowUpper: Float64Array.from(rows.upper),
    matrix: {
      format: "csr",
      numRows: m,
      numCols: n,
      starts: Int32Array.from(rows.starts),
      indices: Int32Array.from(rows.indices),
      values: Float64Array.from(rows.values),
    },
    ...(integer ? { integrality: Int32Array.from(cols, (c) => (c.integer ? 1 : 0)) } : {}),
  });
}

/**
 * Runs HiGHS on the program, lexicographic over the objectives: the integer program (`integer`) or its
 * linear relaxation. Returns HiGHS' model status and, when it has a solution, its columns' values.
 */
function runHighs(
  cols: readonly Column[],
  rows: Rows,
  objectives: readonly Objective[],
  timeLimit: number,
  integer: boolean,
): { status: number; values: Float64Array } {
  const model = createModel(cols, rows, integer);
  try {
    model.options.set({
      output_flag: false,
      blend_multi_objectives: false,
      time_limit: timeLimit,
      random_seed: 0,
      ...(integer ? { mip_max_nodes: MAX_MIP_NODES } : {}),
    });
    model.passLinearObjectives(objectives);
    model.run();
    const status = model.getModelStatus();
    const S = highs.constants.modelStatus;
    const solved = status === S.optimal || status === S.solutionLimit || status === S.iterationLimit;
    return { status, values: solved ? Float64Array.from(model.getSolution().colValue) : new Float64Array() };
  } finally {
    model.dispose();
  }
}

/** The integer program, lexicographic over the objectives: its columns' values, or why there are none. */
function solveMip(
  cols: readonly Column[],
  rows: Rows,
  objectives: readonly Objective[],
  timeLimit: number,
  proof?: Proof,
): Float64Array | string {
  const { status, values } = runHighs(cols, rows, objectives, timeLimit, true);
  const S = highs.constants.modelStatus;
  if (status === S.timeLimit) return "the optimiser hit its time limit";
  if (status !== S.optimal && status !== S.solutionLimit && status !== S.iterationLimit) {
    return `HiGHS ended with model status ${status}`;
  }
  // Stopped at MAX_MIP_NODES (or a solution limit): a solution, not a proven optimum.
  if (proof && status !== S.optimal) proof.exact = false;
  return values;
}

/** Relative gap within which a rounded solution of the relaxation stands for the program's (HiGHS' mip_rel_gap). */
const RELAXED_GAP = 1e-4;
/** How far from an integer a replica count of the relaxation may be and still count as that integer. */
const INTEGRAL = 1e-5;
/**
 * How far from an integer a priority's total in the relaxation may be and still count as that integer: the
 * simplex's feasibility tolerance (1e-7) summed over a few hundred columns. A fraction this small cannot
 * move a lower priority's total by a whole replica (a replica's coefficients differ by far less than 1e3).
 */
const INTEGRAL_TOTAL = 1e-4;

/**
 * The program through its linear relaxation first: HiGHS solves a lexicographic integer program as one
 * integer program per objective, which at this size takes several times as long as the relaxation and one
 * integer program. The relaxation's lexicographic optimum bounds the program's: when its replicas per
 * priority are whole numbers, an integer solution that reaches them is optimal in them. Such a solution is
 * sought by rounding the relaxation (roundRelaxed); else HiGHS minimises the cost alone with the replicas
 * per priority held at the relaxation's (the integer program's last objective, as its lexicographic mode
 * would run it). Returns undefined when neither applies (fractional totals, or no integer solution reaches
 * them): the caller solves the lexicographic integer program.
 */
function viaRelaxation(
  cols: readonly Column[],
  rows: Rows,
  objectives: readonly Objective[],
  classColumns: readonly (readonly number[])[],
  timeLimit: number,
  proof?: Proof,
): Float64Array | string | undefined {
  const lp = relaxation(cols, rows, objectives, timeLimit);
  if (!lp) return undefined;
  const counts = objectives.slice(0, -1).map((o) => dot(o.coefficients, lp));
  if (counts.some((v) => Math.abs(v - Math.round(v)) > INTEGRAL_TOTAL)) {
    return undefined;
  }
  const totals = counts.map((v) => Math.round(v));
  const rounded = roundRelaxed(cols, rows, objectives, classColumns, lp, totals);
  if (rounded) return rounded;
  const held = new Rows();
  held.starts = [...rows.starts];
  held.indices = [...rows.indices];
  held.values = [...rows.values];
  held.lower = [...rows.lower];
  held.upper = [...rows.upper];
  objectives.slice(0, -1).forEach((o, t) => {
    const entries: [number, number][] = [];
    o.coefficients.forEach((v, c) => {
      if (v !== 0) entries.push([c, v]);
    });
    held.add(entries, totals[t]!, highs.infinity);
  });
  const solved = solveMip(cols, held, objectives.slice(-1), timeLimit, proof);
  return typeof solved === "string" && !solved.includes("time limit") ? undefined : solved;
}

/** The lexicographic optimum of the program's linear relaxation, or undefined when HiGHS finds none. */
function relaxation(
  cols: readonly Column[],
  rows: Rows,
  objectives: readonly Objective[],
  timeLimit: number,
): Float64Array | undefined {
  // Each objective holds exactly while the next is optimised (no tolerance): the relaxation's optimum.
  const exact = objectives.map((o) => ({ ...o, absoluteTolerance: 0 }));
  const { status, values } = runHighs(cols, rows, exact, timeLimit, false);
  return status === highs.constants.modelStatus.optimal ? values : undefined;
}

/**
 * The pools (names) and budgets (indices) whose rows leave no room for one more replica of a class that is
 * short in the solution `v`: what filled() finds on a split plan, read off the program's rows.
 */
function fullRows(
  ks: readonly Klass[],
  x: readonly (readonly number[])[],
  rows: Rows,
  v: Float64Array,
): Set<string | number> {
  const act = new Float64Array(rows.lower.length);
  const colRows = new Map<number, [number, number][]>();
  for (let r = 0; r < act.length; r++) {
    for (let e = rows.starts[r]!; e < rows.starts[r + 1]!; e++) {
      const c = rows.indices[e]!;
      act[r]! += rows.values[e]! * v[c]!;
      if (rows.keys[r] === undefined) continue;
      let list = colRows.get(c);
      if (!list) {
        list = [];
        colRows.set(c, list);
      }
      list.push([r, rows.values[e]!]);
    }
  }
  const out = new Set<string | number>();
  ks.forEach((k, ki) => {
    if (x[ki]!.reduce((a, c) => a + v[c]!, 0) >= k.want - INTEGRAL) return;
    for (const c of x[ki]!) {
      for (const [r, coef] of colRows.get(c) ?? []) {
        if (coef > 0 && act[r]! + coef > rows.upper[r]! + INTEGRAL * Math.max(1, Math.abs(rows.upper[r]!)))
          out.add(rows.keys[r]!);
      }
    }
  });
  return out;
}

function dot(coef: Float64Array, v: Float64Array): number {
  let s = 0;
  for (let c = 0; c < coef.length; c++) if (coef[c] !== 0) s += coef[c]! * v[c]!;
  return s;
}

/**
 * An integer solution from the relaxation's (lp), when one is at hand: replicas rounded down, then per
 * priority the replicas the rounding lost placed again on the cheapest columns every row still admits
 * (moving one replica of another class to another of its variants when one or two rows are full). Accepted when it
 * reaches the priorities' totals and its cost is within RELAXED_GAP of the relaxation's (HiGHS' own stopping
 * rule for the program); undefined otherwise.
 */
function roundRelaxed(
  cols: readonly Column[],
  rows: Rows,
  objectives: readonly Objective[],
  classColumns: readonly (readonly number[])[],
  lp: Float64Array,
  totals: readonly number[],
): Float64Array | undefined {
  const siblings: (readonly number[])[] = [];
  for (const cs of classColumns) for (const c of cs) siblings[c] = cs;
  const n = cols.length;
  const m = rows.lower.length;
  const x = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const col = cols[c]!;
    if (!col.integer) continue;
    const v = lp[c]!;
    const r = Math.round(v);
    x[c] = Math.min(col.upper, Math.max(col.lower, Math.abs(v - r) <= INTEGRAL ? r : Math.floor(v)));
  }
  const settleChurn = () => {
    for (let c = 0; c < n; c++) {
      const ch = cols[c]!.churn;
      if (ch) x[c] = Math.max(0, ch.current - x[ch.of]!);
    }
  };
  settleChurn();
  // Row activities, and the rows of each column.
  const act = new Float64Array(m);
  const colRows: [number, number][][] = cols.map(() => []);
  for (let r = 0; r < m; r++) {
    for (let e = rows.starts[r]!; e < rows.starts[r + 1]!; e++) {
      const c = rows.indices[e]!;
      act[r]! += rows.values[e]! * x[c]!;
      colRows[c]!.push([r, rows.values[e]!]);
    }
  }
  const slack = (hi: number) => INTEGRAL * Math.max(1, Math.abs(hi));
  const over = (c: number) =>
    colRows[c]!.filter(([r, v]) => v > 0 && act[r]! + v > rows.upper[r]! + slack(rows.upper[r]!));
  const fits = (c: number) => x[c]! + 1 <= cols[c]!.upper && over(c).length === 0;
  const move = (c: number, k: number) => {
    x[c]! += k;
    for (const [r, v] of colRows[c]!) act[r]! += k * v;
  };
  // Room for one more on column c by moving one replica of another class, in the one row that is full, to
  // another variant of its class.
  const makeRoom = (c: number): boolean => {
    const full = over(c);
    if (x[c]! + 1 > cols[c]!.upper || full.length === 0 || full.length > 2) return false;
    for (const [row] of full) {
      for (let e = rows.starts[row]!; e < rows.starts[row + 1]!; e++) {
        const from = rows.indices[e]!;
        if (from === c || !cols[from]!.integer || x[from]! - 1 < cols[from]!.lower) continue;
        for (const to of siblings[from] ?? []) {
          if (to === from || to === c) continue;
          move(from, -1);
          if (fits(to)) {
            move(to, 1);
            if (fits(c)) return true;
            move(to, -1);
          }
          move(from, 1);
        }
      }
    }
    return false;
  };
  // Put back, per priority, what rounding down took: one replica at a time on the cheapest column with room.
  for (const [t, o] of objectives.slice(0, -1).entries()) {
    let missing = totals[t]! - Math.round(dot(o.coefficients, x));
    if (missing <= 0) continue;
    const candidates = [...o.coefficients.keys()]
      .filter((c) => o.coefficients[c] !== 0 && cols[c]!.integer)
      .sort((a, b) => cols[a]!.cost - cols[b]!.cost || a - b);
    while (missing > 0) {
      const c = candidates.find((c) => fits(c)) ?? candidates.find((c) => makeRoom(c));
      if (c === undefined) {
        return undefined;
      }
      move(c, 1);
      missing--;
    }
  }
  settleChurn();
  act.fill(0);
  for (let r = 0; r < m; r++) {
    for (let e = rows.starts[r]!; e < rows.starts[r + 1]!; e++)
      act[r]! += rows.values[e]! * x[rows.indices[e]!]!;
    if (
      act[r]! < rows.lower[r]! - slack(rows.lower[r]!) ||
      act[r]! > rows.upper[r]! + slack(rows.upper[r]!)
    ) {
      return undefined;
    }
  }
  const costOf = objectives.at(-1)!.coefficients;
  const cost = dot(costOf, x);
  if (cost - dot(costOf, lp) > RELAXED_GAP * Math.max(1, Math.abs(cost))) return undefined;
  return x;
}

/** Shares of a class's replicas among its services: water-filling by the share of what each asked. */
function shares(members: readonly Svc[], total: number, cap: (s: Svc) => number): number[] {
  const caps = members.map(cap);
  const sum = caps.reduce((a, b) => a + b, 0);
  if (total >= sum) return caps;
  // The largest fraction f with sum floor(f * cap) <= total, then one more each by lowest share, then key.
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (caps.reduce((a, c) => a + Math.floor(mid * c), 0) <= total) lo = mid;
    else hi = mid;
  }
  const out = caps.map((c) => Math.floor(lo * c));
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = members
    .map((_, i) => i)
    .filter((i) => out[i]! < caps[i]!)
    .sort(
      (a, b) =>
        out[a]! / caps[a]! - out[b]! / caps[b]! || (members[a]!.ask.key < members[b]!.ask.key ? -1 : 1),
    );
  for (const i of order) {
    if (left <= 0) break;
    out[i]!++;
    left--;
  }
  return out;
}

/** Splits a class's replicas per variant back onto its services: minimums first, fairly, then where they run. */
function split(k: Klass, xs: number[], mins: number[]): void {
  const members = [...k.members].sort((a, b) => (a.ask.key < b.ask.key ? -1 : 1));
  const placed = xs.reduce((a, b) => a + b, 0);
  const minPlaced = Math.min(
    placed,
    mins.reduce((a, b) => a + b, 0),
  );
  const base = shares(members, minPlaced, (s) => s.min);
  const extra = shares(members, placed - minPlaced, (s) => s.ask.desired - s.min);
  const target = members.map((_, i) => base[i]! + extra[i]!);
  const left = [...xs];
  for (const s of members) s.x = s.opts.map(() => 0);
  // Where they run first, then the class's remaining replicas by variant order.
  members.forEach((s, m) => {
    s.opts.forEach((p, i) => {
      const keep = Math.min(s.ask.current[p.o.pool] ?? 0, left[i]!, target[m]! - total(s));
      s.x[i]! += keep;
      left[i]! -= keep;
    });
  });
  members.forEach((s, m) => {
    s.opts.forEach((_, i) => {
      const put = Math.min(left[i]!, target[m]! - total(s));
      s.x[i]! += put;
      left[i]! -= put;
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// The result, with its reasons.

function report(
  svcs: readonly Svc[],
  caps: ReadonlyMap<string, Cap>,
  budgets: readonly BudgetCtx[],
  pools: readonly PoolSnapshot[],
  memo: Map<string, unknown>,
): Allocation {
  const services = new Map<string, Placement>();
  const heldBack = budgets.map(() => [] as BudgetPlan["heldBack"]);
  const refused = new Set<string>();
  const leadNotes = new Map<string, string>();
  for (const s of svcs) {
    const { ask } = s;
    if (ask.fixed) {
      const split = advisorySplit(ask);
      const variants = ask.pools.map((pool) => ({ pool, replicas: split.get(pool) ?? 0 }));
      services.set(ask.key, { variants, total: variants.reduce((a, v) => a + v.replicas, 0) });
      continue;
    }
    const byPool = new Map(s.opts.map((p, i) => [p.o.pool, s.x[i]!]));
    const variants = ask.pools.map((pool) => ({ pool, replicas: byPool.get(pool) ?? 0 }));
    const placed = total(s);
    const out: Placement = { variants, total: placed };
    const short = ask.desired - placed;
    if (s.opts.length === 0 && ask.desired > 0) {
      out.limitedBy = {
        reason: Reason.NoUsableVariant,
        message: `no variant can be placed: ${(ask.unusable ?? []).join("; ") || "spec.accelerators names no usable GPUNodePool"}`,
      };
    } else if (short > 0) {
      const bs = blockersOf(s, svcs, caps, budgets, memo);
      const budget = bs.filter((b) => b.kind === "budget");
      const pool = bs.filter((b) => b.kind !== "budget");
      for (const b of pool) {
        refused.add(String(b.key));
        if (b.kind === "lead") leadNotes.set(String(b.key), b.text);
      }
      const below = placed < ask.minReplicas ? ` (below minReplicas ${ask.minReplicas})` : "";
      const poolText = pool.map((b) => b.text).join("; ");
      if (budget.length > 0) {
        const first = budget[0]!;
        heldBack[first.key as number]!.push({ key: ask.key, replicas: short, limit: first.limit! });
        out.limitedBy = {
          reason: Reason.BudgetBinding,
          message: `${short} replicas held back by CapacityBudget: ${budget.map((b) => b.text).join("; ")}${poolText ? `; ${poolText}` : ""}${below}`,
        };
      } else {
        out.limitedBy = {
          reason: Reason.PoolAtMaxNodes,
          message: `${short} of ${ask.desired} replicas do not fit: ${poolText || `GPUNodePools ${s.opts.map((p) => p.o.pool).join(", ")} are full`}${below}`,
        };
      }
    }
    services.set(ask.key, out);
  }

  const budgetPlans = budgets.map((b, j): BudgetPlan => {
    const usage = cached(memo, `usage ${j}`, () => usageFor(svcs, j));
    const violated: string[] = [];
    for (const l of b.limits) {
      const mins = cached(memo, `mins ${j} ${l.name}`, () => minimumsUse(svcs, j, l));
      if (exceededLimits(usage, b.raw).includes(l.name) && mins > l.max * (1 + EPS) + EPS) {
        violated.push(
          `${l.name}: minimums alone use ${describeLimit(usage, b.raw, l.name)}` +
            (svcs.some((s) => s.ask.fixed && s.scopes.includes(j))
              ? " (services in mode Recommend count as they run)"
              : ""),
        );
      }
    }
    return budgetResult(b.snap.name, usage, heldBack[j]!, b.window, violated);
  });

  const placedOn = cached(memo, "pools", () => poolCounts(svcs)).all;
  return {
    services,
    pools: pools.map((p) =>
      poolPlan(p, placedOn.get(p.name) ?? new Map(), refused.has(p.name), leadNotes.get(p.name)),
    ),
    budgets: budgetPlans,
  };
}

/**
 * The objective an allocation scores, for comparing plans (tests, benchmark): per priority, highest first,
 * the minimums placed; then per priority the replicas placed; then minus the cost per token with churn.
 * Larger is better, compared element by element (compareObjective).
 */
export function objective(asks: readonly ServiceAsk[], a: Allocation): number[] {
  const scaled = asks.filter((s) => !s.fixed);
  const priorities = [...new Set(scaled.map((s) => s.priority))].sort((x, y) => y - x);
  const mins = priorities.map(() => 0);
  const placed = priorities.map(() => 0);
  let cost = 0;
  for (const ask of scaled) {
    const p = a.services.get(ask.key)!;
    const t = priorities.indexOf(ask.priority);
    mins[t]! += Math.min(p.total, ask.minReplicas, ask.desired);
    placed[t]! += p.total;
    const w = weights(ask.options);
    ask.options.forEach((o, i) => {
      const x = p.variants.find((v) => v.pool === o.pool)?.replicas ?? 0;
      cost += w[i]! * x + w[i]! * CHURN_PENALTY * Math.max(0, (ask.current[o.pool] ?? 0) - x);
    });
  }
  return [...mins, ...placed, -cost];
}

/** objective(), from the services' own weights (the same sums in the same order). */
function objectiveOf(svcs: readonly Svc[], a: Allocation): number[] {
  const priorities = [...new Set(svcs.filter((s) => !s.ask.fixed).map((s) => s.ask.priority))].sort(
    (x, y) => y - x,
  );
  const index = new Map(priorities.map((p, t) => [p, t]));
  const mins = priorities.map(() => 0);
  const placed = priorities.map(() => 0);
  let cost = 0;
  for (const s of svcs) {
    const { ask } = s;
    if (ask.fixed) continue;
    const p = a.services.get(ask.key)!;
    const t = index.get(ask.priority)!;
    mins[t]! += Math.min(p.total, ask.minReplicas, ask.desired);
    placed[t]! += p.total;
    for (let i = 0; i < s.opts.length; i++) {
      const w = s.opts[i]!.cost;
      const pool = ask.options[i]!.pool;
      let x = 0;
      for (const v of p.variants) {
        if (v.pool === pool) {
          x = v.replicas;
          break;
        }
      }
      cost += w * x + w * CHURN_PENALTY * Math.max(0, (ask.current[pool] ?? 0) - x);
    }
  }
  return [...mins, ...placed, -cost];
}

/**
 * -1, 0 or 1 as objective `a` is worse than, as good as or better than `b`: replica counts exactly, costs
 * equal within RELAXED_GAP of the cost (the optimality gap to which HiGHS solves the program).
 */
export function compareObjective(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const last = i === a.length - 1;
    const d = a[i]! - b[i]!;
    if (last ? Math.abs(d) > RELAXED_GAP * Math.max(1, Math.abs(b[i]!)) : d !== 0) return Math.sign(d);
  }
  return 0;
}
