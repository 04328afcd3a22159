import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Reason } from "../apis/conditions.ts";
import { allocate, nodesFor, type ServiceAsk, variantOptions } from "./allocate.ts";
import { ask, h100, h100Fast, l40s, l40sSlow, l40sStuck, llama, onL40s } from "./allocation-fixtures.ts";
import { budget, pool, serviceSpec, T0 } from "./testkit.ts";
import type { BudgetSnapshot, PoolSnapshot } from "./types.ts";

function run(
  asks: ServiceAsk[],
  opts: {
    pools?: PoolSnapshot[];
    budgets?: BudgetSnapshot[];
    nowMs?: number;
    leadSeconds?: ReadonlyMap<string, number>;
  } = {},
) {
  return allocate({
    asks,
    pools: opts.pools ?? [h100, l40s],
    budgets: opts.budgets ?? [],
    nowMs: opts.nowMs ?? T0,
    leadSeconds: opts.leadSeconds,
  });
}

const replicas = (a: ReturnType<typeof run>, key: string) =>
  Object.fromEntries(a.services.get(key)!.variants.map((v) => [v.pool, v.replicas]));

describe("variant ranking", () => {
  it("prefers the lowest cost per token: the L40S at these prices", () => {
    const { options } = variantOptions(
      llama,
      new Map([
        ["h100", h100],
        ["l40s", l40s],
      ]),
    );
    expect(options.map((o) => o.pool)).toEqual(["l40s", "h100"]);
    // 10.49 / 4 / 1200 tokens/s = $0.607 per million tokens; 98.32 / 8 / 5100 = $0.669
    expect(options[0]!.costPerMillionTokens).toBeCloseTo(0.607, 3);
    expect(options[1]!.costPerMillionTokens).toBeCloseTo(0.669, 3);
  });

  it("puts unprofiled variants after profiled ones, by cost per replica-hour, then spec order", () => {
    const accs = serviceSpec({
      accelerators: [
        { pool: "h100", gpusPerReplica: 1 },
        { pool: "l40s", gpusPerReplica: 2 },
        { pool: "l40s-b", gpusPerReplica: 1, profile: { maxTokensPerSecond: 100 } },
      ],
    }).accelerators;
    const pools = new Map([
      ["h100", h100],
      ["l40s", l40s],
      ["l40s-b", { ...l40s, name: "l40s-b" }],
    ]);
    expect(variantOptions(accs, pools).options.map((o) => o.pool)).toEqual(["l40s-b", "l40s", "h100"]);
  });

  it("says why a variant is unusable", () => {
    const accs = serviceSpec({
      accelerators: [
        { pool: "nope", gpusPerReplica: 1 },
        { pool: "l40s", gpusPerReplica: 8 },
      ],
    }).accelerators;
    const r = variantOptions(accs, new Map([["l40s", l40s]]));
    expect(r.options).toEqual([]);
    expect(r.unusable.map((u) => u.why)).toEqual([
      "GPUNodePool nope does not exist",
      "a replica requests 8 GPUs but nodes of GPUNodePool l40s have 4",
    ]);
  });
});

describe("node packing", () => {
  it.each([
    [[[1, 0]], 8, 0],
    [[[1, 8]], 8, 1],
    [[[1, 9]], 8, 2],
    [[[2, 5]], 8, 2],
    [[[5, 3]], 8, 3], // ceil(15 / 8) = 2 would be wrong: two 5-GPU replicas never share a node
    [[[3, 3]], 8, 2],
    [
      [
        [4, 2],
        [2, 4],
      ],
      8,
      2,
    ],
    [
      [
        [6, 2],
        [2, 2],
      ],
      8,
      2,
    ], // 6+2 twice
    [
      [
        [6, 2],
        [1, 5],
      ],
      8,
      3,
    ], // 6+1, 6+1, then 3 more ones
    [[[9, 1]], 8, Number.POSITIVE_INFINITY],
  ])("%j on nodes of %d: %d nodes", (counts, perNode, want) => {
    expect(nodesFor(new Map(counts as [number, number][]), perNode)).toBe(want);
  });

  it("counts what first-fit decreasing, replica by replica, opens (sizes that divide the node or not)", () => {
    // The reference: each replica, largest first, on the first open node with room, else on a new one.
    const firstFit = (counts: Map<number, number>, perNode: number): number => {
      const free: number[] = [];
      for (const [size, n] of [...counts].sort((a, b) => b[0] - a[0])) {
        if (n > 0 && size > perNode) return Number.POSITIVE_INFINITY;
        for (let k = 0; k < n; k++) {
          const i = free.findIndex((f) => f >= size);
          if (i >= 0) free[i]! -= size;
          else free.push(perNode - size);
        }
      }
      return free.length;
    };
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 30 })), { maxLength: 4 }),
        (perNode, entries) => {
          const counts = new Map<number, number>();
          for (const [size, n] of entries) counts.set(size, (counts.get(size) ?? 0) + n);
          expect(nodesFor(counts, perNode)).toBe(firstFit(counts, perNode));
        },
      ),
    );
  });
});

describe("placement", () => {
  it("places on the cheapest variant per token and sizes its pool", () => {
    const a = run([ask("a/llama", { desired: 5 })]);
    expect(replicas(a, "a/llama")).toEqual({ h100: 0, l40s: 5 });
    expect(a.pools.find((p) => p.name === "l40s")!.nodes).toMatchObject({
      value: 2,
      reason: Reason.NodesForReplicas,
    });
    expect(a.pools.find((p) => p.name === "h100")!.nodes).toMatchObject({
      value: 0,
      reason: Reason.NodesForReplicas,
    });
  });

  it("spills to the next variant when the pool is at maxNodes, and says so", () => {
    const a = run([ask("a/llama", { desired: 11 })]);
    expect(replicas(a, "a/llama")).toEqual({ h100: 3, l40s: 8 });
    expect(a.pools.find((p) => p.name === "l40s")!.nodes).toMatchObject({
      value: 2,
      reason: Reason.PoolAtMaxNodes,
    });
    expect(a.services.get("a/llama")!.limitedBy).toBeUndefined();
  });

  it("gives less when every pool is full, and says so", () => {
    const a = run([ask("a/llama", { desired: 30 })]);
    expect(a.services.get("a/llama")!.total).toBe(24);
    expect(a.services.get("a/llama")!.limitedBy).toMatchObject({ reason: Reason.PoolAtMaxNodes });
    expect(a.services.get("a/llama")!.limitedBy!.message).toContain("6 of 30 replicas do not fit");
  });

  it("keeps replicas where they run on a scale-up (no churn)", () => {
    const a = run([ask("a/llama", { desired: 4, current: { h100: 2 } })]);
    expect(replicas(a, "a/llama")).toEqual({ h100: 2, l40s: 2 });
  });

  it("removes from the least preferred variant first on a scale-down", () => {
    const a = run([ask("a/llama", { desired: 3, current: { h100: 2, l40s: 2 } })]);
    expect(replicas(a, "a/llama")).toEqual({ h100: 1, l40s: 2 });
  });

  it("serves minimums of every service before the rest, then by priority", () => {
    const small = [
      pool("l40s", {
        gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 },
        costPerNodeHour: 10.49,
        maxNodes: 1,
      }),
    ];
    const accs = serviceSpec({ accelerators: [{ pool: "l40s", gpusPerReplica: 1 }] }).accelerators;
    const a = run(
      [
        ask("a/high", { priority: 900, minReplicas: 1, desired: 4, accelerators: accs, on: small }),
        ask("a/low", { priority: 100, minReplicas: 1, desired: 4, accelerators: accs, on: small }),
      ],
      { pools: small },
    );
    expect(a.services.get("a/high")!.total).toBe(3);
    expect(a.services.get("a/low")!.total).toBe(1);
  });

  it("holds a static pool to the nodes it has and never changes them", () => {
    const fixed = pool(
      "l40s",
      { gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 }, maxNodes: 10, provider: { type: "static" } },
      { nodes: 1 },
    );
    const accs = serviceSpec({ accelerators: [{ pool: "l40s", gpusPerReplica: 1 }] }).accelerators;
    const a = run([ask("a/x", { desired: 6, accelerators: accs, on: [fixed] })], { pools: [fixed] });
    expect(a.services.get("a/x")!.total).toBe(4);
    expect(a.pools[0]!.nodes).toMatchObject({ value: 1, reason: Reason.StaticPool });
  });

  it("holds a pool whose provider cannot add nodes now to the nodes it has, and says why", () => {
    const stuck = l40sStuck;
    const a = run([ask("a/llama", { desired: 7, on: [h100, stuck] })], { pools: [h100, stuck] });
    expect(replicas(a, "a/llama")).toEqual({ h100: 3, l40s: 4 });
    expect(a.pools.find((p) => p.name === "l40s")!.nodes).toMatchObject({
      value: 1,
      reason: Reason.CapacityUnavailable,
      message: expect.stringContaining("InsufficientCapacity"),
    });
  });

  it("gives a service whose lead time is shorter than a pool's provisioning only the nodes it has", () => {
    const slow = l40sSlow;
    const fast = h100Fast;
    // The cheaper L40S cannot grow within 180 s: the replicas go to the H100.
    const a = run([ask("a/llama", { desired: 3, on: [fast, slow] })], {
      pools: [fast, slow],
      leadSeconds: new Map([["a/llama", 180]]),
    });
    expect(replicas(a, "a/llama")).toEqual({ h100: 3, l40s: 0 });
    // The only variant: nothing placed, and both the service and the pool say why.
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
    // Nodes it has count: with one node of 4 GPUs, 3 fit. Replicas that run keep their place.
    const one = { ...slow, nodes: 1, readyNodes: 1, allocatableGPUs: 4 };
    const c = run([ask("a/x", { desired: 6, accelerators: onlySlow, on: [one] })], {
      pools: [one],
      leadSeconds: new Map([["a/x", 180]]),
    });
    expect(c.services.get("a/x")!.total).toBe(4);
    const d = run([ask("a/x", { desired: 6, accelerators: onlySlow, on: [slow], current: { l40s: 5 } })], {
      pools: [slow],
      leadSeconds: new Map([["a/x", 180]]),
    });
    expect(d.services.get("a/x")!.total).toBe(5);
    // A lead time long enough, or none given: it grows.
    for (const leadSeconds of [new Map([["a/x", 960]]), undefined]) {
      const e = run([ask("a/x", { desired: 3, accelerators: onlySlow, on: [slow] })], {
        pools: [slow],
        leadSeconds,
      });
      expect(e.services.get("a/x")!.total).toBe(3);
    }
  });

  it("keeps a pool at minNodes and says so", () => {
    const warm = pool("l40s", {
      gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 },
      minNodes: 2,
      maxNodes: 4,
    });
    const accs = serviceSpec({ accelerators: [{ pool: "l40s", gpusPerReplica: 1 }] }).accelerators;
    const a = run([ask("a/x", { desired: 1, accelerators: accs, on: [warm] })], { pools: [warm] });
    expect(a.pools[0]!.nodes).toMatchObject({ value: 2, reason: Reason.PoolMinNodes });
  });

  it("reports a service with no usable variant", () => {
    const accs = serviceSpec({ accelerators: [{ pool: "nope" }] }).accelerators;
    const unusable = variantOptions(accs, new Map()).unusable.map((u) => u.why);
    const a = run([ask("a/x", { desired: 2, accelerators: accs, unusable })]);
    expect(a.services.get("a/x")).toMatchObject({
      total: 0,
      variants: [{ pool: "nope", replicas: 0 }],
      limitedBy: {
        reason: Reason.NoUsableVariant,
        message: "no variant can be placed: GPUNodePool nope does not exist",
      },
    });
  });

  it("counts a service nobody scales (mode Recommend) as it runs, with an advisory split", () => {
    const full = pool("l40s", { gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 }, maxNodes: 1 });
    const accs = serviceSpec({ accelerators: [{ pool: "l40s", gpusPerReplica: 1 }] }).accelerators;
    const a = run(
      [
        ask("a/advisory", { desired: 9, current: { l40s: 3 }, fixed: true, accelerators: accs, on: [full] }),
        ask("a/scaled", { desired: 4, accelerators: accs, on: [full] }),
      ],
      { pools: [full] },
    );
    expect(a.services.get("a/advisory")).toMatchObject({
      total: 9,
      variants: [{ pool: "l40s", replicas: 9 }],
    });
    expect(a.services.get("a/scaled")!.total).toBe(1); // the 3 advisory replicas occupy the node
  });
});

describe("budgets", () => {
  const accs = serviceSpec({
    accelerators: [{ pool: "h100", gpusPerReplica: 1, profile: { maxTokensPerSecond: 5100 } }],
  }).accelerators;
  const big = pool("h100", {
    gpu: { type: "nvidia-h100", count: 8, memoryGiB: 80 },
    costPerNodeHour: 80,
    maxNodes: 10,
  });
  const svc = (key: string, over: Partial<ServiceAsk>) =>
    ask(key, { accelerators: accs, on: [big], ...over });

  it("cuts the lowest priority first, never below its minimum, and reports what it held back", () => {
    // $10 per H100 replica-hour; $100/h buys 10 replicas.
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
    expect(a.budgets[0]).toMatchObject({
      used: { costPerHour: 100, powerWatts: 7000, gpus: { "nvidia-h100": 10 } },
      heldBack: [{ key: "a/low", replicas: 6, limit: "costPerHour" }],
    });
    expect(a.budgets[0]!.violated).toBeUndefined();
  });

  it("shares fairly among equal priorities", () => {
    const b = budget("shared", { limits: { gpus: [{ type: "nvidia-h100", max: 10 }] } });
    const a = run([svc("a/one", { desired: 10 }), svc("a/two", { desired: 6 })], {
      pools: [big],
      budgets: [b],
    });
    // 16 asked, 10 granted: shares 10/10 and 6/6 are cut towards equal fractions
    const one = a.services.get("a/one")!.total;
    const two = a.services.get("a/two")!.total;
    expect(one + two).toBe(10);
    expect(Math.abs(one / 10 - two / 6)).toBeLessThan(0.2);
  });

  it("says so when minimums alone exceed the budget, and never breaks minimums", () => {
    const b = budget("tight", { limits: { powerWatts: 2000 } });
    const a = run([svc("a/x", { minReplicas: 3, desired: 5 })], { pools: [big], budgets: [b] });
    expect(a.services.get("a/x")!.total).toBe(3);
    expect(a.budgets[0]!.violated).toContain("powerWatts: minimums alone use 2100 W against 2000 W");
  });

  it("only counts the services in its scope", () => {
    const b = budget("team-a", { limits: { costPerHour: 30 } }, ["a"]);
    const a = run([svc("a/x", { desired: 5 }), svc("b/y", { desired: 5 })], { pools: [big], budgets: [b] });
    expect(a.services.get("a/x")!.total).toBe(3);
    expect(a.services.get("b/y")!.total).toBe(5);
  });

  it("a GPU-type limit cuts replicas of that type only", () => {
    const b = budget("h100s", { limits: { gpus: [{ type: "nvidia-h100", max: 2 }] } });
    const a = run([ask("a/llama", { desired: 12, current: { h100: 4, l40s: 8 }, minReplicas: 1 })], {
      budgets: [b],
    });
    expect(replicas(a, "a/llama")).toEqual({ h100: 2, l40s: 8 });
  });

  it("uses the window's limits when one is active", () => {
    const b = budget("peak", {
      limits: { costPerHour: 1000 },
      timeZone: "Europe/Paris",
      windows: [{ name: "peak", start: "17:00", end: "21:00", limits: { costPerHour: 20 } }],
    });
    const at = (iso: string) =>
      run([svc("a/x", { desired: 5 })], { pools: [big], budgets: [b], nowMs: Date.parse(iso) });
    expect(at("2025-01-06T12:00:00Z").services.get("a/x")!.total).toBe(5);
    const peak = at("2025-01-06T17:00:00Z");
    expect(peak.services.get("a/x")!.total).toBe(2);
    expect(peak.budgets[0]!.activeWindow).toBe("peak");
    // 17:00 Paris is 16:00 UTC: within WINDOW_LEAD_MS of the start the plan keeps to the window already.
    expect(at("2025-01-06T15:50:00Z").services.get("a/x")!.total).toBe(5);
    expect(at("2025-01-06T15:57:00Z").services.get("a/x")!.total).toBe(2);
  });

  it("counts services in mode Recommend as they run and never cuts them", () => {
    const b = budget("shared", { limits: { costPerHour: 50 } });
    const a = run(
      [svc("a/advice", { desired: 1, current: { h100: 6 }, fixed: true }), svc("a/x", { desired: 3 })],
      { pools: [big], budgets: [b] },
    );
    expect(a.services.get("a/x")!.total).toBe(1);
    expect(a.budgets[0]!.violated).toContain("mode Recommend");
  });
});
