// Measured power end to end: a real Prometheus scrapes a fake NVIDIA DCGM exporter (DCGM_FI_DEV_POWER_USAGE
// per GPU, with the node's name in Hostname, as dcgm-exporter serves it); a GPUNodePool with
// spec.power.measured {source: DCGM} reports the measured watts, and the CapacityBudget over its services
// counts the measured watts per GPU in use and says DCGM, as does the InferenceService's status.powerWatts.
// The exporter stops: Prometheus marks its series stale, and the pool and the budget fall back to nominal
// watts (not zero), with PowerMeasured False and events. Then a fake Kepler exporter (kepler_node_gpu_watts
// with node_name) is added to Prometheus' targets and the pool switched to source Kepler: measured again.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { gpuNode, gpuNodePool, inferenceService } from "../helpers/objects.ts";
import { type OperatorProcess, startOperatorProcess } from "../helpers/operator.ts";
import { type PrometheusProcess, startPrometheus } from "../helpers/prometheus.ts";
import { integrationSuite } from "../helpers/suite.ts";

/**
 * Serves one node's GPU power as an exporter does, `watts[i]` for GPU i: dcgm-exporter's
 * DCGM_FI_DEV_POWER_USAGE with the node's name in Hostname, or Kepler's kepler_node_gpu_watts with it in the
 * constant label node_name.
 */
async function startFakeExporter(
  kind: "DCGM" | "Kepler",
  node: string,
  watts: number[],
): Promise<{ address: string; close(): Promise<void> }> {
  const lines =
    kind === "DCGM"
      ? [
          "# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).",
          "# TYPE DCGM_FI_DEV_POWER_USAGE gauge",
          ...watts.map(
            (w, gpu) =>
              `DCGM_FI_DEV_POWER_USAGE{gpu="${gpu}",UUID="GPU-it-${gpu}",device="nvidia${gpu}",modelName="NVIDIA H100 80GB HBM3",Hostname="${node}"} ${w}`,
          ),
        ]
      : [
          "# HELP kepler_node_gpu_watts Total power consumption of GPU at node level in watts",
          "# TYPE kepler_node_gpu_watts gauge",
          ...watts.map(
            (w, gpu) =>
              `kepler_node_gpu_watts{gpu="${gpu}",gpu_uuid="GPU-it-${gpu}",vendor="nvidia",node_name="${node}"} ${w}`,
          ),
        ];
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(`${lines.join("\n")}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

integrationSuite("measured power", () => {
  const NS = "it-power";
  const POOL = "it-pow-h100";
  const NODE = "it-pow-0";
  const SVC = "chat";
  const BUDGET = "it-power";
  const BUSY = 700; // the pool's busyWattsPerGPU; idle 90
  // Two GPUs serving at 400 W, six idle at 100 W: 1400 W on the node. Per GPU in use, the draw less the idle
  // GPUs' nominal idle watts: (1400 - 6 * 90) / 2 = 430 W.
  const GPU_WATTS = [400, 400, 100, 100, 100, 100, 100, 100];
  const PER_GPU = (1400 - 6 * 90) / 2;

  let admin: KubeClient;
  let exporter: { address: string; close(): Promise<void> } | undefined;
  let kepler: { address: string; close(): Promise<void> } | undefined;
  let prometheus: PrometheusProcess;
  let work: string;
  let operator: OperatorProcess;
  const admCfg = () => inject("adminKubeconfig");

  type Condition = { type: string; status: string; reason: string; message: string };
  type Budget = KubeObject & {
    status?: { used?: { powerWatts?: number }; powerSource?: string; conditions?: Condition[] };
  };
  type Pool = KubeObject & {
    status?: { powerWatts?: number; powerSource?: string; usedGPUs?: number; conditions?: Condition[] };
  };
  const budget = () => admin.get<Budget>(pathFor(R.capacityBudgets, { name: BUDGET }));
  const pool = () => admin.get<Pool>(pathFor(R.gpuNodePools, { name: POOL }));
  const servicePower = async () =>
    (
      await admin.get<KubeObject & { status?: { powerWatts?: number } }>(
        pathFor(R.inferenceServices, { namespace: NS, name: SVC }),
      )
    ).status?.powerWatts;
  const condition = (c: Condition[] | undefined) => c?.find((x) => x.type === "PowerMeasured");
  const eventsOf = async (name: string) =>
    (
      await admin.list<KubeObject & { reason: string; regarding: { name: string } }>(
        pathFor(R.events, { namespace: "default" }),
      )
    ).items
      .filter((e) => e.regarding?.name === name)
      .map((e) => e.reason);

  beforeAll(async () => {
    admin = await KubeClient.create(admCfg());
    kubectl(admCfg(), ["create", "namespace", NS]);
    exporter = await startFakeExporter("DCGM", NODE, GPU_WATTS);
    // More targets come through file_sd (the Kepler exporter, later).
    work = mkdtempSync(join(tmpdir(), "it-power-"));
    writeFileSync(join(work, "targets.json"), "[]");
    prometheus = await startPrometheus(
      [{ address: exporter.address, labels: { job_kind: "dcgm-exporter" } }],
      {
        fileSd: join(work, "targets.json"),
      },
    );
    await admin.apply(
      pathFor(R.gpuNodePools, { name: POOL }),
      gpuNodePool(POOL, {
        maxNodes: 1,
        provider: { type: "static" },
        power: { busyWattsPerGPU: BUSY, idleWattsPerGPU: 90, measured: { source: "DCGM" } },
      }),
    );
    await admin.apply(pathFor(R.nodes, { name: NODE }), gpuNode(NODE, POOL, 8));
    await admin.apply(pathFor(R.capacityBudgets, { name: BUDGET }), {
      apiVersion: "inferops.dev/v1alpha1",
      kind: "CapacityBudget",
      metadata: { name: BUDGET },
      spec: {
        scope: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": NS } } },
        limits: { powerWatts: 10_000 },
      },
    });
    // Two one-GPU replicas (mode Manual: no model server needed); kwok runs their pods on the node.
    await admin.apply(
      pathFor(R.inferenceServices, { namespace: NS, name: SVC }),
      inferenceService(SVC, NS, {
        accelerators: [{ pool: POOL, gpusPerReplica: 1 }],
        scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 4 },
        replicas: 2,
      }),
    );
    operator = await startOperatorProcess({
      kubeconfig: inject("operatorKubeconfig"),
      identity: "op-power",
      extraArgs: ["--prometheus-url", prometheus.url],
    });
  });

  afterAll(async () => {
    await operator?.stop();
    await exporter?.close();
    await kepler?.close();
    await prometheus?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    for (const args of [
      ["delete", "namespace", NS, "--wait=false"],
      ["delete", "capacitybudgets", BUDGET],
      ["delete", "gpunodepools", POOL],
      ["delete", "node", NODE],
    ])
      kubectl(admCfg(), [...args, "--ignore-not-found"]);
    await admin?.close();
  });

  describe("a measured pool", () => {
    it("reports the measured watts, and the budget counts them per GPU in use and says DCGM", async () => {
      await eventually(
        async () => {
          const p = await pool();
          expect(p.status).toMatchObject({ usedGPUs: 2, powerWatts: 1400, powerSource: "DCGM" });
          expect(condition(p.status?.conditions)).toMatchObject({ status: "True", reason: "PowerMeasured" });
          const b = await budget();
          expect(b.status).toMatchObject({ powerSource: "DCGM", used: { powerWatts: 2 * PER_GPU } });
          expect(condition(b.status?.conditions)).toMatchObject({ status: "True", reason: "PowerMeasured" });
          expect(await servicePower()).toBe(2 * PER_GPU);
        },
        { timeoutMs: 60_000 },
      );
      // Wide columns: the pool's watts and where they come from; the budget's source.
      expect(kubectl(admCfg(), ["get", "gpupool", POOL, "-o", "wide"])).toMatch(/\s1400\s+DCGM\s/);
      expect(kubectl(admCfg(), ["get", "capbudget", BUDGET, "-o", "wide"])).toMatch(/\sDCGM\s/);
    });

    it("falls back to nominal watts, not zero, when the exporter stops, and says the measurement is stale", async () => {
      await exporter?.close();
      exporter = undefined;
      await eventually(
        async () => {
          const b = await budget();
          expect(b.status).toMatchObject({ powerSource: "Nominal", used: { powerWatts: 2 * BUSY } });
          expect(condition(b.status?.conditions)).toMatchObject({
            status: "False",
            reason: "PowerMeasurementStale",
          });
          expect(condition(b.status?.conditions)?.message).toContain(
            `no fresh DCGM sample for every GPU of node(s) ${NODE}`,
          );
          const p = await pool();
          // Nominal: two GPUs in use at busy watts, six idle at idle watts.
          expect(p.status).toMatchObject({ powerWatts: 2 * BUSY + 6 * 90, powerSource: "Nominal" });
          expect(await servicePower()).toBe(2 * BUSY);
          expect(condition(p.status?.conditions)).toMatchObject({
            status: "False",
            reason: "PowerMeasurementStale",
          });
        },
        { timeoutMs: 60_000 },
      );
      await eventually(async () => {
        const reasons = await eventsOf(POOL);
        expect(reasons).toContain("PowerMeasured");
        expect(reasons).toContain("PowerMeasurementStale");
        expect(await eventsOf(BUDGET)).toContain("PowerMeasurementStale");
      });
    });

    it("reads Kepler's kepler_node_gpu_watts by node_name when the pool says source Kepler", async () => {
      // Kepler reports a little more: 1500 W, so (1500 - 6 * 90) / 2 = 480 W per GPU in use.
      kepler = await startFakeExporter("Kepler", NODE, [450, 450, 100, 100, 100, 100, 100, 100]);
      writeFileSync(
        join(work, "targets.json.tmp"),
        JSON.stringify([{ targets: [kepler.address], labels: {} }]),
      );
      renameSync(join(work, "targets.json.tmp"), join(work, "targets.json"));
      await admin.apply(
        pathFor(R.gpuNodePools, { name: POOL }),
        gpuNodePool(POOL, {
          maxNodes: 1,
          provider: { type: "static" },
          power: { busyWattsPerGPU: BUSY, idleWattsPerGPU: 90, measured: { source: "Kepler" } },
        }),
      );
      await eventually(
        async () => {
          const p = await pool();
          expect(p.status).toMatchObject({ powerWatts: 1500, powerSource: "Kepler" });
          expect(condition(p.status?.conditions)).toMatchObject({ status: "True", reason: "PowerMeasured" });
          const b = await budget();
          expect(b.status).toMatchObject({ powerSource: "Kepler", used: { powerWatts: 2 * 480 } });
        },
        { timeoutMs: 60_000 },
      );
    });
  });
});
