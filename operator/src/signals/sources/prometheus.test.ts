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
  const entries = Object.entries(values).sort(
    ([a], [b]) =>
      Number(!["count by", "timestamp("].includes(a)) - Number(!["count by", "timestamp("].includes(b)),
  );
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
    // vLLM: 8 signals + replicas + time; SGLang the same: 20 queries for 4 services.
    expect(server.received).toHaveLength(20);
    expect(new Set(server.received.map((r) => r.path))).toEqual(new Set(["/api/v1/query"]));
    expect(server.received.every((r) => new URLSearchParams(r.body).get("time") === String(NOW / 1000))).toBe(
      true,
    );
    expect(ok(out.get("a/llama"))).toEqual({
      observedAtMs: NOW - 5000,
      replicasReporting: 2,
      queueDepth: 3,
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
      runningRequests: 2,
    });
    // No series: missing, not zero.
    expect(ok(out.get("c/qwen"))).toEqual({ observedAtMs: NOW, replicasReporting: 0 });
    expect(ok(out.get("d/absent"))).toEqual({ observedAtMs: NOW, replicasReporting: 0 });

    server.received.length = 0;
    await source.fetchSignals([...services, svc("e", "more", "vllm"), svc("f", "again", "vllm")], NOW);
    expect(server.received).toHaveLength(20);
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
