// The server adapter interface: how one model server runtime names the canonical signals. An adapter is
// declarative data, so the same description drives both the pod scraper (which reads expositions) and the
// Prometheus source (which writes PromQL).
import type { ServerRuntime } from "../../apis/inferenceservice.ts";
import type { Signals } from "../types.ts";

/** Runtimes with an adapter. `custom` has none: it relies on spec.metrics.queries. */
export type AdapterServer = Exclude<ServerRuntime, "custom">;

/** Signals read as the current value of a gauge. */
export const GAUGE_SIGNALS = ["queueDepth", "runningRequests", "kvCacheUtilization"] as const;
export type GaugeSignal = (typeof GAUGE_SIGNALS)[number];

/**
 * Signals read as the per-second rate of a counter. The last three count finished requests and their tokens
 * (the `_count` and `_sum` of per-request histograms recorded when a request ends, such as vLLM's
 * vllm:request_prompt_tokens): their ratios are the mean size of a request, measured on the same requests.
 * promptTokens counts prompts as they are prefilled and arrivals (for vLLM) as requests finish, so their
 * ratio reads a request 50x too large at the onset of a burst after idle time.
 */
export const COUNTER_SIGNALS = [
  "arrivals",
  "promptTokens",
  "generationTokens",
  "finishedRequests",
  "finishedPromptTokens",
  "finishedGenerationTokens",
] as const;
export type CounterSignal = (typeof COUNTER_SIGNALS)[number];

/**
 * Signals read as a quantile of a histogram over the window: time to first token, inter-token latency (per
 * token) and the per-request mean inter-token latency (what an ITL objective is about).
 */
export const HISTOGRAM_SIGNALS = ["ttft", "itl", "requestItl"] as const;
export type HistogramSignal = (typeof HISTOGRAM_SIGNALS)[number];

export type AdapterSignal = GaugeSignal | CounterSignal | HistogramSignal;

/** The field of `Signals` each adapter signal fills. */
export const SIGNAL_FIELD = {
  queueDepth: "queueDepth",
  runningRequests: "runningRequests",
  kvCacheUtilization: "kvCacheUtilization",
  arrivals: "arrivalRate",
  promptTokens: "promptTokensPerSecond",
  generationTokens: "generationTokensPerSecond",
  finishedRequests: "finishedRequestsPerSecond",
  finishedPromptTokens: "finishedPromptTokensPerSecond",
  finishedGenerationTokens: "finishedGenerationTokensPerSecond",
  ttft: "ttftSeconds",
  itl: "itlSeconds",
  requestItl: "requestItlSeconds",
} as const satisfies Record<AdapterSignal, keyof Signals>;

/**
 * Histograms also passed whole (the window's bucket increases), for the share of requests that miss an
 * objective: the planner's SLO headroom reads them.
 */
export const HISTOGRAM_BUCKETS_FIELD = {
  ttft: "ttftHistogram",
  requestItl: "requestItlHistogram",
} as const satisfies Partial<Record<HistogramSignal, keyof Signals>>;

/** How the series of one metric within one pod (engines, models, ranks) combine into one value. */
export type PerPod = "sum" | "mean" | "max";

/** How a service's pods combine: sums, except KV-cache utilisation, a mean over replicas. */
export const ACROSS_PODS: Record<GaugeSignal | CounterSignal, "sum" | "mean"> = {
  queueDepth: "sum",
  runningRequests: "sum",
  kvCacheUtilization: "mean",
  arrivals: "sum",
  promptTokens: "sum",
  generationTokens: "sum",
  finishedRequests: "sum",
  finishedPromptTokens: "sum",
  finishedGenerationTokens: "sum",
};

/**
 * The most a gauge can be, in its canonical unit: KV-cache usage is a fraction of the cache. A pod's value
 * above it is refused, by the pod scraper (reading.ts) and by the Prometheus source's query (promql.ts).
 */
export const GAUGE_MAX: Partial<Record<GaugeSignal, number>> = { kvCacheUtilization: 1 };

/** Where one signal is read from. */
export interface MetricRef {
  /**
   * Sample names in order of preference (the newest spelling first); per pod, the first one present wins.
   * Each also matches its spelling with `:` rewritten to `_`, which some pipelines apply. For histograms,
   * the family name: `_bucket`, `_sum` and `_count` are appended.
   */
  names: readonly string[];
  /** Label values the series must carry (equality). */
  labels?: Readonly<Record<string, string>>;
  /** How series within a pod combine. Default: sum (mean for KV-cache utilisation). */
  perPod?: PerPod;
  /** Multiplies values (histogram bounds for histograms) to reach the canonical unit: 0.001 for ms. */
  scale?: number;
}

export interface ServerAdapter {
  server: AdapterServer;
  /** The project, version and file the metric names were taken from. */
  provenance: string;
  gauges: Partial<Record<GaugeSignal, MetricRef>>;
  counters: Partial<Record<CounterSignal, MetricRef>>;
  histograms: Partial<Record<HistogramSignal, MetricRef>>;
}

/** A name and its `:`→`_` spelling, without duplicates, in preference order. */
export function nameCandidates(ref: MetricRef): string[] {
  const out: string[] = [];
  for (const name of ref.names) {
    for (const n of [name, name.replaceAll(":", "_")]) if (!out.includes(n)) out.push(n);
  }
  return out;
}

/** How series within a pod combine for a signal. */
export function perPodOf(signal: AdapterSignal, ref: MetricRef): PerPod {
  return ref.perPod ?? (signal === "kvCacheUtilization" ? "mean" : "sum");
}
