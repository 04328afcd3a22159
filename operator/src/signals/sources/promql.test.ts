import { describe, expect, it } from "vitest";
import { ADAPTERS } from "../adapters/index.ts";
import {
  batchQueries,
  counterQuery,
  DEFAULT_LABELS,
  expandPlaceholders,
  gaugeQuery,
  histogramBucketsQuery,
  histogramQuery,
  observedAtQuery,
  type QueryOptions,
  replicasQuery,
} from "./promql.ts";

const opts: QueryOptions = { labels: DEFAULT_LABELS, rateWindow: "1m", quantile: 0.95 };
const BY_POD = "namespace, inferops_service, pod";

describe("PromQL from adapters", () => {
  it.each([
    [
      "a gauge summed per pod, then across pods, each spelling chosen per pod, a negative pod left out",
      gaugeQuery("queueDepth", ADAPTERS.vllm.gauges.queueDepth!, opts),
      `sum by (namespace, inferops_service) ((sum by (${BY_POD}) (vllm:num_requests_waiting) or on (${BY_POD}) sum by (${BY_POD}) (vllm_num_requests_waiting)) >= 0)`,
    ],
    [
      "KV cache averaged per pod and across pods, newest name first, a pod above 1 left out",
      gaugeQuery("kvCacheUtilization", ADAPTERS.vllm.gauges.kvCacheUtilization!, opts),
      `avg by (namespace, inferops_service) ((avg by (${BY_POD}) (vllm:kv_cache_usage_perc) or on (${BY_POD}) avg by (${BY_POD}) (vllm_kv_cache_usage_perc) or on (${BY_POD}) avg by (${BY_POD}) (vllm:gpu_cache_usage_perc) or on (${BY_POD}) avg by (${BY_POD}) (vllm_gpu_cache_usage_perc)) >= 0 <= 1)`,
    ],
    [
      "a label matcher (Triton's request_type)",
      gaugeQuery("queueDepth", ADAPTERS.triton.gauges.queueDepth!, opts),
      `sum by (namespace, inferops_service) ((sum by (${BY_POD}) (nv_trt_llm_request_metrics{request_type="waiting"})) >= 0)`,
    ],
    [
      "a counter rate, max per pod for Triton's ensemble",
      counterQuery("arrivals", ADAPTERS.triton.counters.arrivals!, opts),
      `sum by (namespace, inferops_service) (max by (${BY_POD}) (rate(nv_inference_request_success[1m])))`,
    ],
    [
      "a histogram quantile over pods' bucket rates",
      histogramQuery(ADAPTERS.sglang.histograms.ttft!, opts),
      `histogram_quantile(0.95, sum by (le, namespace, inferops_service) (sum by (le, ${BY_POD}) (rate(sglang:time_to_first_token_seconds_bucket[1m])) or on (${BY_POD}) sum by (le, ${BY_POD}) (rate(sglang_time_to_first_token_seconds_bucket[1m]))))`,
    ],
    [
      "milliseconds scaled to seconds",
      histogramQuery(ADAPTERS.triton.histograms.ttft!, opts),
      `(histogram_quantile(0.95, sum by (le, namespace, inferops_service) (sum by (le, ${BY_POD}) (rate(nv_inference_first_response_histogram_ms_bucket[1m]))))) * 0.001`,
    ],
    [
      "a histogram's bucket increases per service, each pod's name chosen on the pod alone",
      histogramBucketsQuery(ADAPTERS.vllm.histograms.ttft!, opts),
      `sum by (le, namespace, inferops_service) (sum by (le, ${BY_POD}) (increase(vllm:time_to_first_token_seconds_bucket[1m])) or on (${BY_POD}) sum by (le, ${BY_POD}) (increase(vllm_time_to_first_token_seconds_bucket[1m])))`,
    ],
    [
      "bucket increases unscaled (the reader scales the bounds), with matchers",
      histogramBucketsQuery(ADAPTERS.triton.histograms.ttft!, {
        ...opts,
        rateWindow: "2m",
        matchers: 'job="x"',
      }),
      `sum by (le, namespace, inferops_service) (sum by (le, ${BY_POD}) (increase(nv_inference_first_response_histogram_ms_bucket{job="x"}[2m])))`,
    ],
    [
      "extra matchers and other label names",
      gaugeQuery("runningRequests", ADAPTERS.tgi.gauges.runningRequests!, {
        ...opts,
        labels: { namespace: "kubernetes_namespace", service: "svc", pod: "pod_name" },
        matchers: 'job="inferops"',
      }),
      'sum by (kubernetes_namespace, svc) ((sum by (kubernetes_namespace, svc, pod_name) (tgi_batch_current_size{job="inferops"})) >= 0)',
    ],
    [
      "replicas: pods exposing any of the runtime's gauges or counters",
      replicasQuery(ADAPTERS.llamacpp, opts),
      `count by (namespace, inferops_service) (group by (${BY_POD}) ({__name__=~"llamacpp:requests_deferred|llamacpp_requests_deferred|llamacpp:requests_processing|llamacpp_requests_processing|llamacpp:kv_cache_usage_ratio|llamacpp_kv_cache_usage_ratio|llamacpp:prompt_tokens_total|llamacpp_prompt_tokens_total|llamacpp:tokens_predicted_total|llamacpp_tokens_predicted_total"}))`,
    ],
  ])("%s", (_name, got, want) => {
    expect(got).toBe(want);
  });

  it("reads when the newest sample was taken, one timestamp() per name", () => {
    expect(observedAtQuery(ADAPTERS.tgi, { ...opts, matchers: 'job="x"' })).toBe(
      'max by (namespace, inferops_service) (timestamp(tgi_queue_size{job="x"}) or timestamp(tgi_batch_current_size{job="x"}))',
    );
  });

  it("batches one query per signal the runtime has, plus replicas and time", () => {
    const kinds = batchQueries(ADAPTERS.tgi, opts).map((q) => ("signal" in q ? q.signal : q.kind));
    expect(kinds).toEqual([
      "queueDepth",
      "runningRequests",
      "queued",
      "arrivals",
      "promptTokens",
      "generationTokens",
      "finishedRequests",
      "finishedGenerationTokens",
      "itl",
      "requestItl",
      "requestItl",
      "replicas",
      "observedAt",
    ]);
  });

  it("adds the buckets of TTFT and per-request ITL, not of per-token ITL", () => {
    const kinds = batchQueries(ADAPTERS.vllm, opts).map((q) =>
      "signal" in q ? `${q.kind}:${q.signal}` : q.kind,
    );
    expect(kinds.filter((k) => k.startsWith("histogram:") || k.startsWith("buckets:"))).toEqual([
      "histogram:ttft",
      "buckets:ttft",
      "histogram:itl",
      "histogram:requestItl",
      "buckets:requestItl",
    ]);
    // SGLang has no per-request ITL histogram; TGI has no TTFT one, and its per-request ITL is its ITL.
    const buckets = (a: keyof typeof ADAPTERS) =>
      batchQueries(ADAPTERS[a], opts).flatMap((q) => (q.kind === "buckets" ? [q.signal] : []));
    expect(buckets("sglang")).toEqual(["ttft"]);
    expect(buckets("tgi")).toEqual(["requestItl"]);
  });

  it("leaves out signals every service overrides, and their buckets", () => {
    const queries = batchQueries(ADAPTERS.vllm, opts, new Set(["queueDepth", "ttft"]));
    expect(queries.filter((q) => q.kind === "buckets").map((q) => ("signal" in q ? q.signal : ""))).toEqual([
      "requestItl",
    ]);
  });

  it("leaves out signals every service overrides", () => {
    const kinds = batchQueries(ADAPTERS.vllm, opts, new Set(["queueDepth", "ttft"])).map((q) =>
      "signal" in q ? q.signal : q.kind,
    );
    expect(kinds).not.toContain("queueDepth");
    expect(kinds).not.toContain("ttft");
    expect(kinds).toContain("runningRequests");
  });
});

describe("expandPlaceholders", () => {
  const values = { namespace: "team-a", service: "llama", window: "2m" };
  it.each([
    ['q{namespace="$namespace",svc="$service"}', 'q{namespace="team-a",svc="llama"}'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the ${service} placeholder is the input under test
    ['rate(q{svc="${service}"}[$window])', 'rate(q{svc="llama"}[2m])'],
    ["$namespace$service", "team-allama"],
    ["$services and $namespace_x and $other", "$services and $namespace_x and $other"],
    ["no placeholders", "no placeholders"],
  ])("%s", (query, want) => {
    expect(expandPlaceholders(query, values)).toBe(want);
  });
});
