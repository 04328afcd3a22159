import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocate, type ServiceAsk } from "./allocate.ts";
import { ask } from "./allocation-fixtures.ts";
import { addUsage, emptyUsage, exceededLimits, limitsInForce } from "./budgets.ts";
import { HANDOVER_REPLAN_MS, holdGrowthWhileDraining } from "./handover.ts";
import { optimise } from "./optimise.ts";
import { plan as planOf } from "./plan.ts";
import { budget, pool, service, serviceSpec, snapshot, T0 } from "./testkit.ts";
import type { BudgetSnapshot } from "./types.ts";

// One pool of H100 nodes: $10 and 700 W a replica.
const accs = serviceSpec({
  accelerators: [{ pool: "h100", gpusPerReplica: 1, profile: { maxTokensPerSecond: 5100 } }],
}).accelerators;
const big = pool("h100", { costPerNodeHour: 80, maxNodes: 10 });
const svc = (key: string, over: Partial<ServiceAsk>) => ask(key, { accelerators: accs, on: [big], ...over });

/** Both allocators, then the hand-over: replicas per service, as [optimiser, greedy]. */
function plan(asks: ServiceAsk[], budgets: BudgetSnapshot[]) {
  return [optimise, allocate].map((allocator) => {
    const allocation = holdGrowthWhileDraining({
      allocation: allocator({ asks, pools: [big], budgets, nowMs: T0 }),
      asks,
      budgets,
      pools: [big],
      nowMs: T0,
    });
    return Object.fromEntries(asks.map((a) => [a.key, allocation.services.get(a.key)!.total]));
  });
}

describe("holdGrowthWhileDraining", () => {
  const shared = budget("shared", { limits: { costPerHour: 100 } });
  const high = (over: Partial<ServiceAsk>) =>
    svc("a/high", { priority: 900, minReplicas: 1, desired: 4, current: { h100: 6 }, ...over });
  const low = svc("a/low", { priority: 100, minReplicas: 1, desired: 8, current: { h100: 4 } });

  it("budget a scale-down frees goes to another service only once the replicas going are gone", () => {
    // The plan that shrinks high: low keeps its 4 while the 2 going still hold their GPUs.
    expect(plan([high({}), low], [shared])).toEqual([
      { "a/high": 4, "a/low": 4 },
      { "a/high": 4, "a/low": 4 },
    ]);
    // Next plan: high at 4, its 2 pods still being deleted.
    expect(plan([high({ current: { h100: 4 }, draining: { h100: 2 } }), low], [shared])).toEqual([
      { "a/high": 4, "a/low": 4 },
      { "a/high": 4, "a/low": 4 },
    ]);
    // They are gone: low takes the room.
    expect(plan([high({ current: { h100: 4 } }), low], [shared])).toEqual([
      { "a/high": 4, "a/low": 6 },
      { "a/high": 4, "a/low": 6 },
    ]);
  });

  it("the growth waits, whatever its priority, and the shrinking service keeps what it wants", () => {
    // low runs 10 and wants 5; high, new, wants 3: 8 fit the $100 budget, but while 5 of low drain, 13
    // would run. high waits; low is not cut below its 5.
    const lowShrinking = svc("a/low", { priority: 100, minReplicas: 1, desired: 5, current: { h100: 10 } });
    const highNew = svc("a/high", { priority: 900, minReplicas: 0, desired: 3, current: {} });
    expect(plan([lowShrinking, highNew], [shared])).toEqual([
      { "a/low": 5, "a/high": 0 },
      { "a/low": 5, "a/high": 0 },
    ]);
  });

  it("changes nothing without a budget that the transition would exceed", () => {
    const roomy = budget("roomy", { limits: { costPerHour: 1000 } });
    expect(plan([high({}), low], [roomy])).toEqual([
      { "a/high": 4, "a/low": 8 },
      { "a/high": 4, "a/low": 8 },
    ]);
  });

  it("never takes a service below what it runs, and the transition fits where the fleet did", () => {
    const service = fc.record({
      priority: fc.constantFrom(100, 500, 900),
      current: fc.nat(6),
      draining: fc.nat(2),
      desired: fc.nat(8),
    });
    fc.assert(
      fc.property(
        fc.array(service, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 20, max: 120 }),
        (ss, cap) => {
          const b = budget("b", { limits: { costPerHour: cap } });
          const asks = ss.map((s, i) =>
            svc(`a/s${i}`, {
              priority: s.priority,
              minReplicas: 0,
              desired: s.desired,
              current: { h100: s.current },
              draining: { h100: s.draining },
            }),
          );
          const before = optimise({ asks, pools: [big], budgets: [b], nowMs: T0 });
          const after = holdGrowthWhileDraining({
            allocation: before,
            asks,
            budgets: [b],
            pools: [big],
            nowMs: T0,
          });
          const running = emptyUsage();
          const transition = emptyUsage();
          asks.forEach((a, i) => {
            const was = before.services.get(a.key)!.total;
            const now = after.services.get(a.key)!.total;
            // Only growth is taken back: never below what it runs or below what the allocation gave short of it.
            expect(now).toBeGreaterThanOrEqual(Math.min(was, ss[i]!.current));
            expect(now).toBeLessThanOrEqual(was);
            const f = a.options[0]!.footprint;
            addUsage(running, f, ss[i]!.current + ss[i]!.draining);
            addUsage(transition, f, Math.max(now, ss[i]!.current) + ss[i]!.draining);
          });
          // What runs during the change stays within the limit whenever what runs now does.
          const limits = limitsInForce(b.spec, T0).limits;
          if (exceededLimits(running, limits).length === 0)
            expect(
              exceededLimits(transition, limits).length === 0 ||
                asks.every((a, i) => after.services.get(a.key)!.total <= ss[i]!.current),
            ).toBe(true);
        },
      ),
    );
  });
});

describe("plan() and the hand-over", () => {
  const manual = (name: string, priority: number, running: number) =>
    service(name, {
      replicas: running,
      spec: serviceSpec({ priority, replicas: 4, scaling: { mode: "Manual" } }),
    });
  const limit = { limits: { powerWatts: 3500 } }; // 5 replicas of 700 W

  it.each(["optimiser", "greedy"] as const)(
    "with the %s, asks to plan again soon while growth waits for replicas to drain, and not otherwise",
    (allocator) => {
      // high runs 2 and wants 4; low runs 4 and is cut to 1: high keeps 2 while low's 3 drain.
      const waiting = planOf(
        snapshot([manual("high", 900, 2), manual("low", 100, 4)], { budgets: [budget("b", limit as never)] }),
        T0,
        { allocator },
      );
      expect(waiting.services.find((s) => s.key === "default/high")?.replicas.value).toBe(2);
      expect(waiting.services.find((s) => s.key === "default/low")?.replicas.value).toBe(1);
      expect(waiting.replanAfterMs).toBe(HANDOVER_REPLAN_MS);
      // Once low's pods are gone, high gets its 4 and the planner keeps its interval.
      const done = planOf(
        snapshot([manual("high", 900, 2), manual("low", 100, 1)], { budgets: [budget("b", limit as never)] }),
        T0,
        { allocator },
      );
      expect(done.services.find((s) => s.key === "default/high")?.replicas.value).toBe(4);
      expect(done.replanAfterMs).toBeUndefined();
    },
  );
});
