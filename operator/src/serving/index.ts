// The serving model: a request-level model of one model-server replica (continuous batching, chunked
// prefill, KV-cache limit) with per-GPU profiles and vLLM-format metrics. Pure and deterministic.
export * from "./capacity.ts";
export * from "./metrics.ts";
export * from "./profiles.ts";
export * from "./replica.ts";
export type * from "./types.ts";
export * from "./workload.ts";
