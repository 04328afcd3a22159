// llama.cpp server (llama-server). Names from tools/server/server.cpp (formerly examples/server/server.cpp),
// the /metrics handler; metrics are on only with --metrics.
// - llamacpp:requests_deferred: requests waiting for a free slot (the queue).
// - llamacpp:kv_cache_usage_ratio: only in older builds (2024 to mid-2025); current builds dropped the KV-cache
//   gauges, so KV-cache utilisation is then undefined.
// Missing: a request counter (arrival rate), time to first token and inter-token latency (undefined, not zero).
import type { ServerAdapter } from "./types.ts";

export const llamacppAdapter: ServerAdapter = {
  server: "llamacpp",
  provenance: "llama.cpp llama-server, tools/server/server.cpp (builds of 2024–2025)",
  gauges: {
    queueDepth: { names: ["llamacpp:requests_deferred"] },
    runningRequests: { names: ["llamacpp:requests_processing"] },
    kvCacheUtilization: { names: ["llamacpp:kv_cache_usage_ratio"] },
  },
  counters: {
    promptTokens: { names: ["llamacpp:prompt_tokens_total"] },
    generationTokens: { names: ["llamacpp:tokens_predicted_total"] },
  },
  histograms: {},
};
