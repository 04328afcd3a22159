import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  appendPoint,
  type Bucket,
  counterIncrease,
  counterRate,
  fractionAbove,
  type Histogram,
  histogramIncrease,
  histogramQuantile,
  histogramWindowIncrease,
  isStale,
  mergeHistograms,
  type Point,
} from "./window.ts";

const INF = Number.POSITIVE_INFINITY;
const h = (pairs: [number, number][], sum?: number, count?: number): Histogram => ({
  buckets: pairs.map(([le, c]) => ({ le, count: c })),
  ...(sum !== undefined ? { sum } : {}),
  ...(count !== undefined ? { count } : {}),
});
/** Points from [time step, value] pairs; `cumulative` adds each value to the previous one. */
function timeline(steps: [number, number][], cumulative = false): Point<number>[] {
  const out: Point<number>[] = [];
  let t = 0;
  let v = 0;
  for (const [dt, value] of steps) {
    t += dt;
    v = cumulative ? v + value : value;
    out.push({ tMs: t, value: v });
  }
  return out;
}
const pts = (...values: [number, number][]): Point<number>[] =>
  values.map(([tMs, value]) => ({ tMs, value }));

describe("counterIncrease / counterRate", () => {
  it.each([
    ["a steady counter", pts([0, 100], [10_000, 150]), 5],
    ["a reset: counts from zero", pts([0, 100], [10_000, 30]), 3],
    ["a reset in the middle of a window", pts([0, 10], [10_000, 20], [20_000, 5], [30_000, 15]), 25 / 30],
    ["an unchanged counter", pts([0, 7], [5_000, 7]), 0],
    ["NaN readings skipped", pts([0, 1], [5_000, Number.NaN], [10_000, 11]), 1],
  ])("%s", (_name, points, want) => {
    expect(counterRate(points)).toBeCloseTo(want, 9);
  });

  it.each([
    ["one reading", pts([0, 1])],
    ["no time between readings", pts([5, 1], [5, 2])],
    ["no readings", []],
  ])("is undefined with %s", (_name, points) => {
    expect(counterRate(points)).toBeUndefined();
  });

  it("treats a counter going down as a reset", () => {
    expect(counterIncrease(50, 10)).toBe(10);
    expect(counterIncrease(10, 50)).toBe(40);
  });

  it("is never negative, whatever the readings (resets, garbage)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 1, max: 60_000 }), value: fc.double() }), {
          maxLength: 20,
        }),
        (steps) => {
          const points = timeline(steps.map((s) => [s.dt, s.value]));
          const rate = counterRate(points);
          if (rate !== undefined) expect(rate).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });

  it("over a monotone counter equals (last - first) / seconds", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 1, max: 60_000 }), inc: fc.nat(1e6) }), {
          minLength: 2,
          maxLength: 20,
        }),
        (steps) => {
          const points = timeline(
            steps.map((s) => [s.dt, s.inc]),
            true,
          );
          const first = points[0]!;
          const last = points[points.length - 1]!;
          const want = (last.value - first.value) / ((last.tMs - first.tMs) / 1000);
          expect(counterRate(points)).toBeCloseTo(want, 6);
        },
      ),
    );
  });
});

describe("histogramQuantile (Prometheus's histogram_quantile)", () => {
  const base = h([
    [0.1, 10],
    [0.5, 60],
    [1, 90],
    [INF, 100],
  ]);
  it.each([
    ["the median, interpolated in its bucket", 0.5, base, 0.1 + 0.4 * (40 / 50)],
    ["a rank in the first bucket, starting at 0", 0.05, base, 0.05],
    ["q = 0", 0, base, 0],
    ["the 0.9 boundary", 0.9, base, 1],
    ["a rank in +Inf: the largest finite bound", 0.95, base, 1],
    ["q = 1", 1, base, 1],
    [
      "a first bucket with a negative bound",
      0.1,
      h([
        [-1, 5],
        [0, 10],
        [INF, 10],
      ]),
      -1,
    ],
    [
      "non-monotone counts made monotone",
      0.5,
      h([
        [1, 10],
        [2, 5],
        [INF, 20],
      ]),
      1, // rank 10 reaches the first bucket once 2 is raised to 10
    ],
    [
      "unsorted buckets",
      0.5,
      h([
        [INF, 100],
        [1, 90],
        [0.1, 10],
        [0.5, 60],
      ]),
      0.1 + 0.4 * (40 / 50),
    ],
  ])("%s", (_name, q, hist, want) => {
    expect(histogramQuantile(q, hist)).toBeCloseTo(want, 9);
  });

  it.each([
    [
      "no observations",
      0.5,
      h([
        [1, 0],
        [INF, 0],
      ]),
    ],
    [
      "no +Inf bucket",
      0.5,
      h([
        [1, 3],
        [2, 4],
      ]),
    ],
    ["a single bucket", 0.5, h([[INF, 4]])],
    [
      "q above 1",
      1.5,
      h([
        [1, 1],
        [INF, 2],
      ]),
    ],
    [
      "q below 0",
      -0.1,
      h([
        [1, 1],
        [INF, 2],
      ]),
    ],
    [
      "q NaN",
      Number.NaN,
      h([
        [1, 1],
        [INF, 2],
      ]),
    ],
  ])("is undefined with %s", (_name, q, hist) => {
    expect(histogramQuantile(q, hist)).toBeUndefined();
  });

  const histogramArb = fc
    .tuple(
      fc.uniqueArray(fc.double({ min: -10, max: 1000, noNaN: true }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.nat(1000), { minLength: 11, maxLength: 11 }),
    )
    .map(([bounds, incs]) => {
      const sorted = [...bounds].sort((a, b) => a - b);
      const counts = timeline(
        incs.map((inc) => [1, inc]),
        true,
      ).map((p) => p.value);
      const buckets: Bucket[] = sorted.map((le, i) => ({ le, count: counts[i] ?? 0 }));
      buckets.push({ le: INF, count: counts[10] ?? 0 });
      return { buckets } as Histogram;
    });

  it("is monotone in q", () => {
    fc.assert(
      fc.property(
        histogramArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (hist, a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const qlo = histogramQuantile(lo, hist);
          const qhi = histogramQuantile(hi, hist);
          if (qlo === undefined || qhi === undefined) {
            expect(qlo).toBe(qhi); // both undefined: no observations
            return;
          }
          expect(qhi).toBeGreaterThanOrEqual(qlo - 1e-9);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("stays within the histogram's finite bounds (or 0 below the first)", () => {
    fc.assert(
      fc.property(histogramArb, fc.double({ min: 0, max: 1, noNaN: true }), (hist, q) => {
        const v = histogramQuantile(q, hist);
        if (v === undefined) return;
        const finite = hist.buckets.filter((b) => Number.isFinite(b.le)).map((b) => b.le);
        expect(v).toBeGreaterThanOrEqual(Math.min(0, ...finite) - 1e-9);
        expect(v).toBeLessThanOrEqual(Math.max(...finite) + 1e-9);
      }),
    );
  });
});

describe("histogramIncrease / histogramWindowIncrease / mergeHistograms", () => {
  const prev = h(
    [
      [1, 10],
      [INF, 12],
    ],
    5,
    12,
  );
  it("subtracts the previous reading", () => {
    const cur = h(
      [
        [1, 15],
        [INF, 20],
      ],
      9,
      20,
    );
    expect(histogramIncrease(prev, cur)).toEqual(
      h(
        [
          [1, 5],
          [INF, 8],
        ],
        4,
        8,
      ),
    );
  });

  it.each([
    [
      "a count went down",
      h(
        [
          [1, 2],
          [INF, 3],
        ],
        1,
        3,
      ),
    ],
    [
      "the bounds changed",
      h([
        [0.5, 11],
        [1, 12],
        [INF, 13],
      ]),
    ],
  ])("takes the new reading whole when %s (a reset)", (_name, cur) => {
    expect(histogramIncrease(prev, cur).buckets).toEqual(cur.buckets);
  });

  it("sums increases over a window with a reset inside", () => {
    const w: Point<Histogram>[] = [
      {
        tMs: 0,
        value: h([
          [1, 1],
          [INF, 2],
        ]),
      },
      {
        tMs: 1,
        value: h([
          [1, 3],
          [INF, 5],
        ]),
      },
      {
        tMs: 2,
        value: h([
          [1, 1],
          [INF, 1],
        ]),
      }, // restarted
      {
        tMs: 3,
        value: h([
          [1, 2],
          [INF, 4],
        ]),
      },
    ];
    expect(histogramWindowIncrease(w)?.buckets).toEqual([
      { le: 1, count: 2 + 1 + 1 },
      { le: INF, count: 3 + 1 + 3 },
    ]);
    expect(histogramWindowIncrease(w.slice(0, 1))).toBeUndefined();
  });

  it("merges histograms with different bounds by the union of bounds", () => {
    const merged = mergeHistograms([
      h(
        [
          [1, 2],
          [INF, 4],
        ],
        3,
        4,
      ),
      h(
        [
          [0.5, 1],
          [1, 3],
          [INF, 3],
        ],
        1,
        3,
      ),
    ]);
    expect(merged).toEqual(
      h(
        [
          [0.5, 0 + 1],
          [1, 2 + 3],
          [INF, 4 + 3],
        ],
        4,
        7,
      ),
    );
    expect(mergeHistograms([])).toBeUndefined();
  });
});

describe("appendPoint / isStale", () => {
  it("keeps points within the age limit, oldest first, and at least the newest", () => {
    let w: Point<number>[] = [];
    for (const t of [0, 10, 20, 30, 40]) w = appendPoint(w, { tMs: t, value: t }, { maxAgeMs: 15 });
    expect(w.map((p) => p.tMs)).toEqual([30, 40]);
    expect(appendPoint([], { tMs: 5, value: 1 }, { maxAgeMs: 0 })).toEqual([{ tMs: 5, value: 1 }]);
  });

  it("ignores a point older than the newest and replaces one at the same time", () => {
    const w = [{ tMs: 10, value: 1 }];
    expect(appendPoint(w, { tMs: 5, value: 2 }, { maxAgeMs: 100 })).toEqual(w);
    expect(appendPoint(w, { tMs: 10, value: 3 }, { maxAgeMs: 100 })).toEqual([{ tMs: 10, value: 3 }]);
  });

  it("caps the number of points", () => {
    let w: Point<number>[] = [];
    for (let t = 0; t < 10; t++) w = appendPoint(w, { tMs: t, value: t }, { maxAgeMs: 1e9, maxPoints: 3 });
    expect(w.map((p) => p.tMs)).toEqual([7, 8, 9]);
  });

  it.each([
    [0, 30_000, 15_000, false],
    [0, 30_001, 15_000, true],
    [10_000, 0, 15_000, false], // from the future (clock skew): not stale
    [Number.NaN, 0, 15_000, true],
  ])("observed at %d, now %d, interval %d: stale %s", (at, now, interval, want) => {
    expect(isStale(at, now, interval)).toBe(want);
  });
});

describe("fractionAbove", () => {
  const ttft = h([
    [0.5, 10],
    [1, 60],
    [2.5, 90],
    [5, 99],
    [INF, 100],
  ]);
  it("reads the share above a bound exactly, and interpolates inside a bucket", () => {
    expect(fractionAbove(1, ttft)).toBeCloseTo(0.4, 12);
    expect(fractionAbove(5, ttft)).toBeCloseTo(0.01, 12);
    // 2 s is two thirds into (1, 2.5]: 60 + 2/3 x 30 = 80 at or below.
    expect(fractionAbove(2, ttft)).toBeCloseTo(0.2, 12);
    expect(fractionAbove(0.25, ttft)).toBeCloseTo(0.95, 12);
  });
  it("counts the +Inf bucket as above past the largest finite bound", () => {
    expect(fractionAbove(100, ttft)).toBeCloseTo(0.01, 12);
  });
  it("says nothing without observations or a +Inf bucket", () => {
    expect(
      fractionAbove(
        1,
        h([
          [1, 0],
          [INF, 0],
        ]),
      ),
    ).toBeUndefined();
    expect(
      fractionAbove(
        1,
        h([
          [1, 3],
          [2, 5],
        ]),
      ),
    ).toBeUndefined();
  });
  it("is the inverse of histogramQuantile inside the finite buckets", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 0.98, noNaN: true }), (q) => {
        const x = histogramQuantile(q, ttft)!;
        expect(fractionAbove(x, ttft)!).toBeCloseTo(1 - q, 9);
      }),
    );
  });
});
