// vLLM. Names from vllm/v1/metrics/loggers.py (PrometheusStatLogger) and docs/design/metrics.md, v0.10–v0.12,
// with the older spellings still matched:
// - vllm:kv_cache_usage_perc since v0.9; before it vllm:gpu_cache_usage_perc (deprecated in v0.9, hidden later).
// - vllm:inter_token_latency_seconds since v0.11; before it vllm:time_per_output_token_seconds (deprecated in
//   v0.11, behind --show-hidden-metrics-for-version in v0.12, removed in v0.13).
// Series carry model_name and engine labels; with several engines (data parallel) a pod has one series each.
import type { ServerAdapter } from "./types.ts";

export const vllmAdapter: ServerAdapter = {
  server: "vllm",
  provenance: "vLLM v0.10–v0.12, vllm/v1/metrics/loggers.py and docs/design/metrics.md",
  gauges: {
    queueDepth: { names: ["vllm:num_requests_waiting"] },
    runningRequests: { names: ["vllm:num_requests_running"] },
    kvCacheUtilization: { names: ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"] },
  },
  counters: {
    // Finished requests (every finished_reason): vLLM has no arrival counter, so the completion rate stands in
    // for the arrival rate; it lags arrivals by the request duration and hides a growing queue (queueDepth
    // shows that).
    arrivals: { names: ["vllm:request_success_total"] },
    promptTokens: { names: ["vllm:prompt_tokens_total"] },
    generationTokens: { names: ["vllm:generation_tokens_total"] },
    // Per-request histograms, each observed once when a request finishes (every finished_reason): the mean
    // size of the requests that finished, prompt and output on the same requests.
    finishedRequests: { names: ["vllm:request_generation_tokens_count"] },
    finishedPromptTokens: { names: ["vllm:request_prompt_tokens_sum"] },
    finishedGenerationTokens: { names: ["vllm:request_generation_tokens_sum"] },
  },
  histograms: {
    ttft: { names: ["vllm:time_to_first_token_seconds"] },
    itl: { names: ["vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"] },
    // Each request's mean time per output token (decode time / (generated - 1)), since v0.10.
    requestItl: { names: ["vllm:request_time_per_output_token_seconds"] },
  },
};
