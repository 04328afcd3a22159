// The Prometheus source: reads signals through the Prometheus HTTP API (/api/v1/query), batched: one query
// per signal and runtime answers for every service of that runtime (grouped by the `namespace` and
// `inferops_service` labels), not one query per service. PromQL overrides from spec.metrics.queries and the
// scale-to-zero activation query are per service and run one by one.
// A service with no series is missing (replicasReporting 0), not zero. A failed batch query (HTTP, timeout,
// bad answer, Prometheus error) is an error for every service of its batch, except the histogram buckets
// query, which is optional: when it fails, the histograms are missing and the rest stands.
import { z } from "zod";
import { SIGNAL_QUERIES, type SignalName } from "../../apis/inferenceservice.ts";
import { adapterFor } from "../adapters/index.ts";
import { HISTOGRAM_BUCKETS_FIELD, type ServerAdapter, SIGNAL_FIELD } from "../adapters/types.ts";
import { isSignalsError, SignalsError, SignalsErrorCode } from "../errors.ts";
import { parsePromFloat } from "../prom-text.ts";
import type { HistogramBuckets, Signals } from "../types.ts";
import { readableBuckets } from "../window.ts";
import { fetchText, mapLimit, shownURL } from "./http.ts";
import {
  type BatchQuery,
  batchQueries,
  DEFAULT_LABELS,
  expandPlaceholders,
  type QueryOptions,
} from "./promql.ts";
import { type MetricSource, noSignals, type ServiceRef, type SignalsResult } from "./types.ts";

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "must be a Prometheus label name");

export const prometheusConfigSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^https?:\/\//, "url must start with http:// or https://")
      .optional()
      .describe("Default Prometheus base URL; spec.metrics.prometheusURL overrides it per service."),
    timeoutMs: z.int().min(100).max(120_000).default(5000).describe("Timeout of each query, ms."),
    rateWindow: z
      .string()
      .regex(/^[0-9]+(ms|s|m|h)$/, "rateWindow is a PromQL duration such as 1m or 30s")
      .default("1m")
      .describe("Range of rate() for counters and histograms."),
    quantile: z.number().min(0).max(1).default(0.95).describe("Quantile of TTFT and ITL."),
    overrides: z
      .enum(["Allow", "Forbid"])
      .default("Allow")
      .describe(
        "Whether an InferenceService may have the operator run its own PromQL (spec.metrics.queries, spec.scaling.scaleToZero.activationQuery) or read its own Prometheus (spec.metrics.prometheusURL). Those run with the operator's credentials: Forbid refuses such a service's signals with OverridesForbidden.",
      ),
    labels: z
      .strictObject({
        namespace: labelName.default(DEFAULT_LABELS.namespace),
        service: labelName.default(DEFAULT_LABELS.service),
        pod: labelName.default(DEFAULT_LABELS.pod),
      })
      .prefault({})
      .describe("Label names the scrape configuration gives the namespace, service and pod."),
    matchers: z
      .string()
      .max(1024)
      .optional()
      .describe('Matchers added to every adapter selector, such as job="inferops".'),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe("Headers sent with every query (an Authorization header, a tenant header)."),
    maxConcurrentQueries: z.int().min(1).max(64).default(8).describe("Queries in flight at once."),
    maxResponseBytes: z
      .int()
      .min(1024)
      .default(32 * 1024 * 1024)
      .describe("Largest answer read."),
  })
  .describe("The Prometheus metric source.");
export type PrometheusConfig = z.output<typeof prometheusConfigSchema>;

const sampleValue = z.tuple([z.number(), z.string()]);
const responseSchema = z.discriminatedUnion("status", [
  z.looseObject({
    status: z.literal("success"),
    data: z.discriminatedUnion("resultType", [
      z.looseObject({
        resultType: z.literal("vector"),
        result: z.array(z.looseObject({ metric: z.record(z.string(), z.string()), value: sampleValue })),
      }),
      z.looseObject({ resultType: z.literal("scalar"), result: sampleValue }),
      z.looseObject({ resultType: z.literal("string"), result: sampleValue }),
      z.looseObject({ resultType: z.literal("matrix"), result: z.array(z.unknown()) }),
    ]),
  }),
  z.looseObject({
    status: z.literal("error"),
    errorType: z.string().optional(),
    error: z.string().optional(),
  }),
]);

/** One element of an instant query's answer. */
export interface InstantSample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

export interface InstantResult {
  resultType: "vector" | "scalar" | "string" | "matrix";
  samples: InstantSample[];
}

function short(query: string): string {
  const one = query.replace(/\s+/g, " ");
  return one.length > 160 ? `${one.slice(0, 160)}…` : one;
}

/** Runs one instant query. Rejects with a SignalsError. */
export async function instantQuery(
  baseUrl: string,
  query: string,
  timeMs: number,
  config: Pick<PrometheusConfig, "timeoutMs" | "headers" | "maxResponseBytes">,
): Promise<InstantResult> {
  const url = `${baseUrl.replace(/\/+$/, "")}/api/v1/query`;
  const doing = `querying Prometheus at ${shownURL(url)} for ${short(query)}`;
  const res = await fetchText({
    url,
    method: "POST",
    headers: {
      accept: "application/json",
      "content-type": "application/x-www-form-urlencoded",
      ...config.headers,
    },
    body: new URLSearchParams({ query, time: String(timeMs / 1000) }).toString(),
    timeoutMs: config.timeoutMs,
    maxBytes: config.maxResponseBytes,
    doing,
  });
  let json: unknown;
  try {
    json = JSON.parse(res.text);
  } catch (err) {
    if (res.status < 200 || res.status >= 300) {
      throw new SignalsError(SignalsErrorCode.HTTPStatus, `${doing}: HTTP ${res.status}`, { cause: err });
    }
    throw new SignalsError(SignalsErrorCode.BadResponse, `${doing}: the answer is not JSON`, { cause: err });
  }
  const parsed = responseSchema.safeParse(json);
  if (!parsed.success) {
    if (res.status < 200 || res.status >= 300) {
      throw new SignalsError(SignalsErrorCode.HTTPStatus, `${doing}: HTTP ${res.status}`);
    }
    throw new SignalsError(
      SignalsErrorCode.BadResponse,
      `${doing}: the answer is not a Prometheus API response (${parsed.error.issues[0]?.message ?? "invalid"})`,
    );
  }
  const body = parsed.data;
  if (body.status === "error") {
    throw new SignalsError(
      SignalsErrorCode.QueryFailed,
      `${doing}: ${body.errorType ?? "error"}: ${body.error ?? `HTTP ${res.status}`}`,
    );
  }
  const data = body.data;
  switch (data.resultType) {
    case "vector":
      return {
        resultType: "vector",
        samples: data.result.map((r) => ({
          labels: r.metric,
          value: parsePromFloat(r.value[1]) ?? Number.NaN,
        })),
      };
    case "scalar":
      return {
        resultType: "scalar",
        samples: [{ labels: {}, value: parsePromFloat(data.result[1]) ?? Number.NaN }],
      };
    default:
      return { resultType: data.resultType, samples: [] };
  }
}

/** A query of this round, against one Prometheus. Identical queries are asked once. */
interface Task {
  url: string;
  query: string;
}

type Outcome = { ok: true; result: InstantResult } | { ok: false; error: SignalsError };

/** The services of one runtime on one Prometheus, and the queries that read them all. */
interface Batch {
  url: string;
  adapter: ServerAdapter;
  services: ServiceRef[];
  queries: BatchQuery[];
  tasks: number[];
}

/** A service's own query: an override of one signal, or the activation query. */
interface OwnQuery {
  field: SignalName | "activationDemand";
  task: number;
}

function overridesOf(svc: ServiceRef): [SignalName, string][] {
  const queries = svc.metrics.queries ?? {};
  return SIGNAL_QUERIES.flatMap((s) => {
    const q = queries[s];
    return q === undefined ? [] : [[s, q] as [SignalName, string]];
  });
}

class TaskList {
  readonly tasks: Task[] = [];
  private readonly index = new Map<string, number>();

  add(url: string, query: string): number {
    const id = `${url}\n${query}`;
    const known = this.index.get(id);
    if (known !== undefined) return known;
    this.tasks.push({ url, query });
    this.index.set(id, this.tasks.length - 1);
    return this.tasks.length - 1;
  }
}

/**
 * A cumulative histogram from the samples of a buckets query for one service: bounds parsed (`+Inf` as
 * Infinity, others skipped) and scaled, ascending, series of one bound added up (pods that spell it
 * differently), counts made monotone. Undefined without a +Inf bucket, with fewer than two buckets, or with
 * no observations: missing, as the quantile is then.
 */
export function bucketsFromSamples(
  samples: readonly InstantSample[],
  scale: number | undefined,
): HistogramBuckets | undefined {
  const byBound = new Map<number, number>();
  for (const s of samples) {
    const raw = s.labels.le;
    let le = raw === undefined ? undefined : parsePromFloat(raw);
    if (le === undefined || Number.isNaN(le) || le === Number.NEGATIVE_INFINITY) continue;
    if (!Number.isFinite(s.value)) continue;
    if (Number.isFinite(le) && scale !== undefined) le *= scale;
    byBound.set(le, (byBound.get(le) ?? 0) + s.value);
  }
  return readableBuckets([...byBound].map(([le, count]) => ({ le, count })))?.buckets;
}

function serviceKey(sample: InstantSample, labels: PrometheusConfig["labels"]): string {
  return `${sample.labels[labels.namespace] ?? ""}/${sample.labels[labels.service] ?? ""}`;
}

/**
 * What a batch's answers say of each of its services: signals, or the batch's failure. The buckets queries
 * are optional: one that failed leaves its histogram missing.
 */
function readBatch(
  batch: Batch,
  outcomes: readonly Outcome[],
  labels: PrometheusConfig["labels"],
  nowMs: number,
): Map<string, SignalsResult> {
  const out = new Map<string, SignalsResult>();
  const failed = batch.queries
    .map((q, n) => (q.kind === "buckets" || q.kind === "queued" ? undefined : outcomes[batch.tasks[n] ?? -1]))
    .find((o) => o !== undefined && !o.ok);
  if (failed && !failed.ok) {
    for (const svc of batch.services) {
      out.set(svc.key, {
        ok: false,
        error: new SignalsError(
          failed.error.code,
          `reading ${batch.adapter.server} signals of ${svc.key}: ${failed.error.message}`,
          { cause: failed.error },
        ),
      });
    }
    return out;
  }
  const byService = new Map<string, Signals>();
  for (const svc of batch.services) byService.set(svc.key, noSignals(nowMs));
  batch.queries.forEach((q, n) => {
    const outcome = outcomes[batch.tasks[n] ?? -1];
    if (!outcome?.ok) return;
    if (q.kind === "buckets") {
      const field = HISTOGRAM_BUCKETS_FIELD[q.signal as keyof typeof HISTOGRAM_BUCKETS_FIELD];
      if (!field) return;
      const samples = new Map<string, InstantSample[]>();
      for (const sample of outcome.result.samples) {
        const key = serviceKey(sample, labels);
        if (!byService.has(key)) continue;
        const list = samples.get(key);
        if (list) list.push(sample);
        else samples.set(key, [sample]);
      }
      const scale = batch.adapter.histograms[q.signal]?.scale;
      for (const [key, mine] of samples) {
        const buckets = bucketsFromSamples(mine, scale);
        const signals = byService.get(key);
        if (signals && buckets) signals[field] = buckets;
      }
      return;
    }
    for (const sample of outcome.result.samples) {
      const signals = byService.get(serviceKey(sample, labels));
      if (!signals || !Number.isFinite(sample.value)) continue; // NaN: missing, not zero
      if (q.kind === "replicas") signals.replicasReporting = Math.max(0, Math.round(sample.value));
      else if (q.kind === "queued") {
        const queues = signals.podQueues ?? [];
        queues.push(Math.max(0, sample.value));
        signals.podQueues = queues;
      } else if (q.kind === "observedAt") signals.observedAtMs = Math.round(sample.value * 1000);
      else signals[SIGNAL_FIELD[q.signal]] = Math.max(0, sample.value);
    }
  });
  // No series of queueing pods while the queue answered: no pod queues.
  const counted = batch.queries.some((q, n) => q.kind === "queued" && outcomes[batch.tasks[n] ?? -1]?.ok);
  for (const signals of byService.values()) {
    if (signals.queueDepth === undefined) {
      delete signals.queuedReplicas;
      delete signals.podQueues;
    } else if (signals.podQueues) {
      signals.podQueues.sort((a, b) => b - a);
      signals.queuedReplicas = signals.podQueues.length;
    } else if (counted) {
      signals.queuedReplicas = 0;
      signals.podQueues = [];
    }
  }
  for (const [key, signals] of byService) out.set(key, { ok: true, signals });
  return out;
}

/**
 * The buckets a quantile override also clears (ttftSeconds: ttftHistogram): the adapter's histogram no
 * longer describes the signal, whether or not the other services of the batch override it too.
 */
const BUCKETS_OF_FIELD = new Map<
  string,
  (typeof HISTOGRAM_BUCKETS_FIELD)[keyof typeof HISTOGRAM_BUCKETS_FIELD]
>(
  Object.entries(HISTOGRAM_BUCKETS_FIELD).map(([signal, field]) => [
    SIGNAL_FIELD[signal as keyof typeof HISTOGRAM_BUCKETS_FIELD],
    field,
  ]),
);

/** Applies a service's own queries (overrides, activation) on top of what its batch said. */
function applyOwn(
  svc: ServiceRef,
  base: Signals,
  own: readonly OwnQuery[],
  outcomes: readonly Outcome[],
): SignalsResult {
  const signals: Signals = { ...base };
  let overrideAnswered = false;
  for (const q of own) {
    const outcome = outcomes[q.task];
    if (!outcome) continue;
    const what =
      q.field === "activationDemand" ? "scaling.scaleToZero.activationQuery" : `metrics.queries.${q.field}`;
    if (!outcome.ok) {
      return {
        ok: false,
        error: new SignalsError(
          outcome.error.code,
          `reading ${what} of ${svc.key}: ${outcome.error.message}`,
          {
            cause: outcome.error,
          },
        ),
      };
    }
    const { samples, resultType } = outcome.result;
    if (q.field === "activationDemand") {
      const values = samples.map((s) => s.value).filter(Number.isFinite);
      if (values.length > 0) signals.activationDemand = values.reduce((a, b) => a + b, 0);
      continue;
    }
    // The override replaces the adapter's value (and its buckets), even when it has no answer.
    signals[q.field] = undefined;
    // A queue read by the user's own query is not the adapter's per-pod gauge: its count of pods says nothing.
    if (q.field === "queueDepth") {
      signals.queuedReplicas = undefined;
      signals.podQueues = undefined;
    }
    const buckets = BUCKETS_OF_FIELD.get(q.field);
    if (buckets) signals[buckets] = undefined;
    if (resultType !== "vector" && resultType !== "scalar") {
      return invalidOverride(
        svc,
        what,
        `the query returns a ${resultType}, not an instant vector; write e.g. sum(rate(x[$window])), not x[1m]`,
      );
    }
    if (samples.length > 1) {
      return invalidOverride(
        svc,
        what,
        `the query returns ${samples.length} series, not one; aggregate it (sum(...), avg(...)) and filter by namespace="$namespace", inferops_service="$service"`,
      );
    }
    const value = samples[0]?.value;
    if (value !== undefined && Number.isFinite(value)) {
      signals[q.field] = value;
      overrideAnswered = true;
    }
  }
  // Without an adapter (or without its series), overrides speak for the service's ready pods.
  if (signals.replicasReporting === 0 && overrideAnswered) signals.replicasReporting = svc.pods.length;
  return { ok: true, signals };
}

function invalidOverride(svc: ServiceRef, what: string, detail: string): SignalsResult {
  return {
    ok: false,
    error: new SignalsError(SignalsErrorCode.InvalidOverride, `reading ${what} of ${svc.key}: ${detail}`),
  };
}

export function createPrometheusSource(input: z.input<typeof prometheusConfigSchema> = {}): MetricSource {
  const config = prometheusConfigSchema.parse(input);
  const opts: QueryOptions = {
    labels: config.labels,
    rateWindow: config.rateWindow,
    quantile: config.quantile,
    ...(config.matchers !== undefined ? { matchers: config.matchers } : {}),
  };

  /** The Prometheus a service is read from, or why it cannot be read. */
  function check(svc: ServiceRef): { url: string } | { error: SignalsError } {
    if (config.overrides === "Forbid") {
      const fields = [
        ...overridesOf(svc).map(([field]) => `spec.metrics.queries.${field}`),
        ...(svc.activationQuery !== undefined ? ["spec.scaling.scaleToZero.activationQuery"] : []),
        ...(svc.metrics.prometheusURL !== undefined ? ["spec.metrics.prometheusURL"] : []),
      ];
      if (fields.length > 0) {
        return {
          error: new SignalsError(
            SignalsErrorCode.OverridesForbidden,
            `reading signals of ${svc.key}: this cluster's operator runs no PromQL and reads no Prometheus an InferenceService names (--promql-overrides=Forbid); remove ${fields.join(", ")}, or ask the cluster's administrator`,
          ),
        };
      }
    }
    const url = svc.metrics.prometheusURL ?? config.url;
    if (url === undefined) {
      return {
        error: new SignalsError(
          SignalsErrorCode.SourceNotConfigured,
          `reading signals of ${svc.key}: no Prometheus URL; set spec.metrics.prometheusURL or the operator's --prometheus-url`,
        ),
      };
    }
    if (!adapterFor(svc.server) && overridesOf(svc).length === 0) {
      return {
        error: new SignalsError(
          SignalsErrorCode.NoAdapter,
          `reading signals of ${svc.key}: model.server ${svc.server} has no metric adapter; set spec.metrics.queries`,
        ),
      };
    }
    return { url };
  }

  async function fetchSignals(
    services: readonly ServiceRef[],
    nowMs: number,
  ): Promise<Map<string, SignalsResult>> {
    const results = new Map<string, SignalsResult>();
    const tasks = new TaskList();
    const batches = new Map<string, Batch>();
    const own = new Map<string, OwnQuery[]>();
    const ready: ServiceRef[] = [];

    for (const svc of services) {
      const checked = check(svc);
      if ("error" in checked) {
        results.set(svc.key, { ok: false, error: checked.error });
        continue;
      }
      ready.push(svc);
      const adapter = adapterFor(svc.server);
      if (adapter) {
        const id = `${checked.url}\n${adapter.server}`;
        const batch = batches.get(id) ?? { url: checked.url, adapter, services: [], queries: [], tasks: [] };
        batch.services.push(svc);
        batches.set(id, batch);
      }
      const values = { namespace: svc.namespace, service: svc.name, window: config.rateWindow };
      const mine: OwnQuery[] = overridesOf(svc).map(([field, q]) => ({
        field,
        task: tasks.add(checked.url, expandPlaceholders(q, values)),
      }));
      if (svc.activationQuery !== undefined) {
        mine.push({
          field: "activationDemand",
          task: tasks.add(checked.url, expandPlaceholders(svc.activationQuery, values)),
        });
      }
      own.set(svc.key, mine);
    }
    for (const batch of batches.values()) {
      // A signal every service of the batch overrides needs no batch query.
      const skip = new Set<string>();
      for (const [signal, field] of Object.entries(SIGNAL_FIELD)) {
        const overridable = (SIGNAL_QUERIES as readonly string[]).includes(field);
        if (
          overridable &&
          batch.services.every((svc) => svc.metrics.queries?.[field as SignalName] !== undefined)
        )
          skip.add(signal);
      }
      batch.queries = batchQueries(batch.adapter, opts, skip);
      batch.tasks = batch.queries.map((q) => tasks.add(batch.url, q.query));
    }

    const outcomes = await mapLimit(tasks.tasks, config.maxConcurrentQueries, async (t): Promise<Outcome> => {
      try {
        return { ok: true, result: await instantQuery(t.url, t.query, nowMs, config) };
      } catch (err) {
        const error = isSignalsError(err)
          ? err
          : new SignalsError(
              SignalsErrorCode.BadResponse,
              `querying Prometheus at ${shownURL(t.url)}: ${String(err)}`,
              {
                cause: err,
              },
            );
        return { ok: false, error };
      }
    });

    const fromBatches = new Map<string, SignalsResult>();
    for (const batch of batches.values()) {
      for (const [key, r] of readBatch(batch, outcomes, config.labels, nowMs)) fromBatches.set(key, r);
    }
    for (const svc of ready) {
      const base = fromBatches.get(svc.key) ?? { ok: true, signals: noSignals(nowMs) };
      results.set(svc.key, base.ok ? applyOwn(svc, base.signals, own.get(svc.key) ?? [], outcomes) : base);
    }
    return results;
  }

  return { kind: "prometheus", fetchSignals };
}
