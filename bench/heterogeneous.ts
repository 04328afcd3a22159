// npm run bench:hetero [-- --hours 0-24] [--workers N] [--out DIR]
//
// Heterogeneous fleet (issue 12): the standard conv day (bench/day-slice.ts) served by Llama-3.1-8B FP8 on
// vLLM with three variants, an L4, an L40S and an H100 pool of one-GPU nodes at list prices, each played by
// the serving model's profile for its GPU. inferops (plan() with the optimiser, and the same planner with the
// greedy allocation in its place) on the mixed fleet, against each single-type fleet at the same SLO
// targets; then the same day when the type the mixed fleet prefers (cheapest per token at its profile's
// capacity) can get only half the GPUs its own single-type fleet needed at peak (maxNodes capped): the capped
// single-type fleet, and the capped mixed fleet with the optimiser and with the greedy. Prints a table and
// writes bench/results/heterogeneous.json.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Job, workerRunner } from "../operator/src/simulation/jobs.ts";
import { ATTAINMENT_TARGET } from "../operator/src/simulation/report.ts";
import { DEFAULT_SLO, primaryPool, type Scenario } from "../operator/src/simulation/scenario.ts";
import type { RunResult } from "../operator/src/simulation/simulate.ts";
import {
  dayBenchArgs,
  dayScenario,
  dayTrace,
  GPU_TYPES,
  getProfile,
  pct,
  provenance,
  table,
  usd,
  warmReplicas,
} from "./day-slice.ts";

const { from, to, workers, out } = dayBenchArgs();
const started = performance.now();
const trace = dayTrace([from, to]);

type Variant = (typeof GPU_TYPES)[number];

function scenarioOf(variants: readonly Variant[], maxNodes: Record<string, number> = {}): Scenario {
  return dayScenario(
    variants.map((v) => ({
      pool: v.pool,
      profile: getProfile(v.profile),
      spec: maxNodes[v.pool] !== undefined ? { ...v.spec, maxNodes: maxNodes[v.pool]! } : v.spec,
    })),
  );
}

function job(scenario: Scenario, allocator: "optimiser" | "greedy"): Job {
  const primary = primaryPool(scenario);
  return {
    kind: "run",
    trace,
    scenario,
    policy: { family: "inferops", allocator },
    // Hourly counts of requests and misses (RunResult.windows), to say when a fleet misses.
    options: { warmReplicas: warmReplicas(trace, scenario.profiles[primary]!), windowSeconds: 3600 },
  };
}

interface Row {
  fleet: string;
  allocator: "optimiser" | "greedy";
  maxNodes: Record<string, number>;
  result: RunResult;
}

/** The hour with the lowest attainment: "HH:00 xx.xx%" ("no miss" when every request met the SLO). */
function worstHour(r: RunResult): string {
  const w = r.windows;
  if (!w) return "-";
  let worst = 0;
  let at = 0;
  w.requests.forEach((n, i) => {
    const missed = n > 0 ? w.misses[i]! / n : 0;
    if (missed > worst) {
      worst = missed;
      at = i;
    }
  });
  return worst === 0 ? "no miss" : `${String(from + at).padStart(2, "0")}:00 ${pct(1 - worst)}`;
}

const runner = workerRunner(workers);
const rows: Row[] = [];
try {
  const run = async (
    fleet: string,
    variants: readonly Variant[],
    allocator: "optimiser" | "greedy",
    maxNodes = {},
  ) => {
    const result = (await runner.run(job(scenarioOf(variants, maxNodes), allocator))) as RunResult;
    rows.push({ fleet, allocator, maxNodes, result });
    console.error(`  ${fleet} (${allocator}): ${pct(result.sloAttainment)}, ${usd(result.costUsd)}`);
    return result;
  };
  const singles = await Promise.all(GPU_TYPES.map((v) => run(`${v.pool} only`, [v], "optimiser")));
  await Promise.all([run("mixed", GPU_TYPES, "optimiser"), run("mixed", GPU_TYPES, "greedy")]);

  // The type the mixed fleet prefers, capped at half of what its own single-type fleet needed at peak.
  const preferred = primaryPool(scenarioOf(GPU_TYPES));
  const alone = singles[GPU_TYPES.findIndex((v) => v.pool === preferred)]!;
  const peakNodes = Math.max(...alone.timeline.map((p) => p.nodes));
  const cap = { [preferred]: Math.max(1, Math.floor(peakNodes / 2)) };
  const variant = GPU_TYPES.find((v) => v.pool === preferred)!;
  // And without the H100 variant: where the spill goes when the next type per token is not offered.
  const withoutH100 = GPU_TYPES.filter((v) => v.pool !== "h100");
  await Promise.all([
    run(`${preferred} only, capped`, [variant], "optimiser", cap),
    run("mixed, capped", GPU_TYPES, "optimiser", cap),
    run("mixed, capped", GPU_TYPES, "greedy", cap),
    run(`${withoutH100.map((v) => v.pool).join(" + ")}, capped`, withoutH100, "optimiser", cap),
  ]);

  const seconds = (performance.now() - started) / 1000;
  const cheapestSingle = rows
    .filter((r) => r.fleet.endsWith(" only") && r.result.sloAttainment >= ATTAINMENT_TARGET)
    .sort((a, b) => a.result.costUsd - b.result.costUsd)[0];
  const prov = provenance();
  const header = [
    "fleet",
    "allocator",
    "SLO attainment",
    "GPU cost",
    "vs cheapest single type",
    "GPU-h L4 / L40S / H100",
    "energy kWh",
    "TTFT p50 / p99 s",
    "scale actions",
    "worst hour's SLO",
  ];
  const lines = rows.map((r) => {
    const byPool = r.result.gpuHoursByPool ?? { [r.fleet.split(" ")[0]!]: r.result.gpuHours };
    return [
      r.fleet +
        (Object.keys(r.maxNodes).length > 0
          ? ` (${Object.entries(r.maxNodes)
              .map(([p, n]) => `${p} maxNodes ${n}`)
              .join(", ")})`
          : ""),
      r.allocator,
      pct(r.result.sloAttainment),
      usd(r.result.costUsd),
      cheapestSingle
        ? `${(((r.result.costUsd - cheapestSingle.result.costUsd) / cheapestSingle.result.costUsd) * 100).toFixed(1)}%`
        : "n/a",
      GPU_TYPES.map((v) => (byPool[v.pool] ?? 0).toFixed(1)).join(" / "),
      r.result.energyKWh.toFixed(1),
      `${r.result.ttftP50.toFixed(2)} / ${r.result.ttftP99.toFixed(2)}`,
      String(r.result.scaleActions),
      worstHour(r.result),
    ];
  });
  const markdown = table(header, lines);
  console.log(
    `Heterogeneous fleet, ${trace.name} (${trace.arrivals.length} requests), ${seconds.toFixed(0)} s on ${prov.machine}, load ${prov.load}, commit ${prov.commit}`,
  );
  console.log(
    `cheapest single-type fleet at >= ${pct(ATTAINMENT_TARGET)}: ${cheapestSingle?.fleet ?? "none"}; preferred type ${preferred}, capped at ${cap[preferred]} nodes (its single-type fleet peaked at ${peakNodes})`,
  );
  console.log(markdown);
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, "heterogeneous.json"),
    `${JSON.stringify(
      {
        trace: { name: trace.name, requests: trace.arrivals.length, hours: [from, to] },
        slo: DEFAULT_SLO,
        pools: GPU_TYPES.map((v) => ({ name: v.pool, profile: v.profile, price: v.price, spec: v.spec })),
        preferred,
        cap,
        cheapestSingle: cheapestSingle?.fleet,
        seconds,
        ...prov,
        runs: rows.map((r) => ({
          fleet: r.fleet,
          allocator: r.allocator,
          maxNodes: r.maxNodes,
          ...Object.fromEntries(Object.entries(r.result).filter(([k]) => k !== "timeline")),
        })),
        table: markdown,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await runner.close();
}
