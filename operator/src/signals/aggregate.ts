// From per-pod readings (two consecutive scrapes per pod, or a window) to one Signals for a service: sums
// for queue, running, token and arrival rates; the mean for KV-cache utilisation; a quantile (p95) of TTFT
// and ITL from the pods' histogram increases merged. Pods whose newest reading is stale do not report:
// missing, not zero. Pure.

import {
  ACROSS_PODS,
  COUNTER_SIGNALS,
  GAUGE_SIGNALS,
  HISTOGRAM_BUCKETS_FIELD,
  HISTOGRAM_SIGNALS,
  type ServerAdapter,
  SIGNAL_FIELD,
} from "./adapters/types.ts";
import type { Sample } from "./prom-text.ts";
import { hasAnySignal, type PodReading, readPod } from "./reading.ts";
import type { Signals } from "./types.ts";
import {
  counterRate,
  cumulativeBuckets,
  type Histogram,
  histogramQuantile,
  histogramWindowIncrease,
  isStale,
  mergeHistograms,
} from "./window.ts";

export const DEFAULT_QUANTILE = 0.95;

export interface PodWindow {
  pod: string;
  /** The pod's readings, oldest first: two consecutive scrapes, or a window. */
  readings: readonly PodReading[];
}

export interface AggregateOptions {
  nowMs: number;
  /** Evaluation interval; a pod whose newest reading is older than two intervals does not report. */
  intervalMs: number;
  /** Quantile of TTFT and ITL, in [0, 1]. Default 0.95. */
  quantile?: number;
}

/** The pods' values combined; undefined when none reports, or when the sum overflows (refused, not Infinity). */
function across(values: readonly number[], how: "sum" | "mean"): number | undefined {
  if (values.length === 0) return undefined;
  const sum = values.reduce((a, b) => a + b, 0);
  if (!Number.isFinite(sum)) return undefined;
  return how === "mean" ? sum / values.length : sum;
}

/** Aggregates a service's pods into its Signals. */
export function aggregateService(pods: readonly PodWindow[], options: AggregateOptions): Signals {
  const { nowMs, intervalMs } = options;
  const quantile = options.quantile ?? DEFAULT_QUANTILE;
  const newest = (w: PodWindow) => w.readings[w.readings.length - 1];
  const latestTimes = pods.flatMap((w) => {
    const r = newest(w);
    return r ? [r.atMs] : [];
  });
  const fresh = pods.filter((w) => {
    const r = newest(w);
    return r !== undefined && !isStale(r.atMs, nowMs, intervalMs) && hasAnySignal(r);
  });
  const freshTimes = fresh.map((w) => newest(w)?.atMs ?? nowMs);
  const signals: Signals = {
    observedAtMs:
      freshTimes.length > 0
        ? Math.max(...freshTimes)
        : latestTimes.length > 0
          ? Math.max(...latestTimes)
          : nowMs,
    replicasReporting: fresh.length,
  };

  for (const signal of GAUGE_SIGNALS) {
    const values = fresh.flatMap((w) => {
      const v = newest(w)?.gauges[signal];
      return v === undefined ? [] : [v];
    });
    const value = across(values, ACROSS_PODS[signal]);
    if (value !== undefined) signals[SIGNAL_FIELD[signal]] = value;
  }

  const queues = fresh.flatMap((w) => {
    const v = newest(w)?.gauges.queueDepth;
    return v === undefined ? [] : [v];
  });
  if (queues.length > 0) {
    signals.podQueues = queues.filter((v) => v > 0).sort((a, b) => b - a);
    signals.queuedReplicas = signals.podQueues.length;
  }

  for (const signal of COUNTER_SIGNALS) {
    const rates = fresh.flatMap((w) => {
      const points = w.readings.flatMap((r) => {
        const v = r.counters[signal];
        return v === undefined ? [] : [{ tMs: r.atMs, value: v }];
      });
      const rate = counterRate(points);
      return rate === undefined ? [] : [rate];
    });
    const value = across(rates, ACROSS_PODS[signal]);
    if (value !== undefined) signals[SIGNAL_FIELD[signal]] = value;
  }

  for (const signal of HISTOGRAM_SIGNALS) {
    const increases = fresh.flatMap((w) => {
      const points = w.readings.flatMap((r) => {
        const h = r.histograms[signal];
        return h === undefined ? [] : [{ tMs: r.atMs, value: h }];
      });
      const inc = histogramWindowIncrease(points);
      return inc === undefined ? [] : [inc];
    });
    const merged: Histogram | undefined = mergeHistograms(increases);
    const value = merged && histogramQuantile(quantile, merged);
    if (value !== undefined) signals[SIGNAL_FIELD[signal]] = value;
    const whole = HISTOGRAM_BUCKETS_FIELD[signal as keyof typeof HISTOGRAM_BUCKETS_FIELD];
    if (whole && value !== undefined && merged) signals[whole] = cumulativeBuckets(merged);
  }
  return signals;
}

/** One scrape of a pod: when, and the samples it returned (from parsePromText). */
export interface PodScrape {
  atMs: number;
  samples: readonly Sample[];
}

/** Reads each pod's scrapes through the adapter, then aggregates: scrapes in, Signals out. */
export function aggregateScrapes(
  adapter: ServerAdapter,
  pods: readonly { pod: string; scrapes: readonly PodScrape[] }[],
  options: AggregateOptions,
): Signals {
  return aggregateService(
    pods.map((p) => ({ pod: p.pod, readings: p.scrapes.map((s) => readPod(adapter, s.samples, s.atMs)) })),
    options,
  );
}
