import { afterEach, describe, expect, it } from "vitest";
import type { ServerRuntime } from "../../apis/inferenceservice.ts";
import { SignalsErrorCode } from "../errors.ts";
import * as expo from "../testdata/expositions.ts";
import { type Reply, startServer, type TestServer } from "../testdata/server.ts";
import { createPodScrapeSource, podMetricsURL } from "./podscrape.ts";
import type { ServiceRef, SignalsResult } from "./types.ts";

const T0 = 1_700_000_000_000;
const INTERVAL = 15_000;
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface FakePod {
  name: string;
  ip: string;
  /** What the pod answers next. */
  reply: Reply;
  /** Holds the answer this long. */
  delayMs?: number;
  hits: number;
}

/** Pods on 127.0.0.1, 127.0.0.2, ... sharing one port, as a service's pods share spec.metrics.port. */
async function startPods(
  count: number,
  path = "/metrics",
): Promise<{ pods: FakePod[]; port: number; load: { inFlight: number; peak: number } }> {
  const load = { inFlight: 0, peak: 0 };
  for (let attempt = 0; attempt < 5; attempt++) {
    const pods: FakePod[] = Array.from({ length: count }, (_, i) => ({
      name: `pod-${i}`,
      ip: `127.0.0.${i + 1}`,
      reply: { body: "" },
      hits: 0,
    }));
    const started: TestServer[] = [];
    try {
      let port = 0;
      for (const pod of pods) {
        const server = await startServer(
          async (req) => {
            pod.hits++;
            load.inFlight++;
            load.peak = Math.max(load.peak, load.inFlight);
            if (pod.delayMs) await new Promise((resolve) => setTimeout(resolve, pod.delayMs));
            load.inFlight--;
            return req.path === path ? pod.reply : { status: 404, body: "not found" };
          },
          { host: pod.ip, port },
        );
        started.push(server);
        port = Number(new URL(server.url).port);
      }
      servers.push(...started);
      return { pods, port, load };
    } catch {
      await Promise.all(started.map((s) => s.close())); // the port was taken on another address: again
    }
  }
  throw new Error("could not start the fake pods");
}

function svc(server: ServerRuntime, pods: FakePod[], port: number, path = "/metrics"): ServiceRef {
  return {
    key: "team/llama",
    namespace: "team",
    name: "llama",
    server,
    metrics: { source: "podScrape", port, path },
    pods: pods.map((p) => ({ name: p.name, ip: p.ip })),
  };
}

function ok(result: SignalsResult | undefined) {
  if (!result?.ok) throw new Error(`expected signals, got ${result ? result.error.message : "nothing"}`);
  return result.signals;
}

function err(result: SignalsResult | undefined) {
  if (!result || result.ok) throw new Error("expected an error");
  return result.error;
}

const first: expo.Load = {
  ...expo.IDLE,
  waiting: 2,
  running: 5,
  kv: 0.2,
  promptTokens: 1000,
  generationTokens: 3000,
  requests: 10,
};
const later: expo.Load = {
  waiting: 4,
  running: 6,
  kv: 0.6,
  promptTokens: 1000 + 15 * 100,
  generationTokens: 3000 + 15 * 300,
  requests: 10 + 15 * 2,
  ttft: [10, 18, 20, 20],
  itl: [100, 900, 990, 1000],
};

describe("pod scrape source", () => {
  it("reads gauges on the first scrape, and rates and quantiles from the second", async () => {
    const { pods, port } = await startPods(2);
    for (const p of pods) p.reply = { body: expo.vllm(first) };
    const source = createPodScrapeSource({ intervalMs: INTERVAL });
    const service = svc("vllm", pods, port);

    const s1 = ok((await source.fetchSignals([service], T0)).get("team/llama"));
    expect(s1).toEqual({
      observedAtMs: T0,
      replicasReporting: 2,
      queueDepth: 4,
      queuedReplicas: 2,
      podQueues: [2, 2],
      runningRequests: 10,
      kvCacheUtilization: 0.2,
    });

    for (const p of pods) p.reply = { body: expo.vllm(later) };
    const s2 = ok((await source.fetchSignals([service], T0 + INTERVAL)).get("team/llama"));
    expect(s2.replicasReporting).toBe(2);
    expect(s2.queueDepth).toBe(8);
    expect(s2.kvCacheUtilization).toBeCloseTo(0.6, 12);
    expect(s2.promptTokensPerSecond).toBeCloseTo(200, 9);
    expect(s2.generationTokensPerSecond).toBeCloseTo(600, 9);
    expect(s2.arrivalRate).toBeCloseTo(4, 9);
    // 40 TTFT observations: rank 38 in (0.5, 1] holding 4 (36..40).
    expect(s2.ttftSeconds).toBeCloseTo(0.5 + 0.5 * (2 / 4), 9);
    // 2000 ITL observations: rank 1900 in (0.05, 0.1] holding 180 (1800..1980).
    expect(s2.itlSeconds).toBeCloseTo(0.05 + 0.05 * (100 / 180), 9);
    expect(pods.every((p) => p.hits === 2)).toBe(true);
  });

  it("counts a restarted server's counters from zero", async () => {
    const { pods, port } = await startPods(1);
    const source = createPodScrapeSource({ intervalMs: INTERVAL });
    const service = svc("sglang", pods, port);
    pods[0]!.reply = { body: expo.sglang({ ...first, requests: 500 }) };
    await source.fetchSignals([service], T0);
    pods[0]!.reply = { body: expo.sglang({ ...first, requests: 30 }) };
    const s = ok((await source.fetchSignals([service], T0 + INTERVAL)).get("team/llama"));
    expect(s.arrivalRate).toBeCloseTo(2, 9);
  });

  it("leaves a failing pod out of the round and still gets its rate after the gap", async () => {
    const { pods, port } = await startPods(2);
    const source = createPodScrapeSource({ intervalMs: INTERVAL });
    const service = svc("tgi", pods, port);
    for (const p of pods) p.reply = { body: expo.tgi(first) };
    await source.fetchSignals([service], T0);

    pods[1]!.reply = { status: 500, body: "boom" };
    const s2 = ok((await source.fetchSignals([service], T0 + INTERVAL)).get("team/llama"));
    expect(s2.replicasReporting).toBe(1);
    expect(s2.queueDepth).toBe(2);

    for (const p of pods) p.reply = { body: expo.tgi(later) };
    const s3 = ok((await source.fetchSignals([service], T0 + 2 * INTERVAL)).get("team/llama"));
    expect(s3.replicasReporting).toBe(2);
    // Rates run over the readings of the rate window (60 s): both pods gained 30 requests in 30 s, pod 0
    // over three readings, pod 1 over its two good ones either side of the failure.
    expect(s3.arrivalRate).toBeCloseTo(30 / 30 + 30 / 30, 9);
  });

  it("errors when every pod fails, saying which and why", async () => {
    const { pods, port } = await startPods(2, "/metrics");
    const source = createPodScrapeSource();
    const e = err((await source.fetchSignals([svc("sglang", pods, port, "/stats")], T0)).get("team/llama"));
    expect(e.code).toBe(SignalsErrorCode.ScrapeFailed);
    expect(e.message).toContain("all 2 pods failed");
    expect(e.message).toContain("HTTP 404");
    expect(e.message).toContain("sglang metrics enabled");
  });

  it("times out pods that do not answer", async () => {
    const { pods, port } = await startPods(1);
    pods[0]!.reply = { hang: true };
    const e = err(
      (await createPodScrapeSource({ timeoutMs: 150 }).fetchSignals([svc("vllm", pods, port)], T0)).get(
        "team/llama",
      ),
    );
    expect(e.code).toBe(SignalsErrorCode.Timeout);
  });

  it("treats an answer without the runtime's metrics as a failure, naming the likely mistake", async () => {
    const { pods, port } = await startPods(1);
    pods[0]!.reply = { body: expo.vllm(first) };
    const e = err(
      (await createPodScrapeSource().fetchSignals([svc("llamacpp", pods, port)], T0)).get("team/llama"),
    );
    expect(e.code).toBe(SignalsErrorCode.ScrapeFailed);
    expect(e.message).toContain("no llamacpp metrics");
    expect(e.message).toContain("spec.model.server");
  });

  it("refuses a body larger than the limit", async () => {
    const { pods, port } = await startPods(1);
    pods[0]!.reply = { body: `${expo.vllm(first)}${"# padding\n".repeat(500)}` };
    const e = err(
      (await createPodScrapeSource({ maxBodyBytes: 2048 }).fetchSignals([svc("vllm", pods, port)], T0)).get(
        "team/llama",
      ),
    );
    expect(e.message).toContain("larger than 2048 bytes");
  });

  it("cuts off a body that trickles in forever at the timeout; the other pods are read", async () => {
    const { pods, port } = await startPods(2);
    const [stuck, healthy] = pods as [FakePod, FakePod];
    // Headers at once, then a valid line every 50 ms, never ending: a read that waits for the end never
    // returns, and one that timed out the headers only never stops.
    const dropped = new Promise<void>((onClose) => {
      stuck.reply = { stream: { chunk: "vllm:num_requests_waiting 1\n", everyMs: 50, onClose } };
    });
    healthy.reply = { body: expo.vllm(first) };
    const alone = { ...svc("vllm", [stuck], port), key: "team/stuck", name: "stuck" };
    const both = svc("vllm", [stuck, healthy], port);

    const out = await createPodScrapeSource({ timeoutMs: 1000 }).fetchSignals([alone, both], T0);
    const e = err(out.get("team/stuck"));
    expect(e.code).toBe(SignalsErrorCode.Timeout);
    expect(e.message).toContain("scraping pod team/pod-0");
    expect(e.message).toContain("did not end within 1000 ms");
    // In a service with a healthy pod, the stuck one is left out of the round: the signals are the other's.
    const s = ok(out.get("team/llama"));
    expect(s.replicasReporting).toBe(1);
    expect(s.queueDepth).toBe(first.waiting);
    expect(s.runningRequests).toBe(first.running);
    await dropped; // the connection is closed, not left reading in the background
  });

  it("cuts off a body of no announced length that never ends at maxBodyBytes", async () => {
    const { pods, port } = await startPods(1);
    const dropped = new Promise<void>((onClose) => {
      // Chunked, as fast as the operator reads; a timeout far off, so only the size can stop it.
      pods[0]!.reply = { stream: { chunk: "vllm:num_requests_waiting 1\n".repeat(64), everyMs: 0, onClose } };
    });
    const source = createPodScrapeSource({ maxBodyBytes: 4096, timeoutMs: 60_000 });
    const e = err((await source.fetchSignals([svc("vllm", pods, port)], T0)).get("team/llama"));
    expect(e.code).toBe(SignalsErrorCode.ScrapeFailed);
    expect(e.message).toContain("larger than 4096 bytes");
    await dropped;
  });

  it("scrapes at most `concurrency` pods at once", async () => {
    const { pods, port, load } = await startPods(6);
    for (const p of pods) {
      p.reply = { body: expo.llamacpp(first) };
      p.delayMs = 30; // so that scrapes overlap
    }
    const s = ok(
      (await createPodScrapeSource({ concurrency: 2 }).fetchSignals([svc("llamacpp", pods, port)], T0)).get(
        "team/llama",
      ),
    );
    expect(s.replicasReporting).toBe(6);
    expect(load.peak).toBe(2);
  });

  it("says nothing for a service without ready pods, and refuses custom", async () => {
    const source = createPodScrapeSource();
    const none = { ...svc("vllm", [], 8000), key: "team/none" };
    const custom = { ...svc("custom", [], 8000), key: "team/custom" };
    const out = await source.fetchSignals([none, custom], T0);
    expect(ok(out.get("team/none"))).toEqual({ observedAtMs: T0, replicasReporting: 0 });
    expect(err(out.get("team/custom")).code).toBe(SignalsErrorCode.NoAdapter);
  });

  it("forgets pods that left the service", async () => {
    const { pods, port } = await startPods(3);
    for (const p of pods) p.reply = { body: expo.vllm(first) };
    const source = createPodScrapeSource();
    await source.fetchSignals([svc("vllm", pods, port)], T0);
    expect(source.memorySize()).toBe(3);
    await source.fetchSignals([svc("vllm", pods.slice(0, 1), port)], T0 + INTERVAL);
    expect(source.memorySize()).toBe(1);
    await source.fetchSignals([], T0 + 100 * INTERVAL);
    expect(source.memorySize()).toBe(0);
  });
});

describe("podMetricsURL", () => {
  it.each([
    ["10.1.2.3", 8000, "/metrics", "http://10.1.2.3:8000/metrics"],
    ["fd00::1", 9400, "/metrics", "http://[fd00::1]:9400/metrics"],
    ["10.1.2.3", 8000, "stats", "http://10.1.2.3:8000/stats"],
  ])("%s:%d%s", (ip, port, path, want) => {
    expect(podMetricsURL("http", ip, port, path)).toBe(want);
  });
});
