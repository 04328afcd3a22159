// The signals layer: model servers' metrics in, the planner's canonical Signals out.
//   prom-text.ts   the exposition parser (never throws)
//   adapters/      one file per server runtime: which metric names mean which signal
//   reading.ts     one pod's exposition -> raw canonical readings, through its adapter
//   window.ts      counter rates with resets, histogram quantiles, staleness (pure)
//   aggregate.ts   per-pod readings -> one service's Signals (pure)
//   sources/       where readings come from: Prometheus (batched PromQL) or scraping pods directly
export { ADAPTERS, adapterFor } from "./adapters/index.ts";
export type { AdapterSignal, MetricRef, ServerAdapter } from "./adapters/types.ts";
export {
  aggregateScrapes,
  aggregateService,
  DEFAULT_QUANTILE,
  type PodScrape,
  type PodWindow,
} from "./aggregate.ts";
export { isSignalsError, SignalsError, SignalsErrorCode } from "./errors.ts";
export { type Exposition, parsePromText, type Sample } from "./prom-text.ts";
export { type PodReading, readPod } from "./reading.ts";
export * from "./sources/index.ts";
export { counterRate, histogramQuantile, isStale } from "./window.ts";
