// The queueing model behind the SLO view: how long a request waits for a free slot, plus its prefill, given
// the arrival rate, mean request sizes and what one replica serves.
//
// A replica is `slots` servers (its maxConcurrentRequests); a busy replica splits its token capacity C over
// its slots, so one request holds a slot for m(P+G)/C seconds and the fleet's service rate is n*C/(P+G)
// requests per second, whatever m is: m only decides how sharply waiting appears as utilisation nears 1.
// Waiting is M/M/c (Erlang C) with the Allen-Cunneen correction for general arrivals and service times
// (M/G/c, G/G/c): Wq ~ Wq(M/M/c) * (ca2 + cs2) / 2, where ca2 and cs2 are the squared coefficients of
// variation of inter-arrival and service times (1 and 1 for Poisson arrivals and exponential lengths).
// TTFT at quantile q = the q-quantile of the wait (M/M/c's exponential tail, scaled the same way) plus the
// prefill of one prompt at the replica's full token rate, P/C.

/** Squared coefficients of variation used when none is given: Poisson arrivals, exponential lengths. */
export const DEFAULT_SCV = { arrivals: 1, service: 1 } as const;
/** Beyond this many concurrent slots per replica the model's answer barely changes; it bounds the work. */
export const MAX_MODELLED_SLOTS = 256;

/** What one replica serves, and the mean request. */
export interface ReplicaModel {
  /** Prompt plus generated tokens per second one replica sustains. */
  tokensPerSecond: number;
  /** Requests one replica runs at once (maxConcurrentRequests); 1 when unknown, which is conservative. */
  slots: number;
  /** Mean prompt tokens per request. */
  promptTokens: number;
  /** Mean generated tokens per request. */
  outputTokens: number;
  /** Squared coefficient of variation of inter-arrival times (default 1). */
  arrivalScv?: number;
  /** Squared coefficient of variation of service times (default 1). */
  serviceScv?: number;
}

export interface TtftPrediction {
  /** Predicted TTFT at the quantile, seconds: wait + prefill. Infinity when utilisation >= 1. */
  seconds: number;
  /** The wait part, seconds. */
  wait: number;
  /** The prefill part, seconds. */
  prefill: number;
  /** Offered tokens over capacity. */
  utilization: number;
}

/** Erlang B blocking probability for `c` servers and offered load `a` Erlangs (stable recursion). */
export function erlangB(c: number, a: number): number {
  let b = 1;
  for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b);
  return b;
}

/** Erlang C from Erlang B: the probability that an arrival waits, M/M/c. 1 when a >= c. */
export function erlangCFromB(c: number, a: number, b: number): number {
  if (a >= c) return 1;
  return (c * b) / (c - a * (1 - b));
}

/** Erlang C: the probability that an arrival waits in M/M/c with offered load `a` Erlangs. */
export function erlangC(c: number, a: number): number {
  if (a <= 0) return 0;
  return erlangCFromB(c, a, erlangB(c, a));
}

interface Derived {
  slots: number;
  /** Service rate of one slot, requests/s. */
  mu: number;
  /** Offered load in slot-Erlangs. */
  a: number;
  prefill: number;
  /** Allen-Cunneen factor. */
  factor: number;
}

function derive(arrivalRate: number, m: ReplicaModel): Derived {
  const slots = Math.max(1, Math.min(MAX_MODELLED_SLOTS, Math.floor(m.slots)));
  const tokens = Math.max(1e-9, m.promptTokens + m.outputTokens);
  const mu = m.tokensPerSecond / (slots * tokens);
  return {
    slots,
    mu,
    a: arrivalRate / mu,
    prefill: m.promptTokens / m.tokensPerSecond,
    factor: ((m.arrivalScv ?? DEFAULT_SCV.arrivals) + (m.serviceScv ?? DEFAULT_SCV.service)) / 2,
  };
}

/** The q-quantile of the wait in M/M/c, scaled by the Allen-Cunneen factor: P(W > t) = C e^{-(c mu - lambda) t}. */
function waitQuantile(c: number, d: Derived, arrivalRate: number, erlang: number, quantile: number): number {
  const drain = c * d.mu - arrivalRate;
  if (drain <= 0) return Number.POSITIVE_INFINITY;
  const tail = 1 - quantile;
  if (erlang <= tail) return 0;
  return (d.factor * Math.log(erlang / tail)) / drain;
}

/** Predicted TTFT at `quantile` (0.95: the p95 the servers report) for `replicas` replicas. */
export function predictTtft(
  replicas: number,
  arrivalRate: number,
  model: ReplicaModel,
  quantile = 0.95,
): TtftPrediction {
  const d = derive(arrivalRate, model);
  const c = replicas * d.slots;
  const utilization = c > 0 ? d.a / c : Number.POSITIVE_INFINITY;
  if (arrivalRate <= 0) return { seconds: d.prefill, wait: 0, prefill: d.prefill, utilization: 0 };
  if (c <= 0 || utilization >= 1) {
    return {
      seconds: Number.POSITIVE_INFINITY,
      wait: Number.POSITIVE_INFINITY,
      prefill: d.prefill,
      utilization,
    };
  }
  const wait = waitQuantile(c, d, arrivalRate, erlangC(c, d.a), quantile);
  return { seconds: wait + d.prefill, wait, prefill: d.prefill, utilization };
}

export type TtftSizing =
  | { met: true; replicas: number; predicted: TtftPrediction }
  /** Not met within `limit` replicas: `replicas` is the limit. */
  | { met: false; replicas: number; predicted: TtftPrediction; unattainable: false }
  /** The prefill alone exceeds the target: no number of replicas meets it. */
  | { met: false; replicas: number; predicted: TtftPrediction; unattainable: true };

/**
 * The fewest replicas (at most `limit`) whose predicted TTFT at `quantile` meets `targetSeconds`.
 * Scans up from the fewest stable replicas, extending Erlang B incrementally: O(answer * slots).
 */
export function replicasForTtft(
  targetSeconds: number,
  arrivalRate: number,
  model: ReplicaModel,
  limit: number,
  quantile = 0.95,
): TtftSizing {
  const d = derive(arrivalRate, model);
  if (d.prefill > targetSeconds) {
    return {
      met: false,
      unattainable: true,
      replicas: 0,
      predicted: predictTtft(Math.max(1, limit), arrivalRate, model, quantile),
    };
  }
  if (arrivalRate <= 0) {
    return { met: true, replicas: 0, predicted: predictTtft(0, 0, model, quantile) };
  }
  // Fewest replicas with utilisation below 1.
  let n = Math.max(1, Math.floor(d.a / d.slots + 1e-9) + 1);
  if (n > limit) {
    // Even `limit` replicas are saturated: say how many it takes to be stable, without computing waits.
    return {
      met: false,
      unattainable: false,
      replicas: n,
      predicted: predictTtft(limit, arrivalRate, model, quantile),
    };
  }
  let b = erlangB(n * d.slots, d.a);
  for (;;) {
    const c = n * d.slots;
    const wait = waitQuantile(c, d, arrivalRate, erlangCFromB(c, d.a, b), quantile);
    const predicted = { seconds: wait + d.prefill, wait, prefill: d.prefill, utilization: d.a / c };
    if (predicted.seconds <= targetSeconds) return { met: true, replicas: n, predicted };
    if (n >= limit) return { met: false, unattainable: false, replicas: Math.max(n, limit), predicted };
    for (let k = c + 1; k <= c + d.slots; k++) b = (d.a * b) / (k + d.a * b);
    n++;
  }
}
