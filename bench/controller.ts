// Controller benchmark: N InferenceServices on the local control plane, created before the operator starts
// (a cold start). Measures the time from operator start until every Deployment and Service exists and every
// status is written, with the operator's API requests (by verb, with their mean time), reconciles and events
// meanwhile; then until all are Ready, the operator's peak RSS, and API writes per minute in steady state
// (target: 0).
//
//   node bench/controller.ts [--services 1000] [--steady-seconds 120] [--concurrency 8] [--until ready|status]
//                            [--headless] [--out bench/results/controller.json] [--cpu-prof DIR]
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { KubeClient, type KubeObject } from "../operator/src/kube/client.ts";
import { REPORTING_CONTROLLER } from "../operator/src/kube/events.ts";
import { Informer } from "../operator/src/kube/informer.ts";
import { pathFor, R } from "../operator/src/kube/resources.ts";
import { clusterDown, clusterUp, installInferops, kubectl } from "../test/helpers/cluster.ts";
import { ROOT } from "../test/helpers/fixtures.ts";
import { gpuNode, gpuNodePool } from "../test/helpers/objects.ts";
import { startOperatorProcess } from "../test/helpers/operator.ts";

const { values } = parseArgs({
  options: {
    services: { type: "string", default: "1000" },
    "steady-seconds": { type: "string", default: "120" },
    interval: { type: "string", default: "10s" },
    /** The operator's --concurrency (reconciles at once). */
    concurrency: { type: "string", default: "8" },
    /**
     * `status`: stop once every object exists and every status is written (the cold start alone, for thousands
     * of services, whose pods kwok takes many minutes to start); `ready` (default): wait until all are Ready,
     * then measure the steady state.
     */
    until: { type: "string", default: "ready" },
    /** spec.service.headless on every service: no cluster IP to allocate per Service. */
    headless: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench", "results", "controller.json") },
    /** Writes the operator's CPU profile (node --cpu-prof) into this directory when it stops. */
    "cpu-prof": { type: "string" },
  },
});
const N = Number(values.services);
const STEADY_S = Number(values["steady-seconds"]);
const POOL = "bench-h100";
const NS = "bench";

/** Runs `fn` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

const round1 = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 10) / 10);

const peakRssMiB = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmHWM:\s+(\d+) kB/)?.[1] ?? 0) / 1024;
};

const cluster = clusterUp(mkdtempSync(join(tmpdir(), "inferops-bench-")));
try {
  const cfg = cluster.adminKubeconfig;
  installInferops(cfg);
  kubectl(cfg, ["create", "namespace", NS]);
  const admin = await KubeClient.create(cfg);
  await admin.apply(
    pathFor(R.gpuNodePools, { name: POOL }),
    gpuNodePool(POOL, { maxNodes: 1000, provider: { type: "static" } }),
  );
  const nodes = Math.ceil(N / 8);
  await pool(
    Array.from({ length: nodes }, (_, i) => `bench-node-${i}`),
    16,
    (name) => admin.apply(pathFor(R.nodes, { name }), gpuNode(name, POOL, 8)),
  );
  const names = Array.from({ length: N }, (_, i) => `svc-${String(i).padStart(4, "0")}`);
  await pool(names, 16, (name) =>
    admin.apply(pathFor(R.inferenceServices, { namespace: NS, name }), {
      apiVersion: "inferops.dev/v1alpha1",
      kind: "InferenceService",
      metadata: { name, namespace: NS },
      spec: {
        model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
        template: { spec: { containers: [{ name: "vllm", image: "vllm/vllm-openai:v0.11.0" }] } },
        accelerators: [{ pool: POOL }],
        scaling: { minReplicas: 1, maxReplicas: 4 },
        ...(values.headless ? { service: { headless: true } } : {}),
      },
    }),
  );
  console.error(`created ${N} InferenceServices and ${nodes} kwok GPU nodes`);

  // Watched, not listed over and over: the API server is what the operator's cold start waits on, and a
  // list of thousands of objects every second would load it as much as the operator does.
  const quiet = pino({ level: "silent" });
  const isCache = new Informer(admin, R.inferenceServices, quiet);
  const deployCache = new Informer(admin, R.deployments, quiet);
  const serviceCache = new Informer(admin, R.services, quiet);
  await Promise.all([isCache, deployCache, serviceCache].map((c) => c.start()));

  const started = Date.now();
  const op = await startOperatorProcess({
    kubeconfig: cluster.operatorKubeconfig,
    identity: "bench",
    interval: values.interval,
    extraArgs: ["--log-level", "info", "--concurrency", values.concurrency],
    ...(values["cpu-prof"] ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] } : {}),
  });
  /** Services whose status is written for their generation, and those of them Ready (from the watch). */
  const statuses = () => {
    const written = isCache
      .list(NS)
      .filter(
        (s) =>
          (s.status as { observedGeneration?: number } | undefined)?.observedGeneration ===
          s.metadata?.generation,
      );
    return {
      written: written.length,
      ready: written.filter((s) =>
        (s.status as { conditions?: { type: string; status: string }[] }).conditions?.some(
          (c) => c.type === "Ready" && c.status === "True",
        ),
      ).length,
    };
  };
  /** The operator's API requests by verb and resource, and its reconciles' count and mean time, so far. */
  const work = async () => {
    const text = await op.metrics();
    const requests: Record<string, { count: number; meanMs?: number }> = {};
    const labels = (text: string) =>
      Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    for (const m of text.matchAll(/^inferops_kube_api_requests_total\{(.*)\} (\S+)$/gm)) {
      const l = labels(m[1]!);
      const k = `${l.verb} ${l.resource}`;
      requests[k] = { count: (requests[k]?.count ?? 0) + Number(m[2]) };
    }
    const seconds: Record<string, number> = {};
    for (const m of text.matchAll(/^inferops_kube_api_request_duration_seconds_sum\{(.*)\} (\S+)$/gm)) {
      const l = labels(m[1]!);
      seconds[`${l.verb} ${l.resource}`] = Number(m[2]);
    }
    for (const [k, r] of Object.entries(requests))
      if (seconds[k] !== undefined) r.meanMs = Math.round((seconds[k] / r.count) * 1000);
    const sum = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "gm"))].reduce(
        (a, m) => a + Number(m[1]),
        0,
      );
    const reconciles = sum("inferops_reconcile_duration_seconds_count");
    return {
      requests,
      reconciles,
      reconcileMeanMs: Math.round((sum("inferops_reconcile_duration_seconds_sum") / reconciles) * 1000),
    };
  };
  let coldStartWork: Awaited<ReturnType<typeof work>> | undefined;
  let coldStartEvents: Record<string, number> | undefined;
  let deploymentsSeconds: number | undefined;
  let objectsSeconds: number | undefined;
  let statusSeconds: number | undefined;
  const untilStatus = values.until === "status";
  for (let s = statuses(); s.ready < N && !(untilStatus && coldStartWork); s = statuses()) {
    if (Date.now() - started > 30 * 60_000) throw new Error(`not converged after 30 min: ${s.ready}/${N}`);
    const at = (Date.now() - started) / 1000;
    if (deploymentsSeconds === undefined && deployCache.list(NS).length >= N) deploymentsSeconds = at;
    if (objectsSeconds === undefined && deploymentsSeconds !== undefined && serviceCache.list(NS).length >= N)
      objectsSeconds = at;
    if (statusSeconds === undefined && s.written >= N) statusSeconds = at;
    if (objectsSeconds !== undefined && statusSeconds !== undefined && !coldStartWork) {
      coldStartWork = await work();
      // The events inferops recorded by then, by reason.
      const evs = await admin.list<KubeObject & { reason?: string; reportingController?: string }>(
        `/apis/events.k8s.io/v1/namespaces/${NS}/events`,
      );
      coldStartEvents = {};
      for (const e of evs.items)
        if (e.reportingController === REPORTING_CONTROLLER)
          coldStartEvents[e.reason ?? ""] = (coldStartEvents[e.reason ?? ""] ?? 0) + 1;
    }
    if (Math.floor(at / 10) !== Math.floor((at - 0.25) / 10))
      console.error(`${Math.round(at)} s: ${s.written} statuses written, ${s.ready} Ready`);
    await new Promise((r) => setTimeout(r, 250));
  }
  await Promise.all([isCache, deployCache, serviceCache].map((c) => c.stop()));
  const convergeSeconds = untilStatus ? undefined : (Date.now() - started) / 1000;
  if (convergeSeconds !== undefined)
    console.error(`all ${N} converged (Ready) in ${convergeSeconds.toFixed(1)} s`);

  // Steady state: let in-flight status updates settle for one interval, then count writes.
  let steady: { writes: number; reconciles: number } | undefined;
  if (!untilStatus) {
    await new Promise((r) => setTimeout(r, 15_000));
    const w0 = await op.writes();
    const r0 = await op.counter("inferops_reconcile_total");
    await new Promise((r) => setTimeout(r, STEADY_S * 1000));
    steady = {
      writes: (await op.writes()) - w0,
      reconciles: (await op.counter("inferops_reconcile_total")) - r0,
    };
  }
  const rss = peakRssMiB(op.proc.pid!);
  await op.stop();
  await admin.close();

  const result = {
    services: N,
    nodes,
    interval: values.interval,
    /** Until every Deployment exists (the operator's own work). */
    deploymentsCreatedSeconds: round1(deploymentsSeconds ?? convergeSeconds),
    /** Until every Deployment and Service exists and every status is written for its generation. */
    objectsAndStatusSeconds: round1(Math.max(objectsSeconds ?? 0, statusSeconds ?? 0)),
    /** Until every service reports Ready (includes kwok starting 1,000 pods on the same 2 cores). */
    convergeSeconds: round1(convergeSeconds),
    /** Until objects and statuses were all there: the operator's requests and reconciles. */
    coldStartWork: coldStartWork && { ...coldStartWork, eventsByReason: coldStartEvents },
    peakRssMiB: Math.round(rss),
    ...(steady
      ? {
          steadyStateSeconds: STEADY_S,
          steadyStateWritesPerMinute: round1((steady.writes / STEADY_S) * 60),
          steadyStateReconcilesPerMinute: Math.round((steady.reconciles / STEADY_S) * 60),
        }
      : {}),
    machine:
      `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${cpus()[0]?.model ?? ""}`.trim(),
    node: process.version,
    concurrency: Number(values.concurrency),
    command: `node bench/controller.ts --services ${N} --steady-seconds ${STEADY_S} --concurrency ${values.concurrency} --until ${values.until}${values.headless ? " --headless" : ""}`,
    headless: values.headless,
    date: new Date().toISOString().slice(0, 10),
  };
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  clusterDown(cluster.dir);
}
