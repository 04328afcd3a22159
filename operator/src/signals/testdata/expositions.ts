// Expositions as each model server writes them (names, labels, types and number formatting copied from
// the servers' output), parameterised so tests can make consecutive scrapes. Test data only.

export interface Load {
  waiting: number;
  running: number;
  kv: number;
  promptTokens: number;
  generationTokens: number;
  requests: number;
  /** Cumulative counts of TTFT observations at the bounds 0.1, 0.5, 1, +Inf seconds. */
  ttft: [number, number, number, number];
  /** Cumulative counts of inter-token latency observations at 0.01, 0.05, 0.1, +Inf seconds. */
  itl: [number, number, number, number];
}

export const IDLE: Load = {
  waiting: 0,
  running: 0,
  kv: 0,
  promptTokens: 0,
  generationTokens: 0,
  requests: 0,
  ttft: [0, 0, 0, 0],
  itl: [0, 0, 0, 0],
};

const f = (n: number) => (Number.isInteger(n) ? `${n}.0` : String(n));

/** vLLM v0.11 (v1 engine, prometheus_client): model_name and engine labels. `name` rewrites ':' if asked. */
export function vllm(load: Load, opts: { engines?: number; underscore?: boolean } = {}): string {
  const out: string[] = [];
  const engines = opts.engines ?? 1;
  const m = (name: string) => (opts.underscore ? name.replaceAll(":", "_") : name);
  const per = (n: number) => n / engines;
  const family = (name: string, type: string, help: string, lines: (e: number) => string[]) => {
    out.push(`# HELP ${m(name)} ${help}`, `# TYPE ${m(name)} ${type}`);
    for (let e = 0; e < engines; e++) out.push(...lines(e));
  };
  const l = (e: number, extra = "") =>
    `{engine="${e}",${extra}model_name="meta-llama/Llama-3.1-8B-Instruct"}`;
  family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", (e) => [
    `${m("vllm:num_requests_running")}${l(e)} ${f(per(load.running))}`,
  ]);
  family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", (e) => [
    `${m("vllm:num_requests_waiting")}${l(e)} ${f(per(load.waiting))}`,
  ]);
  family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", (e) => [
    `${m("vllm:kv_cache_usage_perc")}${l(e)} ${f(load.kv)}`,
  ]);
  family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", (e) => [
    `${m("vllm:prompt_tokens_total")}${l(e)} ${f(per(load.promptTokens))}`,
  ]);
  family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", (e) => [
    `${m("vllm:generation_tokens_total")}${l(e)} ${f(per(load.generationTokens))}`,
  ]);
  family("vllm:request_success_total", "counter", "Count of successfully processed requests.", (e) => [
    `${m("vllm:request_success_total")}${l(e, 'finished_reason="stop",')} ${f(per(load.requests) * 0.75)}`,
    `${m("vllm:request_success_total")}${l(e, 'finished_reason="length",')} ${f(per(load.requests) * 0.25)}`,
    `${m("vllm:request_success_total")}${l(e, 'finished_reason="abort",')} 0.0`,
  ]);
  const hist = (name: string, help: string, bounds: string[], counts: number[]) =>
    family(name, "histogram", help, (e) => [
      `${m(name)}_sum${l(e)} ${f(per(counts[3] ?? 0) * 0.2)}`,
      ...bounds.map((b, i) => `${m(name)}_bucket${l(e, `le="${b}",`)} ${f(per(counts[i] ?? 0))}`),
      `${m(name)}_count${l(e)} ${f(per(counts[3] ?? 0))}`,
    ]);
  hist(
    "vllm:time_to_first_token_seconds",
    "Histogram of time to first token in seconds.",
    ["0.1", "0.5", "1.0", "+Inf"],
    load.ttft,
  );
  hist(
    "vllm:inter_token_latency_seconds",
    "Histogram of inter-token latency in seconds.",
    ["0.01", "0.05", "0.1", "+Inf"],
    load.itl,
  );
  // Per-request token histograms, observed as each request finishes: the window's finished requests carry
  // the load's tokens.
  const tokens = (name: string, help: string, total: number) =>
    family(name, "histogram", help, (e) => [
      `${m(name)}_sum${l(e)} ${f(per(total))}`,
      ...["1000.0", "+Inf"].map((b) => `${m(name)}_bucket${l(e, `le="${b}",`)} ${f(per(load.requests))}`),
      `${m(name)}_count${l(e)} ${f(per(load.requests))}`,
    ]);
  tokens("vllm:request_prompt_tokens", "Number of prefill tokens processed.", load.promptTokens);
  tokens("vllm:request_generation_tokens", "Number of generation tokens processed.", load.generationTokens);
  out.push(
    "# HELP python_gc_objects_collected_total Objects collected during gc",
    "# TYPE python_gc_objects_collected_total counter",
    'python_gc_objects_collected_total{generation="0"} 12345.0',
  );
  return `${out.join("\n")}\n`;
}

/** vLLM v0.8: the names before the renames (gpu_cache_usage_perc, time_per_output_token_seconds). */
export function vllmLegacy(load: Load): string {
  return vllm(load)
    .replaceAll("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
    .replaceAll("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds");
}

/** vLLM v0.10: old and new names side by side, with the same values. */
export function vllmTransition(load: Load): string {
  const text = vllm(load);
  const old = text
    .split("\n")
    .filter((line) => line.includes("kv_cache_usage_perc") || line.includes("inter_token_latency"))
    .map((line) =>
      line
        .replace("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
        .replace("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    );
  return `${text}${old.join("\n")}\n`;
}

/** SGLang v0.5 with --enable-metrics. */
export function sglang(load: Load): string {
  const l = 'engine_type="unified",model_name="Qwen/Qwen2.5-7B-Instruct",pp_rank="0",tp_rank="0"';
  const b = (name: string, bounds: string[], counts: number[]) => [
    `# HELP ${name} Histogram.`,
    `# TYPE ${name} histogram`,
    ...bounds.map((le, i) => `${name}_bucket{${l},le="${le}"} ${f(counts[i] ?? 0)}`),
    `${name}_count{${l}} ${f(counts[3] ?? 0)}`,
    `${name}_sum{${l}} ${f((counts[3] ?? 0) * 0.2)}`,
  ];
  return `${[
    "# HELP sglang:num_running_reqs The number of running requests.",
    "# TYPE sglang:num_running_reqs gauge",
    `sglang:num_running_reqs{${l}} ${f(load.running)}`,
    "# HELP sglang:num_queue_reqs The number of requests in the waiting queue.",
    "# TYPE sglang:num_queue_reqs gauge",
    `sglang:num_queue_reqs{${l}} ${f(load.waiting)}`,
    "# HELP sglang:token_usage The token usage.",
    "# TYPE sglang:token_usage gauge",
    `sglang:token_usage{${l}} ${f(load.kv)}`,
    "# HELP sglang:gen_throughput The generation throughput (token/s).",
    "# TYPE sglang:gen_throughput gauge",
    `sglang:gen_throughput{${l}} 812.5`,
    "# HELP sglang:prompt_tokens_total Number of prefill tokens processed.",
    "# TYPE sglang:prompt_tokens_total counter",
    `sglang:prompt_tokens_total{${l}} ${load.promptTokens.toExponential()}`,
    "# HELP sglang:generation_tokens_total Number of generation tokens processed.",
    "# TYPE sglang:generation_tokens_total counter",
    `sglang:generation_tokens_total{${l}} ${load.generationTokens.toExponential()}`,
    "# HELP sglang:num_requests_total Number of requests processed.",
    "# TYPE sglang:num_requests_total counter",
    `sglang:num_requests_total{${l}} ${f(load.requests)}`,
    ...b("sglang:time_to_first_token_seconds", ["0.1", "0.5", "1.0", "+Inf"], load.ttft),
    ...b("sglang:inter_token_latency_seconds", ["0.01", "0.05", "0.1", "+Inf"], load.itl),
  ].join("\n")}\n`;
}

/** TGI v3 (metrics-exporter-prometheus): no `_total` on counters, no labels on most series. */
export function tgi(load: Load): string {
  const hist = (name: string, bounds: number[], counts: number[], sum: number) => [
    `# TYPE ${name} histogram`,
    ...bounds.map((le, i) => `${name}_bucket{le="${le}"} ${counts[i] ?? 0}`),
    `${name}_bucket{le="+Inf"} ${counts[counts.length - 1] ?? 0}`,
    `${name}_sum ${sum}`,
    `${name}_count ${counts[counts.length - 1] ?? 0}`,
  ];
  return `${[
    "# TYPE tgi_queue_size gauge",
    `tgi_queue_size ${load.waiting}`,
    "# TYPE tgi_batch_current_size gauge",
    `tgi_batch_current_size ${load.running}`,
    "# TYPE tgi_batch_current_max_tokens gauge",
    "tgi_batch_current_max_tokens 16000",
    "# TYPE tgi_request_count counter",
    `tgi_request_count ${load.requests}`,
    "# TYPE tgi_request_success counter",
    `tgi_request_success ${load.requests}`,
    ...hist("tgi_request_input_length", [1024, 2048], [load.requests, load.requests], load.promptTokens),
    ...hist(
      "tgi_request_generated_tokens",
      [256, 512],
      [load.requests, load.requests],
      load.generationTokens,
    ),
    ...hist("tgi_request_mean_time_per_token_duration", [0.01, 0.05, 0.1], load.itl, 0),
  ].join("\n")}\n`;
}

/** Triton 25.x with the TensorRT-LLM backend, an ensemble of four models. */
export function triton(load: Load): string {
  const model = (name: string) => `model="${name}",version="1"`;
  const trt = model("tensorrt_llm");
  return `${[
    "# HELP nv_inference_request_success Number of successful inference requests, all batch sizes",
    "# TYPE nv_inference_request_success counter",
    ...["ensemble", "preprocessing", "tensorrt_llm", "postprocessing"].map(
      (name) => `nv_inference_request_success{${model(name)}} ${load.requests}`,
    ),
    "# HELP nv_inference_pending_request_count Instantaneous number of pending requests awaiting execution per-model.",
    "# TYPE nv_inference_pending_request_count gauge",
    `nv_inference_pending_request_count{${trt}} 0`,
    "# HELP nv_trt_llm_request_metrics TRT LLM request metrics",
    "# TYPE nv_trt_llm_request_metrics gauge",
    `nv_trt_llm_request_metrics{${trt},request_type="waiting"} ${load.waiting}`,
    `nv_trt_llm_request_metrics{${trt},request_type="context"} 1`,
    `nv_trt_llm_request_metrics{${trt},request_type="scheduled"} ${load.running}`,
    `nv_trt_llm_request_metrics{${trt},request_type="max"} 512`,
    `nv_trt_llm_request_metrics{${trt},request_type="active"} ${load.running}`,
    "# HELP nv_trt_llm_kv_cache_block_metrics TRT LLM KV cache block metrics",
    "# TYPE nv_trt_llm_kv_cache_block_metrics gauge",
    `nv_trt_llm_kv_cache_block_metrics{${trt},kv_cache_block_type="tokens_per"} 64`,
    `nv_trt_llm_kv_cache_block_metrics{${trt},kv_cache_block_type="used"} ${Math.round(load.kv * 6240)}`,
    `nv_trt_llm_kv_cache_block_metrics{${trt},kv_cache_block_type="max"} 6240`,
    `nv_trt_llm_kv_cache_block_metrics{${trt},kv_cache_block_type="fraction"} ${load.kv}`,
    "# HELP nv_llm_input_token_len TRT LLM response metrics",
    "# TYPE nv_llm_input_token_len histogram",
    `nv_llm_input_token_len_count{${trt},response_metric_type="total_input_tokens"} ${load.requests}`,
    `nv_llm_input_token_len_sum{${trt},response_metric_type="total_input_tokens"} ${load.promptTokens}`,
    `nv_llm_input_token_len_bucket{${trt},response_metric_type="total_input_tokens",le="+Inf"} ${load.requests}`,
    "# HELP nv_llm_output_token_len TRT LLM response metrics",
    "# TYPE nv_llm_output_token_len histogram",
    `nv_llm_output_token_len_count{${trt},response_metric_type="total_output_tokens"} ${load.requests}`,
    `nv_llm_output_token_len_sum{${trt},response_metric_type="total_output_tokens"} ${load.generationTokens}`,
    `nv_llm_output_token_len_bucket{${trt},response_metric_type="total_output_tokens",le="+Inf"} ${load.requests}`,
    "# HELP nv_inference_first_response_histogram_ms Duration from request to first response in milliseconds",
    "# TYPE nv_inference_first_response_histogram_ms histogram",
    ...(["100", "500", "1000", "+Inf"] as const).map(
      (le, i) => `nv_inference_first_response_histogram_ms_bucket{${trt},le="${le}"} ${load.ttft[i] ?? 0}`,
    ),
    `nv_inference_first_response_histogram_ms_count{${trt}} ${load.ttft[3]}`,
    `nv_inference_first_response_histogram_ms_sum{${trt}} 0`,
  ].join("\n")}\n`;
}

/** llama-server with --metrics. `kv` adds the KV-cache gauges of older builds. */
export function llamacpp(load: Load, opts: { kvGauge?: boolean } = {}): string {
  return `${[
    "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.",
    "# TYPE llamacpp:prompt_tokens_total counter",
    `llamacpp:prompt_tokens_total ${load.promptTokens}`,
    "# HELP llamacpp:prompt_seconds_total Prompt process time",
    "# TYPE llamacpp:prompt_seconds_total counter",
    "llamacpp:prompt_seconds_total 12",
    "# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.",
    "# TYPE llamacpp:tokens_predicted_total counter",
    `llamacpp:tokens_predicted_total ${load.generationTokens}`,
    "# HELP llamacpp:n_busy_slots_per_decode Average number of busy slots per llama_decode() call",
    "# TYPE llamacpp:n_busy_slots_per_decode counter",
    "llamacpp:n_busy_slots_per_decode 1.87",
    "# HELP llamacpp:prompt_tokens_seconds Average prompt throughput in tokens/s.",
    "# TYPE llamacpp:prompt_tokens_seconds gauge",
    "llamacpp:prompt_tokens_seconds 0",
    ...(opts.kvGauge
      ? [
          "# HELP llamacpp:kv_cache_usage_ratio KV-cache usage. 1 means 100 percent usage.",
          "# TYPE llamacpp:kv_cache_usage_ratio gauge",
          `llamacpp:kv_cache_usage_ratio ${load.kv}`,
        ]
      : []),
    "# HELP llamacpp:requests_processing Number of requests processing.",
    "# TYPE llamacpp:requests_processing gauge",
    `llamacpp:requests_processing ${load.running}`,
    "# HELP llamacpp:requests_deferred Number of requests deferred.",
    "# TYPE llamacpp:requests_deferred gauge",
    `llamacpp:requests_deferred ${load.waiting}`,
  ].join("\n")}\n`;
}
