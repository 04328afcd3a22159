// Load benchmark: N InferenceServices (Auto, metrics through a real Prometheus) on a kwok GPUNodePool that
// the operator scales, under load that changes for --minutes, then held still for --steady-minutes.
// Measures the operator's reconcile latency (p50/p99 per controller), the time from an evaluation to the
// Deployment write that applies its decision (p50/p99), its API requests per second by verb, its RSS over
// time, and its API writes per minute once nothing changes (target: 0).
//
// The model servers are one exporter in this process: each Ready pod of a service gets its share of the
// service's demand and serves it with a simple queue (capacity per replica, a backlog that grows past it,
// TTFT rising with utilisation and the backlog), exposing vLLM's metric names with the `namespace`,
// `inferops_service` and `pod` labels docs/signals.md expects. Prometheus scrapes that one target.
//
//   node bench/load.ts [--services 1000] [--namespaces 10] [--max-nodes 250] [--minutes 30]
//                      [--steady-minutes 10] [--out bench/results/load.json]
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { LABEL_SERVICE } from "../operator/src/apis/labels.ts";
import { KubeClient, type KubeObject } from "../operator/src/kube/client.ts";
import { Informer } from "../operator/src/kube/informer.ts";
import { pathFor, R } from "../operator/src/kube/resources.ts";
import { mulberry32 } from "../operator/src/serving/workload.ts";
import { clusterDown, clusterUp, installInferops, kubectl } from "../test/helpers/cluster.ts";
import { ROOT } from "../test/helpers/fixtures.ts";
import { gpuNodePool } from "../test/helpers/objects.ts";
import { startOperatorProcess } from "../test/helpers/operator.ts";
import { startPrometheus } from "../test/helpers/prometheus.ts";

const { values } = parseArgs({
  options: {
    services: { type: "string", default: "1000" },
    namespaces: { type: "string", default: "10" },
    "max-nodes": { type: "string", default: "250" },
    minutes: { type: "string", default: "30" },
    "steady-minutes": { type: "string", default: "10" },
    /** Seconds between samples of the operator's metrics and RSS. */
    sample: { type: "string", default: "30" },
    seed: { type: "string", default: "1" },
    /** The operator's debug log (every decision with its signals), one JSON line each, to this file. */
    "operator-log": { type: "string" },
    out: { type: "string", default: join(ROOT, "bench", "results", "load.json") },
  },
});
const N = Number(values.services);
const NAMESPACES = Number(values.namespaces);
const MAX_NODES = Number(values["max-nodes"]);
const LOAD_S = Number(values.minutes) * 60;
const STEADY_S = Number(values["steady-minutes"]) * 60;
const SAMPLE_S = Number(values.sample);
const POOL = "load-l4";
const GPUS_PER_NODE = 8;
/** Tokens per second one replica serves at the SLO (the spec's profile says the same). */
const CAPACITY = 2300;
/** Tokens per request (600 prompt, 200 generated) and the share of them that are prompt tokens. */
const TOKENS_PER_REQUEST = 800;
const PROMPT_SHARE = 0.75;
const TTFT_BUCKETS = [0.25, 0.5, 1, 2, 2.5, 5, 10];
const ITL_BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.5];

for (const [name, v] of Object.entries({ services: N, namespaces: NAMESPACES, "max-nodes": MAX_NODES }))
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${name} must be a whole number above 0`);

// ---- Demand: per service, in replicas of load (multiples of CAPACITY at 100%) ----------------------------

interface ServiceLoad {
  namespace: string;
  name: string;
  base: number;
  amplitude: number;
  periodS: number;
  phase: number;
  /** A step to 2.5x the level for five minutes, from this second (some services only). */
  stepAtS?: number;
}

const rand = mulberry32(Number(values.seed));
const services: ServiceLoad[] = Array.from({ length: N }, (_, i) => ({
  namespace: `load-${i % NAMESPACES}`,
  name: `svc-${String(i).padStart(4, "0")}`,
  base: 0.2 + rand() * 0.7,
  amplitude: 0.2 + rand() * 0.5,
  periodS: (8 + rand() * 16) * 60,
  phase: rand() * 2 * Math.PI,
  ...(rand() < 0.1 ? { stepAtS: 120 + rand() * Math.max(0, LOAD_S - 420) } : {}),
}));

/** Replicas of load a service gets `t` seconds into the run; after the changing phase, its level then. */
function demand(s: ServiceLoad, t: number): number {
  const at = Math.min(t, LOAD_S);
  const wave = s.base * (1 + s.amplitude * Math.sin((2 * Math.PI * at) / s.periodS + s.phase));
  const step = s.stepAtS !== undefined && at >= s.stepAtS && at < s.stepAtS + 300 ? 2.5 : 1;
  return wave * step;
}

// ---- The model servers: one queue per Ready pod ---------------------------------------------------------

interface PodState {
  service: ServiceLoad;
  name: string;
  backlog: number;
  success: number;
  promptTokens: number;
  generationTokens: number;
  ttft: number[];
  ttftSum: number;
  itl: number[];
  itlSum: number;
  running: number;
  kv: number;
}

const pods = new Map<string, PodState>();
const bucketOf = (bounds: number[], v: number) => {
  const i = bounds.findIndex((b) => v <= b);
  return i === -1 ? bounds.length : i;
};

/** One second of serving: each Ready pod takes its share of its service's demand. */
function serve(t: number, dt: number): void {
  const byService = new Map<ServiceLoad, PodState[]>();
  for (const p of pods.values()) byService.set(p.service, [...(byService.get(p.service) ?? []), p]);
  for (const [svc, list] of byService) {
    const arriving = (demand(svc, t) * CAPACITY) / list.length; // tokens/s per pod
    const rho = Math.min(1, arriving / CAPACITY);
    for (const p of list) {
      const work = arriving * dt + p.backlog * TOKENS_PER_REQUEST;
      const done = Math.min(CAPACITY * dt, work);
      const waitS = (p.backlog * TOKENS_PER_REQUEST) / CAPACITY;
      p.backlog = (work - done) / TOKENS_PER_REQUEST;
      const n = done / TOKENS_PER_REQUEST;
      p.success += n;
      p.promptTokens += done * PROMPT_SHARE;
      p.generationTokens += done * (1 - PROMPT_SHARE);
      const ttft = 0.25 + 1.2 * rho ** 8 + waitS;
      const itl = 0.02 + 0.06 * rho ** 4;
      p.ttft[bucketOf(TTFT_BUCKETS, ttft)]! += n;
      p.ttftSum += n * ttft;
      p.itl[bucketOf(ITL_BUCKETS, itl)]! += n;
      p.itlSum += n * itl;
      p.running = Math.round(rho * 48);
      p.kv = rho * 0.9;
    }
  }
}

function exposition(): string {
  const out: string[] = [];
  const family = (name: string, type: string, line: (p: PodState, l: string) => string[]) => {
    out.push(`# TYPE ${name} ${type}`);
    for (const p of pods.values()) {
      const l = `namespace="${p.service.namespace}",inferops_service="${p.service.name}",pod="${p.name}",model_name="llama"`;
      out.push(...line(p, l));
    }
  };
  const histogram = (
    name: string,
    bounds: number[],
    counts: (p: PodState) => number[],
    sum: (p: PodState) => number,
  ) =>
    family(name, "histogram", (p, l) => {
      let acc = 0;
      const lines = bounds.map((b, i) => {
        acc += counts(p)[i]!;
        return `${name}_bucket{${l},le="${b}"} ${acc}`;
      });
      acc += counts(p)[bounds.length]!;
      return [
        ...lines,
        `${name}_bucket{${l},le="+Inf"} ${acc}`,
        `${name}_sum{${l}} ${sum(p)}`,
        `${name}_count{${l}} ${acc}`,
      ];
    });
  family("vllm:num_requests_waiting", "gauge", (p, l) => [
    `vllm:num_requests_waiting{${l}} ${Math.round(p.backlog)}`,
  ]);
  family("vllm:num_requests_running", "gauge", (p, l) => [`vllm:num_requests_running{${l}} ${p.running}`]);
  family("vllm:kv_cache_usage_perc", "gauge", (p, l) => [
    `vllm:kv_cache_usage_perc{${l}} ${p.kv.toFixed(3)}`,
  ]);
  family("vllm:request_success_total", "counter", (p, l) => [
    `vllm:request_success_total{${l}} ${p.success}`,
  ]);
  family("vllm:prompt_tokens_total", "counter", (p, l) => [
    `vllm:prompt_tokens_total{${l}} ${p.promptTokens}`,
  ]);
  family("vllm:generation_tokens_total", "counter", (p, l) => [
    `vllm:generation_tokens_total{${l}} ${p.generationTokens}`,
  ]);
  histogram(
    "vllm:time_to_first_token_seconds",
    TTFT_BUCKETS,
    (p) => p.ttft,
    (p) => p.ttftSum,
  );
  histogram(
    "vllm:inter_token_latency_seconds",
    ITL_BUCKETS,
    (p) => p.itl,
    (p) => p.itlSum,
  );
  return `${out.join("\n")}\n`;
}

// ---- What is measured -----------------------------------------------------------------------------------

interface Sample {
  /** Seconds since the load started (negative: the cold start before it). */
  t: number;
  rssMiB: number;
  /** The operator's API requests so far, by "VERB resource". */
  requests: Record<string, number>;
  reconcile: Record<string, Histogram>;
  actuation: Histogram;
  /** Counters: replica changes applied, and the pool's node operations by operation. */
  counts: Record<string, number>;
  pods: number;
  nodes: number;
}
/** A cumulative Prometheus histogram: upper bounds with their cumulative counts, and the count. */
interface Histogram {
  buckets: [number, number][];
  count: number;
}

const labelsOf = (text: string) =>
  Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));

function histograms(text: string, name: string, by?: string): Record<string, Histogram> {
  const out: Record<string, Histogram> = {};
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{(.*)\\} (\\S+)$`, "gm"))) {
    const l = labelsOf(m[1]!);
    const key = by ? (l[by] ?? "") : "";
    const h = out[key] ?? { buckets: [], count: 0 };
    out[key] = h;
    const le = l.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(l.le);
    h.buckets.push([le, Number(m[2])]);
    if (le === Number.POSITIVE_INFINITY) h.count = Number(m[2]);
  }
  return out;
}

/** Replica changes applied, and the pool's node operations by operation, so far. */
function counters(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^inferops_scaling_decisions_total\{(.*)\} (\S+)$/gm)) {
    const k = `scaled ${labelsOf(m[1]!).direction}`;
    out[k] = (out[k] ?? 0) + Number(m[2]);
  }
  for (const m of text.matchAll(/^inferops_pool_node_operations_total\{(.*)\} (\S+)$/gm)) {
    const k = `node ${labelsOf(m[1]!).operation}`;
    out[k] = (out[k] ?? 0) + Number(m[2]);
  }
  return out;
}

function diff(a: Histogram | undefined, b: Histogram): Histogram {
  return {
    buckets: b.buckets.map(([le, c], i) => [le, c - (a?.buckets[i]?.[1] ?? 0)]),
    count: b.count - (a?.count ?? 0),
  };
}

/** The q-quantile of a histogram, interpolated within its bucket as PromQL's histogram_quantile does. */
function quantile(h: Histogram, q: number): number | undefined {
  if (h.count === 0) return undefined;
  const rank = q * h.count;
  let lower = 0;
  let below = 0;
  for (const [le, c] of h.buckets) {
    if (c >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(c - below, 1e-9);
    }
    lower = le;
    below = c;
  }
  return lower;
}

/**
 * The status fields that differ between two statuses: top-level keys, with the signals', lastDecision's and
 * each condition's own fields named ("signals arrivalRate", "lastDecision reason", "conditions Ready
 * message").
 */
function statusFieldsChanged(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (same(a[k], b[k])) continue;
    if (k === "lastDecision") {
      const x = (a[k] ?? {}) as Record<string, unknown>;
      const y = (b[k] ?? {}) as Record<string, unknown>;
      for (const f of ["replicas", "reason", "message"]) if (!same(x[f], y[f])) out.push(`lastDecision ${f}`);
    } else if (k === "signals") {
      const x = (a[k] ?? {}) as Record<string, unknown>;
      const y = (b[k] ?? {}) as Record<string, unknown>;
      for (const f of new Set([...Object.keys(x), ...Object.keys(y)]))
        if (f !== "observedAt" && !same(x[f], y[f])) out.push(`signals ${f}`);
    } else if (k === "conditions") {
      type C = { type: string; status?: string; reason?: string; message?: string };
      const byType = (l: unknown) => new Map(((l ?? []) as C[]).map((c) => [c.type, c]));
      const x = byType(a[k]);
      const y = byType(b[k]);
      for (const t of new Set([...x.keys(), ...y.keys()]))
        for (const f of ["status", "reason", "message"] as const)
          if (!same(x.get(t)?.[f], y.get(t)?.[f])) out.push(`conditions ${t} ${f}`);
    } else out.push(k);
  }
  return out;
}

const ms = (s: number | undefined) => (s === undefined ? undefined : Math.round(s * 10_000) / 10);
const round1 = (x: number) => Math.round(x * 10) / 10;
const rssMiB = (pid: number) =>
  Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) / 1024;
const isReady = (p: KubeObject) =>
  ((p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some(
    (c) => c.type === "Ready" && c.status === "True",
  );

const cluster = clusterUp(mkdtempSync(join(tmpdir(), "inferops-load-")));
const stops: (() => Promise<unknown> | unknown)[] = [];
try {
  const cfg = cluster.adminKubeconfig;
  installInferops(cfg);
  for (let i = 0; i < NAMESPACES; i++) kubectl(cfg, ["create", "namespace", `load-${i}`]);
  const admin = await KubeClient.create(cfg);
  stops.push(() => admin.close());
  await admin.apply(
    pathFor(R.gpuNodePools, { name: POOL }),
    gpuNodePool(POOL, {
      gpu: { type: "nvidia-l4", count: GPUS_PER_NODE, memoryGiB: 24 },
      power: { busyWattsPerGPU: 72, idleWattsPerGPU: 16 },
      costPerNodeHour: 6.44,
      minNodes: 0,
      maxNodes: MAX_NODES,
      provisioningSeconds: 30,
      provider: { type: "kwok" },
    }),
  );

  // The exporter and Prometheus.
  const quiet = pino({ level: "silent" });
  const podCache = new Informer(admin, R.pods, quiet, { labelSelector: LABEL_SERVICE });
  const nodeCache = new Informer(admin, R.nodes, quiet);
  const svcCache = new Informer(admin, R.inferenceServices, quiet);
  // What each status write changed, so a still minute's writes can be read apart: "signals" (one moved past
  // its tolerance), "lastDecision reason" / "lastDecision replicas", "conditions Ready", and so on.
  const statusOf = new Map<string, Record<string, unknown>>();
  const statusChanges: { t: number; what: string[] }[] = [];
  svcCache.on((o, kind) => {
    const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
    const now = ((o as { status?: Record<string, unknown> }).status ?? {}) as Record<string, unknown>;
    const before = statusOf.get(key);
    statusOf.set(key, now);
    if (kind !== "update" || !before) return;
    const what = statusFieldsChanged(before, now);
    if (what.length > 0) statusChanges.push({ t: since(), what });
  });
  await Promise.all([podCache.start(), nodeCache.start(), svcCache.start()]);
  stops.push(() => Promise.all([podCache.stop(), nodeCache.stop(), svcCache.stop()]));
  const byKey = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const syncPods = () => {
    const seen = new Set<string>();
    for (const p of podCache.list()) {
      const svc = byKey.get(`${p.metadata?.namespace}/${p.metadata?.labels?.[LABEL_SERVICE]}`);
      if (!svc || !isReady(p) || p.metadata?.deletionTimestamp) continue;
      const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
      seen.add(key);
      if (!pods.has(key))
        pods.set(key, {
          service: svc,
          name: p.metadata?.name ?? "",
          backlog: 0,
          success: 0,
          promptTokens: 0,
          generationTokens: 0,
          ttft: new Array(TTFT_BUCKETS.length + 1).fill(0),
          ttftSum: 0,
          itl: new Array(ITL_BUCKETS.length + 1).fill(0),
          itlSum: 0,
          running: 0,
          kv: 0,
        });
    }
    // A pod that goes takes its backlog with it (as a real server's would be lost or retried elsewhere).
    for (const key of pods.keys()) if (!seen.has(key)) pods.delete(key);
  };
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(exposition());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  stops.push(() => new Promise((r) => server.close(r)));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  const prometheus = await startPrometheus([{ address: `127.0.0.1:${address.port}`, labels: {} }], {
    scrapeIntervalSeconds: 10,
  });
  stops.push(() => prometheus.stop());

  let loadStart = performance.now();
  const since = () => (performance.now() - loadStart) / 1000;
  let last = since();
  const serving = setInterval(() => {
    syncPods();
    const t = since();
    serve(t, t - last);
    last = t;
  }, 1000);
  stops.push(() => clearInterval(serving));

  // The services, then the operator: a cold start, then the load.
  await Promise.all(
    services.map((s) =>
      admin.apply(pathFor(R.inferenceServices, { namespace: s.namespace, name: s.name }), {
        apiVersion: "inferops.dev/v1alpha1",
        kind: "InferenceService",
        metadata: { name: s.name, namespace: s.namespace },
        spec: {
          model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
          template: { spec: { containers: [{ name: "vllm", image: "vllm/vllm-openai:v0.11.0" }] } },
          accelerators: [{ pool: POOL, gpusPerReplica: 1, profile: { maxTokensPerSecond: CAPACITY } }],
          scaling: { minReplicas: 1, maxReplicas: 8, targets: { ttftSeconds: 2, itlSeconds: 0.1 } },
          metrics: { source: "prometheus" },
          service: { headless: true },
        },
      }),
    ),
  );
  console.error(
    `created ${N} InferenceServices in ${NAMESPACES} namespaces; pool ${POOL} up to ${MAX_NODES} nodes`,
  );
  const op = await startOperatorProcess({
    kubeconfig: cluster.operatorKubeconfig,
    identity: "load",
    interval: "10s",
    extraArgs: ["--log-level", values["operator-log"] ? "debug" : "info", "--prometheus-url", prometheus.url],
    ...(values["operator-log"] ? { logFile: values["operator-log"] } : {}),
  });
  stops.push(() => op.stop());
  const pid = op.proc.pid!;
  const sample = async (): Promise<Sample> => {
    const text = await op.metrics();
    const requests: Record<string, number> = {};
    for (const m of text.matchAll(/^inferops_kube_api_requests_total\{(.*)\} (\S+)$/gm)) {
      const l = labelsOf(m[1]!);
      const k = `${l.verb} ${l.resource}`;
      requests[k] = (requests[k] ?? 0) + Number(m[2]);
    }
    return {
      t: round1(since()),
      rssMiB: Math.round(rssMiB(pid)),
      requests,
      reconcile: histograms(text, "inferops_reconcile_duration_seconds", "controller"),
      actuation: histograms(text, "inferops_scaling_actuation_seconds")[""] ?? { buckets: [], count: 0 },
      counts: counters(text),
      pods: pods.size,
      nodes: nodeCache.list().filter((n) => n.metadata?.labels?.["inferops.dev/pool"] === POOL).length,
    };
  };

  // Warm-up: every service at its floor and Ready before the load's clock starts.
  const warmStart = performance.now();
  while (pods.size < N) {
    if (performance.now() - warmStart > 20 * 60_000)
      throw new Error(`warm-up: ${pods.size} of ${N} pods Ready after 20 min`);
    await new Promise((r) => setTimeout(r, 5000));
    console.error(`warm-up ${Math.round((performance.now() - warmStart) / 1000)} s: ${pods.size} pods Ready`);
  }
  const warmUpSeconds = round1((performance.now() - warmStart) / 1000);
  loadStart = performance.now();
  last = 0;
  const samples: Sample[] = [await sample()];
  while (since() < LOAD_S + STEADY_S) {
    await new Promise((r) => setTimeout(r, SAMPLE_S * 1000 - ((since() * 1000) % (SAMPLE_S * 1000))));
    const s = await sample();
    samples.push(s);
    const want = services.reduce((a, x) => a + demand(x, s.t), 0);
    console.error(
      `${Math.round(s.t)} s: demand ${want.toFixed(0)} replicas of load, ${s.pods} Ready pods, ${s.nodes} nodes, RSS ${s.rssMiB} MiB, writes so far ${Object.entries(s.requests).reduce((a, [k, n]) => a + (/^(POST|PUT|PATCH|DELETE) /.test(k) ? n : 0), 0)}`,
    );
  }
  const rssPeak =
    Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/)?.[1] ?? 0) / 1024;

  // ---- Report ----
  const at = (t: number) =>
    samples.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best));
  const first = samples[0]!;
  const endLoad = at(LOAD_S);
  const end = samples.at(-1)!;
  /** Requests between two samples, by the key `keyOf` gives "VERB resource" (undefined: left out). */
  const between = (a: Sample, b: Sample, keyOf: (k: string) => string | undefined = (k) => k) => {
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(b.requests)) {
      const key = keyOf(k);
      if (key !== undefined) out[key] = (out[key] ?? 0) + n - (a.requests[k] ?? 0);
    }
    return out;
  };
  const verbOf = (k: string) => k.split(" ")[0]!;
  const writeOf = (k: string) => (/^(POST|PUT|PATCH|DELETE) /.test(k) ? k : undefined);
  const perSecond = (counts: Record<string, number>, seconds: number) =>
    Object.fromEntries(
      Object.entries(counts)
        .filter(([, n]) => n > 0)
        .sort()
        .map(([k, n]) => [k, round1(n / seconds)]),
    );
  const peakPerSecond: Record<string, number> = {};
  for (let i = 1; i < samples.length; i++)
    for (const [v, n] of Object.entries(between(samples[i - 1]!, samples[i]!, verbOf)))
      peakPerSecond[v] = Math.max(peakPerSecond[v] ?? 0, round1(n / (samples[i]!.t - samples[i - 1]!.t)));
  const reconcile = Object.fromEntries(
    Object.entries(endLoad.reconcile).map(([c, h]) => {
      const d = diff(first.reconcile[c], h);
      return [c, { count: d.count, p50Ms: ms(quantile(d, 0.5)), p99Ms: ms(quantile(d, 0.99)) }];
    }),
  );
  const act = diff(first.actuation, endLoad.actuation);
  const writes = (s: Sample) => Object.values(between(first, s, writeOf)).reduce((a, n) => a + n, 0);
  /** Replica changes applied and node operations between two samples. */
  const operationsBetween = (a: Sample, b: Sample) =>
    Object.fromEntries(
      Object.entries(b.counts)
        .map(([k, n]) => [k, n - (a.counts[k] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
  const steadyPerMinute: {
    minute: number;
    writes: number;
    byRequest: Record<string, number>;
    operations: Record<string, number>;
    pods: number;
    nodes: number;
  }[] = [];
  for (let m = 1; m * 60 <= STEADY_S; m++) {
    const a = at(LOAD_S + (m - 1) * 60);
    const b = at(LOAD_S + m * 60);
    const byRequest = Object.fromEntries(Object.entries(between(a, b, writeOf)).filter(([, n]) => n > 0));
    steadyPerMinute.push({
      minute: m,
      writes: writes(b) - writes(a),
      byRequest,
      operations: operationsBetween(a, b),
      pods: b.pods,
      nodes: b.nodes,
    });
  }
  for (const m of steadyPerMinute) {
    const from = LOAD_S + (m.minute - 1) * 60;
    const changed: Record<string, number> = {};
    for (const c of statusChanges)
      if (c.t >= from && c.t < from + 60) for (const w of c.what) changed[w] = (changed[w] ?? 0) + 1;
    Object.assign(m, { statusFieldsChanged: changed });
  }
  const warm = at(Math.min(600, LOAD_S));
  const result = {
    services: N,
    namespaces: NAMESPACES,
    maxNodes: MAX_NODES,
    loadMinutes: LOAD_S / 60,
    steadyMinutes: STEADY_S / 60,
    warmUpSeconds,
    podsRange: [Math.min(...samples.map((s) => s.pods)), Math.max(...samples.map((s) => s.pods))],
    nodesRange: [Math.min(...samples.map((s) => s.nodes)), Math.max(...samples.map((s) => s.nodes))],
    /** Over the changing phase. */
    reconcile,
    actuation: { count: act.count, p50Ms: ms(quantile(act, 0.5)), p99Ms: ms(quantile(act, 0.99)) },
    /** Over the changing phase: replica changes applied, and node operations. */
    operations: operationsBetween(first, endLoad),
    /** Over the changing phase: by verb, and by verb and resource. */
    apiRequestsPerSecond: perSecond(between(first, endLoad, verbOf), endLoad.t - first.t),
    apiRequestsPerSecondByResource: perSecond(between(first, endLoad), endLoad.t - first.t),
    /** The busiest sample interval, by verb. */
    apiRequestsPerSecondPeak: peakPerSecond,
    rss: {
      peakMiB: Math.round(rssPeak),
      afterWarmUpMiB: warm.rssMiB,
      endOfLoadMiB: endLoad.rssMiB,
      endMiB: end.rssMiB,
      maxAfterWarmUpMiB: Math.max(...samples.filter((s) => s.t >= warm.t).map((s) => s.rssMiB)),
    },
    steadyWritesPerMinute: steadyPerMinute,
    timeline: samples.map((s) => ({
      t: s.t,
      rssMiB: s.rssMiB,
      pods: s.pods,
      nodes: s.nodes,
      writes: writes(s),
    })),
    machine:
      `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${cpus()[0]?.model ?? ""}`.trim(),
    node: process.version,
    command: `node bench/load.ts --services ${N} --namespaces ${NAMESPACES} --max-nodes ${MAX_NODES} --minutes ${LOAD_S / 60} --steady-minutes ${STEADY_S / 60}`,
    date: new Date().toISOString().slice(0, 10),
  };
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  const { timeline: _t, ...summary } = result;
  console.log(JSON.stringify(summary, null, 2));
} finally {
  for (const stop of stops.reverse()) {
    try {
      await stop();
    } catch (err) {
      console.error(`cleanup: ${(err as Error).message}`);
    }
  }
  clusterDown(cluster.dir);
}
