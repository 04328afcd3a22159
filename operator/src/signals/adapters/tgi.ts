// Hugging Face Text Generation Inference. Names from docs/source/reference/metrics.md and router/src/server.rs
// (TGI v2–v3, metrics-exporter-prometheus). Counters are exposed without a `_total` suffix; both spellings
// are matched. Token counts are histograms per request, so their `_sum` series are the token counters:
// tgi_request_input_length is recorded when a request is validated (on arrival), tgi_request_generated_tokens
// when it finishes.
// Missing: TGI exposes no time-to-first-token histogram and no KV-cache utilisation (undefined, not zero).
// tgi_request_mean_time_per_token_duration is each request's mean time per token, inference time over
// generated tokens, prefill included: a coarser inter-token latency than vLLM's. Being per request, it is
// also the requestItl histogram that the SLO headroom reads (the share of requests over itlSeconds).
import type { ServerAdapter } from "./types.ts";

export const tgiAdapter: ServerAdapter = {
  server: "tgi",
  provenance: "TGI v2–v3, docs/source/reference/metrics.md and router/src/server.rs",
  gauges: {
    queueDepth: { names: ["tgi_queue_size"] },
    runningRequests: { names: ["tgi_batch_current_size"] },
  },
  counters: {
    // Incremented when a request arrives, before validation: a true arrival counter.
    arrivals: { names: ["tgi_request_count", "tgi_request_count_total"] },
    promptTokens: { names: ["tgi_request_input_length_sum"] },
    generationTokens: { names: ["tgi_request_generated_tokens_sum"] },
    // Generated tokens per finished request from the same histogram. The prompt's mean needs no pair of its
    // own: input lengths and the arrival counter both count requests as they arrive.
    finishedRequests: { names: ["tgi_request_generated_tokens_count"] },
    finishedGenerationTokens: { names: ["tgi_request_generated_tokens_sum"] },
  },
  histograms: {
    itl: { names: ["tgi_request_mean_time_per_token_duration"] },
    requestItl: { names: ["tgi_request_mean_time_per_token_duration"] },
  },
};
