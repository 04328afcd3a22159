// NVIDIA Triton Inference Server with the TensorRT-LLM backend. Names from tensorrtllm_backend
// inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc (request_type="waiting" since
// Triton 25.03; kv_cache_block_type="fraction" in the same releases) and Triton's docs/user_guide/metrics.md.
// - Waiting requests: nv_trt_llm_request_metrics{request_type="waiting"} only. Triton core's
//   nv_inference_pending_request_count is not a fallback: with the (decoupled) TensorRT-LLM backend requests
//   leave Triton's queue at once and wait in the executor, so it would read a false zero on releases before
//   25.03; there the queue depth is undefined (set spec.metrics.queries.queueDepth to override).
// - Arrivals: nv_inference_request_success counts successful completions per model; an ensemble pipeline
//   (preprocessing, tensorrt_llm, postprocessing) counts one request once per model, so the pod's value is
//   the largest across models, not their sum. Failed requests (nv_inference_request_failure) are left out.
// - Tokens: nv_llm_input_token_len / nv_llm_output_token_len are per-request histograms; their `_sum`.
// - TTFT: nv_inference_first_response_histogram_ms exists only with --metrics-config histogram_latencies=true,
//   in milliseconds, and measures the first response (the first streamed chunk), not the first token.
// Missing: inter-token latency (undefined, not zero).
import type { ServerAdapter } from "./types.ts";

export const tritonAdapter: ServerAdapter = {
  server: "triton",
  provenance:
    "Triton 24.x–25.x with tensorrtllm_backend, custom_metrics_reporter.cc and docs/user_guide/metrics.md",
  gauges: {
    queueDepth: {
      names: ["nv_trt_llm_request_metrics"],
      labels: { request_type: "waiting" },
    },
    runningRequests: {
      names: ["nv_trt_llm_request_metrics"],
      labels: { request_type: "active" },
    },
    kvCacheUtilization: {
      names: ["nv_trt_llm_kv_cache_block_metrics"],
      labels: { kv_cache_block_type: "fraction" },
    },
  },
  counters: {
    arrivals: { names: ["nv_inference_request_success"], perPod: "max" },
    promptTokens: { names: ["nv_llm_input_token_len_sum"] },
    generationTokens: { names: ["nv_llm_output_token_len_sum"] },
  },
  histograms: {
    ttft: { names: ["nv_inference_first_response_histogram_ms"], scale: 0.001 },
  },
};
