// From one pod's parsed exposition to its raw canonical readings, through the pod's server adapter:
// gauges as they stand, counters and histograms as cumulative values (rates and quantiles need two readings;
// see window.ts and aggregate.ts).
//
// Expositions the project has never seen are read by these rules (docs/signals.md, "Malformed metric text"):
// - a series repeated within one scrape (same name and labels, histogram buckets included, a family
//   declared twice) counts once, its first sample, as Prometheus keeps the first and drops the duplicate;
// - a pod's value outside its signal's domain refuses that signal for that pod (it is absent, not zero; the
//   pod's other signals stand): a negative gauge or counter, a KV-cache usage above 1 (a percentage is not
//   a fraction: an adapter or query that reads percent sets scale 0.01), a sum that overflows to Infinity.
//   The Prometheus source's queries filter each pod's gauge the same way (promql.ts);
// - a metric exposed in two spellings (`vllm:x` and `vllm_x`, renamed by a pipeline) is read from the
//   first in the adapter's order, the server's own: they are one metric, and summing would count it twice;
// - nothing here spreads a list into a call, so 125,000 series cost time, not the call stack.
import {
  COUNTER_SIGNALS,
  type CounterSignal,
  GAUGE_MAX,
  GAUGE_SIGNALS,
  type GaugeSignal,
  HISTOGRAM_SIGNALS,
  type HistogramSignal,
  type MetricRef,
  nameCandidates,
  type PerPod,
  perPodOf,
  type ServerAdapter,
} from "./adapters/types.ts";
import { type Labels, parsePromFloat, type Sample } from "./prom-text.ts";
import { type Bucket, type Histogram, mergeHistograms } from "./window.ts";

/** What one scrape of one pod said, in canonical terms. A signal the pod did not expose is absent. */
export interface PodReading {
  /** When the pod was read (epoch ms). */
  atMs: number;
  gauges: Partial<Record<GaugeSignal, number>>;
  /** Cumulative counter values. */
  counters: Partial<Record<CounterSignal, number>>;
  /** Cumulative histograms, bounds in the canonical unit (seconds). */
  histograms: Partial<Record<HistogramSignal, Histogram>>;
}

/** Samples by name, built once per exposition. */
export type SampleIndex = ReadonlyMap<string, readonly Sample[]>;

/** Samples by name; a series repeated within the exposition (same name and labels) keeps its first sample. */
export function indexSamples(samples: readonly Sample[]): SampleIndex {
  const index = new Map<string, Sample[]>();
  const seen = new Set<string>();
  for (const s of samples) {
    const id = `${s.name}\u0000${labelsKey(s.labels)}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const list = index.get(s.name);
    if (list) list.push(s);
    else index.set(s.name, [s]);
  }
  return index;
}

/** A label set as a string, independent of order. */
function labelsKey(labels: Labels, skip?: string): string {
  const keys = Object.keys(labels)
    .filter((k) => k !== skip)
    .sort();
  return JSON.stringify(keys.map((k) => [k, labels[k]]));
}

function matches(labels: Labels, want: Readonly<Record<string, string>> | undefined): boolean {
  if (!want) return true;
  for (const [k, v] of Object.entries(want)) if (labels[k] !== v) return false;
  return true;
}

function combine(values: readonly number[], how: PerPod): number {
  if (how === "max") return values.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY);
  const sum = values.reduce((a, b) => a + b, 0);
  return how === "mean" ? sum / values.length : sum;
}

/**
 * A gauge or counter: the first name with matching series, its finite values combined per pod; undefined
 * (refused) when the pod's value is negative or not finite.
 */
function readScalar(index: SampleIndex, ref: MetricRef, how: PerPod): number | undefined {
  for (const name of nameCandidates(ref)) {
    const series = (index.get(name) ?? []).filter((s) => matches(s.labels, ref.labels));
    if (series.length === 0) continue;
    const values = series.map((s) => s.value).filter(Number.isFinite);
    if (values.length === 0) return undefined;
    const value = combine(values, how) * (ref.scale ?? 1);
    return Number.isFinite(value) && value >= 0 ? value : undefined;
  }
  return undefined;
}

function seriesKey(labels: Labels): string {
  return labelsKey(labels, "le");
}

/** A histogram: the first family name with matching `_bucket` series; series combined per pod. */
function readHistogram(index: SampleIndex, ref: MetricRef, how: PerPod): Histogram | undefined {
  const scale = ref.scale ?? 1;
  for (const name of nameCandidates(ref)) {
    const buckets = (index.get(`${name}_bucket`) ?? []).filter((s) => matches(s.labels, ref.labels));
    if (buckets.length === 0) continue;
    const series = new Map<string, { buckets: Bucket[]; sum?: number; count?: number }>();
    for (const s of buckets) {
      const le = parsePromFloat(s.labels.le ?? "");
      if (le === undefined || Number.isNaN(le)) continue;
      const key = seriesKey(s.labels);
      const entry = series.get(key) ?? { buckets: [] };
      entry.buckets.push({ le: le * scale, count: s.value });
      series.set(key, entry);
    }
    for (const [suffix, field] of [
      ["_sum", "sum"],
      ["_count", "count"],
    ] as const) {
      for (const s of index.get(`${name}${suffix}`) ?? []) {
        const entry = series.get(seriesKey(s.labels));
        if (entry && matches(s.labels, ref.labels))
          entry[field] = field === "sum" ? s.value * scale : s.value;
      }
    }
    const all = [...series.values()];
    if (all.length === 0) return undefined;
    if (how === "max") {
      const top = (h: Histogram) => h.buckets.reduce((m, b) => Math.max(m, b.count), 0);
      return all.reduce((best, h) => (top(h) > top(best) ? h : best));
    }
    return mergeHistograms(all);
  }
  return undefined;
}

/** Reads one pod's exposition through its server's adapter. */
export function readPod(
  adapter: ServerAdapter,
  samples: readonly Sample[] | SampleIndex,
  atMs: number,
): PodReading {
  const index = samples instanceof Map ? samples : indexSamples(samples as readonly Sample[]);
  const reading: PodReading = { atMs, gauges: {}, counters: {}, histograms: {} };
  for (const signal of GAUGE_SIGNALS) {
    const ref = adapter.gauges[signal];
    const value = ref && readScalar(index, ref, perPodOf(signal, ref));
    if (value !== undefined && value <= (GAUGE_MAX[signal] ?? Number.POSITIVE_INFINITY) + 1e-9)
      reading.gauges[signal] = value;
  }
  for (const signal of COUNTER_SIGNALS) {
    const ref = adapter.counters[signal];
    const value = ref && readScalar(index, ref, perPodOf(signal, ref));
    if (value !== undefined) reading.counters[signal] = value;
  }
  for (const signal of HISTOGRAM_SIGNALS) {
    const ref = adapter.histograms[signal];
    const value = ref && readHistogram(index, ref, perPodOf(signal, ref));
    if (value !== undefined) reading.histograms[signal] = value;
  }
  return reading;
}

/** True when the reading holds at least one signal: the pod speaks its adapter's language. */
export function hasAnySignal(reading: PodReading): boolean {
  return (
    Object.keys(reading.gauges).length > 0 ||
    Object.keys(reading.counters).length > 0 ||
    Object.keys(reading.histograms).length > 0
  );
}
