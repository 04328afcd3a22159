import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONTEST_LIMIT, CONTEST_WINDOW_MS, ReplicaWriters } from "./contest.ts";

const SVC = "ns/llama";
const D = "llama-l4";
/** What inferops wants in these cases: what it wrote. */
const WANT = 2;

describe("ReplicaWriters", () => {
  it("counts a change of replicas made after inferops' write, once per generation", () => {
    const w = new ReplicaWriters();
    w.wrote(SVC, D, { replicas: 2, generation: 5 });
    expect(w.observe(SVC, D, { replicas: 2, generation: 5 }, WANT, 0)).toBe(false); // its own write
    expect(w.observe(SVC, D, { replicas: 4, generation: 6 }, WANT, 1_000)).toBe(true); // kubectl scale
    expect(w.observe(SVC, D, { replicas: 4, generation: 6 }, WANT, 2_000)).toBe(false); // seen again
    expect(w.contested(SVC, D, 2_000)).toBeUndefined(); // one change: set back, not left alone
  });

  it("counts nothing a cache behind inferops' own write shows, nor a change of something else", () => {
    const w = new ReplicaWriters();
    w.wrote(SVC, D, { replicas: 6, generation: 9 });
    expect(w.observe(SVC, D, { replicas: 4, generation: 8 }, 6, 0)).toBe(false); // the cache lags
    expect(w.observe(SVC, D, { replicas: 6, generation: 10 }, 6, 0)).toBe(false); // rollout restart
    expect(w.observe(SVC, D, { replicas: 5, generation: 11 }, 5, 0)).toBe(false); // inferops agrees: kept
    expect(new ReplicaWriters().observe(SVC, D, { replicas: 1, generation: 3 }, WANT, 0)).toBe(false); // never wrote
  });

  it(`leaves the replicas to a writer that changes them ${CONTEST_LIMIT} times within the window, until a window passes without one`, () => {
    const w = new ReplicaWriters();
    w.wrote(SVC, D, { replicas: 2, generation: 1 });
    let generation = 1;
    for (let i = 0; i < CONTEST_LIMIT; i++) {
      generation++;
      expect(w.observe(SVC, D, { replicas: 3 + i, generation }, WANT, i * 10_000)).toBe(true);
      // inferops sets it back each time until the last
      if (i < CONTEST_LIMIT - 1) {
        generation++;
        w.wrote(SVC, D, { replicas: 2, generation });
      }
    }
    const lastAt = (CONTEST_LIMIT - 1) * 10_000;
    expect(w.contested(SVC, D, lastAt)).toEqual({
      changes: CONTEST_LIMIT,
      lastTo: 3 + CONTEST_LIMIT - 1,
      untilMs: lastAt + CONTEST_WINDOW_MS,
    });
    expect(w.contested(SVC, D, CONTEST_WINDOW_MS - 1)).toBeDefined();
    // the first change leaves the window: fewer than the limit remain
    expect(w.contested(SVC, D, CONTEST_WINDOW_MS)).toBeUndefined();
  });

  it("changes spread wider than the window never add up to a contest", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 30 }), (replicas) => {
        const w = new ReplicaWriters();
        let generation = 1;
        w.wrote(SVC, D, { replicas: 0, generation });
        for (const [i, r] of replicas.entries()) {
          const at = i * (CONTEST_WINDOW_MS / (CONTEST_LIMIT - 1));
          w.observe(SVC, D, { replicas: r, generation: ++generation }, WANT, at);
          if (w.contested(SVC, D, at) !== undefined) return false;
          w.wrote(SVC, D, { replicas: 0, generation: ++generation });
        }
        return true;
      }),
    );
  });

  it("a new leader inherits a contest its status reports, for a whole window of its own", () => {
    const w = new ReplicaWriters();
    expect(w.knows(SVC, D)).toBe(false);
    w.inherit(SVC, D, { replicas: 4, generation: 7 }, 1_000);
    expect(w.knows(SVC, D)).toBe(true);
    expect(w.contested(SVC, D, 1_000)).toMatchObject({ lastTo: 4, untilMs: 1_000 + CONTEST_WINDOW_MS });
    expect(w.contested(SVC, D, 1_000 + CONTEST_WINDOW_MS)).toBeUndefined();
    // Once it wrote, it inherits nothing more.
    w.wrote(SVC, D, { replicas: 2, generation: 8 });
    w.inherit(SVC, D, { replicas: 4, generation: 9 }, 2_000_000);
    expect(w.contested(SVC, D, 2_000_000)).toBeUndefined();
  });

  it("keeps its last write, by which a reconcile whose cache is behind tells a no-op apply from a scaling", () => {
    const w = new ReplicaWriters();
    expect(w.lastWrite(SVC, D)).toBeUndefined();
    w.wrote(SVC, D, { replicas: 6, generation: 4 });
    expect(w.lastWrite(SVC, D)).toEqual({ replicas: 6, generation: 4 });
  });

  it("forgets a service that is gone", () => {
    const w = new ReplicaWriters();
    w.wrote(SVC, D, { replicas: 2, generation: 1 });
    w.forget(SVC);
    expect(w.observe(SVC, D, { replicas: 4, generation: 2 }, WANT, 0)).toBe(false);
  });
});
