// Measured power end to end: a real Prometheus scrapes a fake NVIDIA DCGM exporter (DCGM_FI_DEV_POWER_USAGE
// per GPU, with the node's name in Hostname, as dcgm-exporter serves it); a GPUNodePool with
// spec.power.measured {source: DCGM} reports the measured watts, and the CapacityBudget over its services
// counts the measured watts per GPU in use and says DCGM, as does the InferenceService's status.powerWatts. The exporter stops: Prometheus marks its series
// stale, and the pool and the budget fall back to nominal watts (not zero), with PowerMeasured False and an
// event.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { gpuNode, gpuNodePool, inferenceService } from "../helpers/objects.ts";
import { type OperatorProcess, startOperatorProcess } from "../helpers/operator.ts";
import { type PrometheusProcess, startPrometheus } from "../helpers/prometheus.ts";
import { integrationSuite } from "../helpers/suite.ts";

/** Serves dcgm-exporter's power gauge for the 8 GPUs of one node: `watts[i]` for GPU i. */
async function startFakeDcgmExporter(
  node: string,
  watts: number[],
): Promise<{ address: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    const lines = [
      "# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).",
      "# TYPE DCGM_FI_DEV_POWER_USAGE gauge",
      ...watts.map(
        (w, gpu) =>
          `DCGM_FI_DEV_POWER_USAGE{gpu="${gpu}",UUID="GPU-it-${gpu}",device="nvidia${gpu}",modelName="NVIDIA H100 80GB HBM3",Hostname="${node}"} ${w}`,
      ),
    ];
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
  let prometheus: PrometheusProcess;
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
    exporter = await startFakeDcgmExporter(NODE, GPU_WATTS);
    prometheus = await startPrometheus([
      { address: exporter.address, labels: { job_kind: "dcgm-exporter" } },
    ]);
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
    await prometheus?.stop();
    for (const args of [
      ["delete", "namespace", NS, "--wait=false"],
      ["delete", "capacitybudgets", BUDGET],
      ["delete", "gpunodepools", POOL],
      ["delete", "node", NODE],
    ])
      kubectl(admCfg(), [...args, "--ignore-not-found"]);
    await admin?.close();
  });

  describe("a pool measured by DCGM", () => {
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
            `no fresh DCGM sample for node(s) ${NODE}`,
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
  });
});
