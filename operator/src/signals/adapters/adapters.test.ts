import { describe, expect, it } from "vitest";
import { SERVERS } from "../../apis/inferenceservice.ts";
import { parsePromText } from "../prom-text.ts";
import { readPod } from "../reading.ts";
import * as expo from "../testdata/expositions.ts";
import { ADAPTERS, adapterFor } from "./index.ts";
import { nameCandidates, type ServerAdapter } from "./types.ts";

const INF = Number.POSITIVE_INFINITY;
const load: expo.Load = {
  waiting: 6,
  running: 10,
  kv: 0.5,
  promptTokens: 4000,
  generationTokens: 9000,
  requests: 40,
  ttft: [10, 30, 38, 40],
  itl: [100, 900, 990, 1000],
};

function read(adapter: ServerAdapter, text: string) {
  const exposition = parsePromText(text);
  expect(exposition.errors).toEqual([]);
  return readPod(adapter, exposition.samples, 1000);
}

describe("registry", () => {
  it("has an adapter for every runtime but custom", () => {
    for (const server of SERVERS) {
      if (server === "custom") expect(adapterFor(server)).toBeUndefined();
      else expect(adapterFor(server)?.server).toBe(server);
    }
  });

  it.each(Object.values(ADAPTERS))("$server names where its names come from and uses valid names", (a) => {
    expect(a.provenance).toMatch(/\S{3,}/);
    const refs = [...Object.values(a.gauges), ...Object.values(a.counters), ...Object.values(a.histograms)];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      for (const name of nameCandidates(ref)) expect(name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    }
  });

  it("matches each name and its ':'→'_' spelling, newest first", () => {
    expect(nameCandidates({ names: ["vllm:a", "vllm:b"] })).toEqual(["vllm:a", "vllm_a", "vllm:b", "vllm_b"]);
    expect(nameCandidates({ names: ["tgi_queue_size"] })).toEqual(["tgi_queue_size"]);
  });
});

describe("readPod per runtime", () => {
  const full = {
    gauges: { queueDepth: 6, runningRequests: 10, kvCacheUtilization: 0.5 },
    counters: { arrivals: 40, promptTokens: 4000, generationTokens: 9000 },
  };
  // vLLM's per-request token histograms: requests finished and their tokens.
  const vllmFull = {
    ...full,
    counters: {
      ...full.counters,
      finishedRequests: 40,
      finishedPromptTokens: 4000,
      finishedGenerationTokens: 9000,
    },
  };
  const ttft = [
    { le: 0.1, count: 10 },
    { le: 0.5, count: 30 },
    { le: 1, count: 38 },
    { le: INF, count: 40 },
  ];
  const itl = [
    { le: 0.01, count: 100 },
    { le: 0.05, count: 900 },
    { le: 0.1, count: 990 },
    { le: INF, count: 1000 },
  ];

  it.each([
    ["vllm", ADAPTERS.vllm, expo.vllm(load), vllmFull, { ttft, itl }],
    [
      "vllm with two engines (data parallel)",
      ADAPTERS.vllm,
      expo.vllm(load, { engines: 2 }),
      vllmFull,
      { ttft, itl },
    ],
    [
      "vllm with ':' rewritten to '_'",
      ADAPTERS.vllm,
      expo.vllm(load, { underscore: true }),
      vllmFull,
      { ttft, itl },
    ],
    ["vllm v0.8 names", ADAPTERS.vllm, expo.vllmLegacy(load), vllmFull, { ttft, itl }],
    [
      "vllm v0.10, old and new names side by side",
      ADAPTERS.vllm,
      expo.vllmTransition(load),
      vllmFull,
      { ttft, itl },
    ],
    ["sglang", ADAPTERS.sglang, expo.sglang(load), full, { ttft, itl }],
    [
      "tgi (no TTFT, no KV cache)",
      ADAPTERS.tgi,
      expo.tgi(load),
      {
        gauges: { queueDepth: 6, runningRequests: 10 },
        counters: { ...full.counters, finishedRequests: 40, finishedGenerationTokens: 9000 },
      },
      // Its per-request mean time per token is both the ITL quantile's and the SLO headroom's histogram.
      { itl, requestItl: itl },
    ],
    ["triton (ensemble counted once, TTFT in ms)", ADAPTERS.triton, expo.triton(load), full, { ttft }],
    [
      "llamacpp (no request counter, no latency histograms, no KV gauge in current builds)",
      ADAPTERS.llamacpp,
      expo.llamacpp(load),
      {
        gauges: { queueDepth: 6, runningRequests: 10 },
        counters: { promptTokens: 4000, generationTokens: 9000 },
      },
      {},
    ],
    [
      "llamacpp of older builds with the KV gauge",
      ADAPTERS.llamacpp,
      expo.llamacpp(load, { kvGauge: true }),
      { gauges: full.gauges, counters: { promptTokens: 4000, generationTokens: 9000 } },
      {},
    ],
  ] as const)("%s", (_name, adapter, text, want, hists) => {
    const r = read(adapter, text);
    expect(r.gauges).toEqual(want.gauges);
    expect(r.counters).toEqual(want.counters);
    expect(Object.keys(r.histograms).sort()).toEqual(Object.keys(hists).sort());
    for (const [signal, buckets] of Object.entries(hists)) {
      const got = r.histograms[signal as "ttft" | "itl" | "requestItl"]!.buckets;
      expect(got.map((b) => b.count)).toEqual(buckets.map((b) => b.count));
      got.forEach((b, i) => {
        expect(b.le).toBeCloseTo(buckets[i]!.le, 12);
      });
    }
  });

  it("reads nothing from another runtime's exposition", () => {
    const r = read(ADAPTERS.sglang, expo.vllm(load));
    expect(r).toEqual({ atMs: 1000, gauges: {}, counters: {}, histograms: {} });
  });

  it("leaves a signal undefined when its only series is NaN, never zero", () => {
    const r = read(ADAPTERS.vllm, "vllm:num_requests_waiting NaN\nvllm:num_requests_running 2\n");
    expect(r.gauges).toEqual({ runningRequests: 2 });
  });

  it("prefers the newest name per pod, without adding the old one", () => {
    const text = "vllm:kv_cache_usage_perc 0.25\nvllm:gpu_cache_usage_perc 0.9\n";
    expect(read(ADAPTERS.vllm, text).gauges).toEqual({ kvCacheUtilization: 0.25 });
  });

  it("does not read Triton's pending count as the queue: it would be a false zero", () => {
    // Triton before 25.03 (no request_type="waiting"): no queue depth, rather than 0.
    const r = read(ADAPTERS.triton, 'nv_inference_pending_request_count{model="m",version="1"} 3\n');
    expect(r.gauges.queueDepth).toBeUndefined();
  });
});
