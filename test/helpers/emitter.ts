// A small emitter of vLLM-format metrics for one fake model-server pod, with a settable queue and a settable
// share of slow requests. Requests finish at a steady rate; each is observed in the TTFT and per-request ITL
// histograms (vLLM's names and bucket bounds), slow ones above 2.5 s TTFT and 0.2 s ITL, the others below
// 1 s and 0.05 s.
import { createServer, type Server } from "node:http";
import { Histogram, ITL_BUCKETS, TOKEN_BUCKETS, TTFT_BUCKETS } from "../../operator/src/serving/metrics.ts";

/**
 * A metrics fault, as a broken exporter shows it: a body that is not an exposition (an HTML error page),
 * NaN gauges, counters that start again from zero (a restart), an answer that takes 30 s, histograms with
 * every other finite bucket missing, or none.
 */
export type EmitterFault = "garbage" | "nan" | "reset" | "slow" | "buckets" | "none";

export interface EmitterValues {
  waiting?: number;
  running?: number;
  /** Share (0..1) of the requests finishing from now on that are slow. */
  slowShare?: number;
  fault?: EmitterFault;
}

export interface EmitterOptions {
  /** Requests finished per second: request_success_total and the histograms' counts grow at this rate. */
  requestsPerSecond?: number;
  /** Share of slow requests from the start (default 0). */
  slowShare?: number;
}

export interface Emitter {
  address: string;
  /** Sets the waiting and running requests the pod reports, and the share of slow requests from now on. */
  set(values: EmitterValues): void;
  close(): Promise<void>;
}

/** Observed values: a slow request's TTFT and ITL are above 2.5 s and 0.2 s, a fast one's below 1 s and 0.05 s. */
export const SLOW_TTFT_SECONDS = 3;
export const FAST_TTFT_SECONDS = 0.5;
export const SLOW_ITL_SECONDS = 0.3;
export const FAST_ITL_SECONDS = 0.03;
/** Prompt and generated tokens per second in the token counters, whatever the request rate. */
export const PROMPT_TOKENS_PER_SECOND = 1000;
export const GENERATED_TOKENS_PER_SECOND = 200;

function checkShare(share: number): number {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`slowShare must be in [0, 1], not ${share}`);
  return share;
}

// Python's prometheus_client prints floats with repr(): 1.0, 0.25, 2560.0.
function formatFloat(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

export async function startVllmEmitter(
  model = "meta-llama/Llama-3.1-8B-Instruct",
  opts: EmitterOptions = {},
): Promise<Emitter> {
  const requestsPerSecond = opts.requestsPerSecond ?? 2;
  let waiting = 0;
  let running = 0;
  let slowShare = checkShare(opts.slowShare ?? 0);
  let started = Date.now();
  let fault: EmitterFault = "none";
  let ttft = new Histogram(TTFT_BUCKETS);
  let requestItl = new Histogram(ITL_BUCKETS);
  let promptLengths = new Histogram(TOKEN_BUCKETS);
  let outputLengths = new Histogram(TOKEN_BUCKETS);
  let finished = 0; // requests observed in the histograms so far
  let slowOwed = 0; // fractional slow requests carried over, so the slow count tracks the share exactly

  // Observes the requests finished since the last call, at the current share. Called at each scrape and
  // before the share changes, so a change applies from the moment it is made.
  const advance = (seconds: number) => {
    const due = Math.round(seconds * requestsPerSecond);
    const n = due - finished;
    if (n <= 0) return;
    finished = due;
    slowOwed += n * slowShare;
    const slow = Math.min(n, Math.floor(slowOwed + 1e-9));
    slowOwed -= slow;
    ttft.observe(SLOW_TTFT_SECONDS, slow);
    ttft.observe(FAST_TTFT_SECONDS, n - slow);
    requestItl.observe(SLOW_ITL_SECONDS, slow);
    requestItl.observe(FAST_ITL_SECONDS, n - slow);
    // Each finished request's tokens, in vllm:request_prompt_tokens and _generation_tokens: the counters'
    // rates over the request rate, so that both say the same request size.
    promptLengths.observe(PROMPT_TOKENS_PER_SECOND / requestsPerSecond, n);
    outputLengths.observe(GENERATED_TOKENS_PER_SECOND / requestsPerSecond, n);
  };

  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    if (fault === "garbage") {
      res
        .writeHead(200, { "content-type": "text/plain; version=0.0.4" })
        .end("<html><body><h1>502 Bad Gateway</h1>\n{not: metrics}</body></html>\n");
      return;
    }
    if (fault === "slow") {
      // Answers after 30 s, far beyond any scrape timeout; closing the emitter ends it.
      setTimeout(() => res.writeHead(200).end(""), 30_000).unref();
      return;
    }
    // Counters grow with time at a rate that follows the load, as a busy server's would.
    const seconds = (Date.now() - started) / 1000;
    advance(seconds);
    const label = `model_name="${model}",engine="0"`;
    const histogram = (name: string, help: string, h: Histogram) => {
      const s = h.snapshot();
      return [
        `# HELP ${name} ${help}`,
        `# TYPE ${name} histogram`,
        ...s.bounds.flatMap((le, i) =>
          fault === "buckets" && i % 2 === 1
            ? []
            : [`${name}_bucket{${label},le="${formatFloat(le)}"} ${s.cumulative[i]}`],
        ),
        `${name}_bucket{${label},le="+Inf"} ${s.cumulative[s.bounds.length]}`,
        `${name}_sum{${label}} ${s.sum}`,
        `${name}_count{${label}} ${s.count}`,
      ];
    };
    const body = [
      "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
      "# TYPE vllm:num_requests_waiting gauge",
      `vllm:num_requests_waiting{${label}} ${fault === "nan" ? "NaN" : waiting}`,
      "# TYPE vllm:num_requests_running gauge",
      `vllm:num_requests_running{${label}} ${fault === "nan" ? "NaN" : running}`,
      "# TYPE vllm:kv_cache_usage_perc gauge",
      `vllm:kv_cache_usage_perc{${label}} ${Math.min(1, running / 256)}`,
      "# TYPE vllm:prompt_tokens_total counter",
      `vllm:prompt_tokens_total{${label}} ${Math.round(seconds * PROMPT_TOKENS_PER_SECOND)}`,
      "# TYPE vllm:generation_tokens_total counter",
      `vllm:generation_tokens_total{${label}} ${Math.round(seconds * GENERATED_TOKENS_PER_SECOND)}`,
      "# TYPE vllm:request_success_total counter",
      `vllm:request_success_total{${label},finished_reason="stop"} ${finished}`,
      ...histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft),
      ...histogram(
        "vllm:request_time_per_output_token_seconds",
        "Histogram of time_per_output_token_seconds per request.",
        requestItl,
      ),
      ...histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", promptLengths),
      ...histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", outputLengths),
      "",
    ].join("\n");
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    set: (v) => {
      waiting = v.waiting ?? waiting;
      running = v.running ?? running;
      if (v.fault !== undefined) {
        // A restart: every counter and histogram starts again from zero.
        if (v.fault === "reset") {
          started = Date.now();
          finished = 0;
          slowOwed = 0;
          ttft = new Histogram(TTFT_BUCKETS);
          requestItl = new Histogram(ITL_BUCKETS);
          promptLengths = new Histogram(TOKEN_BUCKETS);
          outputLengths = new Histogram(TOKEN_BUCKETS);
        }
        fault = v.fault === "reset" ? "none" : v.fault;
      }
      if (v.slowShare !== undefined) {
        const share = checkShare(v.slowShare);
        advance((Date.now() - started) / 1000);
        slowShare = share;
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
