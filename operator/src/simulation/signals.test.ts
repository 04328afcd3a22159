import { describe, expect, it } from "vitest";
import type { Signals } from "../planning/types.ts";
import { getProfile } from "../serving/profiles.ts";
import { Replica } from "../serving/replica.ts";
import { CHAT_LIKE, poissonRequests } from "../serving/workload.ts";
import { vllmAdapter } from "../signals/adapters/vllm.ts";
import { aggregateService } from "../signals/aggregate.ts";
import { parsePromText } from "../signals/prom-text.ts";
import { readPod } from "../signals/reading.ts";
import { PodScraper, readingOf } from "./signals.ts";

function replicaAt(t: number, seed: number): Replica {
  const r = new Replica(getProfile("llama-3.1-8b-fp8/l4"), 0);
  for (const req of poissonRequests({ shape: CHAT_LIKE, rate: 2, durationSeconds: t, seed })) r.add(req);
  r.advanceTo(t);
  return r;
}

describe("signals from the simulated fleet", () => {
  it("read a replica exactly as the vLLM adapter reads its rendered /metrics page", () => {
    const r = replicaAt(120, 1);
    const direct = readingOf(r.metrics(), 1000);
    const parsed = readPod(vllmAdapter, parsePromText(r.renderMetrics()).samples, 1000);
    expect(direct.gauges).toEqual(parsed.gauges);
    expect(direct.counters).toEqual(parsed.counters);
    for (const h of ["ttft", "itl"] as const) {
      expect(direct.histograms[h]!.buckets).toEqual(parsed.histograms[h]!.buckets);
      expect(direct.histograms[h]!.count).toBe(parsed.histograms[h]!.count);
      expect(direct.histograms[h]!.sum).toBeCloseTo(parsed.histograms[h]!.sum!, 6);
    }
  });

  it("aggregate a window of scrapes like the signals layer (first and last reading suffice without resets)", () => {
    const scraper = new PodScraper(10_000);
    const pods = [1, 2].map((seed) => ({ seed, r: new Replica(getProfile("llama-3.1-8b-fp8/l4"), 0) }));
    const reqs = pods.map((p) =>
      poissonRequests({ shape: CHAT_LIKE, rate: 1.5, durationSeconds: 120, seed: p.seed }),
    );
    pods.forEach((p, i) => {
      for (const q of reqs[i]!) p.r.add(q);
    });
    const windows = new Map<string, ReturnType<typeof readingOf>[]>();
    let last: Signals | undefined;
    for (let t = 0; t <= 120; t += 10) {
      const scraped = pods.map((p) => {
        p.r.advanceTo(t);
        return { pod: String(p.seed), metrics: p.r.metrics() };
      });
      last = scraper.scrape(scraped, t * 1000);
      for (const s of scraped) {
        const list = [...(windows.get(s.pod) ?? []), readingOf(s.metrics, t * 1000)].filter(
          (x) => x.atMs >= t * 1000 - 60_000,
        );
        windows.set(s.pod, list);
      }
    }
    const full = aggregateService(
      [...windows].map(([pod, readings]) => ({ pod, readings })),
      { nowMs: 120_000, intervalMs: 10_000 },
    );
    expect(last).toEqual(full);
    expect(full.replicasReporting).toBe(2);
    expect(full.arrivalRate).toBeGreaterThan(0);
  });

  it("forget pods that are no longer ready", () => {
    const scraper = new PodScraper(10_000);
    const r = replicaAt(30, 3);
    expect(scraper.scrape([{ pod: "a", metrics: r.metrics() }], 30_000).replicasReporting).toBe(1);
    expect(scraper.scrape([], 40_000).replicasReporting).toBe(0);
  });
});
