// Per-replica metrics in vLLM's format: cumulative counters, gauges and histograms with vLLM's own bucket
// boundaries (vllm/v1/metrics/loggers.py, vLLM 0.11), rendered as a Prometheus text exposition.

/** vllm:time_to_first_token_seconds buckets. */
export const TTFT_BUCKETS: readonly number[] = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
  80.0, 160.0, 640.0, 2560.0,
];

/**
 * vllm:inter_token_latency_seconds buckets (also used by the deprecated time_per_output_token and by the
 * per-request vllm:request_time_per_output_token_seconds).
 */
export const ITL_BUCKETS: readonly number[] = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];

/** vllm:e2e_request_latency_seconds and vllm:request_queue_time_seconds buckets. */
export const REQUEST_LATENCY_BUCKETS: readonly number[] = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
  960.0, 1920.0, 7680.0,
];

/**
 * vllm:request_prompt_tokens and vllm:request_generation_tokens buckets: vLLM's 1-2-5 series up to the
 * model's context (build_1_2_5_buckets(max_model_len)), here for a context of 32,768 tokens.
 */
export const TOKEN_BUCKETS: readonly number[] = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000,
];

/** A histogram's state: cumulative counts per upper bound (last entry is +Inf), sum and count. */
export interface HistogramSnapshot {
  /** Upper bounds, without +Inf. */
  bounds: readonly number[];
  /** Cumulative counts for each bound, then +Inf (length bounds.length + 1). */
  cumulative: number[];
  sum: number;
  count: number;
}

/** A Prometheus-style histogram that also takes many equal observations, or an arithmetic series of them, at once. */
export class Histogram {
  readonly bounds: readonly number[];
  // Non-cumulative counts per bucket; index bounds.length is the +Inf bucket.
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Record `times` observations of `value`. */
  observe(value: number, times = 1): void {
    if (times <= 0) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.#counts[i]! += times;
    this.#sum += value * times;
    this.#count += times;
  }

  /**
   * Record `times` observations of each of the `steps` values first, first + delta, ..., first + (steps-1)*delta
   * (delta >= 0): the inter-token latencies of a run of decode steps whose context grows linearly. `valueAt(j)`,
   * when given, computes value j exactly as the caller would one at a time, so bounds hit exactly agree.
   */
  observeSeries(
    first: number,
    delta: number,
    steps: number,
    times: number,
    valueAt?: (j: number) => number,
  ): void {
    if (steps <= 0 || times <= 0) return;
    if (delta <= 0) {
      this.observe(first, steps * times);
      return;
    }
    const b = this.bounds;
    let below = 0; // steps with value <= previous bound
    for (let i = 0; i < b.length; i++) {
      // values <= b[i]: j <= (b[i] - first) / delta; valueAt, when given, settles the rounding at the bound.
      let upTo = b[i]! < first ? 0 : Math.min(steps, Math.floor((b[i]! - first) / delta) + 1);
      if (valueAt !== undefined) {
        upTo = Math.max(upTo, below);
        while (upTo > below && valueAt(upTo - 1) > b[i]!) upTo--;
        while (upTo < steps && valueAt(upTo) <= b[i]!) upTo++;
      }
      this.#counts[i]! += (upTo - below) * times;
      below = upTo;
      if (below >= steps) break;
    }
    this.#counts[b.length]! += (steps - below) * times;
    this.#sum += times * (steps * first + (delta * steps * (steps - 1)) / 2);
    this.#count += steps * times;
  }

  snapshot(): HistogramSnapshot {
    const cumulative = new Array<number>(this.#counts.length);
    let acc = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      acc += this.#counts[i]!;
      cumulative[i] = acc;
    }
    return { bounds: this.bounds, cumulative, sum: this.#sum, count: this.#count };
  }
}

/** Everything one replica exports, as a plain object. Counters are cumulative since the replica started. */
export interface ReplicaMetrics {
  /** Requests arrived and not yet scheduled (includes preempted requests waiting to be recomputed). */
  numRequestsWaiting: number;
  /** Requests in the running batch. */
  numRequestsRunning: number;
  /** KV-cache usage, 0..1. */
  kvCacheUsage: number;
  promptTokensTotal: number;
  generationTokensTotal: number;
  requestSuccessTotal: number;
  /** Requests aborted because their client gave up (finished_reason "abort"). */
  requestAbortedTotal?: number;
  numPreemptionsTotal: number;
  timeToFirstToken: HistogramSnapshot;
  interTokenLatency: HistogramSnapshot;
  /** Each finished request's mean time per output token after the first (requests of 2+ tokens). */
  requestTimePerOutputToken: HistogramSnapshot;
  e2eRequestLatency: HistogramSnapshot;
  requestQueueTime: HistogramSnapshot;
  /** Each finished request's prompt tokens. */
  requestPromptTokens: HistogramSnapshot;
  /** Each finished request's generated tokens. */
  requestGenerationTokens: HistogramSnapshot;
}

export interface RenderOptions {
  /** The model_name label (vLLM's served model name). */
  modelName: string;
  /** The engine label vLLM V1 adds; "0" for a single engine core. */
  engine?: string;
}

// Python's prometheus_client prints floats with repr(): 1.0, 0.25, 2560.0.
function formatFloat(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(1) : String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Prometheus text exposition (format 0.0.4) of one replica's metrics, in vLLM's names and labels. */
export function renderPrometheus(m: ReplicaMetrics, opts: RenderOptions): string {
  const labels = `model_name="${escapeLabel(opts.modelName)}",engine="${escapeLabel(opts.engine ?? "0")}"`;
  const out: string[] = [];
  const gauge = (name: string, help: string, value: number) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}{${labels}} ${formatFloat(value)}`);
  };
  const counter = (name: string, help: string, value: number) => {
    out.push(
      `# HELP ${name}_total ${help}`,
      `# TYPE ${name}_total counter`,
      `${name}_total{${labels}} ${formatFloat(value)}`,
    );
  };
  const histogram = (name: string, help: string, h: HistogramSnapshot) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (let i = 0; i < h.bounds.length; i++) {
      out.push(
        `${name}_bucket{${labels},le="${formatFloat(h.bounds[i]!)}"} ${formatFloat(h.cumulative[i]!)}`,
      );
    }
    out.push(`${name}_bucket{${labels},le="+Inf"} ${formatFloat(h.cumulative[h.bounds.length]!)}`);
    out.push(
      `${name}_sum{${labels}} ${formatFloat(h.sum)}`,
      `${name}_count{${labels}} ${formatFloat(h.count)}`,
    );
  };

  gauge("vllm:num_requests_running", "Number of requests in model execution batches.", m.numRequestsRunning);
  gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", m.numRequestsWaiting);
  gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", m.kvCacheUsage);
  counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", m.numPreemptionsTotal);
  counter("vllm:prompt_tokens", "Number of prefill tokens processed.", m.promptTokensTotal);
  counter("vllm:generation_tokens", "Number of generation tokens processed.", m.generationTokensTotal);
  // vLLM creates one series per finish reason up front; the model's requests end on their own (stop) or
  // are aborted when their client gives up (abort).
  const name = "vllm:request_success_total";
  out.push(`# HELP ${name} Count of successfully processed requests.`, `# TYPE ${name} counter`);
  for (const reason of ["stop", "length", "abort"]) {
    const v =
      reason === "stop" ? m.requestSuccessTotal : reason === "abort" ? (m.requestAbortedTotal ?? 0) : 0;
    out.push(`${name}{${labels},finished_reason="${reason}"} ${formatFloat(v)}`);
  }
  histogram(
    "vllm:time_to_first_token_seconds",
    "Histogram of time to first token in seconds.",
    m.timeToFirstToken,
  );
  histogram(
    "vllm:inter_token_latency_seconds",
    "Histogram of inter-token latency in seconds.",
    m.interTokenLatency,
  );
  histogram(
    "vllm:request_time_per_output_token_seconds",
    "Histogram of time_per_output_token_seconds per request.",
    m.requestTimePerOutputToken,
  );
  histogram(
    "vllm:e2e_request_latency_seconds",
    "Histogram of e2e request latency in seconds.",
    m.e2eRequestLatency,
  );
  histogram(
    "vllm:request_queue_time_seconds",
    "Histogram of time spent in WAITING phase for request.",
    m.requestQueueTime,
  );
  histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", m.requestPromptTokens);
  histogram(
    "vllm:request_generation_tokens",
    "Number of generation tokens processed.",
    m.requestGenerationTokens,
  );
  return `${out.join("\n")}\n`;
}
