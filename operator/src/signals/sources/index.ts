// The metric source registry: one entry per spec.metrics.source, each with its zod config and factory,
// and a router that sends each service to the source its spec names.
import type { z } from "zod";
import { toFieldErrors } from "../../apis/validate.ts";
import { SignalsError, SignalsErrorCode } from "../errors.ts";
import { createPodScrapeSource, podScrapeConfigSchema } from "./podscrape.ts";
import { createPrometheusSource, prometheusConfigSchema } from "./prometheus.ts";
import type { MetricSource, ServiceRef, SignalsResult, SourceKind } from "./types.ts";

export const SOURCES = {
  prometheus: { configSchema: prometheusConfigSchema, create: createPrometheusSource },
  podScrape: { configSchema: podScrapeConfigSchema, create: createPodScrapeSource },
} as const satisfies Record<SourceKind, { configSchema: z.ZodType; create: (config: never) => MetricSource }>;

export type SourceConfig<K extends SourceKind> = z.input<(typeof SOURCES)[K]["configSchema"]>;

/** Validates a source's configuration and creates it. Throws a SignalsError (InvalidConfig) naming the fields. */
export function createSource<K extends SourceKind>(kind: K, config: unknown): MetricSource {
  const entry = SOURCES[kind];
  const parsed = entry.configSchema.safeParse(config ?? {});
  if (!parsed.success) {
    const detail = toFieldErrors(parsed.error)
      .map((e) => (e.path ? `${e.path}: ${e.message}` : e.message))
      .join("; ");
    throw new SignalsError(
      SignalsErrorCode.InvalidConfig,
      `configuring the ${kind} metric source: ${detail}`,
      {
        cause: parsed.error,
      },
    );
  }
  return (entry.create as (c: unknown) => MetricSource)(parsed.data);
}

/** A source that sends each service to the source of its spec.metrics.source, all in parallel. */
export function routeBySource(sources: Partial<Record<SourceKind, MetricSource>>): MetricSource {
  return {
    kind: "router",
    async fetchSignals(services: readonly ServiceRef[], nowMs: number) {
      const out = new Map<string, SignalsResult>();
      const groups = new Map<SourceKind, ServiceRef[]>();
      for (const svc of services) {
        const kind = svc.metrics.source;
        if (!sources[kind]) {
          out.set(svc.key, {
            ok: false,
            error: new SignalsError(
              SignalsErrorCode.SourceNotConfigured,
              `reading signals of ${svc.key}: the ${kind} metric source is not configured in the operator`,
            ),
          });
          continue;
        }
        groups.set(kind, [...(groups.get(kind) ?? []), svc]);
      }
      const answers = await Promise.all(
        [...groups].map(async ([kind, list]) => {
          try {
            return await (sources[kind] as MetricSource).fetchSignals(list, nowMs);
          } catch (err) {
            // A source should not reject; if one does, its services get the error rather than all services.
            const error = new SignalsError(
              SignalsErrorCode.BadResponse,
              `reading signals from the ${kind} source: ${err instanceof Error ? err.message : String(err)}`,
              { cause: err },
            );
            return new Map(list.map((s) => [s.key, { ok: false, error } as SignalsResult]));
          }
        }),
      );
      for (const answer of answers) for (const [k, v] of answer) out.set(k, v);
      return out;
    },
  };
}

export { createFakeSource, type FakeSource } from "./fake.ts";
export { createPodScrapeSource, type PodScrapeConfig, podScrapeConfigSchema } from "./podscrape.ts";
export { createPrometheusSource, type PrometheusConfig, prometheusConfigSchema } from "./prometheus.ts";
export type { MetricSource, PodTarget, ServiceRef, SignalsResult, SourceKind } from "./types.ts";
export { noSignals, serviceRef, toSignalsByService } from "./types.ts";
