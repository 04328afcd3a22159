// Plain data shared by the serving model: requests in, records and profiles out. Times are seconds on
// whatever clock the driver uses (virtual time in the simulator, seconds since start in the demo emitter).

/** One request offered to a replica. */
export interface RequestSpec {
  /** Opaque id, echoed in the record. */
  id: string | number;
  /** Arrival time, seconds. */
  arrival: number;
  /** Prompt length in tokens, >= 1. */
  promptTokens: number;
  /** Tokens to generate, >= 1 (the server always samples at least the first token). */
  outputTokens: number;
}

/** What happened to one finished request. */
export interface RequestRecord {
  id: string | number;
  arrival: number;
  promptTokens: number;
  outputTokens: number;
  /** Start of the first engine step that worked on it. */
  scheduled: number;
  /** End of the step that sampled its first token. */
  firstToken: number;
  /** End of the step that sampled its last token. */
  finish: number;
  /** Time to first token: firstToken - arrival. */
  ttft: number;
  /** Mean inter-token latency: (finish - firstToken) / (outputTokens - 1); 0 for a one-token answer. */
  meanItl: number;
  /** Time spent waiting before the first step: scheduled - arrival. */
  queueTime: number;
  /** Times the request was evicted from the KV cache and later recomputed. */
  preemptions: number;
}

/**
 * Cost of one engine step, seconds:
 *   t_step = base + perPrefillToken * prefill_tokens + perDecodeSeq * decode_requests
 *          + perContextToken * sum(context tokens of the scheduled requests)
 */
export interface StepCoefficients {
  /** Weights read from HBM once per step plus fixed launch/scheduler overhead. */
  baseSeconds: number;
  /** Linear-layer compute per prompt token. */
  perPrefillTokenSeconds: number;
  /** Linear-layer compute and sampling per decoding request. */
  perDecodeSeqSeconds: number;
  /** Attention: KV-cache bytes read per token of context, per scheduled request. */
  perContextTokenSeconds: number;
}

export type GpuType = "H100" | "A100" | "L40S" | "L4";

/** What the autoscaler's spec needs for a variant (spec.accelerators[].profile) plus the load time. */
export interface SpecNumbers {
  /** Prompt plus generated tokens per second one replica sustains at the reference SLO. */
  maxTokensPerSecond: number;
  /** Requests one replica runs at once before queueing: min(max_num_seqs, KV capacity / mean footprint). */
  maxConcurrentRequests: number;
}

/** One model on one GPU type (and count): engine limits, step costs and the numbers derived from them. */
export interface ServingProfile {
  /** Stable id, e.g. "llama-3.1-8b-fp8/h100". */
  id: string;
  /** Served model name (the vllm `model_name` label). */
  model: string;
  gpu: GpuType;
  gpusPerReplica: number;
  /** Weight precision the profile assumes. */
  weights: "bf16" | "fp8";
  /** vLLM max_num_batched_tokens: per-step token budget shared by decodes and prefill chunks. */
  maxNumBatchedTokens: number;
  /** vLLM max_num_seqs: most requests running at once. */
  maxNumSeqs: number;
  /** KV-cache capacity in tokens (prompt + generated of all running requests). */
  kvCapacityTokens: number;
  /** Longest prompt + output accepted (vLLM max_model_len). */
  maxModelLen: number;
  step: StepCoefficients;
  /** Output tokens/s of a saturated replica on the MLPerf-like workload (model prediction). */
  saturatedOutputTokensPerSecond: number;
  /** Spec numbers at the reference SLO (p99 TTFT <= 2 s, p99 TPOT <= 100 ms) on the MLPerf-like workload. */
  spec: SpecNumbers;
  /** Seconds from pod start to ready (weights load, CUDA graphs). */
  modelLoadSeconds: number;
  /** Where the calibration comes from (see docs/serving-model.md). */
  source: string;
}
