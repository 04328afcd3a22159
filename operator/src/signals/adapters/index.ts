// The server adapter registry, keyed by spec.model.server. `custom` has no adapter: its signals come only
// from the PromQL overrides in spec.metrics.queries.
import type { ServerRuntime } from "../../apis/inferenceservice.ts";
import { llamacppAdapter } from "./llamacpp.ts";
import { sglangAdapter } from "./sglang.ts";
import { tgiAdapter } from "./tgi.ts";
import { tritonAdapter } from "./triton.ts";
import type { AdapterServer, ServerAdapter } from "./types.ts";
import { vllmAdapter } from "./vllm.ts";

export const ADAPTERS: Readonly<Record<AdapterServer, ServerAdapter>> = {
  vllm: vllmAdapter,
  sglang: sglangAdapter,
  tgi: tgiAdapter,
  triton: tritonAdapter,
  llamacpp: llamacppAdapter,
};

/** The adapter for a runtime; undefined for `custom`. */
export function adapterFor(server: ServerRuntime): ServerAdapter | undefined {
  return server === "custom" ? undefined : ADAPTERS[server];
}

export type {
  AdapterServer,
  AdapterSignal,
  CounterSignal,
  GaugeSignal,
  HistogramSignal,
  MetricRef,
  PerPod,
  ServerAdapter,
} from "./types.ts";
