// The replicas each 60 s window needs, measured on the window's own arrivals: what the bounds and the warm
// start use.
//
// The capacity curve (capacity.ts) is measured with Poisson arrivals. A trace that arrives in bursts within
// the minute needs more than its minute's average tokens over that capacity: sized by the curve, the bounds
// of the code trace reached only 88% of requests within the SLO, so they bounded nothing a policy at 99%
// could do. Here each window's requests are replayed through a static fleet of n ready replicas
// (least-outstanding-work routing, as in every run, finishing what they hold), after the window before it as
// an unscored warm-up on the same fleet (long decodes carry over from one minute to the next), for a range
// of n, which gives the window's misses m_w(n): requests that would miss the SLO with n replicas.
//
// Then the fewest replica-windows that keep the trace's total misses within its attainment target:
// minimise sum n_w subject to sum m_w(n_w) <= (1 - attainment) x requests. Starting from each window's
// best n, a replica is removed where it adds the fewest misses, while the budget allows (greedy on the
// marginal misses; m_w is made non-increasing in n by taking its running minimum, which only lowers the
// bound). Each window is measured with the same n through its warm-up, without a backlog left from
// earlier windows: optimistic, as a bound should be.
//
// Requests longer than the servers' context are refused (vLLM answers 400): they are neither a window's
// requests nor its tokens.
import { type CapacityCurve, replicasFor } from "./capacity.ts";
import { staticPolicy } from "./policies/static.ts";
import { contextTokensOf, primaryPool, type Scenario } from "./scenario.ts";
import { simulate } from "./simulate.ts";
import type { Trace } from "./trace.ts";

/** A window's misses by fleet size: misses[i] requests miss the SLO with from + i replicas. */
export interface WindowMisses {
  window: number;
  requests: number;
  from: number;
  misses: number[];
}

export interface NeedsOptions {
  windowSeconds: number;
  /** Fewest replicas a window may have (the service's minReplicas, at least 1 when requests arrive). */
  minReplicas: number;
  /** Most replicas tried (the service's maxReplicas). */
  maxReplicas: number;
}

/** First index i with arrivals[i] >= t (arrivals sorted). */
function lowerBound(arrivals: Float64Array, t: number): number {
  let lo = 0;
  let hi = arrivals.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arrivals[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The requests arriving in [from, to), shifted to start at 0. */
export function sliceTrace(trace: Trace, from: number, to: number): Trace {
  const i = lowerBound(trace.arrivals, from);
  const j = lowerBound(trace.arrivals, to);
  return {
    name: `${trace.name}[${from},${to})`,
    startMs: trace.startMs + from * 1000,
    durationSeconds: to - from,
    arrivals: trace.arrivals.slice(i, j).map((t) => t - from),
    prompt: trace.prompt.slice(i, j),
    output: trace.output.slice(i, j),
  };
}

/** The requests whose prompt + output fit `contextTokens`: what the servers accept. */
export function withinContext(trace: Trace, contextTokens: number): Trace {
  const keep: number[] = [];
  for (let i = 0; i < trace.arrivals.length; i++)
    if (trace.prompt[i]! + trace.output[i]! <= contextTokens) keep.push(i);
  if (keep.length === trace.arrivals.length) return trace;
  return {
    ...trace,
    arrivals: Float64Array.from(keep, (i) => trace.arrivals[i]!),
    prompt: Int32Array.from(keep, (i) => trace.prompt[i]!),
    output: Int32Array.from(keep, (i) => trace.output[i]!),
  };
}

/** b after a, shifted by a's duration. */
function concatTraces(a: Trace, b: Trace): Trace {
  const arrivals = new Float64Array(a.arrivals.length + b.arrivals.length);
  arrivals.set(a.arrivals);
  arrivals.set(
    b.arrivals.map((t) => t + a.durationSeconds),
    a.arrivals.length,
  );
  const join = (x: Int32Array, y: Int32Array) => {
    const out = new Int32Array(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    name: b.name,
    startMs: b.startMs - a.durationSeconds * 1000,
    durationSeconds: a.durationSeconds + b.durationSeconds,
    arrivals,
    prompt: join(a.prompt, b.prompt),
    output: join(a.output, b.output),
  };
}

/** Misses of one window's requests on n replicas, after `warmup` seconds of the trace before it (unscored). */
async function missesWith(window: Trace, warmup: number, scenario: Scenario, n: number): Promise<number> {
  const r = await simulate(window, scenario, staticPolicy(n), {
    warmReplicas: n,
    prerollSeconds: 0,
    scoreFrom: warmup,
    drainSeconds: 600,
    timelineSeconds: 1e9,
  });
  return r.requests - r.sloMet;
}

/**
 * Misses by fleet size for windows [first, last): from the curve's need n0 up until no request misses (or
 * two more replicas change nothing, or maxReplicas), and down until half the window's requests miss (or
 * minReplicas).
 */
export async function measureWindowMisses(
  trace: Trace,
  scenario: Scenario,
  curve: CapacityCurve,
  first: number,
  last: number,
  options: NeedsOptions,
): Promise<WindowMisses[]> {
  const { windowSeconds: len, minReplicas, maxReplicas } = options;
  const floor = Math.max(1, minReplicas);
  const context = contextTokensOf(scenario, primaryPool(scenario));
  const out: WindowMisses[] = [];
  for (let w = first; w < last; w++) {
    const start = w * len;
    const end = Math.min(start + len, trace.durationSeconds);
    // The first window's warm-up is the trace's last one, as the simulator's pre-roll does.
    const warmup = Math.min(len, trace.durationSeconds - (end - start));
    const window =
      start >= warmup
        ? sliceTrace(trace, start - warmup, end)
        : concatTraces(
            sliceTrace(trace, trace.durationSeconds - warmup, trace.durationSeconds),
            sliceTrace(trace, start, end),
          );
    const skip = lowerBound(window.arrivals, warmup);
    let requests = 0;
    let tokens = 0;
    for (let i = skip; i < window.arrivals.length; i++) {
      const size = window.prompt[i]! + window.output[i]!;
      if (size > context) continue;
      requests++;
      tokens += size;
    }
    if (requests === 0) {
      out.push({ window: w, requests, from: Math.max(0, minReplicas), misses: [0] });
      continue;
    }
    const n0 = Math.min(maxReplicas, Math.max(floor, replicasFor(curve, tokens / len, floor, maxReplicas)));
    const byN = new Map<number, number>([[n0, await missesWith(window, warmup, scenario, n0)]]);
    let n = n0;
    let flat = 0;
    while (byN.get(n)! > 0 && n < maxReplicas && flat < 2) {
      const m = await missesWith(window, warmup, scenario, n + 1);
      flat = m >= byN.get(n)! ? flat + 1 : 0;
      byN.set(++n, m);
    }
    n = n0;
    while (n > floor && byN.get(n)! < requests / 2) {
      byN.set(n - 1, await missesWith(window, warmup, scenario, n - 1));
      n--;
    }
    const sizes = [...byN.keys()].sort((a, b) => a - b);
    out.push({ window: w, requests, from: sizes[0]!, misses: sizes.map((s) => byN.get(s)!) });
  }
  return out;
}

/** The replicas each window needs: the fewest replica-windows within the trace's miss budget (see header). */
export function allocateNeeds(windows: readonly WindowMisses[], attainment: number): Int32Array {
  const sorted = [...windows].sort((a, b) => a.window - b.window);
  // Non-increasing in n: the running minimum from the fewest replicas up.
  const m = sorted.map((w) => {
    const out = [...w.misses];
    for (let i = 1; i < out.length; i++) out[i] = Math.min(out[i]!, out[i - 1]!);
    return out;
  });
  const idx = m.map((ms) => ms.length - 1);
  let total = 0;
  let requests = 0;
  sorted.forEach((w, k) => {
    total += m[k]![idx[k]!]!;
    requests += w.requests;
  });
  const budget = Math.floor((1 - attainment) * requests);
  for (;;) {
    let best = -1;
    let bestCost = Number.POSITIVE_INFINITY;
    for (let k = 0; k < sorted.length; k++) {
      const i = idx[k]!;
      if (i === 0) continue;
      const cost = m[k]![i - 1]! - m[k]![i]!;
      if (cost < bestCost) {
        bestCost = cost;
        best = k;
      }
    }
    if (best < 0 || total + bestCost > budget) break;
    total += bestCost;
    idx[best]!--;
  }
  const needs = new Int32Array(sorted.length);
  sorted.forEach((w, k) => {
    needs[k] = w.from + idx[k]!;
  });
  return needs;
}

/**
 * The fleet sized for one window on its own: the fewest replicas that keep its misses within its share of
 * the budget, (1 - attainment) x its requests. The warm start is this for the first window.
 */
export function ownNeed(window: WindowMisses, attainment: number): number {
  const allowed = Math.floor((1 - attainment) * window.requests);
  let best = window.misses.length - 1;
  for (let i = window.misses.length - 1; i >= 0; i--) if (window.misses[i]! <= allowed) best = i;
  return window.from + best;
}
