import { describe, expect, it } from "vitest";
import {
  forecastDemand,
  type HoltState,
  holtForecast,
  holtUpdate,
  horizonSeconds,
  MIN_HORIZON_S,
  medianSlope,
  quantile,
  rampFit,
  safetyMargin,
} from "./forecast.ts";
import { gaussian, prng, T0 } from "./testkit.ts";

const STEP = 15_000;

function feed(rate: (i: number) => number, steps: number, lead = 360) {
  let state: HoltState | undefined;
  let rates: [number, number][] = [];
  let last: ReturnType<typeof forecastDemand> | undefined;
  for (let i = 0; i < steps; i++) {
    last = forecastDemand({ state, rates, rate: rate(i), nowMs: T0 + i * STEP, leadSeconds: lead });
    state = last.state;
    rates = last.rates;
  }
  return last!;
}

describe("quantile", () => {
  it.each([
    [[1, 2, 3, 4, 5], 0.5, 3],
    [[5, 1, 4, 2, 3], 0, 1],
    [[5, 1, 4, 2, 3], 1, 5],
    [[0, 10], 0.95, 9.5],
  ])("%j at %f is %f", (xs, q, want) => {
    expect(quantile(xs, q)).toBeCloseTo(want, 9);
  });
  it("is undefined for no data", () => {
    expect(quantile([], 0.5)).toBeUndefined();
  });
});

describe("Holt", () => {
  it("horizon is at least the lead time and at least the minimum", () => {
    expect(horizonSeconds(60)).toBe(MIN_HORIZON_S);
    expect(horizonSeconds(3600)).toBe(3600);
  });

  it("converges on a constant rate with no trend", () => {
    const r = feed(() => 20, 400);
    expect(r.state.level).toBeCloseTo(20, 6);
    expect(r.state.trend).toBeCloseTo(0, 6);
    expect(r.trendRate).toBeCloseTo(20, 6);
  });

  it("projects a steady ramp over the lead time", () => {
    // 10 req/s rising 0.01 req/s per second; at the end the rate is 10 + 0.01 * t.
    const r = feed((i) => 10 + 0.01 * (i * 15), 400);
    const now = 10 + 0.01 * 399 * 15;
    const expected = now + 0.01 * 360;
    expect(Math.abs(r.trendRate - expected) / expected).toBeLessThan(0.03);
    expect(r.trendRate).toBeGreaterThan(now);
  });

  it("never forecasts below zero", () => {
    expect(holtForecast({ level: 1, trend: -1, atMs: T0 }, 360)).toBe(0);
  });

  it("restarts after a gap longer than the horizon, and ignores a repeated time", () => {
    const s = { level: 5, trend: 0.1, atMs: T0 };
    expect(holtUpdate(s, 50, T0 + (MIN_HORIZON_S + 1) * 1000, 60)).toEqual({
      level: 50,
      trend: 0,
      atMs: T0 + (MIN_HORIZON_S + 1) * 1000,
    });
    expect(holtUpdate(s, 50, T0, 60)).toBe(s);
  });
});

describe("safety margin", () => {
  const series = (f: (i: number) => number, n = 60): [number, number][] =>
    Array.from({ length: n }, (_, i) => [T0 + i * STEP, f(i)]);
  const now = T0 + 60 * STEP;

  it("is zero with too few samples or no variability", () => {
    expect(safetyMargin([[T0, 5]], T0, 360)).toBe(0);
    expect(
      safetyMargin(
        series(() => 7),
        now,
        360,
      ),
    ).toBe(0);
  });

  it("is about 1.7 sigma for noisy steady load", () => {
    const rand = prng(7);
    const m = safetyMargin(
      series(() => 20 + 2 * gaussian(rand)),
      now,
      360,
    );
    expect(m).toBeGreaterThan(1.65 * 2 * 0.7);
    expect(m).toBeLessThan(1.65 * 2 * 1.3);
  });

  it("adds little for a ramp the smoother follows", () => {
    expect(
      safetyMargin(
        series((i) => 10 + 0.2 * i),
        now,
        360,
      ),
    ).toBeLessThan(0.5);
  });

  it("does not mistake a step for volatility", () => {
    const rand = prng(5);
    const step = safetyMargin(
      series((i) => (i < 30 ? 20 : 5) + gaussian(rand)),
      now,
      360,
    );
    // 15 req/s of step; 1 req/s of noise: the margin stays near the noise.
    expect(step).toBeLessThan(3);
  });

  it("only looks at the horizon", () => {
    const later = T0 + (MIN_HORIZON_S + 3600) * 1000;
    expect(
      safetyMargin(
        series((i) => (i % 2 === 0 ? 0 : 100), 30),
        later,
        360,
      ),
    ).toBe(0);
  });
});

describe("forecastDemand", () => {
  it("keeps the rates of the horizon only, this one last", () => {
    const r = feed(() => 3, 200);
    const horizonMs = horizonSeconds(360) * 1000;
    const now = T0 + 199 * STEP;
    expect(r.rates.at(-1)).toEqual([now, 3]);
    expect(r.rates.every(([t]) => t >= now - horizonMs)).toBe(true);
    expect(r.rates.length).toBe(horizonMs / STEP + 1);
  });

  it("plans for trend plus margin", () => {
    const rand = prng(3);
    const r = feed(() => 20 + 2 * gaussian(rand), 200);
    expect(r.planningRate).toBeCloseTo(r.trendRate + r.margin, 9);
    expect(r.margin).toBeGreaterThan(0);
  });

  it("plans more for a higher current rate, from the same memory", () => {
    const rand = prng(11);
    const base = feed(() => 20 + 2 * gaussian(rand), 100);
    const at = (rate: number) =>
      forecastDemand({
        state: base.state,
        rates: base.rates,
        rate,
        nowMs: T0 + 100 * STEP,
        leadSeconds: 360,
      });
    expect(at(25).planningRate).toBeGreaterThan(at(20).planningRate);
    expect(at(20).planningRate).toBeGreaterThan(at(0).planningRate);
  });
});

describe("trend after a step", () => {
  it("projects no trend once a step has levelled off, while a ramp keeps its slope", () => {
    // 3 req/s, then 30 from step 60 on; 3 minutes later (12 steps of 15 s) the rate is flat at 30.
    const step = feed((i) => (i < 60 ? 3 : 30), 72);
    expect(step.state.trend).toBeGreaterThan(0.01); // Holt still reads a steep trend...
    expect(step.trendRate).toBeLessThan(31); // ...that is not projected: the median slope is 0.
    // A ramp of 0.02 req/s per second: its slope is projected over the lead time (+30 s).
    const ramp = feed((i) => 3 + 0.02 * 15 * i, 120);
    expect(ramp.trendRate).toBeGreaterThan(3 + 0.3 * 119 + 0.02 * 300);
  });
});

describe("after a fall", () => {
  it("plans for the rate seen now, not for Holt's level trailing down", () => {
    // 33 req/s for 40 minutes, then 11. One and two minutes after the fall Holt's level still reads about
    // 25 and 19 (tauLevel 120 s); the forecast plans for 11, and holding after a fall is left to the
    // scale-down window.
    for (const after of [4, 8]) {
      const f = feed((i) => (i < 160 ? 33 : 11), 160 + after);
      expect(f.state.level).toBeGreaterThan(15);
      expect(f.trendRate).toBeCloseTo(11, 6);
    }
    // A rise is still projected over the lead time: the ceiling is the rate seen now along a rising trend.
    const ramp = feed((i) => 3 + 0.02 * 15 * i, 120);
    expect(ramp.trendRate).toBeGreaterThan(3 + 0.3 * 119);
  });
});

describe("medianSlope", () => {
  it("is the ramp's slope, ignores a single jump, and needs a few pairs", () => {
    const ramp: [number, number][] = Array.from({ length: 30 }, (_, i) => [T0 + i * STEP, 0.02 * 15 * i]);
    expect(medianSlope(ramp, T0 + 29 * STEP, 360)).toBeCloseTo(0.02, 9);
    const jump: [number, number][] = Array.from({ length: 30 }, (_, i) => [T0 + i * STEP, i < 27 ? 3 : 30]);
    expect(medianSlope(jump, T0 + 29 * STEP, 360)).toBe(0);
    expect(medianSlope(ramp.slice(0, 3), T0 + 2 * STEP, 360)).toBeUndefined();
  });
});

describe("rampFit", () => {
  /** Rates every 10 s, each the mean of `demand` over the 60 s before it, with Poisson-like noise. */
  function windowed(demand: (s: number) => number, seconds: number, seed: number): [number, number][] {
    const rand = prng(seed);
    const out: [number, number][] = [];
    for (let t = 60; t <= seconds; t += 10) {
      let sum = 0;
      for (let u = t - 59; u <= t; u++) sum += demand(u);
      const mean = sum / 60;
      out.push([T0 + t * 1000, Math.max(0, mean + Math.sqrt(mean / 60) * gaussian(rand))]);
    }
    return out;
  }

  it("follows a noisy ramp from where it stands, at no more than its slope", () => {
    // 2 req/s, rising 0.02 req/s per second from 600 s on.
    const demand = (s: number) => (s < 600 ? 2 : 2 + 0.02 * (s - 600));
    const rates = windowed(demand, 1200, 5);
    const fit = rampFit(rates, T0 + 1200_000, 360)!;
    expect(fit).toBeDefined();
    expect(fit.slope).toBeGreaterThan(0.01);
    expect(fit.slope).toBeLessThanOrEqual(0.025);
    // The rate read now describes 30 s ago (14 - 0.6); the level is where it stands now, within noise.
    expect(fit.level).toBeGreaterThan(13);
    expect(fit.level).toBeLessThan(15);
  });

  it("reads no ramp in steady noisy load", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rates = windowed(() => 5, 1200, seed);
      for (let t = 400; t <= 1200; t += 10) {
        const upTo = rates.filter(([at]) => at <= T0 + t * 1000);
        const fit = rampFit(upTo, T0 + t * 1000, 360);
        expect(fit === undefined || fit.slope * 390 < 1).toBe(true);
      }
    }
  });

  it("reads no ramp in a new service's first load, a step from nothing", () => {
    for (const lead of [0, 60, 360]) {
      const rates = windowed((s) => (s < 90 ? 0 : 20), 700, 3);
      for (let t = 60; t <= 700; t += 10) {
        const upTo = rates.filter(([at]) => at <= T0 + t * 1000);
        expect(rampFit(upTo, T0 + t * 1000, lead)).toBeUndefined();
      }
    }
  });

  it("never reads a step as a ramp, whatever the lead time", () => {
    for (const lead of [0, 60, 360]) {
      for (let seed = 1; seed <= 10; seed++) {
        const rates = windowed((s) => (s < 600 ? 3 : 30), 1200, seed);
        for (let t = 300; t <= 1200; t += 10) {
          const upTo = rates.filter(([at]) => at <= T0 + t * 1000);
          expect(rampFit(upTo, T0 + t * 1000, lead)).toBeUndefined();
        }
      }
    }
  });

  it("lets the forecast lead a ramp by its conservative slope, from where it stands", () => {
    const demand = (s: number) => (s < 600 ? 2 : 2 + 0.02 * (s - 600));
    const rates = windowed(demand, 960, 7);
    let state: HoltState | undefined;
    let kept: [number, number][] = [];
    let last: ReturnType<typeof forecastDemand> | undefined;
    for (const [t, rate] of rates) {
      last = forecastDemand({ state, rates: kept, rate, nowMs: t, leadSeconds: 360 });
      state = last.state;
      kept = last.rates;
    }
    // Six minutes into the ramp the demand is 9.2 req/s, and 17 a lead time (+30 s) later.
    const fit = rampFit(kept, T0 + 960_000, 360)!;
    expect(last!.trendRate).toBeGreaterThanOrEqual(fit.level + fit.slope * 390 - 1e-9);
    expect(last!.trendRate).toBeGreaterThan(12);
    expect(last!.trendRate).toBeLessThan(17 + 1);
  });
});
