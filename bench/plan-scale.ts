// npm run bench:plan [-- --services 10000 --nodes 2000 --pools 20 --tight 2 --runs 40 --seed 1]
//
// plan() at scale: a synthetic snapshot (plan-scale-snapshot.ts) of N services on P pools holding M nodes,
// with three CapacityBudgets of which one binds. Each allocator runs in a child process of its own, so that
// its peak memory (max RSS) is its own: `optimiser` times plan() end to end (stage 1 and the optimiser),
// and `greedy` plan() with the greedy allocation (allocate.ts, the fallback) in place of the optimiser
// (PlanOptions.allocator). Prints median and p99 time per plan(), the median CPU time of the process per
// plan() (less moved by other load than the wall clock), and peak RSS for both, as JSON and as a table. Each
// stage 2 is then timed alone on the same asks in a loop of its own (not counted in plan()'s time), with how
// many runs hit the optimiser's time limit.
import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { allocate, variantOptions } from "../operator/src/planning/allocate.ts";
import { decideService } from "../operator/src/planning/decide.ts";
import { optimise } from "../operator/src/planning/optimise.ts";
import { plan } from "../operator/src/planning/plan.ts";
import { scaleSnapshot } from "./plan-scale-snapshot.ts";

const { values } = parseArgs({
  options: {
    services: { type: "string", default: "10000" },
    nodes: { type: "string", default: "2000" },
    pools: { type: "string", default: "20" },
    runs: { type: "string", default: "40" },
    seed: { type: "string", default: "1" },
    tight: { type: "string", default: "2" },
    allocator: { type: "string" },
  },
});
const size = {
  services: Number(values.services),
  nodes: Number(values.nodes),
  pools: Number(values.pools),
  seed: Number(values.seed),
  tight: Number(values.tight),
};
const runs = Number(values.runs);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

interface ChildResult {
  allocator: string;
  medianMs: number;
  p99Ms: number;
  cpuMedianMs: number;
  stage2MedianMs: number;
  stage2P99Ms: number;
  peakRssMiB: number;
  solver: string;
  coupled: number;
  replicas: number;
  heldBack: number;
  /** Timed runs whose optimiser hit its time limit (and used the greedy's plan). */
  timeLimitHits: number;
  /** Whether the optimiser's plan was proven optimal, so the greedy was not run to be compared (optimise.ts). */
  proven?: boolean;
}

function child(allocator: "optimiser" | "greedy"): ChildResult {
  const { snapshot, nowMs } = scaleSnapshot(size);
  const pools = new Map(snapshot.pools.map((p) => [p.name, p]));
  const times: number[] = [];
  /** CPU time of the process per plan() (all its threads, the garbage collector's too): less moved by load. */
  const cpu: number[] = [];
  const stage2: number[] = [];
  let timeLimitHits = 0;
  let last: ReturnType<typeof optimise> | ReturnType<typeof allocate> | undefined;
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const p = plan(snapshot, nowMs, { allocator });
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (p.services.length !== snapshot.services.length) throw new Error("plan lost services");
  }
  // Stage 2 alone, on the same asks, for the split: in a loop of its own, so that the garbage its stage 1
  // leaves is not collected inside a timed plan().
  for (let i = 0; i < runs + 2; i++) {
    const firsts = snapshot.services.map((svc) => {
      const { options, unusable } = variantOptions(svc.spec.accelerators, pools);
      return decideService(svc, snapshot, pools, { options, unusable: unusable.map((u) => u.why) }, nowMs);
    });
    const input = {
      asks: firsts.map((f) => f.ask),
      pools: snapshot.pools,
      budgets: snapshot.budgets,
      nowMs,
      leadSeconds: new Map(firsts.map((f) => [f.svc.key, f.lead])),
    };
    const t1 = performance.now();
    const optimised = allocator === "optimiser" ? optimise(input) : undefined;
    last = optimised ?? allocate(input);
    stage2.push(performance.now() - t1);
    if (i >= 2 && optimised?.fallback?.includes("time limit")) timeLimitHits++;
  }
  // The first two runs warm the JIT and are not counted.
  const t = times.slice(2);
  const s = stage2.slice(2);
  const a = last!;
  return {
    allocator,
    medianMs: quantile(t, 0.5),
    p99Ms: quantile(t, 0.99),
    cpuMedianMs: quantile(cpu.slice(2), 0.5),
    stage2MedianMs: quantile(s, 0.5),
    stage2P99Ms: quantile(s, 0.99),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    solver: "solver" in a ? `${a.solver}${a.fallback ? ` (${a.fallback})` : ""}` : "greedy",
    coupled: "coupled" in a ? a.coupled : 0,
    replicas: [...a.services.values()].reduce((n, p) => n + p.total, 0),
    heldBack: a.budgets.reduce((n, b) => n + b.heldBack.reduce((m, h) => m + h.replicas, 0), 0),
    timeLimitHits,
    ...("proven" in a && a.proven !== undefined ? { proven: a.proven } : {}),
  };
}

if (values.allocator === "optimiser" || values.allocator === "greedy") {
  process.stdout.write(`${JSON.stringify(child(values.allocator))}\n`);
} else {
  const results: ChildResult[] = [];
  for (const allocator of ["optimiser", "greedy"] as const) {
    const out = execFileSync(
      process.execPath,
      [
        import.meta.filename,
        `--allocator=${allocator}`,
        `--services=${size.services}`,
        `--nodes=${size.nodes}`,
        `--pools=${size.pools}`,
        `--runs=${runs}`,
        `--seed=${size.seed}`,
        `--tight=${size.tight}`,
      ],
      { encoding: "utf8", maxBuffer: 1 << 20 },
    );
    results.push(JSON.parse(out.trim().split("\n").pop()!) as ChildResult);
  }
  const cpu = cpus()[0]?.model ?? "unknown";
  console.log(
    `plan() at ${size.services} services, ${size.nodes} nodes, ${size.pools} pools (${size.tight} at maxNodes); ${runs} runs each; ` +
      `${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`,
  );
  console.log(
    "| allocator | plan() median | plan() p99 | plan() CPU median | stage 2 median | stage 2 p99 | peak RSS | placed | held back | how |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of results) {
    console.log(
      `| ${r.allocator} | ${r.medianMs.toFixed(0)} ms | ${r.p99Ms.toFixed(0)} ms | ${r.cpuMedianMs.toFixed(0)} ms | ${r.stage2MedianMs.toFixed(0)} ms | ${r.stage2P99Ms.toFixed(0)} ms | ${r.peakRssMiB.toFixed(0)} MiB | ${r.replicas} | ${r.heldBack} | ${r.solver}${r.coupled ? `, ${r.coupled} services in the program` : ""}${r.proven !== undefined ? (r.proven ? ", proven optimal (no greedy run)" : ", not proven (the greedy run and compared)") : ""}${r.timeLimitHits ? `; ${r.timeLimitHits} of ${runs} runs hit the time limit` : ""} |`,
    );
  }
  console.log(JSON.stringify(results));
}
