// PromQL for the Prometheus source, written from the server adapters. Pure. Every query answers for all
// services of one runtime at once, grouped by the labels the scrape configuration attaches (see
// docs/signals.md): `namespace`, `inferops_service` and `pod`. Alternative metric names (older spellings,
// the `:`→`_` rewrite) are chosen per pod with `or on (namespace, inferops_service, pod)`, so a pod that
// exposes both an old and a new name is counted once. For the TTFT and per-request ITL histograms, a
// "buckets" query also returns the window's bucket increases per service (summed across pods by `le`), for
// the share of requests that miss an objective; their bounds are scaled when read, not in PromQL.
import {
  ACROSS_PODS,
  COUNTER_SIGNALS,
  type CounterSignal,
  GAUGE_MAX,
  GAUGE_SIGNALS,
  type GaugeSignal,
  HISTOGRAM_BUCKETS_FIELD,
  HISTOGRAM_SIGNALS,
  type HistogramSignal,
  type MetricRef,
  nameCandidates,
  perPodOf,
  type ServerAdapter,
} from "../adapters/types.ts";

/** The label names series carry for the namespace, the InferenceService and the pod. */
export interface LabelConvention {
  namespace: string;
  service: string;
  pod: string;
}

export const DEFAULT_LABELS: LabelConvention = {
  namespace: "namespace",
  service: "inferops_service",
  pod: "pod",
};

export interface QueryOptions {
  labels: LabelConvention;
  /** Range of rate() and of the histogram rates: `1m`. */
  rateWindow: string;
  /** Quantile of TTFT and ITL. */
  quantile: number;
  /** Matchers added to every selector, such as `job="inferops"`. */
  matchers?: string;
}

export type BatchQuery =
  | { kind: "gauge"; signal: GaugeSignal; query: string }
  | { kind: "counter"; signal: CounterSignal; query: string }
  | { kind: "histogram"; signal: HistogramSignal; query: string }
  | { kind: "buckets"; signal: HistogramSignal; query: string }
  | { kind: "replicas"; query: string }
  | { kind: "queued"; query: string }
  | { kind: "observedAt"; query: string };

function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

function matcherList(ref: MetricRef | undefined, opts: QueryOptions): string[] {
  const out = Object.entries(ref?.labels ?? {}).map(([k, v]) => `${k}=${quote(v)}`);
  if (opts.matchers?.trim()) out.push(opts.matchers.trim());
  return out;
}

function selector(name: string, ref: MetricRef, opts: QueryOptions): string {
  const m = matcherList(ref, opts);
  return m.length > 0 ? `${name}{${m.join(", ")}}` : name;
}

function groups(opts: QueryOptions): { service: string; pod: string } {
  const { namespace, service, pod } = opts.labels;
  return { service: `${namespace}, ${service}`, pod: `${namespace}, ${service}, ${pod}` };
}

const PROM_AGG = { sum: "sum", mean: "avg", max: "max" } as const;

function scaled(query: string, scale: number | undefined): string {
  return scale === undefined || scale === 1 ? query : `(${query}) * ${scale}`;
}

/**
 * Current value of a gauge per service: per pod (sum/avg/max of its series), then across pods. A pod's value
 * outside the signal's domain is left out, as the pod scraper refuses it (reading.ts): below 0, and for
 * KV-cache usage above 1 (in the canonical unit, after `scale`).
 */
export function gaugeQuery(signal: GaugeSignal, ref: MetricRef, opts: QueryOptions): string {
  const g = groups(opts);
  const top = GAUGE_MAX[signal];
  const max = top !== undefined ? ` <= ${top / (ref.scale ?? 1)}` : "";
  return scaled(
    `${PROM_AGG[ACROSS_PODS[signal]]} by (${g.service}) ((${gaugePerPod(signal, ref, opts)}) >= 0${max})`,
    ref.scale,
  );
}

/** A gauge's value per pod (sum/avg/max of its series), whichever of the ref's names the pod exposes. */
function gaugePerPod(signal: GaugeSignal, ref: MetricRef, opts: QueryOptions): string {
  const g = groups(opts);
  const perPod = PROM_AGG[perPodOf(signal, ref)];
  return nameCandidates(ref)
    .map((name) => `${perPod} by (${g.pod}) (${selector(name, ref, opts)})`)
    .join(` or on (${g.pod}) `);
}

/**
 * Pods whose queue holds waiting requests: the queue gauge per pod, kept where above 0, one series per pod
 * (the reader counts them per service and keeps their values: Signals.queuedReplicas and podQueues). A
 * service none of whose pods queue has no series here; the reader takes that as 0 when the queue answered.
 */
export function queuedPodsQuery(ref: MetricRef, opts: QueryOptions): string {
  return `(${gaugePerPod("queueDepth", ref, opts)}) > 0`;
}

/** Per-second rate of a counter per service. */
export function counterQuery(signal: CounterSignal, ref: MetricRef, opts: QueryOptions): string {
  const g = groups(opts);
  const perPod = PROM_AGG[perPodOf(signal, ref)];
  const alternatives = nameCandidates(ref)
    .map((name) => `${perPod} by (${g.pod}) (rate(${selector(name, ref, opts)}[${opts.rateWindow}]))`)
    .join(` or on (${g.pod}) `);
  return scaled(`${PROM_AGG[ACROSS_PODS[signal]]} by (${g.service}) (${alternatives})`, ref.scale);
}

/** Quantile of a histogram per service, over the rate window, pods' buckets summed by `le`. */
export function histogramQuery(ref: MetricRef, opts: QueryOptions): string {
  const g = groups(opts);
  const alternatives = nameCandidates(ref)
    .map(
      (name) => `sum by (le, ${g.pod}) (rate(${selector(`${name}_bucket`, ref, opts)}[${opts.rateWindow}]))`,
    )
    .join(` or on (${g.pod}) `);
  return scaled(
    `histogram_quantile(${opts.quantile}, sum by (le, ${g.service}) (${alternatives}))`,
    ref.scale,
  );
}

/**
 * The window's bucket increases of a histogram per service, pods summed by `le`: one series per bound, counts
 * cumulative. The ref's scale applies to the bounds, so it is left to the reader. Each pod's name is chosen
 * as in histogramQuery, `or on` the pod alone: a pod exposing the preferred name drops every bucket of the
 * others, so two layouts (an old and a new name with other bounds) never mix. (Buckets of the left operand
 * never drop each other: `or` keeps all of its left side.)
 */
export function histogramBucketsQuery(ref: MetricRef, opts: QueryOptions): string {
  const g = groups(opts);
  const alternatives = nameCandidates(ref)
    .map(
      (name) =>
        `sum by (le, ${g.pod}) (increase(${selector(`${name}_bucket`, ref, opts)}[${opts.rateWindow}]))`,
    )
    .join(` or on (${g.pod}) `);
  return `sum by (le, ${g.service}) (${alternatives})`;
}

/** Every name the adapter reads a gauge or counter from: a pod exposing one of them is reporting. */
function presenceSelector(adapter: ServerAdapter, opts: QueryOptions): string {
  const names = new Set<string>();
  for (const ref of [...Object.values(adapter.gauges), ...Object.values(adapter.counters)]) {
    for (const n of nameCandidates(ref)) names.add(n);
  }
  const regex = [...names].map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  return `{${[`__name__=~${quote(regex)}`, ...matcherList(undefined, opts)].join(", ")}}`;
}

/** Pods reporting per service. */
export function replicasQuery(adapter: ServerAdapter, opts: QueryOptions): string {
  const g = groups(opts);
  return `count by (${g.service}) (group by (${g.pod}) (${presenceSelector(adapter, opts)}))`;
}

/**
 * Time of the newest sample per service, in seconds, from the runtime's gauges (scraped with everything
 * else). timestamp() is applied to each name on its own: it drops the name, and series of two names with the
 * same labels would collide in one vector.
 */
export function observedAtQuery(adapter: ServerAdapter, opts: QueryOptions): string {
  const g = groups(opts);
  const gauges = Object.values(adapter.gauges);
  const refs = gauges.length > 0 ? gauges : Object.values(adapter.counters);
  const parts = refs.flatMap((ref) =>
    nameCandidates(ref).map((name) => `timestamp(${selector(name, ref, opts)})`),
  );
  return `max by (${g.service}) (${parts.join(" or ")})`;
}

/**
 * The batch of queries that reads every signal of a runtime for all its services, and the buckets of the
 * histograms in HISTOGRAM_BUCKETS_FIELD. Signals in `skip` (those every service of the batch overrides) are
 * left out, their buckets too.
 */
export function batchQueries(
  adapter: ServerAdapter,
  opts: QueryOptions,
  skip: ReadonlySet<string> = new Set(),
): BatchQuery[] {
  const out: BatchQuery[] = [];
  for (const signal of GAUGE_SIGNALS) {
    const ref = adapter.gauges[signal];
    if (ref && !skip.has(signal)) out.push({ kind: "gauge", signal, query: gaugeQuery(signal, ref, opts) });
  }
  const queue = adapter.gauges.queueDepth;
  if (queue && !skip.has("queueDepth")) out.push({ kind: "queued", query: queuedPodsQuery(queue, opts) });
  for (const signal of COUNTER_SIGNALS) {
    const ref = adapter.counters[signal];
    if (ref && !skip.has(signal)) {
      out.push({ kind: "counter", signal, query: counterQuery(signal, ref, opts) });
    }
  }
  for (const signal of HISTOGRAM_SIGNALS) {
    const ref = adapter.histograms[signal];
    if (!ref || skip.has(signal)) continue;
    out.push({ kind: "histogram", signal, query: histogramQuery(ref, opts) });
    if (signal in HISTOGRAM_BUCKETS_FIELD) {
      out.push({ kind: "buckets", signal, query: histogramBucketsQuery(ref, opts) });
    }
  }
  out.push({ kind: "replicas", query: replicasQuery(adapter, opts) });
  out.push({ kind: "observedAt", query: observedAtQuery(adapter, opts) });
  return out;
}

export interface Placeholders {
  namespace: string;
  service: string;
  /** The rate window, such as `1m`. */
  window: string;
}

/**
 * Expands the placeholders of a PromQL override: `$namespace`, `$service` and `$window` (also written
 * `${namespace}`, `${service}`, `${window}`). Other `$` text is left alone.
 */
export function expandPlaceholders(query: string, values: Placeholders): string {
  return query.replace(
    /\$(?:\{(namespace|service|window)\}|(namespace|service|window)(?![A-Za-z0-9_]))/g,
    (_m, a, b) => {
      const key = (a ?? b) as keyof Placeholders;
      return values[key];
    },
  );
}
