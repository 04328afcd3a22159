// Controller benchmark: N InferenceServices on the local control plane. Measures the time from operator
// start to all converged, the operator's peak RSS, and API writes per minute in steady state (target: 0).
//
//   node bench/controller.ts [--services 1000] [--steady-seconds 120] [--out bench/results/controller.json]
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { KubeClient } from "../operator/src/kube/client.ts";
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
    out: { type: "string", default: join(ROOT, "bench", "results", "controller.json") },
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
      },
    }),
  );
  console.error(`created ${N} InferenceServices and ${nodes} kwok GPU nodes`);

  const started = Date.now();
  const op = await startOperatorProcess({
    kubeconfig: cluster.operatorKubeconfig,
    identity: "bench",
    interval: values.interval,
    extraArgs: ["--log-level", "info", "--concurrency", "8"],
  });
  const converged = async () => {
    const list = await admin.list<{
      metadata: { generation?: number };
      status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
    }>(pathFor(R.inferenceServices, { namespace: NS }));
    return list.items.filter(
      (s) =>
        s.status?.observedGeneration === s.metadata.generation &&
        s.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    ).length;
  };
  let deploymentsSeconds: number | undefined;
  for (let done = await converged(); done < N; done = await converged()) {
    if (Date.now() - started > 30 * 60_000) throw new Error(`not converged after 30 min: ${done}/${N}`);
    if (deploymentsSeconds === undefined) {
      const deployments = await admin.list(pathFor(R.deployments, { namespace: NS }));
      if (deployments.items.length >= N) deploymentsSeconds = (Date.now() - started) / 1000;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const convergeSeconds = (Date.now() - started) / 1000;
  console.error(`all ${N} converged (Ready) in ${convergeSeconds.toFixed(1)} s`);

  // Steady state: let in-flight status updates settle for one interval, then count writes.
  await new Promise((r) => setTimeout(r, 15_000));
  const w0 = await op.writes();
  const r0 = await op.counter("inferops_reconcile_total");
  await new Promise((r) => setTimeout(r, STEADY_S * 1000));
  const w1 = await op.writes();
  const r1 = await op.counter("inferops_reconcile_total");
  const rss = peakRssMiB(op.proc.pid!);
  await op.stop();
  await admin.close();

  const result = {
    services: N,
    nodes,
    interval: values.interval,
    /** Until every Deployment exists (the operator's own work). */
    deploymentsCreatedSeconds: Math.round((deploymentsSeconds ?? convergeSeconds) * 10) / 10,
    /** Until every service reports Ready (includes kwok starting 1,000 pods on the same 2 cores). */
    convergeSeconds: Math.round(convergeSeconds * 10) / 10,
    peakRssMiB: Math.round(rss),
    steadyStateSeconds: STEADY_S,
    steadyStateWritesPerMinute: Math.round(((w1 - w0) / STEADY_S) * 60 * 10) / 10,
    steadyStateReconcilesPerMinute: Math.round(((r1 - r0) / STEADY_S) * 60),
    machine:
      `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${cpus()[0]?.model ?? ""}`.trim(),
    node: process.version,
    command: `node bench/controller.ts --services ${N} --steady-seconds ${STEADY_S}`,
    date: new Date().toISOString().slice(0, 10),
  };
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  clusterDown(cluster.dir);
}
