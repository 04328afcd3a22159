import { afterEach, describe, expect, it } from "vitest";
import type { ServerRuntime } from "../../apis/inferenceservice.ts";
import { isSignalsError, SignalsErrorCode } from "../errors.ts";
import { type Received, type Reply, startServer, type TestServer, vector } from "../testdata/server.ts";
import { createSource, SOURCES } from "./index.ts";
import { createPrometheusSource } from "./prometheus.ts";
import type { MetricsSpec, ServiceRef, SignalsResult } from "./types.ts";

const NOW = 1_700_000_000_000;
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function prometheus(answer: (query: string, req: Received) => Reply): Promise<TestServer> {
  const server = await startServer((req) => {
    const query = new URLSearchParams(req.body).get("query") ?? "";
    return answer(query, req);
  });
  servers.push(server);
  return server;
}

function svc(
  namespace: string,
  name: string,
  server: ServerRuntime,
  metrics: Partial<MetricsSpec> = {},
  extra: Partial<ServiceRef> = {},
): ServiceRef {
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    server,
    metrics: { source: "prometheus", port: 8000, path: "/metrics", ...metrics },
    pods: [],
    ...extra,
  };
}

const row = (ns: string, name: string, value: number | string) => ({
  labels: { namespace: ns, inferops_service: name },
  value,
});

/**
 * Answers each batch query by the metric it reads, with per-service values. The replicas ("count by") and
 * time ("timestamp(") queries name every metric, so they are matched first.
 */
function byMetric(values: Record<string, { labels: Record<string, string>; value: number | string }[]>) {
  // The queueing pods ("(...) > 0") before the replicas count ("count by"), before the rest.
  const first = [") > 0", "count by", "timestamp("];
  const rank = (k: string) => (first.includes(k) ? first.indexOf(k) : first.length);
  const entries = Object.entries(values).sort(([a], [b]) => rank(a) - rank(b));
  return (query: string): Reply => {
    for (const [needle, rows] of entries) {
      if (query.includes(needle)) return { body: vector(rows) };
    }
    return { body: vector([]) };
  };
}

function ok(result: SignalsResult | undefined) {
  if (!result?.ok) throw new Error(`expected signals, got ${result ? result.error.message : "nothing"}`);
  return result.signals;
}

function err(result: SignalsResult | undefined) {
  if (!result || result.ok) throw new Error("expected an error");
  return result.error;
}

describe("prometheus source: batching", () => {
  it("asks one query per signal and runtime, whatever the number of services", async () => {
    const server = await prometheus(
      byMetric({
        num_requests_waiting: [row("a", "llama", 3), row("b", "mistral", 0)],
        // One queueing pod of llama's, with 3 waiting.
        ") > 0": [row("a", "llama", 3)],
        num_requests_running: [row("a", "llama", 8), row("b", "mistral", 2)],
        kv_cache_usage_perc: [row("a", "llama", 0.5)],
        "rate(vllm:request_success_total": [row("a", "llama", 2.5)],
        "rate(vllm:prompt_tokens_total": [row("a", "llama", 400)],
        "rate(vllm:generation_tokens_total": [row("a", "llama", 900)],
        "vllm:time_to_first_token_seconds_bucket": [row("a", "llama", 0.42)],
        "vllm:inter_token_latency_seconds_bucket": [row("a", "llama", "NaN")],
        "count by": [row("a", "llama", 2), row("b", "mistral", 1)],
        "timestamp(": [row("a", "llama", (NOW - 5000) / 1000)],
        sglang: [],
      }),
    );
    const source = createPrometheusSource({ url: server.url });
    const services = [
      svc("a", "llama", "vllm"),
      svc("b", "mistral", "vllm"),
      svc("c", "qwen", "sglang"),
      svc("d", "absent", "vllm"),
    ];
    const out = await source.fetchSignals(services, NOW);
    // vLLM: 12 signals (3 of them the finished requests' sizes) + 2 buckets (TTFT, per-request ITL) + queued
    // pods + replicas + time; SGLang: 8 signals + TTFT buckets + queued pods + replicas + time: 29 queries for
    // 4 services.
    expect(server.received).toHaveLength(29);
    expect(new Set(server.received.map((r) => r.path))).toEqual(new Set(["/api/v1/query"]));
    expect(server.received.every((r) => new URLSearchParams(r.body).get("time") === String(NOW / 1000))).toBe(
      true,
    );
    expect(ok(out.get("a/llama"))).toEqual({
      observedAtMs: NOW - 5000,
      replicasReporting: 2,
      queueDepth: 3,
      queuedReplicas: 1,
      podQueues: [3],
      runningRequests: 8,
      kvCacheUtilization: 0.5,
      arrivalRate: 2.5,
      promptTokensPerSecond: 400,
      generationTokensPerSecond: 900,
      ttftSeconds: 0.42,
    });
    expect(ok(out.get("b/mistral"))).toEqual({
      observedAtMs: NOW,
      replicasReporting: 1,
      queueDepth: 0,
      // No series of queueing pods: none queues.
      queuedReplicas: 0,
      podQueues: [],
      runningRequests: 2,
    });
    // No series: missing, not zero.
    expect(ok(out.get("c/qwen"))).toEqual({ observedAtMs: NOW, replicasReporting: 0 });
    expect(ok(out.get("d/absent"))).toEqual({ observedAtMs: NOW, replicasReporting: 0 });

    server.received.length = 0;
    await source.fetchSignals([...services, svc("e", "more", "vllm"), svc("f", "again", "vllm")], NOW);
    expect(server.received).toHaveLength(29);
  });

  it("sends a service with its own prometheusURL to that Prometheus", async () => {
    const main = await prometheus(byMetric({ num_requests_waiting: [row("a", "x", 1)] }));
    const other = await prometheus(byMetric({ num_requests_waiting: [row("b", "y", 7)] }));
    const source = createPrometheusSource({ url: main.url });
    const out = await source.fetchSignals(
      [svc("a", "x", "tgi"), svc("b", "y", "tgi", { prometheusURL: `${other.url}/` })],
      NOW,
    );
    expect(ok(out.get("a/x")).queueDepth).toBeUndefined(); // tgi_queue_size is not num_requests_waiting
    expect(other.received.length).toBeGreaterThan(0);
    expect(main.received.length).toBe(other.received.length);
  });

  it("sends the configured headers", async () => {
    const server = await prometheus(() => ({ body: vector([]) }));
    await createPrometheusSource({ url: server.url, headers: { authorization: "Bearer t" } }).fetchSignals(
      [svc("a", "x", "llamacpp")],
      NOW,
    );
    expect(server.received[0]?.headers.authorization).toBe("Bearer t");
    expect(server.received[0]?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
  });
});

describe("prometheus source: credentials in the URL", () => {
  const withCredentials = (url: string) => url.replace("http://", "http://reader:s3cr%40t@");

  it("sends a URL's user and password as Basic authorization, to the URL without them", async () => {
    const server = await prometheus(() => ({ body: vector([]) }));
    const out = await createPrometheusSource({ url: withCredentials(server.url) }).fetchSignals(
      [svc("a", "x", "llamacpp")],
      NOW,
    );
    expect(ok(out.get("a/x")).replicasReporting).toBe(0);
    expect(server.received[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from("reader:s3cr@t").toString("base64")}`,
    );
  });

  it("never shows them in a message (which becomes a condition, an event and a log line)", async () => {
    const server = await prometheus(() => ({ status: 502, body: "bad gateway" }));
    const out = await createPrometheusSource({ url: server.url }).fetchSignals(
      [svc("a", "x", "tgi", { prometheusURL: withCredentials(server.url) })],
      NOW,
    );
    const e = err(out.get("a/x"));
    expect(e.message).toContain("HTTP 502");
    expect(e.message).toContain(server.url.replace("http://", ""));
    expect(e.message).not.toMatch(/s3cr|reader/);
  });

  it("keeps an Authorization header configured", async () => {
    const server = await prometheus(() => ({ body: vector([]) }));
    await createPrometheusSource({
      url: withCredentials(server.url),
      headers: { Authorization: "Bearer t" },
    }).fetchSignals([svc("a", "x", "llamacpp")], NOW);
    expect(server.received[0]?.headers.authorization).toBe("Bearer t");
  });

  it("names a header whose value HTTP refuses, without quoting the value", async () => {
    // A token read with a line break inside: fetch's own message would quote it whole.
    const server = await prometheus(() => ({ body: vector([]) }));
    const out = await createPrometheusSource({
      url: server.url,
      headers: { Authorization: "Bearer tok-5e1f\r\nX-Other: 1" },
    }).fetchSignals([svc("a", "x", "llamacpp")], NOW);
    const e = err(out.get("a/x"));
    expect(e.code).toBe(SignalsErrorCode.InvalidConfig);
    expect(e.message).toContain('header "Authorization"');
    expect(e.message).not.toContain("tok-5e1f");
    expect(server.received).toHaveLength(0);
  });
});

describe("prometheus source: histogram buckets", () => {
  const bucket = (ns: string, name: string, le: string, value: number | string) => ({
    labels: { namespace: ns, inferops_service: name, le },
    value,
  });

  /** The buckets queries (increase of _bucket) answered per metric; everything else by `rest`. */
  type Row = { labels: Record<string, string>; value: number | string };
  function withBuckets(
    buckets: Record<string, Row[] | Reply>,
    rest: (query: string) => Reply = () => ({ body: vector([]) }),
  ) {
    return (query: string): Reply => {
      if (query.startsWith("sum by (le,")) {
        for (const [metric, answer] of Object.entries(buckets)) {
          if (!query.includes(`increase(${metric}_bucket`)) continue;
          return Array.isArray(answer) ? { body: vector(answer) } : answer;
        }
        return { body: vector([]) };
      }
      return rest(query);
    };
  }

  it("reads each service's bucket increases as a cumulative histogram, +Inf last", async () => {
    const server = await prometheus(
      withBuckets(
        {
          "vllm:time_to_first_token_seconds": [
            // Out of order, a bound two pods spell differently, a count below the one before, noise.
            bucket("a", "llama", "+Inf", 40),
            bucket("a", "llama", "0.5", 30),
            bucket("a", "llama", "0.1", 8),
            bucket("a", "llama", "0.10", 2),
            bucket("a", "llama", "1", 28),
            bucket("a", "llama", "oops", 99),
            bucket("a", "llama", "2.5", "NaN"),
            row("a", "llama", 5),
            // Only a +Inf bucket: not a histogram.
            bucket("b", "mistral", "+Inf", 7),
            // No observations in the window: missing, as the quantile is.
            bucket("a", "idle", "0.1", 0),
            bucket("a", "idle", "+Inf", 0),
            bucket("z", "unknown", "+Inf", 3),
          ],
          "vllm:request_time_per_output_token_seconds": [
            bucket("a", "llama", "0.05", 20),
            bucket("a", "llama", "+Inf", 25),
          ],
        },
        byMetric({
          "histogram_quantile(0.95, sum by (le, namespace, inferops_service) (sum by (le, namespace, inferops_service, pod) (rate(vllm:time_to_first_token":
            [row("a", "llama", 0.9)],
          "count by": [row("a", "llama", 2), row("b", "mistral", 1), row("a", "idle", 1)],
        }),
      ),
    );
    const out = await createPrometheusSource({ url: server.url }).fetchSignals(
      [svc("a", "llama", "vllm"), svc("b", "mistral", "vllm"), svc("a", "idle", "vllm")],
      NOW,
    );
    const llama = ok(out.get("a/llama"));
    expect(llama.ttftSeconds).toBe(0.9);
    expect(llama.ttftHistogram).toEqual([
      { le: 0.1, count: 10 },
      { le: 0.5, count: 30 },
      { le: 1, count: 30 },
      { le: Number.POSITIVE_INFINITY, count: 40 },
    ]);
    expect(llama.requestItlHistogram).toEqual([
      { le: 0.05, count: 20 },
      { le: Number.POSITIVE_INFINITY, count: 25 },
    ]);
    for (const key of ["b/mistral", "a/idle"]) {
      const s = ok(out.get(key));
      expect(s.replicasReporting).toBe(1);
      expect(s.ttftHistogram).toBeUndefined();
      expect(s.requestItlHistogram).toBeUndefined();
    }
    expect(out.has("z/unknown")).toBe(false);
  });

  it("leaves the histogram missing, never empty or zero, when the buckets query returns nothing", async () => {
    const server = await prometheus(
      withBuckets(
        {},
        byMetric({
          "count by": [row("n", "s", 1)],
          "timestamp(": [],
          "(vllm:num_requests_running)": [row("n", "s", 3)],
        }),
      ),
    );
    const s = ok(
      (await createPrometheusSource({ url: server.url }).fetchSignals([svc("n", "s", "vllm")], NOW)).get(
        "n/s",
      ),
    );
    expect(s).toEqual({ observedAtMs: NOW, replicasReporting: 1, runningRequests: 3 });
    expect("ttftHistogram" in s).toBe(false);
  });

  it("scales the bounds (Triton's milliseconds to seconds), +Inf unchanged", async () => {
    const server = await prometheus(
      withBuckets({
        nv_inference_first_response_histogram_ms: [
          bucket("t", "trt", "100", 12),
          bucket("t", "trt", "2500", 30),
          bucket("t", "trt", "+Inf", 31),
        ],
      }),
    );
    const s = ok(
      (await createPrometheusSource({ url: server.url }).fetchSignals([svc("t", "trt", "triton")], NOW)).get(
        "t/trt",
      ),
    );
    const h = s.ttftHistogram!;
    expect(h.map((b) => b.count)).toEqual([12, 30, 31]);
    expect(h[0]!.le).toBeCloseTo(0.1, 12);
    expect(h[1]!.le).toBeCloseTo(2.5, 12);
    expect(h[2]!.le).toBe(Number.POSITIVE_INFINITY);
    // The quantile query scales in PromQL; the buckets query does not.
    const asked = server.received.map((r) => new URLSearchParams(r.body).get("query") ?? "");
    expect(asked.filter((q) => q.startsWith("sum by (le,"))).toHaveLength(1);
    expect(asked.some((q) => q.startsWith("sum by (le,") && q.includes("*"))).toBe(false);
  });

  it("treats a failed buckets query as no histogram, the other signals standing", async () => {
    const server = await prometheus(
      withBuckets(
        { "vllm:time_to_first_token_seconds": { status: 503, body: "overloaded" } },
        byMetric({
          "count by": [row("n", "s", 2)],
          "rate(vllm:time_to_first_token": [row("n", "s", 0.3)],
        }),
      ),
    );
    const s = ok(
      (await createPrometheusSource({ url: server.url }).fetchSignals([svc("n", "s", "vllm")], NOW)).get(
        "n/s",
      ),
    );
    expect(s.replicasReporting).toBe(2);
    expect(s.ttftSeconds).toBe(0.3);
    expect(s.ttftHistogram).toBeUndefined();
  });

  it("drops the adapter's buckets of a signal a service overrides, and skips them when all do", async () => {
    const answer = withBuckets(
      {
        "vllm:time_to_first_token_seconds": [
          bucket("n", "own", "1", 20),
          bucket("n", "own", "+Inf", 21),
          bucket("n", "plain", "1", 20),
          bucket("n", "plain", "+Inf", 21),
        ],
      },
      (q) => ({ body: vector(q === "my_ttft" ? [{ labels: {}, value: 0.7 }] : []) }),
    );
    const server = await prometheus(answer);
    const source = createPrometheusSource({ url: server.url });
    const own = svc("n", "own", "vllm", { queries: { ttftSeconds: "my_ttft" } });
    const out = await source.fetchSignals([own, svc("n", "plain", "vllm")], NOW);
    expect(ok(out.get("n/own")).ttftSeconds).toBe(0.7);
    expect(ok(out.get("n/own")).ttftHistogram).toBeUndefined();
    expect(ok(out.get("n/plain")).ttftHistogram).toEqual([
      { le: 1, count: 20 },
      { le: Number.POSITIVE_INFINITY, count: 21 },
    ]);

    server.received.length = 0;
    await source.fetchSignals([own], NOW);
    const asked = server.received.map((r) => new URLSearchParams(r.body).get("query") ?? "");
    expect(asked.some((q) => q.includes("increase(vllm:time_to_first_token_seconds_bucket"))).toBe(false);
    expect(asked.some((q) => q.includes("increase(vllm:request_time_per_output_token_seconds_bucket"))).toBe(
      true,
    );
  });
});

describe("prometheus source: failures", () => {
  it("turns a failed batch query into an error for every service of that batch only", async () => {
    const server = await prometheus((q) =>
      q.includes("vllm:time_to_first_token") ? { status: 503, body: "overloaded" } : { body: vector([]) },
    );
    const out = await createPrometheusSource({ url: server.url }).fetchSignals(
      [svc("a", "x", "vllm"), svc("a", "y", "vllm"), svc("a", "z", "sglang")],
      NOW,
    );
    for (const key of ["a/x", "a/y"]) {
      const e = err(out.get(key));
      expect(e.code).toBe(SignalsErrorCode.HTTPStatus);
      expect(e.message).toContain(`vllm signals of ${key}`);
      expect(e.message).toContain("HTTP 503");
    }
    expect(ok(out.get("a/z")).replicasReporting).toBe(0);
  });

  it.each([
    [
      "a Prometheus error",
      { status: 400, body: JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" }) },
      SignalsErrorCode.QueryFailed,
      "bad_data: parse error",
    ],
    ["an answer that is not JSON", { body: "<html>proxy</html>" }, SignalsErrorCode.BadResponse, "not JSON"],
    [
      "JSON that is not the API's",
      { body: JSON.stringify({ hello: "world" }) },
      SignalsErrorCode.BadResponse,
      "not a Prometheus API response",
    ],
    [
      "an HTML error page",
      { status: 502, body: "<html>bad gateway</html>" },
      SignalsErrorCode.HTTPStatus,
      "HTTP 502",
    ],
  ] as const)("reports %s", async (_name, reply, code, text) => {
    const server = await prometheus(() => reply);
    const e = err(
      (await createPrometheusSource({ url: server.url }).fetchSignals([svc("n", "s", "tgi")], NOW)).get(
        "n/s",
      ),
    );
    expect(e.code).toBe(code);
    expect(e.message).toContain(text);
    expect(e.message).toContain(server.url);
  });

  it("times out a query that does not answer", async () => {
    const server = await prometheus((q) =>
      q.includes("tgi_queue_size") ? { hang: true } : { body: vector([]) },
    );
    const e = err(
      (
        await createPrometheusSource({ url: server.url, timeoutMs: 150 }).fetchSignals(
          [svc("n", "s", "tgi")],
          NOW,
        )
      ).get("n/s"),
    );
    expect(e.code).toBe(SignalsErrorCode.Timeout);
    expect(e.message).toContain("150 ms");
  });

  it("reports an unreachable Prometheus", async () => {
    const server = await prometheus(() => ({ body: "" }));
    const url = server.url;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const e = err(
      (await createPrometheusSource({ url }).fetchSignals([svc("n", "s", "tgi")], NOW)).get("n/s"),
    );
    expect(e.code).toBe(SignalsErrorCode.Unreachable);
  });

  it("refuses an answer larger than the limit", async () => {
    const server = await prometheus(() => ({ body: vector([row("n", "s", 1)]).padEnd(5000, " ") }));
    const e = err(
      (
        await createPrometheusSource({ url: server.url, maxResponseBytes: 2048 }).fetchSignals(
          [svc("n", "s", "tgi")],
          NOW,
        )
      ).get("n/s"),
    );
    expect(e.code).toBe(SignalsErrorCode.BadResponse);
    expect(e.message).toContain("2048 bytes");
  });

  it("says where to set the URL when there is none", async () => {
    const e = err((await createPrometheusSource({}).fetchSignals([svc("n", "s", "vllm")], NOW)).get("n/s"));
    expect(e.code).toBe(SignalsErrorCode.SourceNotConfigured);
    expect(e.message).toContain("spec.metrics.prometheusURL");
  });

  it("refuses a custom runtime without queries", async () => {
    const e = err(
      (
        await createPrometheusSource({ url: "http://127.0.0.1:1" }).fetchSignals(
          [svc("n", "s", "custom")],
          NOW,
        )
      ).get("n/s"),
    );
    expect(e.code).toBe(SignalsErrorCode.NoAdapter);
    expect(isSignalsError(e, SignalsErrorCode.NoAdapter)).toBe(true);
  });
});

describe("prometheus source: overrides and activation", () => {
  it("with overrides Forbid, refuses a service that names its own PromQL or Prometheus, and reads the others", async () => {
    const server = await prometheus(
      byMetric({
        num_requests_waiting: [row("team", "plain", 4)],
        "count by": [row("team", "plain", 1)],
      }),
    );
    const source = createPrometheusSource({ url: server.url, overrides: "Forbid" });
    const plain = svc("team", "plain", "vllm");
    const queries = svc("team", "q", "vllm", { queries: { queueDepth: "sum(x)" } });
    const elsewhere = svc("team", "url", "vllm", { prometheusURL: "http://10.0.0.1:9090" });
    const activation = svc("team", "act", "vllm", {}, { activationQuery: "sum(y)" });
    const out = await source.fetchSignals([plain, queries, elsewhere, activation], NOW);
    expect(ok(out.get("team/plain")).queueDepth).toBe(4);
    for (const [key, field] of [
      ["team/q", "spec.metrics.queries.queueDepth"],
      ["team/url", "spec.metrics.prometheusURL"],
      ["team/act", "spec.scaling.scaleToZero.activationQuery"],
    ] as const) {
      const e = err(out.get(key));
      expect(e.code).toBe(SignalsErrorCode.OverridesForbidden);
      expect(e.message).toContain(field);
      expect(e.message).toContain("--promql-overrides=Forbid");
    }
    // Nothing the refused services name was asked of any Prometheus.
    const asked = server.received.map((r) => new URLSearchParams(r.body).get("query") ?? "");
    expect(asked.some((q) => q.includes("sum(x)") || q.includes("sum(y)"))).toBe(false);
  });

  it("runs each override alone, with placeholders expanded, in place of the adapter's value", async () => {
    const server = await prometheus((q) => {
      if (q.startsWith("sum(my_queue")) return { body: vector([{ labels: {}, value: 11 }]) };
      if (q.startsWith("gateway_pending")) {
        return {
          body: vector([
            { labels: { gw: "1" }, value: 2 },
            { labels: { gw: "2" }, value: 3 },
          ]),
        };
      }
      if (q.startsWith("scalar(")) {
        return {
          body: JSON.stringify({ status: "success", data: { resultType: "scalar", result: [0, "0.7"] } }),
        };
      }
      return byMetric({
        num_requests_waiting: [row("team", "llama", 99)],
        num_requests_running: [row("team", "llama", 5)],
        "count by": [row("team", "llama", 1)],
      })(q);
    });
    const source = createPrometheusSource({ url: server.url, rateWindow: "2m" });
    const service = svc(
      "team",
      "llama",
      "vllm",
      {
        queries: {
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the ${service} placeholder is under test
          queueDepth: 'sum(my_queue{ns="$namespace",svc="${service}"}[$window])',
          kvCacheUtilization: "scalar(kv)",
        },
      },
      { activationQuery: 'gateway_pending{route="$service"}' },
    );
    const s = ok((await source.fetchSignals([service], NOW)).get("team/llama"));
    expect(s).toMatchObject({
      queueDepth: 11,
      runningRequests: 5,
      kvCacheUtilization: 0.7,
      activationDemand: 5,
    });
    const asked = server.received.map((r) => new URLSearchParams(r.body).get("query"));
    expect(asked).toContain('sum(my_queue{ns="team",svc="llama"}[2m])');
    expect(asked).toContain('gateway_pending{route="llama"}');
    // Every service of the batch overrides queueDepth: the batch does not ask for it.
    const reads = (name: string) => asked.some((q) => q?.includes(`, pod) (${name})`));
    expect(reads("vllm:num_requests_waiting")).toBe(false);
    expect(reads("vllm:num_requests_running")).toBe(true);
  });

  it.each([
    [
      "several series",
      vector([
        { labels: { a: "1" }, value: 1 },
        { labels: { a: "2" }, value: 2 },
      ]),
      "2 series",
    ],
    [
      "a range vector",
      JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }),
      "not an instant vector",
    ],
  ])("refuses an override that returns %s", async (_name, body, text) => {
    const server = await prometheus((q) => (q === "bad" ? { body } : { body: vector([]) }));
    const e = err(
      (
        await createPrometheusSource({ url: server.url }).fetchSignals(
          [svc("n", "s", "vllm", { queries: { queueDepth: "bad" } })],
          NOW,
        )
      ).get("n/s"),
    );
    expect(e.code).toBe(SignalsErrorCode.InvalidOverride);
    expect(e.message).toContain("metrics.queries.queueDepth of n/s");
    expect(e.message).toContain(text);
  });

  it("leaves an override without series missing, and does not fall back to the adapter", async () => {
    const server = await prometheus(
      byMetric({ num_requests_waiting: [row("n", "s", 4)], "count by": [row("n", "s", 1)] }),
    );
    const source = createPrometheusSource({ url: server.url });
    const out = await source.fetchSignals(
      [svc("n", "s", "vllm", { queries: { queueDepth: "nothing_here" } }), svc("n", "t", "vllm")],
      NOW,
    );
    expect(ok(out.get("n/s")).queueDepth).toBeUndefined();
    expect(ok(out.get("n/s")).replicasReporting).toBe(1);
  });

  it("reads a custom runtime from overrides alone, its ready pods reporting", async () => {
    const server = await prometheus((q) => ({ body: vector(q === "q1" ? [{ labels: {}, value: 6 }] : []) }));
    const service = svc(
      "n",
      "c",
      "custom",
      { queries: { queueDepth: "q1", arrivalRate: "q2" } },
      {
        pods: [
          { name: "p1", ip: "10.0.0.1" },
          { name: "p2", ip: "10.0.0.2" },
        ],
      },
    );
    const s = ok((await createPrometheusSource({ url: server.url }).fetchSignals([service], NOW)).get("n/c"));
    expect(s).toEqual({ observedAtMs: NOW, replicasReporting: 2, queueDepth: 6 });
    expect(server.received).toHaveLength(2);
  });

  it("reports a failed override as the service's error", async () => {
    const server = await prometheus((q) =>
      q === "boom" ? { status: 500, body: "x" } : { body: vector([]) },
    );
    const e = err(
      (
        await createPrometheusSource({ url: server.url }).fetchSignals(
          [svc("n", "s", "tgi", { queries: { itlSeconds: "boom" } })],
          NOW,
        )
      ).get("n/s"),
    );
    expect(e.code).toBe(SignalsErrorCode.HTTPStatus);
    expect(e.message).toContain("metrics.queries.itlSeconds of n/s");
  });
});

describe("prometheus source: configuration", () => {
  it.each([
    [{ url: "ftp://x" }, "url"],
    [{ rateWindow: "one minute" }, "rateWindow"],
    [{ quantile: 2 }, "quantile"],
    [{ labels: { service: "has-dash" } }, "labels.service"],
    [{ unknown: true }, "unknown"],
  ])("refuses %j naming the field", (config, field) => {
    try {
      createSource("prometheus", config);
      expect.unreachable();
    } catch (e) {
      expect(isSignalsError(e, SignalsErrorCode.InvalidConfig)).toBe(true);
      expect((e as Error).message).toContain(field);
    }
  });

  it("applies defaults", () => {
    expect(SOURCES.prometheus.configSchema.parse({})).toMatchObject({
      timeoutMs: 5000,
      rateWindow: "1m",
      quantile: 0.95,
      labels: { namespace: "namespace", service: "inferops_service", pod: "pod" },
    });
  });
});
