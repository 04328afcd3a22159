// Signals as the operator's signals layer sees the simulated fleet: every evaluation, each ready pod's vLLM
// metrics are read (what the vLLM adapter reads from its /metrics page: gauges, cumulative counters and
// histograms), kept per pod over the last 60 s (and at least the previous reading, up to 5 minutes old),
// and aggregated by the signals layer's own code (signals/aggregate.ts): sums of queue, running and rates,
// mean KV-cache use, p95 TTFT and ITL from the pods' histogram increases. That is the pod-scrape source
// (signals/sources/podscrape.ts) without HTTP: the reading is built from the replica's metrics object instead
// of parsing its rendered page, which gives the same values (simulation/signals.test.ts checks it).

import type { Signals } from "../planning/types.ts";
import type { HistogramSnapshot, ReplicaMetrics } from "../serving/metrics.ts";
import { aggregateService, DEFAULT_QUANTILE } from "../signals/aggregate.ts";
import type { PodReading } from "../signals/reading.ts";
import { appendPoint, type Histogram, type Point } from "../signals/window.ts";

/** The pod-scrape source's defaults (signals/sources/podscrape.ts). */
export const RATE_WINDOW_MS = 60_000;
export const MAX_GAP_MS = 300_000;

function histogram(h: HistogramSnapshot): Histogram {
  const buckets = h.bounds.map((le, i) => ({ le, count: h.cumulative[i]! }));
  buckets.push({ le: Number.POSITIVE_INFINITY, count: h.cumulative[h.bounds.length]! });
  return { buckets, sum: h.sum, count: h.count };
}

/** What the vLLM adapter reads from one replica's metrics, at `atMs`. */
export function readingOf(m: ReplicaMetrics, atMs: number): PodReading {
  return {
    atMs,
    gauges: {
      queueDepth: m.numRequestsWaiting,
      runningRequests: m.numRequestsRunning,
      kvCacheUtilization: m.kvCacheUsage,
    },
    counters: {
      // Every finished_reason, as the vLLM adapter reads it: requests aborted when their client gave up too.
      arrivals: m.requestSuccessTotal + (m.requestAbortedTotal ?? 0),
      promptTokens: m.promptTokensTotal,
      generationTokens: m.generationTokensTotal,
      finishedRequests: m.requestGenerationTokens.count,
      finishedPromptTokens: m.requestPromptTokens.sum,
      finishedGenerationTokens: m.requestGenerationTokens.sum,
    },
    histograms: {
      ttft: histogram(m.timeToFirstToken),
      itl: histogram(m.interTokenLatency),
      requestItl: histogram(m.requestTimePerOutputToken),
    },
  };
}

/** Keeps each pod's readings between scrapes and aggregates them into one service's Signals. */
export class PodScraper {
  readonly #intervalMs: number;
  readonly #windows = new Map<string, Point<PodReading>[]>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** One scrape of the ready pods at `nowMs`; pods not in the list are forgotten. */
  scrape(pods: readonly { pod: string; metrics: ReplicaMetrics }[], nowMs: number): Signals {
    const seen = new Set<string>();
    const windows = pods.map(({ pod, metrics }) => {
      seen.add(pod);
      const before = this.#windows.get(pod) ?? [];
      let points = appendPoint(
        before,
        { tMs: nowMs, value: readingOf(metrics, nowMs) },
        { maxAgeMs: RATE_WINDOW_MS },
      );
      const last = before[before.length - 1];
      if (points.length === 1 && last && last.tMs < nowMs && nowMs - last.tMs <= MAX_GAP_MS)
        points = [last, ...points];
      this.#windows.set(pod, points);
      // Simulated counters never reset, so the window's rate and histogram increase are those between its
      // first and last readings: passing only those two gives the signals layer the same answer, faster.
      const first = points[0]!;
      const newest = points[points.length - 1]!;
      return { pod, readings: first === newest ? [newest.value] : [first.value, newest.value] };
    });
    for (const key of [...this.#windows.keys()]) if (!seen.has(key)) this.#windows.delete(key);
    return aggregateService(windows, { nowMs, intervalMs: this.#intervalMs, quantile: DEFAULT_QUANTILE });
  }
}
