// SGLang. Names from python/sglang/srt/metrics/collector.py (SchedulerMetricsCollector and
// TokenizerMetricsCollector), SGLang v0.4–v0.5, and docs/references/production_metrics.md. Metrics are on
// only with --enable-metrics. sglang:inter_token_latency_seconds replaced sglang:time_per_output_token_seconds
// (a per-request mean, e2e latency / generated tokens), which is still matched for older servers.
// The token counters and sglang:num_requests_total count when a request finishes.
import type { ServerAdapter } from "./types.ts";

export const sglangAdapter: ServerAdapter = {
  server: "sglang",
  provenance: "SGLang v0.4–v0.5, python/sglang/srt/metrics/collector.py",
  gauges: {
    queueDepth: { names: ["sglang:num_queue_reqs"] },
    runningRequests: { names: ["sglang:num_running_reqs"] },
    // Share of the KV-cache token pool in use, 0..1.
    kvCacheUtilization: { names: ["sglang:token_usage"] },
  },
  counters: {
    // Finished requests: the completion rate stands in for the arrival rate.
    arrivals: { names: ["sglang:num_requests_total"] },
    promptTokens: { names: ["sglang:prompt_tokens_total"] },
    generationTokens: { names: ["sglang:generation_tokens_total"] },
  },
  histograms: {
    ttft: { names: ["sglang:time_to_first_token_seconds"] },
    itl: { names: ["sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"] },
  },
};
