// The rules for expositions the project has never seen (reading.ts header; docs/signals.md, "Malformed
// metric text"), each on the exposition that showed it.
import { describe, expect, it } from "vitest";
import type { ServerAdapter } from "./adapters/types.ts";
import { vllmAdapter } from "./adapters/vllm.ts";
import { aggregateService } from "./aggregate.ts";
import { formatOf, parsePromText } from "./prom-text.ts";
import { readPod } from "./reading.ts";

const read = (text: string, adapter: ServerAdapter = vllmAdapter) =>
  readPod(adapter, parsePromText(text).samples, 1000);

describe("values outside a signal's domain", () => {
  it("refuses a negative gauge or counter for that pod, and keeps its other signals", () => {
    const r = read(
      [
        "vllm:num_requests_running -150",
        "vllm:num_requests_waiting -3",
        "vllm:kv_cache_usage_perc 0.4",
        "vllm:prompt_tokens_total -10",
        "vllm:generation_tokens_total 500",
      ].join("\n"),
    );
    expect(r.gauges).toEqual({ kvCacheUtilization: 0.4 });
    expect(r.counters).toEqual({ generationTokens: 500 });
  });

  it("refuses a KV-cache usage above 1 (percent is not a fraction), and reads 0 to 1", () => {
    expect(read("vllm:kv_cache_usage_perc 63.4").gauges.kvCacheUtilization).toBeUndefined();
    expect(read("vllm:kv_cache_usage_perc 0.634").gauges.kvCacheUtilization).toBe(0.634);
    expect(read("vllm:kv_cache_usage_perc 1").gauges.kvCacheUtilization).toBe(1);
    // A query or adapter that reads percent says so with scale 0.01.
    const percent: ServerAdapter = {
      ...vllmAdapter,
      gauges: { kvCacheUtilization: { names: ["kv_percent"], scale: 0.01 } },
    };
    expect(read("kv_percent 63.4", percent).gauges.kvCacheUtilization).toBeCloseTo(0.634, 9);
  });

  it("refuses a sum that overflows to Infinity, within a pod and across pods", () => {
    const big = 1.5e308;
    const pod = read(
      `vllm:num_requests_waiting{engine="0"} ${big}\nvllm:num_requests_waiting{engine="1"} ${big}`,
    );
    expect(pod.gauges.queueDepth).toBeUndefined();
    const one = read(`vllm:num_requests_waiting ${big}\nvllm:num_requests_running 2`);
    const signals = aggregateService(
      ["a", "b"].map((pod) => ({ pod, readings: [{ ...one, atMs: 1000 }] })),
      { nowMs: 1000, intervalMs: 10_000 },
    );
    expect(signals.queueDepth).toBeUndefined();
    expect(signals.runningRequests).toBe(4);
  });
});

describe("series repeated within one scrape", () => {
  it("counts a repeated series once, its first sample, as Prometheus does; distinct series are summed", () => {
    expect(read("vllm:num_requests_running 5\nvllm:num_requests_running 5").gauges.runningRequests).toBe(5);
    expect(
      read('vllm:num_requests_running{engine="0"} 3\nvllm:num_requests_running{engine="1"} 4').gauges
        .runningRequests,
    ).toBe(7);
    // The same labels in another order are the same series.
    expect(
      read('vllm:num_requests_waiting{a="1",b="2"} 2\nvllm:num_requests_waiting{b="2",a="1"} 9').gauges
        .queueDepth,
    ).toBe(2);
  });

  it("reads a family declared twice with two types once", () => {
    const text = [
      "# TYPE vllm:num_requests_running gauge",
      'vllm:num_requests_running{model_name="m"} 5',
      "# TYPE vllm:num_requests_running counter",
      'vllm:num_requests_running{model_name="m"} 5',
    ].join("\n");
    expect(read(text).gauges.runningRequests).toBe(5);
  });

  it("keeps the first of a repeated histogram bucket, not the larger", () => {
    const text = [
      "# TYPE vllm:time_to_first_token_seconds histogram",
      'vllm:time_to_first_token_seconds_bucket{le="0.5"} 10',
      'vllm:time_to_first_token_seconds_bucket{le="0.5"} 20',
      'vllm:time_to_first_token_seconds_bucket{le="+Inf"} 30',
      "vllm:time_to_first_token_seconds_count 30",
      "vllm:time_to_first_token_seconds_sum 12",
    ].join("\n");
    const h = read(text).histograms.ttft!;
    expect(h.buckets.map((b) => [b.le, b.count])).toEqual([
      [0.5, 10],
      [Number.POSITIVE_INFINITY, 30],
    ]);
  });
});

describe("a pod that exposes two spellings of a metric", () => {
  it("reads the server's own (vllm:) and does not add the pipeline's copy (vllm_)", () => {
    const r = read("vllm:num_requests_waiting 3\nvllm_num_requests_waiting 3\nvllm_num_requests_running 2");
    expect(r.gauges.queueDepth).toBe(3);
    // A metric only in the other spelling is still read.
    expect(r.gauges.runningRequests).toBe(2);
  });
});

describe("many series", () => {
  it("reads 125,000 series of one metric without running out of stack, whatever the combination", () => {
    const lines = Array.from({ length: 125_000 }, (_, i) => `x{i="${i}"} ${i % 7}`).join("\n");
    const samples = parsePromText(lines).samples;
    const sum = samples.reduce((a, x) => a + x.value, 0);
    for (const perPod of ["max", "sum", "mean"] as const) {
      const adapter: ServerAdapter = { ...vllmAdapter, gauges: { queueDepth: { names: ["x"], perPod } } };
      const r = readPod(adapter, samples, 1000);
      expect(r.gauges.queueDepth).toBe(perPod === "max" ? 6 : perPod === "sum" ? sum : sum / 125_000);
    }
  });
});

describe("the content type decides the format", () => {
  it("maps Content-Type to a format, and leaves the body to decide only when there is none", () => {
    expect(formatOf("application/openmetrics-text; version=1.0.0; charset=utf-8")).toEqual({
      openMetrics: true,
    });
    expect(formatOf("text/plain; version=0.0.4; charset=utf-8")).toEqual({ openMetrics: false });
    expect(formatOf("")).toBeUndefined();
    expect(formatOf(undefined)).toBeUndefined();
  });

  it("reads a text/plain scrape with a '# EOF' line as the text format: timestamps in ms, lines after it kept", () => {
    const text = "a 1 1700000000000\n# EOF\nb 2";
    const plain = parsePromText(text, formatOf("text/plain; version=0.0.4")!);
    expect(plain.openMetrics).toBe(false);
    expect(plain.errors).toEqual([]);
    expect(plain.samples.map((s) => [s.name, s.timestampMs])).toEqual([
      ["a", 1_700_000_000_000],
      ["b", undefined],
    ]);
    // Without a content type the body decides: OpenMetrics, whose timestamps are seconds.
    const sniffed = parsePromText("a 1 1700000000\n# EOF\n");
    expect(sniffed.openMetrics).toBe(true);
    expect(sniffed.samples[0]?.timestampMs).toBe(1_700_000_000_000);
  });
});
