import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { replicasKeepingCapacity } from "./decide.ts";

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
