// The metric source interface. A source reads the signals of many services at once (batched where it can)
// and answers, per service key, either the Signals or the error that kept it from reading them.
import type { InferenceServiceSpec, ServerRuntime } from "../../apis/inferenceservice.ts";
import type { SignalsError } from "../errors.ts";
import type { Signals } from "../types.ts";

export type MetricsSpec = InferenceServiceSpec["metrics"];
export type SourceKind = MetricsSpec["source"];

/** A ready pod of the service, for sources that read pods directly. */
export interface PodTarget {
  name: string;
  /** Pod IP (v4 or v6). */
  ip: string;
  /** GPUNodePool of the pod's variant. */
  variant?: string;
}

/** What a source needs to know of one service. */
export interface ServiceRef {
  /** namespace/name */
  key: string;
  namespace: string;
  name: string;
  server: ServerRuntime;
  metrics: MetricsSpec;
  /** spec.scaling.scaleToZero.activationQuery, when set. */
  activationQuery?: string;
  /** Ready pods (used by podScrape; Prometheus finds pods by label). */
  pods: readonly PodTarget[];
}

export type SignalsResult = { ok: true; signals: Signals } | { ok: false; error: SignalsError };

export interface MetricSource {
  readonly kind: SourceKind | "fake" | "router";
  /**
   * Reads the signals of the services at `nowMs`. Resolves with one entry per service key; it does not
   * reject for a service's failure (that is the entry's error).
   */
  fetchSignals(services: readonly ServiceRef[], nowMs: number): Promise<Map<string, SignalsResult>>;
}

/** Builds a ServiceRef from an InferenceService's spec and its ready pods. */
export function serviceRef(
  namespace: string,
  name: string,
  spec: InferenceServiceSpec,
  pods: readonly PodTarget[] = [],
): ServiceRef {
  const activationQuery = spec.scaling.scaleToZero?.activationQuery;
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    server: spec.model.server,
    metrics: spec.metrics,
    ...(activationQuery !== undefined ? { activationQuery } : {}),
    pods,
  };
}

/** Signals that say nothing: no replica reported. */
export function noSignals(observedAtMs: number): Signals {
  return { observedAtMs, replicasReporting: 0 };
}

/** Flattens results to what the Snapshot builder takes: signals, or the error's message (with its code). */
export function toSignalsByService(
  results: ReadonlyMap<string, SignalsResult>,
): Map<string, { signals?: Signals; error?: string }> {
  const out = new Map<string, { signals?: Signals; error?: string }>();
  for (const [key, r] of results) {
    out.set(key, r.ok ? { signals: r.signals } : { error: `${r.error.code}: ${r.error.message}` });
  }
  return out;
}
