// Signals end to end: a real Prometheus scrapes an emitter of vLLM-format metrics; raising its queue makes
// the operator scale the Deployment on the real control plane; stopping the emitter holds replicas. The
// Prometheus source also reads the TTFT and per-request ITL histograms whole, with the share of slow requests.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { inferenceServiceSpecSchema } from "../../operator/src/apis/inferenceservice.ts";
import type { KubeClient, KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { requestSize } from "../../operator/src/planning/recommend.ts";
import type { HistogramBuckets } from "../../operator/src/planning/types.ts";
import { ITL_BUCKETS, TTFT_BUCKETS } from "../../operator/src/serving/metrics.ts";
import { createPrometheusSource } from "../../operator/src/signals/sources/prometheus.ts";
import { serviceRef } from "../../operator/src/signals/sources/types.ts";
import { fractionAbove } from "../../operator/src/signals/window.ts";
import { kubectl } from "../helpers/cluster.ts";
import {
  type Emitter,
  GENERATED_TOKENS_PER_SECOND,
  PROMPT_TOKENS_PER_SECOND,
  startVllmEmitter,
} from "../helpers/emitter.ts";
import { type EmitterRig, startEmitterRig } from "../helpers/emitter-rig.ts";
import { eventually } from "../helpers/eventually.ts";
import { inferenceService } from "../helpers/objects.ts";
import type { OperatorProcess } from "../helpers/operator.ts";
import { type PrometheusProcess, startPrometheus } from "../helpers/prometheus.ts";
import { integrationSuite } from "../helpers/suite.ts";

integrationSuite("signals", () => {
  const NS = "it-signals";
  const POOL = "it-sig-h100";
  const SVC = "chat";
  const DEPLOY = `${SVC}-${POOL}`;

  let admin: KubeClient;
  let emitter: Emitter;
  let prometheus: PrometheusProcess;
  let operator: OperatorProcess;

  type Svc = KubeObject & {
    status?: {
      desiredReplicas?: number;
      signals?: { queueDepth?: number };
      lastDecision?: { reason: string };
      conditions?: { type: string; status: string; reason: string }[];
    };
  };
  const replicas = async () =>
    (
      await admin.get<KubeObject & { spec: { replicas: number } }>(
        pathFor(R.deployments, { namespace: NS, name: DEPLOY }),
      )
    ).spec.replicas;
  const status = async () =>
    (await admin.get<Svc>(pathFor(R.inferenceServices, { namespace: NS, name: SVC }))).status;
  const condition = async (type: string) => (await status())?.conditions?.find((c) => c.type === type);

  let rig: EmitterRig | undefined;

  beforeAll(async () => {
    rig = await startEmitterRig({
      ns: NS,
      pool: POOL,
      svc: SVC,
      nodePrefix: "it-sig",
      identity: "op-signals",
    });
    ({ admin, emitter, prometheus, operator } = rig);
    await admin.apply(
      pathFor(R.inferenceServices, { namespace: NS, name: SVC }),
      inferenceService(SVC, NS, {
        // No performance profile: the queue view alone decides, as for a model nobody has profiled yet.
        accelerators: [{ pool: POOL }],
        scaling: { minReplicas: 1, maxReplicas: 8, targets: { queueDepthPerReplica: 4 }, leadTimeSeconds: 0 },
      }),
    );
  });

  afterAll(async () => {
    await rig?.stop();
  });

  describe("signals through a real Prometheus", () => {
    it("Prometheus serves the emitter's series with the service's labels", async () => {
      await eventually(async () => {
        const result = await prometheus.query("vllm:num_requests_waiting");
        expect(result[0]?.metric).toMatchObject({ namespace: NS, inferops_service: SVC });
      });
    });

    it("an idle service stays at its floor with fresh metrics", async () => {
      await eventually(async () =>
        expect(await condition("MetricsAvailable")).toMatchObject({ status: "True" }),
      );
      expect(await replicas()).toBe(1);
    });

    it("a growing queue scales the Deployment up", async () => {
      emitter.set({ waiting: 40, running: 30 });
      await eventually(async () => expect(await replicas()).toBeGreaterThanOrEqual(4), { timeoutMs: 90_000 });
      await eventually(async () => {
        const s = await status();
        expect(s?.signals?.queueDepth ?? -1, JSON.stringify(s)).toBeGreaterThan(0);
        expect(s?.desiredReplicas).toBeGreaterThan(1);
        expect(s?.lastDecision?.reason).toMatch(/QueueDepth|ScaleUpLimit|PanicMode|AtMaxReplicas/);
      });
    });

    it("the TTFT and per-request ITL histograms arrive whole, with the share of slow requests", async () => {
      // A pod of its own, slow from its first request, scraped by a Prometheus of its own. Its 1m window never
      // mixes shares, as the shared pod's would for a minute after set({ slowShare }), and the operator's
      // service is left alone. The share is a ratio of bucket increases over the same samples, so
      // increase()'s extrapolation scales numerator and denominator alike.
      const SLOW_SHARE = 0.25;
      const LATENCY_SVC = "latency";
      const POD = `${LATENCY_SVC}-fake-0`;
      const pod = await startVllmEmitter(undefined, { slowShare: SLOW_SHARE, requestsPerSecond: 20 });
      let prom: PrometheusProcess | undefined;
      try {
        prom = await startPrometheus([
          { address: pod.address, labels: { namespace: NS, inferops_service: LATENCY_SVC, pod: POD } },
        ]);
        // As the planner builds it: the parsed spec (metrics defaulted) and the service's ready pods.
        const spec = inferenceServiceSpecSchema.parse({
          model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
          template: { spec: { containers: [{ name: "vllm", image: "vllm/vllm-openai:v0.11.0" }] } },
          accelerators: [{ pool: POOL }],
        });
        const ref = serviceRef(NS, LATENCY_SVC, spec, [{ name: POD, ip: "127.0.0.1", variant: POOL }]);
        expect(ref).toMatchObject({
          key: `${NS}/${LATENCY_SVC}`,
          server: "vllm",
          metrics: { source: "prometheus" },
        });
        const source = createPrometheusSource({ url: prom.url });
        const expectCumulative = (h: HistogramBuckets | undefined, bounds: readonly number[]) => {
          expect(h).toBeDefined();
          if (!h) return;
          expect(h.map((b) => b.le)).toEqual([...bounds, Number.POSITIVE_INFINITY]);
          for (let i = 1; i < h.length; i++) {
            expect(h[i]!.le).toBeGreaterThan(h[i - 1]!.le);
            expect(h[i]!.count).toBeGreaterThanOrEqual(h[i - 1]!.count);
          }
          expect(h.at(-1)!.count).toBeGreaterThan(0);
        };
        // Scrapes every second: two samples in the window after a few seconds.
        await eventually(
          async () => {
            const result = (await source.fetchSignals([ref], Date.now())).get(ref.key);
            if (!result?.ok) throw new Error(`no signals: ${result ? result.error.message : "no entry"}`);
            const { ttftHistogram, requestItlHistogram, replicasReporting } = result.signals;
            expect(replicasReporting).toBe(1);
            expectCumulative(ttftHistogram, TTFT_BUCKETS);
            expectCumulative(requestItlHistogram, ITL_BUCKETS);
            const ttftSlow = fractionAbove(2, { buckets: ttftHistogram ?? [] });
            const itlSlow = fractionAbove(0.1, { buckets: requestItlHistogram ?? [] });
            expect(ttftSlow).toBeDefined();
            expect(itlSlow).toBeDefined();
            expect(Math.abs((ttftSlow ?? -1) - SLOW_SHARE), `TTFT share ${ttftSlow}`).toBeLessThanOrEqual(
              0.05,
            );
            expect(Math.abs((itlSlow ?? -1) - SLOW_SHARE), `ITL share ${itlSlow}`).toBeLessThanOrEqual(0.05);
            // The finished requests' size, from vLLM's per-request token histograms: what the planner takes
            // as the mean request (recommend.ts requestSize()), whatever the token counters say.
            const size = requestSize(undefined, result.signals);
            expect(result.signals.finishedRequestsPerSecond).toBeGreaterThan(0);
            expect(size?.prompt).toBeCloseTo(PROMPT_TOKENS_PER_SECOND / 20, 6);
            expect(size?.output).toBeCloseTo(GENERATED_TOKENS_PER_SECOND / 20, 6);
          },
          { timeoutMs: 60_000, intervalMs: 1000 },
        );
      } finally {
        await prom?.stop();
        await pod.close();
      }
    });

    it("a pod that reports a negative queue is left out of the service's queue, its other signals kept", async () => {
      // Two pods of a service of their own: one sane, one whose exporter says -3 waiting (docs/signals.md,
      // "Malformed metric text"). The Prometheus source's query leaves the negative pod's queue out, as the
      // pod scraper does, instead of summing 5 - 3.
      const GARBAGE_SVC = "garbage";
      const sane = await startVllmEmitter();
      const broken = await startVllmEmitter();
      sane.set({ waiting: 5, running: 10 });
      broken.set({ waiting: -3, running: 20 });
      let prom: PrometheusProcess | undefined;
      try {
        prom = await startPrometheus(
          [sane, broken].map((e, i) => ({
            address: e.address,
            labels: { namespace: NS, inferops_service: GARBAGE_SVC, pod: `${GARBAGE_SVC}-fake-${i}` },
          })),
        );
        const spec = inferenceServiceSpecSchema.parse({
          model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
          template: { spec: { containers: [{ name: "vllm", image: "vllm/vllm-openai:v0.11.0" }] } },
          accelerators: [{ pool: POOL }],
        });
        const ref = serviceRef(NS, GARBAGE_SVC, spec, [
          { name: `${GARBAGE_SVC}-fake-0`, ip: "127.0.0.1", variant: POOL },
          { name: `${GARBAGE_SVC}-fake-1`, ip: "127.0.0.1", variant: POOL },
        ]);
        const source = createPrometheusSource({ url: prom.url });
        await eventually(
          async () => {
            const result = (await source.fetchSignals([ref], Date.now())).get(ref.key);
            if (!result?.ok) throw new Error(`no signals: ${result ? result.error.message : "no entry"}`);
            expect(result.signals.replicasReporting).toBe(2);
            expect(result.signals.queueDepth).toBe(5);
            // Each queueing pod's queue, as the planner's queue view reads how a backlog is spread.
            expect(result.signals.queuedReplicas).toBe(1);
            expect(result.signals.podQueues).toEqual([5]);
            expect(result.signals.runningRequests).toBe(30);
          },
          { timeoutMs: 60_000, intervalMs: 1000 },
        );
      } finally {
        await prom?.stop();
        await sane.close();
        await broken.close();
      }
    });

    it("stopping the emitter holds replicas: MetricsAvailable=False, never a scale-down", async () => {
      const before = await replicas();
      await emitter.close();
      await eventually(
        async () => expect(await condition("MetricsAvailable")).toMatchObject({ status: "False" }),
        { timeoutMs: 60_000 },
      );
      // Several more evaluations with the metrics gone: replicas never drop.
      const reconciles = await operator.counter("inferops_reconcile_total", { outcome: "success" });
      await eventually(
        async () =>
          expect(await operator.counter("inferops_reconcile_total", { outcome: "success" })).toBeGreaterThan(
            reconciles + 5,
          ),
        { timeoutMs: 60_000 },
      );
      expect(await replicas()).toBeGreaterThanOrEqual(before);
      // The hold is announced as an event on the service.
      const events = kubectl(inject("adminKubeconfig"), [
        "get",
        "events.events.k8s.io",
        "-n",
        NS,
        "-o",
        "jsonpath={.items[*].reason}",
      ]);
      expect(events).toMatch(/Metrics(Missing|Stale)/);
    });
  });
});
