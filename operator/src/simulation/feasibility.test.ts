import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { latestAsk, ratioTargetFeasibility } from "./feasibility.ts";
import { inlineRunner } from "./jobs.ts";
import { leadSeconds, primaryPool } from "./scenario.ts";
import { bestAttaining, cheapestReaching } from "./sweep.ts";
import { capacityCurve, syntheticTrace, testScenario } from "./testing.ts";

const b = (name: string, sloAttainment: number, gpuHours: number) => ({ name, sloAttainment, gpuHours });
/** Bounds that rise linearly with attainment: 100 GPU-h at 99%, 10 more per 0.1%. */
const bounds = (a: number) => ({ instant: 90 + (a - 0.99) * 10_000, clairvoyant: 100 + (a - 0.99) * 10_000 });

describe("ratioTargetFeasibility", () => {
  it("splits attainment where the cheapest baseline changes and checks each range at its lower end", () => {
    const ranges = ratioTargetFeasibility(
      [b("hpa-a", 0.992, 110), b("hpa-b", 0.995, 160), b("static-big", 0.999, 400), b("low", 0.98, 50)],
      bounds,
      0.99,
      0.8,
    );
    expect(ranges.map((r) => [r.from, r.to, r.baseline, r.allowed])).toEqual([
      [0.99, 0.992, "hpa-a", 88],
      [0.992, 0.995, "hpa-b", 128],
      [0.995, 0.999, "static-big", 320],
      // Above every baseline: fewer GPU-hours than the best-attaining one.
      [0.999, 1, "static-big", 400],
    ]);
    expect(ranges.map((r) => r.clairvoyant)).toEqual([100, 120, 150, 190].map((x) => expect.closeTo(x, 6)));
    // 88 GPU-h allowed where the bound needs 100, 128 where it needs 120: the first range is out of reach.
    expect(ranges.map((r) => r.allowed >= r.clairvoyant)).toEqual([false, true, true, true]);
  });

  it("merges consecutive ranges with the same cheapest baseline", () => {
    const ranges = ratioTargetFeasibility([b("cheap", 0.999, 100), b("dear", 0.995, 300)], bounds, 0.99, 0.8);
    expect(ranges.map((r) => [r.from, r.to, r.baseline])).toEqual([
      [0.99, 0.999, "cheap"],
      [0.999, 1, "cheap"],
    ]);
  });

  it("gives, anywhere in a range, ratio x the cheapest baseline reaching that attainment", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            a: fc.integer({ min: 9800, max: 10_000 }).map((x) => x / 10_000),
            g: fc.integer({ min: 1, max: 1000 }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (spec, u) => {
          const baselines = spec.map((s, i) => b(`b${i}`, s.a, s.g));
          const ranges = ratioTargetFeasibility(baselines, bounds, 0.99, 0.8);
          for (const r of ranges) {
            const a = r.from + u * (r.to - r.from);
            if (a <= r.from + 1e-9 && r !== ranges[0]) continue;
            const cheapest = cheapestReaching(baselines, a);
            if (cheapest) expect(r.allowed).toBeCloseTo(0.8 * cheapest.gpuHours, 9);
            else expect(r.allowed).toBe(bestAttaining(baselines)!.gpuHours);
          }
          // The ranges tile [0.99, 1] when any baseline exists.
          for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.from).toBe(ranges[i - 1]!.to);
          if (ranges.length > 0) expect(ranges[ranges.length - 1]!.to).toBe(1);
        },
      ),
    );
  });
});

describe("latestAsk", () => {
  it("finds how long before a burst a policy must ask, given the lead time", async () => {
    const scenario = testScenario();
    const lead = leadSeconds(scenario, primaryPool(scenario));
    // Two replicas serve the first 15 minutes; from 900 s to 1200 s the rate is eight times higher.
    const trace = syntheticTrace(1200, (t) => (t >= 900 ? 8 : 1), { seed: 5 });
    const curve = capacityCurve([
      [1, 2, 3000],
      [8, 20, 3000],
    ]);
    const a = await latestAsk(
      inlineRunner(),
      { input: { trace, scenario, curve }, trace, warm: 2 },
      0.99,
      20,
    );
    expect(lead).toBe(360);
    expect(a.seconds).toBeDefined();
    // Capacity must be serving about when the burst starts: asked about one lead time before it (the two
    // warm replicas queue the burst's first seconds without losing much).
    expect(a.seconds!).toBeLessThanOrEqual(900 - lead + 60);
    expect(a.seconds!).toBeGreaterThanOrEqual(900 - lead - 60);
    expect(a.seconds! % 20).toBe(0);
    expect(a.reached!.attainment).toBeGreaterThanOrEqual(0.99);
    expect(a.missed!.attainment).toBeLessThan(0.99);
    expect(a.missed!.at).toBe(a.seconds! + 20);
    // Before the ask, the 10 s windows needed at most what the slow phase needs.
    expect(a.busiestNeedBefore).toBeLessThanOrEqual(3);
  });

  it("says when the warm fleet alone reaches the target, and when nothing does", async () => {
    const scenario = testScenario();
    const trace = syntheticTrace(600, () => 1, { seed: 9 });
    const curve = capacityCurve([[1, 2, 3000]]);
    const suite = { input: { trace, scenario, curve }, trace, warm: 4 };
    const alone = await latestAsk(inlineRunner(), suite, 0.99);
    expect(alone.seconds).toBe(600);
    expect(alone.missed).toBeUndefined();
    const never = await latestAsk(inlineRunner(), suite, 1.01);
    expect(never.seconds).toBeUndefined();
    expect(never.missed!.at).toBe(0);
  });
});
