import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Histogram, ITL_BUCKETS, renderPrometheus, TTFT_BUCKETS } from "./metrics.ts";
import { Replica } from "./replica.ts";
import { testProfile } from "./testing.ts";

/** Parse a text exposition into sample name{labels} -> value, failing on malformed lines. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`malformed exposition line: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ""}`, Number(m[3] === "+Inf" ? Number.POSITIVE_INFINITY : m[3]));
  }
  return samples;
}

describe("Histogram", () => {
  it("uses vLLM's bucket boundaries", () => {
    expect(TTFT_BUCKETS).toHaveLength(22);
    expect(TTFT_BUCKETS[0]).toBe(0.001);
    expect(TTFT_BUCKETS.at(-1)).toBe(2560);
    expect(ITL_BUCKETS).toHaveLength(19);
    expect(ITL_BUCKETS[0]).toBe(0.01);
    expect(ITL_BUCKETS.at(-1)).toBe(80);
  });

  it.each([
    { value: 0.01, le: 0.01 }, // a value on a bound counts in that bucket (le is inclusive)
    { value: 0.0100001, le: 0.025 },
    { value: 0.001, le: 0.01 },
    { value: 1000, le: Number.POSITIVE_INFINITY },
  ])("puts $value in the le=$le bucket", ({ value, le }) => {
    const h = new Histogram(ITL_BUCKETS);
    h.observe(value);
    const s = h.snapshot();
    const first = s.cumulative.indexOf(1);
    expect(first === ITL_BUCKETS.length ? Number.POSITIVE_INFINITY : ITL_BUCKETS[first]).toBe(le);
  });

  it("observing a series equals observing each of its values", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 50 }),
        (first, delta, steps, times) => {
          const a = new Histogram(ITL_BUCKETS);
          const b = new Histogram(ITL_BUCKETS);
          a.observeSeries(first, delta, steps, times);
          for (let j = 0; j < steps; j++) b.observe(first + delta * j, times);
          const sa = a.snapshot();
          const sb = b.snapshot();
          expect(sa.count).toBe(sb.count);
          expect(sa.sum).toBeCloseTo(sb.sum, 6);
          // Bounds hit exactly by a value may round either way; allow one step of difference per bucket.
          for (let i = 0; i < sa.cumulative.length; i++) {
            expect(Math.abs(sa.cumulative[i]! - sb.cumulative[i]!)).toBeLessThanOrEqual(times);
          }
        },
      ),
    );
  });
});

describe("renderPrometheus", () => {
  const served = () => {
    const r = new Replica(testProfile(), 0, { modelName: 'llama "8b"' });
    r.add({ id: 1, arrival: 0, promptTokens: 20, outputTokens: 5 });
    r.add({ id: 2, arrival: 0.5, promptTokens: 30, outputTokens: 3 });
    return r;
  };

  it("exposes vLLM's series with the model_name label", () => {
    const r = served();
    r.runUntilIdle();
    const text = r.renderMetrics();
    const s = parseExposition(text);
    const l = 'model_name="llama \\"8b\\"",engine="0"';
    expect(s.get(`vllm:num_requests_running{${l}}`)).toBe(0);
    expect(s.get(`vllm:num_requests_waiting{${l}}`)).toBe(0);
    expect(s.get(`vllm:kv_cache_usage_perc{${l}}`)).toBe(0);
    expect(s.get(`vllm:prompt_tokens_total{${l}}`)).toBe(50);
    expect(s.get(`vllm:generation_tokens_total{${l}}`)).toBe(8);
    expect(s.get(`vllm:request_success_total{${l},finished_reason="stop"}`)).toBe(2);
    expect(s.get(`vllm:request_success_total{${l},finished_reason="abort"}`)).toBe(0);
    expect(s.get(`vllm:time_to_first_token_seconds_count{${l}}`)).toBe(2);
    expect(s.get(`vllm:time_to_first_token_seconds_bucket{${l},le="+Inf"}`)).toBe(2);
    expect(s.get(`vllm:time_to_first_token_seconds_bucket{${l},le="2560.0"}`)).toBe(2);
    expect(s.get(`vllm:inter_token_latency_seconds_count{${l}}`)).toBe(6);
    expect(s.has(`vllm:inter_token_latency_seconds_bucket{${l},le="0.025"}`)).toBe(true);
    expect(s.has(`vllm:e2e_request_latency_seconds_sum{${l}}`)).toBe(true);
    expect(text).toContain("# TYPE vllm:time_to_first_token_seconds histogram");
    expect(text).toContain("# TYPE vllm:generation_tokens_total counter");
    expect(text).toContain("# TYPE vllm:kv_cache_usage_perc gauge");
  });

  it("keeps buckets cumulative and counters monotonic across scrapes", () => {
    const r = served();
    let last = new Map<string, number>();
    for (let t = 0; t <= 1.5; t += 0.05) {
      r.advanceTo(t);
      const s = parseExposition(r.renderMetrics());
      for (const [k, v] of s) {
        if (k.includes("_total") || k.includes("_bucket") || k.includes("_count") || k.includes("_sum")) {
          expect(v).toBeGreaterThanOrEqual(last.get(k) ?? 0);
        }
      }
      for (const name of ["vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds"]) {
        const buckets = [...s].filter(([k]) => k.startsWith(`${name}_bucket`)).map(([, v]) => v);
        for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThanOrEqual(buckets[i - 1]!);
        expect(buckets.at(-1)).toBe([...s].find(([k]) => k.startsWith(`${name}_count`))![1]);
      }
      last = s;
    }
  });

  it("shows requests waiting and running mid-flight", () => {
    const r = new Replica(testProfile({ maxNumSeqs: 1 }), 0);
    r.add({ id: 1, arrival: 0, promptTokens: 20, outputTokens: 50 });
    r.add({ id: 2, arrival: 0, promptTokens: 20, outputTokens: 5 });
    r.advanceTo(0.2);
    const s = parseExposition(renderPrometheus(r.metrics(), { modelName: "m", engine: "3" }));
    expect(s.get('vllm:num_requests_running{model_name="m",engine="3"}')).toBe(1);
    expect(s.get('vllm:num_requests_waiting{model_name="m",engine="3"}')).toBe(1);
    expect(s.get('vllm:kv_cache_usage_perc{model_name="m",engine="3"}')).toBeGreaterThan(0);
  });
});
