import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OVERDUE_SECONDS, replicasKeepingCapacity, startingIn, startingReplicas } from "./decide.ts";

// Best first, as variantOptions ranks them: the L40S is cheapest per token, then the H100, then the L4.
const l40s = { pool: "l40s", tokensPerSecond: 12_600 };
const h100 = { pool: "h100", tokensPerSecond: 48_800 };
const l4 = { pool: "l4", tokensPerSecond: 2_780 };

describe("replicasKeepingCapacity", () => {
  it("keeps the H100 a scale-down would remove first while the target counts on its capacity", () => {
    // 2 L40S and 1 H100: the mean replica is 24,733 tokens/s. A target of 2 counts on 49,467; removing the
    // H100 (least preferred) would leave 25,200.
    expect(replicasKeepingCapacity([l40s, h100], { l40s: 2, h100: 1 }, 3, 2)).toBe(3);
    // A target of 1 counts on 24,733: removing the H100 leaves 25,200, enough.
    expect(replicasKeepingCapacity([l40s, h100], { l40s: 2, h100: 1 }, 3, 1)).toBe(2);
  });

  it("changes nothing when the replicas removed first are the small ones", () => {
    expect(replicasKeepingCapacity([h100, l4], { h100: 2, l4: 3 }, 5, 3)).toBe(3);
  });

  it("changes nothing for one variant, a scale-up, scale to zero, or a variant without a profile", () => {
    expect(replicasKeepingCapacity([l40s], { l40s: 5 }, 5, 2)).toBe(2);
    expect(replicasKeepingCapacity([l40s, h100], { l40s: 2, h100: 1 }, 3, 4)).toBe(4);
    expect(replicasKeepingCapacity([l40s, h100], { l40s: 2, h100: 1 }, 3, 0)).toBe(0);
    expect(replicasKeepingCapacity([l40s, { pool: "x" }], { l40s: 2, x: 1 }, 3, 1)).toBe(1);
  });

  it("is between the target and the current replicas, and what it keeps serves what the target counts on", () => {
    const variants = fc.uniqueArray(
      fc.record({
        pool: fc.constantFrom("a", "b", "c", "d"),
        tokensPerSecond: fc.integer({ min: 1, max: 60_000 }),
      }),
      { minLength: 1, maxLength: 4, selector: (v) => v.pool },
    );
    fc.assert(
      fc.property(
        variants,
        fc.array(fc.nat(6), { minLength: 4, maxLength: 4 }),
        fc.nat(30),
        (opts, ns, t) => {
          const currentByPool = Object.fromEntries(opts.map((o, i) => [o.pool, ns[i]!]));
          const current = opts.reduce((s, o) => s + currentByPool[o.pool]!, 0);
          const target = current === 0 ? 0 : t % (current + 2);
          const keep = replicasKeepingCapacity(opts, currentByPool, current, target);
          if (target >= current || target === 0) {
            expect(keep).toBe(target);
            return;
          }
          expect(keep).toBeGreaterThanOrEqual(target);
          expect(keep).toBeLessThanOrEqual(current);
          const mean = opts.reduce((s, o) => s + currentByPool[o.pool]! * o.tokensPerSecond, 0) / current;
          let remove = current - keep;
          let kept = 0;
          for (const o of [...opts].reverse()) {
            const gone = Math.min(remove, currentByPool[o.pool]!);
            remove -= gone;
            kept += (currentByPool[o.pool]! - gone) * o.tokensPerSecond;
          }
          expect(kept).toBeGreaterThanOrEqual(target * mean * (1 - 1e-9));
        },
      ),
    );
  });
});

describe("startingReplicas", () => {
  const T = 1_000_000;
  it("adds a new ask as asked now, and takes the oldest off as replicas become ready", () => {
    let s = startingReplicas(undefined, 8, T); // 8 asked
    expect(s).toEqual([[T, 8]]);
    s = startingReplicas(s, 24, T + 20_000); // 16 more
    expect(s).toEqual([
      [T, 8],
      [T + 20_000, 16],
    ]);
    s = startingReplicas(s, 20, T + 360_000); // 4 of the first ask ready
    expect(s).toEqual([
      [T, 4],
      [T + 20_000, 16],
    ]);
    s = startingReplicas(s, 10, T + 380_000); // the first ask and 6 of the second ready
    expect(s).toEqual([[T + 20_000, 10]]);
    expect(startingReplicas(s, 0, T + 400_000)).toEqual([]);
  });

  it("always totals the replicas pending, whatever came before", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 50 })), {
          maxLength: 6,
        }),
        fc.integer({ min: -5, max: 200 }),
        (prev, pending) => {
          const sorted = [...prev].sort((a, b) => a[0] - b[0]) as [number, number][];
          const out = startingReplicas(sorted, pending, 2e6);
          expect(out.reduce((a, [, n]) => a + n, 0)).toBe(Math.max(0, pending));
          for (let i = 1; i < out.length; i++) expect(out[i]![0]).toBeGreaterThanOrEqual(out[i - 1]![0]);
        },
      ),
    );
  });
});

describe("startingIn", () => {
  it("is what is left of each ask's lead time, at least OVERDUE_SECONDS and at most the lead time", () => {
    const T = 1_000_000;
    expect(
      startingIn(
        [
          [T - 400_000, 2],
          [T - 330_000, 3],
          [T, 4],
        ],
        T,
        360,
      ),
    ).toEqual([
      [OVERDUE_SECONDS, 2],
      [30, 3],
      [360, 4],
    ]);
    expect(startingIn([[T - 350_000, 1]], T, 360)).toEqual([[OVERDUE_SECONDS, 1]]);
    expect(startingIn([[T - 100_000, 1]], T, 360)).toEqual([[260, 1]]);
  });
});
