// Lead-time provisioning: GPU capacity takes minutes to arrive, so the planner sizes for the demand expected
// when what it asks for now is ready. Two parts, both on the arrival rate (requests/s):
//
// - Holt's linear trend (double exponential smoothing) with time constants instead of per-step factors, so
//   irregular intervals are handled: alpha = 1 - exp(-dt / tauLevel), beta = 1 - exp(-dt / tauTrend).
//   The level follows the rate within a couple of minutes (tauLevel 120 s); the trend is smoothed over the
//   lead time, and at least 300 s, so that noise does not read as a trend while a ramp is followed within a
//   few minutes (over the 15-minute horizon it took a slow ramp's whole rise to learn the slope).
//   Forecast = max(0, level + trend * (leadTime + 30 s)): the rate is a mean over a 60 s window, so it
//   describes half a window ago.
// - A ramp the rates show consistently (rampFit()) is followed from where it stands now at its conservative
//   slope, while Holt is still learning it: the forecast is the larger of the two.
// - A safety margin from the variability seen over a horizon at least as long as the lead time (and at
//   least 15 minutes): the 95th percentile of the demand's noise under a normal model, 1.645 sigma, with
//   sigma estimated robustly from how much the short-window rate changes over 60 s:
//   sigma = 1.4826 * MAD(r(t) - r(t - 60 s)) / sqrt(2)   (MAD: median absolute deviation).
//   Why this estimator: a ramp changes every 60-s difference by the same amount, which the median removes
//   (the trend is Holt's job); a step in level spoils only the few differences that straddle it, which
//   the median ignores, so a step is never mistaken for volatility (holding capacity after a drop is the
//   scale-down window's job, at least the lead time); 60 s apart, rates read over windows of up to a
//   minute do not overlap, so their noise is not hidden by the overlap. Measured over dozens of samples,
//   it moves little between evaluations, which keeps a steady noisy load from flapping.
//
// The margin is computed from history only (before this observation), so for a given memory the planning
// rate rises with the current rate: more load never plans less.
import { RATE_WINDOW_SECONDS } from "./arrivals.ts";

/** Holt state: level (requests/s), trend (requests/s per second), time of the last update. */
export interface HoltState {
  level: number;
  trend: number;
  atMs: number;
}

/** The level follows the observed rate with this time constant. */
export const LEVEL_TIME_CONSTANT_S = 120;
/** Shortest horizon over which variability is measured and the trend smoothed. */
export const MIN_HORIZON_S = 900;
/** z of the margin's quantile (95th percentile of a normal). */
export const MARGIN_Z = 1.645;
/** MAD to standard deviation, for normal data. */
export const MAD_TO_SIGMA = 1.4826;
/** Variability is measured on changes of the short-window rate over this lag. */
export const MARGIN_LAG_SECONDS = 60;
/** Fewer rate changes than this give no margin (not enough evidence of variability). */
export const MIN_MARGIN_SAMPLES = 4;
/** Most short-window rates kept per service. */
export const MAX_RATES = 1024;

/** Time constant of the trend: at least the lead time, and at least TREND_MIN_S. */
export const TREND_MIN_S = 300;
/** How old the rate a signal carries is, on average: half of its 60 s window. */
export const RATE_LAG_SECONDS = RATE_WINDOW_SECONDS / 2;

export function trendSeconds(leadSeconds: number): number {
  return Math.max(TREND_MIN_S, leadSeconds);
}

/** The horizon (seconds) over which rates are kept and variability measured: at least the lead time. */
export function horizonSeconds(leadSeconds: number): number {
  return Math.max(MIN_HORIZON_S, leadSeconds);
}

/** Linear-interpolated quantile of `xs` (not necessarily sorted); undefined for an empty list. */
export function quantile(xs: readonly number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const pos = Math.min(1, Math.max(0, q)) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** One Holt update with the rate observed at `nowMs`. Restarts from the rate after a gap longer than the horizon. */
export function holtUpdate(
  prev: HoltState | undefined,
  rate: number,
  nowMs: number,
  leadSeconds: number,
): HoltState {
  const horizonMs = horizonSeconds(leadSeconds) * 1000;
  if (prev === undefined || nowMs - prev.atMs > horizonMs) return { level: rate, trend: 0, atMs: nowMs };
  const dt = (nowMs - prev.atMs) / 1000;
  if (dt <= 0) return prev;
  const alpha = 1 - Math.exp(-dt / LEVEL_TIME_CONSTANT_S);
  const beta = 1 - Math.exp(-dt / trendSeconds(leadSeconds));
  const level = alpha * rate + (1 - alpha) * (prev.level + prev.trend * dt);
  const trend = (beta * (level - prev.level)) / dt + (1 - beta) * prev.trend;
  return { level, trend, atMs: nowMs };
}

/** The rate expected `aheadSeconds` after the state's time, never negative. */
export function holtForecast(state: HoltState, aheadSeconds: number): number {
  return Math.max(0, state.level + state.trend * aheadSeconds);
}

/**
 * The rates in [fromMs, toMs], each paired with the latest one at least MARGIN_LAG_SECONDS older:
 * [earlier, later] pairs, for the margin's differences and the trend's median slope.
 */
function lagPairs(
  rates: readonly [number, number][],
  fromMs: number,
  toMs: number,
): [[number, number], [number, number]][] {
  const window = rates.filter(([t]) => t >= fromMs && t <= toMs);
  const pairs: [[number, number], [number, number]][] = [];
  let j = 0;
  for (let i = 0; i < window.length; i++) {
    const later = window[i]!;
    while (j + 1 < i && window[j + 1]![0] <= later[0] - MARGIN_LAG_SECONDS * 1000) j++;
    const earlier = window[j]!;
    if (j < i && earlier[0] <= later[0] - MARGIN_LAG_SECONDS * 1000) pairs.push([earlier, later]);
  }
  return pairs;
}

/**
 * 1.645 sigma of the demand's noise over the horizon, sigma from the MAD of the rates' changes over
 * MARGIN_LAG_SECONDS (each rate paired with the latest one at least that much older).
 */
export function safetyMargin(rates: readonly [number, number][], nowMs: number, leadSeconds: number): number {
  const diffs = lagPairs(rates, nowMs - horizonSeconds(leadSeconds) * 1000, nowMs).map(
    ([earlier, later]) => later[1] - earlier[1],
  );
  if (diffs.length < MIN_MARGIN_SAMPLES) return 0;
  return (MARGIN_Z * MAD_TO_SIGMA * medianAbsoluteDeviation(diffs)) / Math.SQRT2;
}

/** The median of the absolute deviations from the median (0 for an empty list). */
function medianAbsoluteDeviation(xs: readonly number[]): number {
  const median = quantile(xs, 0.5) ?? 0;
  return (
    quantile(
      xs.map((x) => Math.abs(x - median)),
      0.5,
    ) ?? 0
  );
}

/** The rate's change per second between the two rates of a pair. */
function slopeOf([[tj, rj], [t, r]]: [[number, number], [number, number]]): number {
  return ((r - rj) * 1000) / (t - tj);
}

/**
 * The median change of the rate per second over the last lead time (rates paired MARGIN_LAG_SECONDS apart),
 * or undefined with fewer than MIN_MARGIN_SAMPLES pairs. A ramp changes every pair alike; a step changes only
 * the pairs that straddle it, and the median ignores them.
 */
export function medianSlope(
  rates: readonly [number, number][],
  nowMs: number,
  leadSeconds: number,
): number | undefined {
  const cutoff = nowMs - Math.max(leadSeconds, 2 * MARGIN_LAG_SECONDS) * 1000;
  const slopes = lagPairs(rates, cutoff, nowMs).map(slopeOf);
  return slopes.length < MIN_MARGIN_SAMPLES ? undefined : quantile(slopes, 0.5);
}

/** Share of rate changes that must rise beyond noise for the rates to be read as a ramp (rampFit()). */
export const RAMP_CONSISTENCY = 0.75;
/**
 * Shortest span a ramp is read over. A step reaches a rate read over a 60 s window as a 60 s ramp, and
 * changes MARGIN_LAG_SECONDS apart straddle that for 120 s: over 300 s of rates (240 s of changes) that is
 * half of them, and noise lifts about a sixth of the rest beyond one standard deviation, so a step stays
 * under RAMP_CONSISTENCY and is never projected as a ramp.
 */
export const RAMP_MIN_WINDOW_S = 300;

/**
 * A ramp, when the rates show one: over the last lead time (and at least RAMP_MIN_WINDOW_S), at least
 * RAMP_CONSISTENCY of the rate's changes MARGIN_LAG_SECONDS apart rise by more than one standard deviation of
 * their noise (1.4826 MAD of the changes). Its slope is the conservative one, the changes' lower quartile (a
 * quarter rose less), so a ramp is followed without being overshot; its level is where the ramp stands now,
 * the median of the last rate window's rates moved along that slope to now. Undefined otherwise: on steady
 * load about a sixth of the changes rise that much, and a step only for the two minutes its changes
 * straddle it. Undefined too until the rates cover the window (a new service's first load is a step).
 */
export function rampFit(
  rates: readonly [number, number][],
  nowMs: number,
  leadSeconds: number,
): { slope: number; level: number } | undefined {
  const cutoff = nowMs - Math.max(leadSeconds, RAMP_MIN_WINDOW_S) * 1000;
  // Rates since before the window: in a shorter history a step (a new service's first load) fills every
  // change, and would read as a ramp as steep as the step.
  const first = rates[0];
  if (!first || first[0] > cutoff + MARGIN_LAG_SECONDS * 1000) return undefined;
  const pairs = lagPairs(rates, cutoff, nowMs);
  if (pairs.length < MIN_MARGIN_SAMPLES) return undefined;
  const changes = pairs.map(([[, rj], [, r]]) => r - rj);
  const noise = MAD_TO_SIGMA * medianAbsoluteDeviation(changes);
  const rising = changes.filter((d) => d > noise).length / changes.length;
  if (rising < RAMP_CONSISTENCY) return undefined;
  const slopes = pairs.map(slopeOf);
  const slope = quantile(slopes, 1 - RAMP_CONSISTENCY)!;
  if (!(slope > 0)) return undefined;
  const recent = rates.filter(([t]) => t >= nowMs - RATE_WINDOW_SECONDS * 1000 && t <= nowMs);
  const level = quantile(
    recent.map(([t, r]) => r + (slope * (nowMs - t)) / 1000),
    0.5,
  );
  return level === undefined ? undefined : { slope, level };
}

export interface ForecastResult {
  /** The arrival rate to provision for: trend forecast over the lead time plus the margin. */
  planningRate: number;
  /** Holt's forecast at now + lead time. */
  trendRate: number;
  /** Safety margin, requests/s. */
  margin: number;
  /** New Holt state, to keep in memory. */
  state: HoltState;
  /** Short-window rates over the horizon, with this one, to keep in memory. */
  rates: [number, number][];
}

/** Feeds the current arrival rate to the forecaster and returns the rate to provision for. */
export function forecastDemand(input: {
  state: HoltState | undefined;
  rates: readonly [number, number][];
  rate: number;
  nowMs: number;
  leadSeconds: number;
}): ForecastResult {
  const { rate, nowMs, leadSeconds } = input;
  const margin = safetyMargin(input.rates, nowMs, leadSeconds);
  const state = holtUpdate(input.state, rate, nowMs, leadSeconds);
  const cutoff = nowMs - horizonSeconds(leadSeconds) * 1000;
  const rates = input.rates.filter(([t]) => t >= cutoff && t < nowMs);
  rates.push([nowMs, rate]);
  // A step reads to Holt as a steep trend for minutes after it (a 10x step extrapolated to 1.7x its level
  // over a 390 s lead): the trend projected is never steeper than the median slope of the last lead time,
  // nor of another sign. A ramp keeps its slope; a step that has levelled off projects none.
  const median = medianSlope(rates, nowMs, leadSeconds);
  const trend =
    median === undefined
      ? state.trend
      : Math.max(Math.min(state.trend, Math.max(0, median)), Math.min(0, median));
  // The rate is a mean over the signals' window: it describes the window's middle, half a window ago.
  // Never above the rate seen now carried along a rising trend: after a fall Holt's level trails down for
  // minutes (tauLevel 120 s: a step from 33 to 11 req/s still planned for 20 two minutes later), and holding
  // capacity after a fall is the scale-down window's job, which would hold that trailing level again for
  // its whole length.
  const ahead = leadSeconds + RATE_LAG_SECONDS;
  const smoothed = Math.min(holtForecast({ ...state, trend }, ahead), rate + Math.max(0, trend) * ahead);
  // Holt learns a slope over minutes and its level trails a ramp meanwhile (a 150 s ramp was still read at
  // half its rate when it ended); a ramp the rates show consistently is followed from where it stands now.
  const ramp = rampFit(rates, nowMs, leadSeconds);
  const trendRate = ramp ? Math.max(smoothed, ramp.level + ramp.slope * ahead) : smoothed;
  return {
    planningRate: trendRate + margin,
    trendRate,
    margin,
    state,
    rates: rates.slice(-MAX_RATES),
  };
}
