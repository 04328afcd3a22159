// `make demo`: inferops on the local control plane, end to end, in a few minutes.
//
// What runs, all real except the GPUs:
// - the local control plane (hack/controlplane: etcd, kube-apiserver, controller-manager, scheduler, kwok),
//   with the three CRDs, a GPUNodePool of L4 nodes (provider kwok) that starts with two nodes: the
//   operator's GPUNodePool controller adds the nodes the plan needs; a second, lower-priority service
//   (`batch`, mode Manual, 3 replicas, no traffic) and a CapacityBudget of five nodes' dollars per hour over
//   the namespace, which starts binding as llama grows: batch loses replicas, llama keeps its own;
// - the operator (`inferops operator`), reading signals from a real Prometheus;
// - the model servers: kwok runs the operator's pods but nothing in them serves, so the serving model runs
//   in wall-clock time as their vLLM (serving/live.ts): one replica per ready pod, least-outstanding
//   routing, each pod's metrics in vLLM's format on its own path, which Prometheus discovers from a file;
// - traffic: requests with the sizes of the Azure conversation trace, Poisson arrivals at a rate that is
//   low, ramps up over half the run and holds (--duration sets the whole run; scaling down waits for the
//   scale-down window, so a run that should show it needs to drop the load for longer than that).
//
// Every 10 s it prints the load, llama's replicas asked for and ready, its p95 TTFT and how many requests met
// the SLO, batch's ready replicas, the pool's nodes (ready / wanted), dollars per hour and kilowatts (from the
// GPUNodePool's status), and llama's last decision with its reason; a line when the budget starts or stops
// binding. The last line is a JSON summary (what the end-to-end test reads).
//
//   node hack/demo.ts [--duration 300] [--keep] [--operator-log FILE]
//     --keep: keep it all running after the summary, until Ctrl-C
//     --operator-log: write the operator's log at debug level to FILE (every decision with its signals)
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gpuNodePoolSchema } from "../operator/src/apis/gpunodepool.ts";
import { KubeClient, type KubeObject } from "../operator/src/kube/client.ts";
import { pathFor, R } from "../operator/src/kube/resources.ts";
import { kwokNode } from "../operator/src/nodepools/kwok.ts";
import { percentile } from "../operator/src/serving/capacity.ts";
import { LiveFleet } from "../operator/src/serving/live.ts";
import { getProfile } from "../operator/src/serving/profiles.ts";
import { mulberry32 } from "../operator/src/serving/workload.ts";
import { buildTrace } from "../operator/src/simulation/trace.ts";
import { clusterDown, clusterUp, installInferops, kubectl } from "./lib/cluster.ts";
import { startOperatorProcess } from "./lib/operator.ts";
import { ROOT } from "./lib/paths.ts";
import { startPrometheus } from "./lib/prometheus.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "300" },
    keep: { type: "boolean", default: false },
    "operator-log": { type: "string" },
  },
});
const DURATION = Number(values.duration);
if (!(Number.isFinite(DURATION) && DURATION >= 60)) {
  console.error(`demo: --duration must be a number of seconds >= 60, got ${JSON.stringify(values.duration)}`);
  process.exit(2);
}

const NS = "demo";
const SVC = "llama";
const POOL = "l4";
const NODES = 8;
/** Nodes the pool has when the demo starts; the GPUNodePool controller adds the rest as the plan asks. */
const START_NODES = 2;
/** A lower-priority service in mode Manual that asks for 3 replicas and gets what the budget leaves. */
const BATCH = "batch";
const BATCH_REPLICAS = 3;
/** Dollars per hour of the demo namespace's budget: five L4 nodes' worth. */
const BUDGET_DOLLARS_PER_HOUR = 4.1;
const PROFILE = getProfile("llama-3.1-8b-fp8/l4");
const TRACE = join(ROOT, "..", "shared", "traces", "azure-llm-2023-conv.csv");

/** Requests/s at time t: 1 for the first tenth of the run, a ramp to 4.5 by six tenths, then a plateau. */
export function rateAt(t: number, duration = DURATION): number {
  const low = 1;
  const high = 4.5;
  const x = t / duration;
  if (x < 0.1) return low;
  if (x < 0.6) return low + ((high - low) * (x - 0.1)) / 0.5;
  return high;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

const pool = {
  apiVersion: "inferops.dev/v1alpha1",
  kind: "GPUNodePool",
  metadata: { name: POOL },
  spec: {
    gpu: { type: "nvidia-l4", count: 1, memoryGiB: 24 },
    power: { busyWattsPerGPU: 72, idleWattsPerGPU: 16 },
    costPerNodeHour: 0.8048,
    minNodes: 1,
    maxNodes: NODES,
    // kwok nodes register at once: what is left of the lead time is the model's load.
    provisioningSeconds: 0,
    nodeLabels: { "inferops.dev/pool": POOL },
    nodeTaints: [{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }],
    provider: { type: "kwok" },
  },
};

const service = {
  apiVersion: "inferops.dev/v1alpha1",
  kind: "InferenceService",
  metadata: { name: SVC, namespace: NS },
  spec: {
    model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
    template: {
      spec: {
        containers: [
          { name: "vllm", image: "vllm/vllm-openai:v0.11.0", ports: [{ name: "http", containerPort: 8000 }] },
        ],
      },
    },
    accelerators: [
      {
        pool: POOL,
        gpusPerReplica: 1,
        // The capacity at the SLO that `inferops simulate` measures for this request mix on a small fleet
        // (2,215 tokens/s per replica at 2 replicas, 2,302 at 4), as docs/tuning.md asks: the L4 profile's
        // 2,780 is what larger fleets reach, and a fleet of one to four would run over its SLO on it.
        profile: { maxTokensPerSecond: 2300, maxConcurrentRequests: PROFILE.spec.maxConcurrentRequests },
      },
    ],
    scaling: {
      minReplicas: 1,
      maxReplicas: NODES,
      targets: { ttftSeconds: 2, itlSeconds: 0.1 },
    },
    metrics: { source: "prometheus" },
    priority: 900,
  },
};

/** Batch work on the same pool: mode Manual, lower priority, no traffic of its own. */
const batch = {
  apiVersion: "inferops.dev/v1alpha1",
  kind: "InferenceService",
  metadata: { name: BATCH, namespace: NS },
  spec: {
    model: service.spec.model,
    template: service.spec.template,
    accelerators: [{ pool: POOL, gpusPerReplica: 1 }],
    replicas: BATCH_REPLICAS,
    scaling: { mode: "Manual", minReplicas: 1, maxReplicas: NODES },
    priority: 100,
  },
};

/** The namespace's GPU spend: binds once llama and batch together want more than five nodes. */
const budget = {
  apiVersion: "inferops.dev/v1alpha1",
  kind: "CapacityBudget",
  metadata: { name: NS },
  spec: {
    scope: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": NS } } },
    limits: { costPerHour: BUDGET_DOLLARS_PER_HOUR },
  },
};

type Svc = KubeObject & {
  status?: {
    desiredReplicas?: number;
    readyReplicas?: number;
    lastDecision?: { reason?: string; message?: string };
  };
};
type Pool = KubeObject & {
  status?: { readyNodes?: number; desiredNodes?: number; costPerHour?: number; powerWatts?: number };
};
type Budget = KubeObject & {
  status?: {
    conditions?: { type: string; status: string; message?: string }[];
    heldBack?: { name: string; replicas: number; limit: string }[];
  };
};
type Pod = KubeObject & {
  status?: { conditions?: { type: string; status: string }[] };
};

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), "inferops-demo-"));
  log(`demo: starting the local control plane (state in ${work}/cluster)`);
  const cluster = clusterUp(join(work, "cluster"));
  const stops: (() => Promise<unknown> | unknown)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        console.error(`demo: cleanup: ${(err as Error).message}`);
      }
    }
  };
  stops.push(() => clusterDown(cluster.dir));
  // Ctrl-C stops what the demo started, the control plane included.
  const onSignal = () => {
    log("demo: interrupted; stopping everything it started");
    void stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const cfg = cluster.adminKubeconfig;
    installInferops(cfg);
    kubectl(cfg, ["create", "namespace", NS]);
    const admin = await KubeClient.create(cfg);
    stops.push(() => admin.close());
    await admin.apply(pathFor(R.gpuNodePools, { name: POOL }), pool);
    for (let i = 0; i < START_NODES; i++) {
      const name = `${POOL}-node-${i}`;
      await admin.apply(pathFor(R.nodes, { name }), kwokNode(gpuNodePoolSchema.parse(pool), name));
    }
    log(
      `demo: GPUNodePool ${POOL} (kwok) with ${START_NODES} nodes of one L4 each, up to ${NODES}: the operator adds and removes the rest`,
    );
    await admin.apply(pathFor(R.capacityBudgets, { name: NS }), budget);
    log(`demo: CapacityBudget ${NS}: $${BUDGET_DOLLARS_PER_HOUR}/h for namespace ${NS}`);

    // The model servers: the serving model in wall-clock time, one replica per ready pod.
    const t0 = performance.now();
    const now = () => (performance.now() - t0) / 1000;
    const fleet = new LiveFleet(PROFILE, now);
    const server = createServer((req, res) => {
      const m = /^\/pods\/([^/]+)\/([^/]+)\/metrics$/.exec(req.url ?? "");
      const page = m ? fleet.metrics(`${m[1]}/${m[2]}`) : undefined;
      if (page === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(page);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    stops.push(() => new Promise((r) => server.close(r)));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no address");
    const sd = join(work, "targets.json");
    const writeTargets = () => {
      const targets = fleet.pods().map((key) => {
        const [namespace, pod] = key.split("/") as [string, string];
        return {
          targets: [`127.0.0.1:${address.port}`],
          labels: {
            __metrics_path__: `/pods/${namespace}/${pod}/metrics`,
            namespace,
            inferops_service: SVC,
            pod,
          },
        };
      });
      writeFileSync(`${sd}.tmp`, JSON.stringify(targets));
      renameSync(`${sd}.tmp`, sd);
    };
    writeTargets();
    const prometheus = await startPrometheus([], { scrapeIntervalSeconds: 5, fileSd: sd });
    stops.push(() => prometheus.stop());
    log(`demo: Prometheus at ${prometheus.url}, scraping the model servers every 5 s`);

    const operator = await startOperatorProcess({
      kubeconfig: cluster.operatorKubeconfig,
      identity: "demo",
      namespace: NS,
      interval: "10s",
      extraArgs: [
        "--prometheus-url",
        prometheus.url,
        "--log-level",
        values["operator-log"] ? "debug" : "info",
      ],
      ...(values["operator-log"] ? { logFile: values["operator-log"] } : {}),
    });
    stops.push(() => operator.stop());
    log("demo: operator started (interval 10 s)");
    await admin.apply(pathFor(R.inferenceServices, { namespace: NS, name: BATCH }), batch);
    log(
      `demo: InferenceService ${NS}/${BATCH} (Manual, ${BATCH_REPLICAS} replicas, priority 100) applied; no traffic`,
    );
    await admin.apply(pathFor(R.inferenceServices, { namespace: NS, name: SVC }), service);
    log(`demo: InferenceService ${NS}/${SVC} (Auto, priority 900) applied; traffic for ${DURATION} s`);

    // Which pods are ready: the operator's pods that kwok runs.
    const watchPods = async () => {
      const pods = await admin.list<Pod>(pathFor(R.pods, { namespace: NS }), {
        labelSelector: `inferops.dev/service=${SVC}`,
      });
      const ready = pods.items
        .filter(
          (p) =>
            !p.metadata?.deletionTimestamp &&
            p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        )
        .map((p) => `${NS}/${p.metadata!.name}`);
      if (fleet.setPods(ready)) writeTargets();
    };

    // Traffic: the conversation trace's request sizes, Poisson arrivals at rateAt(t).
    const sizes = buildTrace({ name: "conv", file: TRACE });
    const rand = mulberry32(42);
    let next = 0;
    let i = 0;
    const start = now();
    const traffic = setInterval(() => {
      const t = now() - start;
      while (next <= t) {
        const k = i++ % sizes.prompt.length;
        fleet.submit(sizes.prompt[k]!, sizes.output[k]!);
        next += -Math.log(1 - rand()) / rateAt(next);
      }
      fleet.advance();
    }, 50);
    stops.push(() => clearInterval(traffic));
    const podTimer = setInterval(() => void watchPods().catch(() => {}), 1000);
    stops.push(() => clearInterval(podTimer));

    const ttfts: number[] = [];
    let met = 0;
    let done = 0;
    let maxReady = 0;
    let maxDesired = 0;
    const reasons = new Set<string>();
    log("");
    log(
      "     t   load     llama          p95 TTFT  within   batch   l4 nodes  l4 pool       llama's decision",
    );
    log("   (s)  (req/s)  desired/ready  (s)       SLO      ready   ready/want  $/h    kW");
    let last: Svc["status"];
    let maxNodes = 0;
    let budgetBinding = false;
    let budgetBound = false;
    for (let tick = 10; tick <= DURATION; tick += 10) {
      await new Promise((r) => setTimeout(r, Math.max(0, (start + tick - now()) * 1000)));
      const window = fleet.takeFinished();
      let windowMet = 0;
      for (const r of window) {
        done++;
        ttfts.push(r.ttft);
        if (r.ttft <= 2 && r.meanItl <= 0.1) windowMet++;
      }
      met += windowMet;
      const svc = await admin.get<Svc>(pathFor(R.inferenceServices, { namespace: NS, name: SVC }));
      last = svc.status;
      const desired = last?.desiredReplicas ?? 0;
      const ready = fleet.stats().pods;
      maxReady = Math.max(maxReady, ready);
      maxDesired = Math.max(maxDesired, desired);
      const d = last?.lastDecision;
      if (d?.reason) reasons.add(d.reason);
      const [batchPods, poolNow, budgetNow] = await Promise.all([
        admin.list<Pod>(pathFor(R.pods, { namespace: NS }), {
          labelSelector: `inferops.dev/service=${BATCH}`,
        }),
        admin.get<Pool>(pathFor(R.gpuNodePools, { name: POOL })),
        admin.get<Budget>(pathFor(R.capacityBudgets, { name: NS })),
      ]);
      const batchReady = batchPods.items.filter((p) =>
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      ).length;
      const ps = poolNow.status ?? {};
      maxNodes = Math.max(maxNodes, ps.readyNodes ?? 0);
      const binding = budgetNow.status?.conditions?.find((c) => c.type === "Binding");
      if ((binding?.status === "True") !== budgetBinding) {
        budgetBinding = binding?.status === "True";
        if (budgetBinding) budgetBound = true;
        const held = (budgetNow.status?.heldBack ?? []).map((h) => `${h.name} -${h.replicas} (${h.limit})`);
        log(
          `        budget ${NS} ${budgetBinding ? "starts binding" : "stops binding"}${held.length ? `: held back ${held.join(", ")}` : ""}${binding?.message ? `; ${binding.message}` : ""}`,
        );
      }
      const w95 = percentile(
        window.map((r) => r.ttft),
        95,
      );
      log(
        `${String(tick).padStart(6)}  ${rateAt(tick).toFixed(1).padStart(5)}  ${String(desired).padStart(7)}/${String(ready).padEnd(6)}  ${Number.isNaN(w95) ? "   -  " : w95.toFixed(2).padStart(6)}  ${`${windowMet}/${window.length}`.padStart(7)}  ${String(batchReady).padStart(6)}   ${`${ps.readyNodes ?? "-"}/${ps.desiredNodes ?? "-"}`.padStart(8)}  ${(ps.costPerHour ?? 0).toFixed(2).padStart(5)} ${((ps.powerWatts ?? 0) / 1000).toFixed(2).padStart(5)}   ${d?.reason ?? "-"}: ${(d?.message ?? "").slice(0, 80)}`,
      );
    }
    const stats = fleet.stats();
    const summary = {
      durationSeconds: DURATION,
      requests: stats.submitted,
      finished: done,
      sloAttainment: done > 0 ? met / done : 0,
      ttftP95: percentile(ttfts, 95),
      maxReady,
      maxDesired,
      finalDesired: last?.desiredReplicas ?? 0,
      finalReady: stats.pods,
      reasons: [...reasons].sort(),
      lost: stats.lost,
      maxNodes,
      budgetBound,
    };
    log("");
    log(
      `demo: ${summary.finished} of ${summary.requests} requests finished, ${(summary.sloAttainment * 100).toFixed(1)}% within TTFT 2 s and ITL 100 ms; replicas peaked at ${maxReady} ready, ended at ${summary.finalReady}; the l4 pool peaked at ${maxNodes} ready nodes; the budget ${budgetBound ? "bound (batch held back for llama)" : "never bound"}`,
    );
    log(JSON.stringify(summary));
    if (values.keep) {
      log(
        `demo: --keep: everything keeps running at the last load until Ctrl-C. Look around with: export KUBECONFIG=${cfg}; kubectl get infsvc,gpupool,deploy,pods -A; Prometheus: ${prometheus.url}`,
      );
      process.off("SIGINT", onSignal);
      await new Promise((r) => process.once("SIGINT", r));
    }
    return 0;
  } finally {
    await stopAll();
  }
}

process.exitCode = await main().catch((err) => {
  console.error(`demo: ${(err as Error).stack ?? err}`);
  return 1;
});
process.exit();
