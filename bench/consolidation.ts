// npm run bench:consolidation [-- --hours 0-24] [--workers N] [--out DIR]
//
// Pod-deletion cost on nodes that hold several replicas (issue 12): the standard conv day (bench/day-slice.ts)
// served by Llama-3.1-8B FP8 on vLLM on an L4 pool of four-GPU nodes (one GPU per replica, four replicas
// per node, the per-GPU price of bench/standard.ts's L4 pool), by inferops twice: removing on each
// scale-down the pods the operator's pod-deletion-cost ranks first (controllers/inferenceservice/
// deletion.ts: not-ready pods, then pods on the nodes with the fewest replicas, so nodes empty and their
// billing stops), and removing them in the ReplicaSet's own order without it (not-ready first, then the
// most recently ready). Same plans, same trace; only which pods go differs. Prints a table and writes
// bench/results/consolidation.json.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gpuNodePoolSpecSchema } from "../operator/src/apis/gpunodepool.ts";
import type { PodDeletion } from "../operator/src/simulation/fleet.ts";
import { type Job, workerRunner } from "../operator/src/simulation/jobs.ts";
import type { RunResult } from "../operator/src/simulation/simulate.ts";
import {
  dayBenchArgs,
  dayScenario,
  dayTrace,
  getProfile,
  pct,
  provenance,
  table,
  usd,
  warmReplicas,
} from "./day-slice.ts";
import { L4_POOL } from "./standard.ts";

const { from, to, workers, out } = dayBenchArgs();
const started = performance.now();
const trace = dayTrace([from, to]);

const GPUS_PER_NODE = 4;
const profile = getProfile("llama-3.1-8b-fp8/l4");
const pool = gpuNodePoolSpecSchema.parse({
  ...L4_POOL,
  gpu: { ...L4_POOL.gpu, count: GPUS_PER_NODE },
  costPerNodeHour: L4_POOL.costPerNodeHour * GPUS_PER_NODE,
  maxNodes: 16,
});
const scenario = dayScenario([{ pool: "l4", profile, spec: pool }]);

const modes: { mode: PodDeletion; label: string }[] = [
  { mode: "deletionCost", label: "pod-deletion-cost (the operator's)" },
  { mode: "notReadyFirst", label: "ReplicaSet order, no deletion cost" },
];
const runner = workerRunner(workers);
try {
  const results = await Promise.all(
    modes.map(
      ({ mode }) =>
        runner.run({
          kind: "run",
          trace,
          scenario,
          policy: { family: "inferops" },
          options: { warmReplicas: warmReplicas(trace, profile), overrides: { deletion: mode } },
        } satisfies Job) as Promise<RunResult>,
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const p = provenance();
  const rows = results.map((r, i) => [
    modes[i]!.label,
    pct(r.sloAttainment),
    (r.gpuHours / GPUS_PER_NODE).toFixed(1),
    r.gpuHours.toFixed(1),
    usd(r.costUsd),
    r.energyKWh.toFixed(1),
    String(r.scaleActions),
  ]);
  console.log(
    `Consolidation, ${trace.name} (${trace.arrivals.length} requests) on ${GPUS_PER_NODE}-GPU L4 nodes, ${seconds.toFixed(0)} s on ${p.machine}, load ${p.load}, commit ${p.commit}`,
  );
  console.log(
    table(
      [
        "scale-down removes",
        "SLO attainment",
        "node-hours",
        "GPU-hours billed",
        "cost",
        "energy kWh",
        "scale actions",
      ],
      rows,
    ),
  );
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, "consolidation.json"),
    `${JSON.stringify(
      {
        ...p,
        seconds,
        trace: trace.name,
        gpusPerNode: GPUS_PER_NODE,
        runs: results.map((r, i) => ({
          deletion: modes[i]!.mode,
          sloAttainment: r.sloAttainment,
          gpuHours: r.gpuHours,
          nodeHours: r.gpuHours / GPUS_PER_NODE,
          costUsd: r.costUsd,
          energyKWh: r.energyKWh,
          scaleActions: r.scaleActions,
        })),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await runner.close();
}
