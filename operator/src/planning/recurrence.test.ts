import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type MinutePeaks, RECURRENCE_HORIZON_SECONDS, recordPeak, recurrenceHold } from "./recurrence.ts";
import { T0 } from "./testkit.ts";

const MIN = 60_000;

/** Minute peaks from a per-minute level, over `minutes` minutes from T0, recorded as the planner does. */
function peaks(level: (minute: number) => number, minutes: number): MinutePeaks {
  let out: MinutePeaks = [];
  for (let m = 0; m < minutes; m++) {
    // Four evaluations a minute; the minute keeps the highest.
    for (let s = 0; s < 4; s++)
      out = recordPeak(out, T0 + m * MIN + s * 15_000, level(m) - (s === 2 ? 1 : 0));
  }
  return out;
}

/** 6 replicas, with bursts to 20 for `burst` minutes every `period` minutes, from minute 5. */
const bursts =
  (period: number, burst = 2) =>
  (m: number) =>
    m >= 5 && (m - 5) % period < burst ? 20 : 6;

describe("recordPeak", () => {
  it("keeps the highest value of each minute and only the last hour", () => {
    const p = peaks((m) => m % 7, 90);
    expect(p).toHaveLength(RECURRENCE_HORIZON_SECONDS / 60);
    expect(p.every(([t]) => t % MIN === 0)).toBe(true);
    expect(p.at(-1)).toEqual([T0 + 89 * MIN, 89 % 7]);
  });
});

describe("recurrenceHold", () => {
  const lead = 360;
  const win = 360;

  it("holds the burst level when bursts recur faster than following them would cost less", () => {
    // Every 8 minutes: P - B = 6 min < lead + window = 12 min.
    const p = peaks(bursts(8), 40);
    const hold = recurrenceHold(p, T0 + 40 * MIN, lead, win)!;
    expect(hold).toMatchObject({ kind: "hold", level: 20, episodes: 5 });
    expect(hold.periodSeconds).toBeCloseTo(480, 6);
    expect(hold.message).toContain("holding their level 20");
  });

  it("follows the base on purpose when bursts are far apart: the burst level from a lead time before the next", () => {
    // Every 20 minutes from minute 5, 2 minutes long: P - B = 18 min > 12 min. The next is due at minute 65.
    const p = peaks(bursts(20), 50);
    expect(recurrenceHold(p, T0 + 50 * MIN, lead, win)).toBeUndefined();
    expect(recurrenceHold(p, T0 + (65 - 8) * MIN - 1, lead, win)).toBeUndefined();
    const ahead = recurrenceHold(p, T0 + (65 - 8) * MIN, lead, win)!;
    expect(ahead).toMatchObject({ kind: "ahead", level: 20, episodes: 3, periodSeconds: 1200 });
    expect(ahead.message).toContain(`due at ${new Date(T0 + 65 * MIN).toISOString()}`);
    // Until the burst is due to be over (2 minutes, and one more); then the base again.
    expect(recurrenceHold(p, T0 + 68 * MIN, lead, win)?.kind).toBe("ahead");
    expect(recurrenceHold(p, T0 + 68 * MIN + 1, lead, win)).toBeUndefined();
  });

  it("holds through the burst that was due once it comes, until it is due to be over", () => {
    // Every 20 minutes from minute 5, 2 minutes long; the one due at minute 65 comes, and its first minute
    // is an episode of its own: the fleet keeps the burst level through it, not until the next one.
    const level = bursts(20);
    for (const now of [65, 66, 67]) {
      const hold = recurrenceHold(peaks(level, now + 1), T0 + now * MIN + 30_000, lead, win);
      expect(hold).toMatchObject({ kind: "ahead", level: 20 });
      expect(hold?.message).toContain(`the one that came at ${new Date(T0 + 65 * MIN).toISOString()}`);
    }
    // Over once it is due to be (2 minutes and one more), and the base is followed again.
    expect(recurrenceHold(peaks(level, 70), T0 + 69 * MIN, lead, win)).toBeUndefined();
  });

  it("sees one episode in a step's plateau with a spike at each end, not recurring bursts", () => {
    // 5 replicas, a step to 28 from minute 15 to 35 whose backlog spikes to 40 at its start and once more.
    const step = (m: number) => (m < 15 || m >= 35 ? 5 : m < 17 || m === 33 ? 40 : 28);
    for (const now of [36, 45, 55])
      expect(recurrenceHold(peaks(step, now), T0 + now * MIN, lead, win)).toBeUndefined();
  });

  it("needs two bursts, and ends the hold once they stop", () => {
    expect(recurrenceHold(peaks(bursts(100), 20), T0 + 20 * MIN, lead, win)).toBeUndefined();
    // Bursts every 8 minutes until minute 30, then none: two periods later the hold is over.
    const stopped = peaks((m) => (m < 30 ? bursts(8)(m) : 6), 50);
    expect(recurrenceHold(stopped, T0 + 50 * MIN, lead, win)).toBeUndefined();
    // Bursts every 20 minutes (at 5 and 25) that stop: the two due next (45 and 65, which might have come
    // at a lower level than the hour's highest) are still followed ahead, none after.
    const far = (m: number) => (m < 30 ? bursts(20)(m) : 6);
    const aheadAt: number[] = [];
    for (let m = 30; m < 120; m++)
      if (recurrenceHold(peaks(far, m), T0 + m * MIN, lead, win)) aheadAt.push(m);
    expect(aheadAt).toContain(40);
    expect(aheadAt).toContain(60);
    expect(aheadAt.filter((m) => (m > 48 && m < 57) || m > 66)).toEqual([]);
  });

  it("sees no bursts in a level that moves less than 1.3x or 2 replicas", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 200 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (base, seed) => {
          let x = seed;
          const noise = () => {
            x = (x * 1103515245 + 12345) % 2 ** 31;
            return x / 2 ** 31;
          };
          // Within +-12% of the base, and never 2 replicas apart when the base is small.
          const spread = Math.min(Math.floor(base * 0.12), base < 17 ? 1 : Number.POSITIVE_INFINITY);
          const p = peaks(() => base + Math.round((noise() * 2 - 1) * spread), 60);
          return recurrenceHold(p, T0 + 60 * MIN, lead, win) === undefined;
        },
      ),
      { numRuns: 50 },
    );
  });
});
