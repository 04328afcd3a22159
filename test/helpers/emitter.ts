// A small emitter of vLLM-format metrics for one fake model-server pod, with a settable queue.
import { createServer, type Server } from "node:http";

export interface Emitter {
  address: string;
  /** Sets the waiting and running requests the pod reports. */
  set(values: { waiting?: number; running?: number }): void;
  close(): Promise<void>;
}

export async function startVllmEmitter(model = "meta-llama/Llama-3.1-8B-Instruct"): Promise<Emitter> {
  let waiting = 0;
  let running = 0;
  const started = Date.now();
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    // Counters grow with time at a rate that follows the load, as a busy server's would.
    const seconds = (Date.now() - started) / 1000;
    const label = `model_name="${model}",engine="0"`;
    const body = [
      "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
      "# TYPE vllm:num_requests_waiting gauge",
      `vllm:num_requests_waiting{${label}} ${waiting}`,
      "# TYPE vllm:num_requests_running gauge",
      `vllm:num_requests_running{${label}} ${running}`,
      "# TYPE vllm:kv_cache_usage_perc gauge",
      `vllm:kv_cache_usage_perc{${label}} ${Math.min(1, running / 256)}`,
      "# TYPE vllm:prompt_tokens_total counter",
      `vllm:prompt_tokens_total{${label}} ${Math.round(seconds * 1000)}`,
      "# TYPE vllm:generation_tokens_total counter",
      `vllm:generation_tokens_total{${label}} ${Math.round(seconds * 200)}`,
      "# TYPE vllm:request_success_total counter",
      `vllm:request_success_total{${label},finished_reason="stop"} ${Math.round(seconds * 2)}`,
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
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
