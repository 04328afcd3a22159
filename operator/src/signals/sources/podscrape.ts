// The pod-scrape source: reads each ready pod's /metrics directly (pod IP, spec.metrics.port and .path),
// with a concurrency limit and a timeout, and keeps a short window of readings per pod in memory so that
// counters become rates and histograms become quantiles over the increase between scrapes. The first
// scrape of a pod gives gauges only.
// A pod that fails to scrape does not report this round (replicasReporting counts those that did); a service
// whose pods all fail gets an error. PromQL (spec.metrics.queries, the activation query) needs Prometheus:
// this source ignores it, and `custom` services, which have only PromQL, get a NoAdapter error.
import { z } from "zod";
import { adapterFor } from "../adapters/index.ts";
import type { ServerAdapter } from "../adapters/types.ts";
import { aggregateService, DEFAULT_QUANTILE, type PodWindow } from "../aggregate.ts";
import { isSignalsError, SignalsError, SignalsErrorCode } from "../errors.ts";
import { formatOf, parsePromText } from "../prom-text.ts";
import { hasAnySignal, type PodReading, readPod } from "../reading.ts";
import { appendPoint, type Point } from "../window.ts";
import { fetchText, mapLimit } from "./http.ts";
import {
  type MetricSource,
  noSignals,
  type PodTarget,
  type ServiceRef,
  type SignalsResult,
} from "./types.ts";

export const podScrapeConfigSchema = z
  .strictObject({
    timeoutMs: z.int().min(100).max(60_000).default(3000).describe("Timeout of each pod scrape, ms."),
    concurrency: z.int().min(1).max(256).default(16).describe("Pod scrapes in flight at once."),
    maxBodyBytes: z
      .int()
      .min(1024)
      .default(16 * 1024 * 1024)
      .describe("Largest /metrics body read."),
    intervalMs: z
      .int()
      .min(100)
      .default(15_000)
      .describe("Evaluation interval; readings older than two intervals are stale."),
    rateWindowMs: z
      .int()
      .min(1000)
      .default(60_000)
      .describe("Readings kept per pod for rates and quantiles (at least the previous one)."),
    maxGapMs: z
      .int()
      .min(1000)
      .default(300_000)
      .describe("A previous reading older than this is not used for a rate."),
    quantile: z.number().min(0).max(1).default(DEFAULT_QUANTILE).describe("Quantile of TTFT and ITL."),
    scheme: z.enum(["http", "https"]).default("http").describe("Scheme of the pods' metrics endpoint."),
    headers: z.record(z.string(), z.string()).default({}).describe("Headers sent with every scrape."),
  })
  .describe("The pod-scrape metric source.");
export type PodScrapeConfig = z.output<typeof podScrapeConfigSchema>;

const ACCEPT = "text/plain;version=0.0.4;q=1.0, application/openmetrics-text;version=1.0.0;q=0.5, */*;q=0.1";

/** The URL of a pod's metrics endpoint; IPv6 addresses in brackets. */
export function podMetricsURL(scheme: string, ip: string, port: number, path: string): string {
  const host = ip.includes(":") ? `[${ip}]` : ip;
  return `${scheme}://${host}:${port}${path.startsWith("/") ? path : `/${path}`}`;
}

type PodOutcome = { pod: PodTarget; reading: PodReading } | { pod: PodTarget; error: SignalsError };

export interface PodScrapeSource extends MetricSource {
  /** Pods with readings in memory, for tests and debugging. */
  memorySize(): number;
}

export function createPodScrapeSource(input: z.input<typeof podScrapeConfigSchema> = {}): PodScrapeSource {
  const config = podScrapeConfigSchema.parse(input);
  /** Readings per service key, then per pod name, oldest first. */
  const memory = new Map<string, { seenMs: number; pods: Map<string, Point<PodReading>[]> }>();

  async function scrapePod(svc: ServiceRef, adapter: ServerAdapter, pod: PodTarget, nowMs: number) {
    const url = podMetricsURL(config.scheme, pod.ip, svc.metrics.port, svc.metrics.path);
    const doing = `scraping pod ${svc.namespace}/${pod.name} at ${url}`;
    const res = await fetchText({
      url,
      headers: { accept: ACCEPT, ...config.headers },
      timeoutMs: config.timeoutMs,
      maxBytes: config.maxBodyBytes,
      doing,
    });
    if (res.status < 200 || res.status >= 300) {
      throw new SignalsError(
        SignalsErrorCode.HTTPStatus,
        `${doing}: HTTP ${res.status}${res.status === 404 ? ` (is spec.metrics.port/path right, and are ${adapter.server} metrics enabled?)` : ""}`,
      );
    }
    const exposition = parsePromText(res.text, formatOf(res.contentType) ?? {});
    const reading = readPod(adapter, exposition.samples, nowMs);
    if (!hasAnySignal(reading)) {
      throw new SignalsError(
        SignalsErrorCode.BadResponse,
        `${doing}: no ${adapter.server} metrics in the answer (${exposition.samples.length} samples, ${exposition.errorCount} unreadable lines); check spec.model.server and spec.metrics.port`,
      );
    }
    return reading;
  }

  async function fetchSignals(
    services: readonly ServiceRef[],
    nowMs: number,
  ): Promise<Map<string, SignalsResult>> {
    const results = new Map<string, SignalsResult>();
    const jobs: { svc: ServiceRef; adapter: ServerAdapter; pod: PodTarget }[] = [];
    for (const svc of services) {
      const adapter = adapterFor(svc.server);
      if (!adapter) {
        results.set(svc.key, {
          ok: false,
          error: new SignalsError(
            SignalsErrorCode.NoAdapter,
            `reading signals of ${svc.key}: model.server ${svc.server} has no metric adapter, and podScrape cannot run spec.metrics.queries; use metrics.source: prometheus`,
          ),
        });
        continue;
      }
      for (const pod of svc.pods) jobs.push({ svc, adapter, pod });
    }
    const outcomes = await mapLimit(jobs, config.concurrency, async (job): Promise<PodOutcome> => {
      try {
        return { pod: job.pod, reading: await scrapePod(job.svc, job.adapter, job.pod, nowMs) };
      } catch (err) {
        const error = isSignalsError(err)
          ? err
          : new SignalsError(SignalsErrorCode.BadResponse, `scraping pod ${job.pod.name}: ${String(err)}`, {
              cause: err,
            });
        return { pod: job.pod, error };
      }
    });
    const bySvc = new Map<string, PodOutcome[]>();
    jobs.forEach((job, i) => {
      const outcome = outcomes[i];
      if (!outcome) return;
      const list = bySvc.get(job.svc.key) ?? [];
      list.push(outcome);
      bySvc.set(job.svc.key, list);
    });

    for (const svc of services) {
      if (results.has(svc.key)) continue;
      const outcomesOf = bySvc.get(svc.key) ?? [];
      const previous = memory.get(svc.key)?.pods ?? new Map<string, Point<PodReading>[]>();
      const kept = new Map<string, Point<PodReading>[]>();
      const windows: PodWindow[] = [];
      for (const o of outcomesOf) {
        const before = previous.get(o.pod.name) ?? [];
        if ("error" in o) {
          if (before.length > 0) kept.set(o.pod.name, before); // a later scrape still gets its rate
          continue;
        }
        let points = appendPoint(before, { tMs: nowMs, value: o.reading }, { maxAgeMs: config.rateWindowMs });
        const last = before[before.length - 1];
        if (points.length === 1 && last && last.tMs < nowMs && nowMs - last.tMs <= config.maxGapMs) {
          points = [last, ...points];
        }
        kept.set(o.pod.name, points);
        windows.push({ pod: o.pod.name, readings: points.map((p) => p.value) });
      }
      memory.set(svc.key, { seenMs: nowMs, pods: kept });
      const failures = outcomesOf.filter((o): o is { pod: PodTarget; error: SignalsError } => "error" in o);
      if (outcomesOf.length > 0 && failures.length === outcomesOf.length) {
        const first = failures[0]?.error;
        results.set(svc.key, {
          ok: false,
          error: new SignalsError(
            first?.code === SignalsErrorCode.Timeout
              ? SignalsErrorCode.Timeout
              : SignalsErrorCode.ScrapeFailed,
            `reading signals of ${svc.key}: all ${failures.length} pods failed to scrape; first: ${first?.message ?? "unknown"}`,
            { cause: first },
          ),
        });
        continue;
      }
      if (outcomesOf.length === 0) {
        results.set(svc.key, { ok: true, signals: noSignals(nowMs) });
        continue;
      }
      results.set(svc.key, {
        ok: true,
        signals: aggregateService(windows, {
          nowMs,
          intervalMs: config.intervalMs,
          quantile: config.quantile,
        }),
      });
    }

    // Forget services not asked about for a while (deleted, or moved to another source).
    for (const [key, entry] of memory) {
      if (nowMs - entry.seenMs > Math.max(config.maxGapMs, 2 * config.intervalMs)) memory.delete(key);
    }
    return results;
  }

  return {
    kind: "podScrape",
    fetchSignals,
    memorySize: () => [...memory.values()].reduce((n, e) => n + e.pods.size, 0),
  };
}
