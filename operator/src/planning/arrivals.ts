// The arrival rate, when the servers count completions. vLLM, SGLang and Triton expose no arrival counter:
// their request counter counts finished requests, so its rate is the rate requests leave. While a fleet
// keeps up the two are the same; while load outgrows it, completions stay at what the replicas can serve
// and the rest piles up in the servers. Every view that reads the arrival rate (offered tokens, the queue's
// drain bound, the forecast, the latency model) then sees the fleet's capacity instead of the demand, and
// the planner adds a replica a minute while the queue grows (the demo found it: 1 replica for 4.5 req/s).
//
// Requests are conserved: arrivals = completions + growth of the requests in the servers (waiting plus
// running). The growth is measured over the same window as the rates (RATE_WINDOW_SECONDS, from the
// in-system counts the planner saw at each evaluation), so the estimate is the window's mean arrival rate.
// Both ways: growth is added, and a backlog draining beyond noise is taken off. After a step down or a
// burst, the pods that hold a backlog finish it at their full rate, and completions read two to three
// times what arrives (a 10x step in the robustness suite: 13 req/s completed, 4 arriving, for eight
// minutes); every view that reads arrivals then asks for replicas that would serve requests nobody sends,
// and the scale-down window holds them a second time. Those pods are counted by the queue view (what new
// replicas can take), not by the arrival rate. A change within noise (backlogNoise; draining()) is not corrected. TGI
// counts arrivals itself and custom queries say what they count, so neither is corrected.

/** Runtimes whose request counter counts completions. */
export const COMPLETION_COUNTING_SERVERS: ReadonlySet<string> = new Set(["vllm", "sglang", "triton"]);
/** The window of the rates the signals carry, over which growth is measured. */
export const RATE_WINDOW_SECONDS = 60;
/** Growth is measured over at least this span of readings (a shorter one is noise). */
export const MIN_GROWTH_SPAN_SECONDS = 20;

/**
 * A backlog draining faster than this share of the arrival rate (requests/s) is stranded, not a fleet
 * short of capacity.
 */
export const DRAINING_SHARE = 0.05;

/** A change of the requests in the servers smaller than this (requests/s) is noise. */
export function backlogNoise(arrivalRate: number | undefined): number {
  return Math.max(0.05, DRAINING_SHARE * (arrivalRate ?? 0));
}

/** Whether the requests in the servers are falling: a backlog being drained by the pods that hold it. */
export function draining(backlogTrend: number, arrivalRate: number | undefined): boolean {
  return backlogTrend < -backlogNoise(arrivalRate);
}

/**
 * Whether the requests in the servers are rising (the mirror of draining()): the fleet serves less than
 * arrives, now, whatever the rate windows say. A second signal confirming a scale-up, so neither the
 * tolerance nor the scale-up window holds it back (decide.ts).
 */
export function growing(backlogTrend: number, arrivalRate: number | undefined): boolean {
  return backlogTrend > backlogNoise(arrivalRate);
}

export interface ArrivalEstimate {
  /** Arrival rate to plan with, requests/s. */
  rate: number;
  /** Of which growth of the requests in the servers. */
  growth: number;
  /** Requests/s of a draining backlog taken off the completion rate (>= 0; 0 unless draining beyond noise). */
  drain: number;
  /** Change of the requests in the servers per second over the window, signed (- while a backlog drains). */
  trend: number;
  /** In-system counts over the window, with this one, to keep in memory: [epoch ms, requests]. */
  inSystem: [number, number][];
}

/**
 * The arrival rate by conservation (see header). `server` is spec.model.server; `history` holds earlier
 * [epoch ms, waiting + running] readings. Undefined rate in, undefined out (nothing to correct).
 */
export function estimateArrivals(input: {
  server: string;
  arrivalRate: number | undefined;
  queueDepth: number | undefined;
  runningRequests: number | undefined;
  history: readonly [number, number][];
  nowMs: number;
}): ArrivalEstimate | undefined {
  const { arrivalRate, nowMs } = input;
  if (arrivalRate === undefined) return undefined;
  const cutoff = nowMs - RATE_WINDOW_SECONDS * 1000;
  const kept = input.history.filter(([t]) => t >= cutoff && t < nowMs);
  if (input.queueDepth === undefined && input.runningRequests === undefined) {
    return { rate: arrivalRate, growth: 0, drain: 0, trend: 0, inSystem: kept };
  }
  const n = (input.queueDepth ?? 0) + (input.runningRequests ?? 0);
  const inSystem: [number, number][] = [...kept, [nowMs, n]];
  const first = kept[0];
  const span = first ? (nowMs - first[0]) / 1000 : 0;
  const trend = first && span >= MIN_GROWTH_SPAN_SECONDS ? (n - first[1]) / span : 0;
  if (!COMPLETION_COUNTING_SERVERS.has(input.server))
    return { rate: arrivalRate, growth: 0, drain: 0, trend, inSystem };
  const growth = Math.max(0, trend);
  const drain = draining(trend, arrivalRate) ? Math.min(arrivalRate, -trend) : 0;
  return { rate: arrivalRate + growth - drain, growth, drain, trend, inSystem };
}
