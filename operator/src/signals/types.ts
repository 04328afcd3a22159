// The canonical signals of one service (docs/signals.md): what metric sources produce and the planner reads.
// signals/ owns the type; planning/types.ts re-exports it as part of the Snapshot (dependencies point down).

/** A cumulative histogram: observations at or below each upper bound `le`, ascending, the last +Inf. */
export type HistogramBuckets = { le: number; count: number }[];

/** Canonical signals of one service, aggregated over its ready replicas, as read at `observedAtMs`. */
export interface Signals {
  /** When the signals were read (epoch ms). Older than two intervals means missing, not zero. */
  observedAtMs: number;
  /** Replicas that reported; 0 with replicas running means the signals say nothing. */
  replicasReporting: number;
  /** Requests waiting in the servers' queues, summed over replicas. */
  queueDepth?: number;
  /**
   * Reporting replicas whose queue holds waiting requests. A request waits on the server it was routed to,
   * so only these replicas hold a backlog: new replicas cannot take it, and a few of them queueing is not
   * the whole fleet saturated.
   */
  queuedReplicas?: number;
  /** Requests being served, summed over replicas. */
  runningRequests?: number;
  /** Requests arriving per second (from the request counter's rate, or the router). */
  arrivalRate?: number;
  /** Prompt tokens processed per second, summed. */
  promptTokensPerSecond?: number;
  /** Tokens generated per second, summed. */
  generationTokensPerSecond?: number;
  /** Mean KV-cache usage over replicas, 0..1. */
  kvCacheUtilization?: number;
  /** Time to first token over the window (p95), seconds. */
  ttftSeconds?: number;
  /** Inter-token latency over the window (p95), seconds. */
  itlSeconds?: number;
  /** Per-request mean inter-token latency over the window (p95), seconds: what the ITL objective is about. */
  requestItlSeconds?: number;
  /**
   * The window's time to first token as a cumulative histogram (the replicas' bucket increases summed by
   * upper bound, ascending, the last bound +Inf): the share of requests that missed targets.ttftSeconds.
   */
  ttftHistogram?: HistogramBuckets;
  /** The same for the per-request mean inter-token latency: the share that missed targets.itlSeconds. */
  requestItlHistogram?: HistogramBuckets;
  /** Demand seen while no replica runs (the activation query), for waking from zero. */
  activationDemand?: number;
}
