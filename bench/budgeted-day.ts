// npm run bench:budget [-- --hours 0-24] [--workers N] [--out DIR]
//
// Budgeted day (issue 12): two services share one CapacityBudget with a peak-hour power window. "chat"
// (priority 900) serves the standard conv day, "batch" (priority 100) the standard code day, both
// Llama-3.1-8B FP8 on vLLM on one-GPU L4 nodes (bench/standard.ts's L4 pool; a pool each, so that their
// nodes do not interact: the budget is what they share). Both days peak at 16:00.
//
// First the two run without a budget; the budget is then set from that run: a base power limit at the
// pair's unbudgeted peak (as budgets.ts counts it: busy watts of every replica) and a "peak" window,
// 14:00-18:00 UTC, limiting power to 1.25 times chat's own unbudgeted peak, which holds chat and squeezes
// batch. Then the budgeted run. Reports seconds over any budget (as the simulator meters it: every pod that
// exists, pending and draining ones included, against the limits in force each second), each service's
// SLO attainment with and without the budget, dollars and kWh. Prints a table and writes
// bench/results/budgeted-day.json.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CapacityBudgetSpec, capacityBudgetSpecSchema } from "../operator/src/apis/capacitybudget.ts";
import { type Job, workerRunner } from "../operator/src/simulation/jobs.ts";
import { DEFAULT_SLO, type Scenario } from "../operator/src/simulation/scenario.ts";
import type { RunResult } from "../operator/src/simulation/simulate.ts";
import type { Trace } from "../operator/src/simulation/trace.ts";
import {
  dayBenchArgs,
  dayTrace,
  getProfile,
  llamaSpec,
  pct,
  provenance,
  table,
  usd,
  warmReplicas,
} from "./day-slice.ts";
import { L4_POOL, PROFILE_ID } from "./standard.ts";

const { from, to, workers, out } = dayBenchArgs();
const started = performance.now();

/** The peak window, UTC (the days' t = 0 is midnight UTC; their peak is 16:00). */
export const WINDOW = { name: "peak", start: "14:00", end: "18:00" } as const;
/** The window's power limit over chat's own unbudgeted peak. */
export const WINDOW_OVER_CHAT_PEAK = 1.25;

const profile = getProfile(PROFILE_ID);
const chatTrace = dayTrace([from, to], "conv", 1);
const batchTrace = dayTrace([from, to], "code", 2);

/** The two services (chat first: the scenario's service; batch: the other) and their budget, if any. */
export function budgetedScenario(budget?: CapacityBudgetSpec): Scenario {
  const service = (name: string, namespace: string, priority: number) => ({
    namespace,
    name,
    spec: llamaSpec([{ pool: `l4-${name}`, profile }], { priority }),
  });
  return {
    service: service("chat", "chat", 900),
    otherServices: [service("batch", "batch", 100)],
    pools: [
      { name: "l4-chat", spec: L4_POOL },
      { name: "l4-batch", spec: L4_POOL },
    ],
    budgets: budget ? [{ name: "shared", spec: budget, namespaces: ["chat", "batch"] }] : [],
    profiles: { "l4-chat": profile, "l4-batch": profile },
    slo: DEFAULT_SLO,
    intervalSeconds: 10,
  };
}

function job(scenario: Scenario): Job {
  const others = scenario.otherServices?.length ?? 0;
  return {
    kind: "run",
    trace: chatTrace,
    scenario,
    policy: { family: "inferops" },
    options: {
      warmReplicas: warmReplicas(chatTrace, profile),
      ...(others > 0
        ? { otherTraces: [batchTrace], otherWarmReplicas: [warmReplicas(batchTrace, profile)] }
        : {}),
    },
  };
}

/** The most replicas a timeline of one run held at once, as planned power (busy watts per replica). */
const wattsPerReplica = L4_POOL.power.busyWattsPerGPU;

const runner = workerRunner(workers);
try {
  // Unbudgeted: the pair, and chat alone (its peak sets the window).
  const chatAlone: Scenario = {
    ...budgetedScenario(),
    otherServices: [],
    pools: [budgetedScenario().pools[0]!],
  };
  const [free, alone] = (await Promise.all([
    runner.run(job(budgetedScenario())),
    runner.run(job(chatAlone)),
  ])) as [RunResult, RunResult];
  const peakDesired = (r: RunResult) => Math.max(...r.timeline.map((p) => p.desired));
  const pairPeakW = peakDesired(free) * wattsPerReplica;
  const chatPeakW = peakDesired(alone) * wattsPerReplica;
  const budget = capacityBudgetSpecSchema.parse({
    limits: { powerWatts: pairPeakW },
    timeZone: "UTC",
    windows: [
      {
        ...WINDOW,
        days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        limits: { powerWatts: Math.round(chatPeakW * WINDOW_OVER_CHAT_PEAK) },
      },
    ],
  });
  const held = (await runner.run(job(budgetedScenario(budget)))) as RunResult;

  const seconds = (performance.now() - started) / 1000;
  const prov = provenance();
  const batchOf = (r: RunResult) => r.otherServices![0]!;
  const rows = [
    ["chat alone, no budget", alone, undefined],
    ["chat + batch, no budget", free, batchOf(free)],
    ["chat + batch, budget", held, batchOf(held)],
  ] as const;
  const markdown = table(
    [
      "run",
      "seconds over budget",
      "chat (900) SLO",
      "batch (100) SLO",
      "GPU cost",
      "energy kWh",
      "GPU-h chat / batch",
      "peak planned W",
    ],
    rows.map(([name, r, b]) => [
      name,
      String(r.budgetViolationSeconds),
      pct(r.sloAttainment),
      b ? pct(b.sloAttainment) : "-",
      usd(r.costUsd),
      r.energyKWh.toFixed(1),
      r.gpuHoursByPool
        ? `${r.gpuHoursByPool["l4-chat"]!.toFixed(1)} / ${r.gpuHoursByPool["l4-batch"]!.toFixed(1)}`
        : r.gpuHours.toFixed(1),
      String(peakDesired(r) * wattsPerReplica),
    ]),
  );
  console.log(
    `Budgeted day, ${chatTrace.name} (${chatTrace.arrivals.length} requests) and ${batchTrace.name} (${batchTrace.arrivals.length}), ${seconds.toFixed(0)} s on ${prov.machine}, load ${prov.load}, commit ${prov.commit}`,
  );
  console.log(
    `budget: ${pairPeakW} W base (the pair's unbudgeted peak), ${budget.windows![0]!.limits.powerWatts} W from ${WINDOW.start} to ${WINDOW.end} UTC (${WINDOW_OVER_CHAT_PEAK} x chat's unbudgeted peak of ${chatPeakW} W)`,
  );
  console.log(markdown);
  const strip = (r: RunResult) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== "timeline"));
  const powerOf = (r: RunResult, trace: Trace) =>
    r.timeline.map((p) => ({
      t: p.t,
      hour: new Date(trace.startMs + p.t * 1000).toISOString().slice(11, 16),
      desired: p.desired,
      powerW: p.powerW,
    }));
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, "budgeted-day.json"),
    `${JSON.stringify(
      {
        traces: {
          chat: { name: chatTrace.name, requests: chatTrace.arrivals.length },
          batch: { name: batchTrace.name, requests: batchTrace.arrivals.length },
          hours: [from, to],
        },
        slo: DEFAULT_SLO,
        pool: L4_POOL,
        budget,
        seconds,
        ...prov,
        runs: Object.fromEntries(rows.map(([name, r]) => [name, strip(r)])),
        budgetedTimeline: powerOf(held, chatTrace),
        table: markdown,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await runner.close();
}
