import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Reason } from "../apis/conditions.ts";
import { type Allocation, allocate, nodesFor, type ServiceAsk, variantOptions } from "./allocate.ts";
import { ask, h100, h100Fast, l40s, l40sSlow, l40sStuck, onL40s } from "./allocation-fixtures.ts";
import { addUsage, emptyUsage, limitsInForce } from "./budgets.ts";
import { compareObjective, type OptimiseInput, objective, optimise } from "./optimise.ts";
import examples from "./optimise-counterexamples.json" with { type: "json" };
import { budget, pool, serviceSpec, T0 } from "./testkit.ts";
import type { BudgetSnapshot, PoolSnapshot } from "./types.ts";

const counterexamples = examples as unknown as { why: string; input: OptimiseInput }[];

function run(asks: ServiceAsk[], opts: Partial<OptimiseInput> = {}) {
  return optimise({ asks, pools: [h100, l40s], budgets: [], nowMs: T0, ...opts });
}

const replicas = (a: ReturnType<typeof run>, key: string) =>
  Object.fromEntries(a.services.get(key)!.variants.map((v) => [v.pool, v.replicas]));

describe("optimise: placement", () => {
  it("places on the cheapest variant per token without solving anything when nothing binds", () => {
    const a = run([ask("a/llama", { desired: 5 })]);
    expect(a.solver).toBe("closedForm");
    expect(replicas(a, "a/llama")).toEqual({ h100: 0, l40s: 5 });
    expect(a.pools.find((p) => p.name === "l40s")!.nodes).toMatchObject({ value: 2 });
  });

  it("spills to the next variant when the pool is full (HiGHS), and gives less when every pool is", () => {
    const a = run([ask("a/llama", { desired: 11 })]);
    expect(a.solver).toBe("highs");
    expect(replicas(a, "a/llama")).toEqual({ h100: 3, l40s: 8 });
    const full = run([ask("a/llama", { desired: 30 })]);
    expect(full.services.get("a/llama")!.total).toBe(24);
    expect(full.services.get("a/llama")!.limitedBy).toMatchObject({ reason: Reason.PoolAtMaxNodes });
    expect(full.services.get("a/llama")!.limitedBy!.message).toContain("6 of 30 replicas do not fit");
    expect(full.services.get("a/llama")!.limitedBy!.message).toContain(
      "GPUNodePool l40s is full at maxNodes 2",
    );
  });

  it("compares with the greedy only a plan it has not proven optimal", () => {
    // Spilling to the next variant: exact packing, every minimum placed, HiGHS optimal: proven, no greedy run.
    expect(run([ask("a/llama", { desired: 11 })])).toMatchObject({ solver: "highs", proven: true });
    // Minimums the pools cannot all hold: phase 2 keeps the minimums phase 1 chose, which another choice
    // could beat, so the greedy is run and compared.
    const short = run([ask("a/llama", { minReplicas: 30, desired: 30 }), ask("b/llama", { desired: 3 })]);
    expect(short.solver === "greedy" || short.proven === false).toBe(true);
    expect(short.services.get("a/llama")!.total).toBe(24);
  });

  it("moves a running replica only when the saving beats its load time", () => {
    // The L40S is 9% cheaper per token than the H100: not worth a move.
    expect(replicas(run([ask("a/llama", { desired: 4, current: { h100: 2 } })]), "a/llama")).toEqual({
      h100: 2,
      l40s: 2,
    });
    const cheap = pool("l40s", {
      gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 },
      costPerNodeHour: 5,
      maxNodes: 2,
    });
    const moved = run([ask("a/llama", { desired: 4, current: { h100: 2 }, on: [h100, cheap] })], {
      pools: [h100, cheap],
    });
    expect(replicas(moved, "a/llama")).toEqual({ h100: 0, l40s: 4 });
  });

  it("a higher priority takes the pool the lower one cannot leave, and the lower one the other", () => {
    // Greedy: the high service takes the cheap L40S pool first and the low one (L40S only) starves.
    const only = serviceSpec({
      accelerators: [{ pool: "l40s", gpusPerReplica: 1, profile: { maxTokensPerSecond: 1200 } }],
    }).accelerators;
    const asks = [
      ask("a/high", { priority: 900, desired: 8 }),
      ask("a/low", { priority: 100, desired: 8, accelerators: only }),
    ];
    const greedy = allocate({ asks, pools: [h100, l40s], budgets: [], nowMs: T0 });
    expect(greedy.services.get("a/low")!.total).toBe(1); // its minimum only
    const a = run(asks);
    expect(a.services.get("a/high")!.total).toBe(8);
    expect(a.services.get("a/low")!.total).toBe(8);
    expect(replicas(a, "a/high")).toEqual({ h100: 8, l40s: 0 });
  });

  it("a pool that cannot add nodes within the lead time holds only the nodes it has, and says so", () => {
    const slow = l40sSlow;
    const fast = h100Fast;
    const a = run([ask("a/llama", { desired: 3, on: [fast, slow] })], {
      pools: [fast, slow],
      leadSeconds: new Map([["a/llama", 180]]),
    });
    expect(replicas(a, "a/llama")).toEqual({ h100: 3, l40s: 0 });
    // The only variant: the service gets nothing, and the reason names the lead time.
    const onlySlow = onL40s;
    const b = run([ask("a/x", { desired: 3, accelerators: onlySlow, on: [slow] })], {
      pools: [slow],
      leadSeconds: new Map([["a/x", 180]]),
    });
    expect(b.services.get("a/x")!.total).toBe(0);
    expect(b.services.get("a/x")!.limitedBy!.message).toContain(
      "GPUNodePool l40s cannot add nodes within the lead time (provisioningSeconds 900)",
    );
    expect(b.pools[0]!.nodes.message).toContain("cannot add nodes within the lead time");
    // With a lead time long enough, it grows.
    const c = run([ask("a/x", { desired: 3, accelerators: onlySlow, on: [slow] })], {
      pools: [slow],
      leadSeconds: new Map([["a/x", 960]]),
    });
    expect(c.services.get("a/x")!.total).toBe(3);
  });

  it("a pool whose provider cannot add nodes now holds the nodes it has; the rest go to the other pool", () => {
    const stuck = l40sStuck;
    const a = run([ask("a/llama", { desired: 7, on: [h100, stuck] })], { pools: [h100, stuck] });
    expect(replicas(a, "a/llama")).toEqual({ h100: 3, l40s: 4 });
    expect(a.pools.find((p) => p.name === "l40s")!.nodes).toMatchObject({ value: 1 });
    // Alone, the service gets what the pool's node holds, and the reason names the provider's words.
    const onlyL40s = serviceSpec({ accelerators: [{ pool: "l40s", gpusPerReplica: 1 }] }).accelerators;
    const b = run([ask("a/x", { desired: 7, accelerators: onlyL40s, on: [stuck] })], { pools: [stuck] });
    expect(b.services.get("a/x")!.total).toBe(4);
    expect(b.services.get("a/x")!.limitedBy!.message).toContain("InsufficientCapacity");
    // Growth allowed again: all seven on the cheaper pool.
    const { cannotGrow: _, ...free } = stuck;
    const c = run([ask("a/llama", { desired: 7, on: [h100, free] })], { pools: [h100, free] });
    expect(replicas(c, "a/llama")).toEqual({ h100: 0, l40s: 7 });
  });

  it("packs sizes that do not divide the node without over-committing it", () => {
    const p = pool("h100", { maxNodes: 2 });
    const accs = serviceSpec({ accelerators: [{ pool: "h100", gpusPerReplica: 3 }] }).accelerators;
    const a = run([ask("a/x", { desired: 6, accelerators: accs, on: [p] })], { pools: [p] });
    // Two 3-GPU replicas per 8-GPU node: 4 on two nodes.
    expect(a.services.get("a/x")!.total).toBe(4);
    expect(a.pools[0]!.nodes.value).toBe(2);
  });
});

describe("optimise: budgets", () => {
  const accs = serviceSpec({
    accelerators: [{ pool: "h100", gpusPerReplica: 1, profile: { maxTokensPerSecond: 5100 } }],
  }).accelerators;
  const big = pool("h100", { costPerNodeHour: 80, maxNodes: 10 });
  const svc = (key: string, over: Partial<ServiceAsk>) =>
    ask(key, { accelerators: accs, on: [big], ...over });

  it("cuts the lowest priority first, never below its minimum, and names the budget and limit", () => {
    const b = budget("shared", { limits: { costPerHour: 100 } });
    const a = run(
      [
        svc("a/high", { priority: 900, minReplicas: 2, desired: 8 }),
        svc("a/low", { priority: 100, minReplicas: 2, desired: 8 }),
      ],
      { pools: [big], budgets: [b] },
    );
    expect(a.services.get("a/high")!.total).toBe(8);
    expect(a.services.get("a/low")!.total).toBe(2);
    expect(a.services.get("a/low")!.limitedBy).toMatchObject({ reason: Reason.BudgetBinding });
    expect(a.services.get("a/low")!.limitedBy!.message).toBe(
      "6 replicas held back by CapacityBudget: shared costPerHour ($100/h against $100/h)",
    );
    expect(a.budgets[0]).toMatchObject({
      used: { costPerHour: 100, gpus: { "nvidia-h100": 10 } },
      heldBack: [{ key: "a/low", replicas: 6, limit: "costPerHour" }],
    });
    expect(a.budgets[0]!.violated).toBeUndefined();
  });

  it("keeps to a window's limits from WINDOW_LEAD_MS before it starts, so the replicas it cuts have drained", () => {
    const b = budget("peak", {
      limits: { costPerHour: 1000 },
      windows: [{ name: "peak", start: "16:00", end: "20:00", limits: { costPerHour: 20 } }],
    });
    const at = (iso: string) =>
      run([svc("a/x", { desired: 5 })], { pools: [big], budgets: [b], nowMs: Date.parse(iso) }).services.get(
        "a/x",
      )!.total;
    expect(at("2025-01-06T15:50:00Z")).toBe(5);
    expect(at("2025-01-06T15:57:00Z")).toBe(2);
    expect(at("2025-01-06T17:00:00Z")).toBe(2);
  });

  it("says so when minimums alone exceed the budget, and never breaks minimums", () => {
    const b = budget("tight", { limits: { powerWatts: 2000 } });
    const a = run([svc("a/x", { minReplicas: 3, desired: 5 })], { pools: [big], budgets: [b] });
    expect(a.services.get("a/x")!.total).toBe(3);
    expect(a.budgets[0]!.violated).toContain("powerWatts: minimums alone use 2100 W against 2000 W");
  });

  it("a GPU-type limit moves replicas to the other type rather than cutting them", () => {
    const b = budget("h100s", { limits: { gpus: [{ type: "nvidia-h100", max: 2 }] } });
    const a = run([ask("a/llama", { desired: 12, current: { h100: 4, l40s: 8 } })], { budgets: [b] });
    expect(replicas(a, "a/llama")).toEqual({ h100: 2, l40s: 8 });
    expect(a.services.get("a/llama")!.limitedBy!.message).toContain("h100s gpus/nvidia-h100");
    expect(a.services.get("a/llama")!.limitedBy!.message).toContain("GPUNodePool l40s is full at maxNodes 2");
  });
});

// Random fleets: 2-5 pools of 4 or 8 GPUs (some static, some with nodes), services of 1-3 variants with
// 1, 2, 3, 4 or 8 GPUs per replica, priorities from three levels, budgets over some namespaces.
const fleetArb = fc
  .record({
    pools: fc.array(
      fc.record({
        count: fc.constantFrom(4, 8),
        cost: fc.integer({ min: 5, max: 100 }),
        max: fc.integer({ min: 1, max: 6 }),
        nodes: fc.integer({ min: 0, max: 4 }),
        isStatic: fc.boolean(),
        minNodes: fc.integer({ min: 0, max: 1 }),
      }),
      { minLength: 2, maxLength: 4 },
    ),
    services: fc.array(
      fc.record({
        ns: fc.constantFrom("a", "b"),
        priority: fc.constantFrom(100, 500, 900),
        min: fc.integer({ min: 0, max: 3 }),
        desired: fc.integer({ min: 0, max: 14 }),
        variants: fc.uniqueArray(
          fc.record({
            pool: fc.integer({ min: 0, max: 3 }),
            gpus: fc.constantFrom(1, 1, 2, 3, 4, 8),
            tps: fc.option(fc.integer({ min: 500, max: 6000 }), { nil: undefined }),
            current: fc.integer({ min: 0, max: 4 }),
          }),
          { minLength: 1, maxLength: 3, selector: (v) => v.pool },
        ),
        fixed: fc.constantFrom(false, false, false, true),
      }),
      { minLength: 1, maxLength: 8 },
    ),
    budgets: fc.array(
      fc.record({
        cost: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
        watts: fc.option(fc.integer({ min: 0, max: 20000 }), { nil: undefined }),
        gpus: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
        scoped: fc.boolean(),
      }),
      { maxLength: 2 },
    ),
  })
  .map((f): OptimiseInput => {
    const pools = f.pools.map((p, i) =>
      pool(
        `p${i}`,
        {
          gpu: { type: i % 2 === 0 ? "nvidia-h100" : "nvidia-l40s", count: p.count, memoryGiB: 48 },
          costPerNodeHour: p.cost,
          minNodes: p.minNodes,
          maxNodes: p.max,
          provider: { type: p.isStatic ? "static" : "kwok" },
        },
        { nodes: p.nodes },
      ),
    );
    const byName = new Map(pools.map((p) => [p.name, p]));
    const asks = f.services.map((s, i): ServiceAsk => {
      const accs = serviceSpec({
        accelerators: s.variants.map((v) => ({
          pool: `p${v.pool}`,
          gpusPerReplica: v.gpus,
          ...(v.tps ? { profile: { maxTokensPerSecond: v.tps } } : {}),
        })),
      }).accelerators;
      const { options, unusable } = variantOptions(accs, byName);
      const desired = Math.max(s.desired, s.min);
      return {
        key: `${s.ns}/s${i}`,
        namespace: s.ns,
        priority: s.priority,
        minReplicas: s.min,
        desired,
        options,
        unusable: unusable.map((u) => u.why),
        pools: accs.map((a) => a.pool),
        current: Object.fromEntries(s.variants.map((v) => [`p${v.pool}`, v.current])),
        fixed: s.fixed,
      };
    });
    const budgets: BudgetSnapshot[] = f.budgets.map((b, i) =>
      budget(
        `b${i}`,
        {
          limits: {
            ...(b.cost !== undefined ? { costPerHour: b.cost } : {}),
            ...(b.watts !== undefined ? { powerWatts: b.watts } : {}),
            ...(b.gpus !== undefined ? { gpus: [{ type: "nvidia-h100", max: b.gpus }] } : {}),
            ...(b.cost === undefined && b.watts === undefined && b.gpus === undefined
              ? { costPerHour: 50 }
              : {}),
          },
        },
        b.scoped ? ["a"] : undefined,
      ),
    );
    return { asks, pools, budgets, nowMs: T0 };
  });

function usageIn(input: OptimiseInput, a: ReturnType<typeof optimise>, b: BudgetSnapshot, minsOnly: boolean) {
  const u = emptyUsage();
  for (const ask of input.asks) {
    if (b.namespaces && !b.namespaces.includes(ask.namespace)) continue;
    const p = a.services.get(ask.key)!;
    let left = minsOnly && !ask.fixed ? Math.min(ask.minReplicas, p.total) : Number.POSITIVE_INFINITY;
    // Minimums counted at their most frugal variant: the least the plan could not avoid.
    const opts = minsOnly
      ? [...ask.options].sort((x, y) => x.footprint.costPerHour - y.footprint.costPerHour)
      : ask.options;
    for (const o of opts) {
      const on = ask.fixed
        ? (ask.current[o.pool] ?? 0)
        : (p.variants.find((v) => v.pool === o.pool)?.replicas ?? 0);
      const k = Math.min(on, left);
      addUsage(u, o.footprint, k);
      left -= k;
    }
  }
  return u;
}

describe("optimise: properties", () => {
  it("budgets are never exceeded by what the plan adds; nodes never over-committed; same input, same plan", () => {
    fc.assert(
      fc.property(fleetArb, (input) => {
        const a = optimise(input);
        expect(optimise(structuredClone(input))).toEqual(a);
        for (const b of input.budgets) {
          const { limits } = limitsInForce(b.spec, input.nowMs);
          const used = usageIn(input, a, b, false);
          const bp = a.budgets.find((x) => x.name === b.name)!;
          expect(bp.used.costPerHour).toBeCloseTo(used.costPerHour, 6);
          const over = (u: number, l: number | undefined) => l !== undefined && u > l * (1 + 1e-7) + 1e-7;
          if (over(used.costPerHour, limits.costPerHour)) expect(bp.violated).toContain("costPerHour:");
          if (over(used.powerWatts, limits.powerWatts)) expect(bp.violated).toContain("powerWatts:");
          const h = limits.gpus?.[0];
          if (h && over(used.gpus["nvidia-h100"] ?? 0, h.max))
            expect(bp.violated).toContain("gpus/nvidia-h100:");
        }
        for (const p of input.pools) {
          const counts = new Map<number, number>();
          for (const ask of input.asks) {
            for (const o of ask.options) {
              if (o.pool !== p.name) continue;
              const n = ask.fixed
                ? (ask.current[o.pool] ?? 0)
                : (a.services.get(ask.key)!.variants.find((v) => v.pool === o.pool)?.replicas ?? 0);
              counts.set(o.gpusPerReplica, (counts.get(o.gpusPerReplica) ?? 0) + n);
            }
          }
          const scaledOnly = new Map<number, number>();
          for (const ask of input.asks.filter((x) => !x.fixed)) {
            for (const o of ask.options) {
              if (o.pool !== p.name) continue;
              const n = a.services.get(ask.key)!.variants.find((v) => v.pool === o.pool)?.replicas ?? 0;
              scaledOnly.set(o.gpusPerReplica, (scaledOnly.get(o.gpusPerReplica) ?? 0) + n);
            }
          }
          const limit =
            p.spec.provider.type === "static" ? Math.min(p.nodes, p.spec.maxNodes) : p.spec.maxNodes;
          // The scaled replicas fit the pool's nodes (services in mode Recommend run where they run).
          if (nodesFor(scaledOnly, p.spec.gpu.count) > 0) {
            expect(nodesFor(counts, p.spec.gpu.count), `pool ${p.name}`).toBeLessThanOrEqual(
              Math.max(
                limit,
                nodesFor(
                  new Map([...counts].map(([g, n]) => [g, n - (scaledOnly.get(g) ?? 0)])),
                  p.spec.gpu.count,
                ),
              ),
            );
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never worse than the greedy on its own objective: minimums, then priorities, then cost", () => {
    fc.assert(
      fc.property(fleetArb, (input) => {
        const a = optimise(input);
        const g = allocate(input);
        const oa = objective(input.asks, a);
        const og = objective(input.asks, g);
        expect(compareObjective(oa, og), `optimiser ${oa} greedy ${og} (${a.solver})`).toBeGreaterThanOrEqual(
          0,
        );
      }),
      { numRuns: 300 },
    );
  });

  // Inputs on which a plan once called proven scored worse than the greedy's (found by the property above at
  // 5,000 to 30,000 runs): each needs its own condition of the proof.
  it.each(counterexamples)("never worse than the greedy where $why", ({ input }) => {
    const a = optimise(input);
    expect(compareObjective(objective(input.asks, a), objective(input.asks, allocate(input)))).toBe(0);
    expect(a.proven).not.toBe(true);
  });

  it("minimums are honoured whenever the greedy shows they fit; a higher priority never gives way", () => {
    fc.assert(
      fc.property(fleetArb, (input) => {
        const a = optimise(input);
        const g = allocate(input);
        const scaled = input.asks.filter((s) => !s.fixed);
        const allMins = (x: Allocation) =>
          scaled.every((s) => x.services.get(s.key)!.total >= Math.min(s.minReplicas, s.desired));
        if (allMins(g)) expect(allMins(a)).toBe(true);
        // Replicas of the highest priority placed by the optimiser are at least the greedy's, where the greedy
        // honours every minimum too. Minimums come before priorities (docs/tuning.md): where a lower
        // priority's minimum and a higher one's replica above its own minimum compete for the last room, the
        // greedy may give it to the higher one, the optimiser gives it to the minimum (found at run 377 of
        // 3,000: one free 8-GPU node, a 1-GPU minimum of priority 100 against an 8-GPU replica of 900).
        const top = Math.max(...scaled.map((s) => s.priority));
        const placed = (x: Allocation) =>
          scaled.filter((s) => s.priority === top).reduce((n, s) => n + x.services.get(s.key)!.total, 0);
        if (scaled.length > 0 && allMins(g)) expect(placed(a)).toBeGreaterThanOrEqual(placed(g));
      }),
      { numRuns: 300 },
    );
  });

  it("both allocators give services whose lead time is shorter than a pool's provisioning only its nodes", () => {
    // Lead times of 100 s (shorter than the pools' default 300 s provisioning), 400 s, or none.
    const arb = fc.tuple(fleetArb, fc.array(fc.constantFrom(100, 100, 400, undefined), { minLength: 8 }));
    fc.assert(
      fc.property(arb, ([fleet, leads]) => {
        const leadSeconds = new Map<string, number>();
        fleet.asks.forEach((ask, i) => {
          if (leads[i] !== undefined) leadSeconds.set(ask.key, leads[i]);
        });
        const input = { ...fleet, leadSeconds };
        const short = (ask: ServiceAsk, p: PoolSnapshot) =>
          p.spec.provider.type !== "static" && (leadSeconds.get(ask.key) ?? Number.POSITIVE_INFINITY) < 300;
        for (const a of [allocate(input), optimise(input)]) {
          for (const p of input.pools) {
            // What the pool offers them: the GPUs of its nodes, or those their replicas hold on it now.
            let held = 0;
            let placed = 0;
            for (const ask of input.asks) {
              const o = ask.options.find((x) => x.pool === p.name);
              if (!o || !short(ask, p)) continue;
              held += o.gpusPerReplica * (ask.current[p.name] ?? 0);
              if (!ask.fixed) {
                const on = a.services.get(ask.key)!.variants.find((v) => v.pool === p.name)!.replicas;
                placed += o.gpusPerReplica * on;
              }
            }
            const offered = Math.max(p.spec.gpu.count * Math.min(p.nodes, p.spec.maxNodes), held);
            expect(placed, `${p.name}`).toBeLessThanOrEqual(offered);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("priorities, where every replica is alike", () => {
  // One pool, one GPU size that divides its nodes, one budget over everyone: any replica a lower priority
  // holds above its minimum could be a higher priority's instead. So a service held short of what it asked
  // for leaves every lower priority at its minimum, whatever runs now (docs/tuning.md: minimums by priority,
  // then the rest by priority, then cost): the promise "a higher priority is never cut for a lower one", in
  // the form the random fleets above cannot check it.
  const alikeArb = fc
    .record({
      gpus: fc.constantFrom(1, 2, 4),
      isStatic: fc.boolean(),
      nodes: fc.integer({ min: 0, max: 4 }),
      max: fc.integer({ min: 1, max: 5 }),
      budgetGpus: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
      budgetCost: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
      services: fc.array(
        fc.record({
          ns: fc.constantFrom("a", "b"),
          priority: fc.constantFrom(0, 100, 500, 900),
          min: fc.integer({ min: 0, max: 3 }),
          desired: fc.integer({ min: 0, max: 16 }),
          current: fc.integer({ min: 0, max: 6 }),
        }),
        { minLength: 2, maxLength: 7 },
      ),
    })
    .map((f): OptimiseInput => {
      const p = pool(
        "p0",
        {
          gpu: { type: "nvidia-h100", count: 8, memoryGiB: 80 },
          costPerNodeHour: 80,
          maxNodes: Math.max(f.max, f.nodes),
          provider: { type: f.isStatic ? "static" : "kwok" },
        },
        { nodes: f.nodes },
      );
      const byName = new Map([[p.name, p]]);
      const asks = f.services.map((s, i): ServiceAsk => {
        const accs = serviceSpec({
          accelerators: [{ pool: "p0", gpusPerReplica: f.gpus, profile: { maxTokensPerSecond: 3000 } }],
        }).accelerators;
        const { options, unusable } = variantOptions(accs, byName);
        return {
          key: `${s.ns}/s${i}`,
          namespace: s.ns,
          priority: s.priority,
          minReplicas: s.min,
          desired: Math.max(s.desired, s.min),
          options,
          unusable: unusable.map((u) => u.why),
          pools: ["p0"],
          current: { p0: s.current },
          fixed: false,
        };
      });
      const limits = {
        ...(f.budgetGpus !== undefined ? { gpus: [{ type: "nvidia-h100", max: f.budgetGpus }] } : {}),
        ...(f.budgetCost !== undefined ? { costPerHour: f.budgetCost } : {}),
      };
      const budgets = Object.keys(limits).length > 0 ? [budget("all", { limits })] : [];
      return { asks, pools: [p], budgets, nowMs: T0 };
    });

  it.each([
    ["the optimiser", optimise],
    ["the greedy", allocate],
  ])("%s leaves every lower priority at its minimum while a higher one is short", (_name, allocator) => {
    fc.assert(
      fc.property(alikeArb, (input) => {
        const a = allocator(input);
        const total = (key: string) => a.services.get(key)!.total;
        for (const high of input.asks) {
          if (total(high.key) >= high.desired) continue;
          for (const low of input.asks) {
            if (low.priority >= high.priority) continue;
            expect(
              total(low.key),
              `${low.key} (priority ${low.priority}) holds ${total(low.key)} while ${high.key} (priority ${high.priority}) has ${total(high.key)} of ${high.desired}`,
            ).toBeLessThanOrEqual(Math.min(low.minReplicas, low.desired));
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
