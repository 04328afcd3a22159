// Shared by the fleet benchmarks (heterogeneous.ts, budgeted-day.ts): the standard 24-hour days built as
// bench/run.ts builds its conv-day, or a slice of one; one-GPU node pools at list prices already in the repo;
// the service as a user applies it; provenance and tables for the figures.
import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type GPUNodePoolSpec, gpuNodePoolSpecSchema } from "../operator/src/apis/gpunodepool.ts";
import {
  type InferenceServiceSpec,
  inferenceServiceSpecSchema,
} from "../operator/src/apis/inferenceservice.ts";
import { getProfile } from "../operator/src/serving/profiles.ts";
import type { ServingProfile } from "../operator/src/serving/types.ts";
import { DEFAULT_SLO, type Scenario } from "../operator/src/simulation/scenario.ts";
import { buildTrace, type Trace } from "../operator/src/simulation/trace.ts";
import { H100_POOL, L4_POOL, TRACES_DIR } from "./standard.ts";

/**
 * Copies of each hour in its standard day: conv x5 and code x2, the factors the standard bench found
 * (bench/results/report.md: the fewest copies whose peak minute needs at least 16 L4 replicas).
 */
export const DAY_SCALE = { conv: 5, code: 2 } as const;

/**
 * A standard day (the hour superposed DAY_SCALE times, tiled over 24 hours, thinned by the diurnal
 * multiplier: peak 16:00, trough 04:00 at a fifth), or its hours [from, to) shifted to start at 0 with the
 * wall clock kept (budgets' windows read it).
 */
export function dayTrace(
  hours: readonly [number, number] = [0, 24],
  kind: keyof typeof DAY_SCALE = "conv",
  seed = 1,
): Trace {
  const day = buildTrace({
    name: `${kind}-day`,
    file: join(TRACES_DIR, `azure-llm-2023-${kind}.csv`),
    scale: DAY_SCALE[kind],
    day: true,
    seed,
  });
  const [from, to] = hours;
  if (from === 0 && to === 24) return day;
  const lo = from * 3600;
  const hi = to * 3600;
  const keep: number[] = [];
  for (let i = 0; i < day.arrivals.length; i++)
    if (day.arrivals[i]! >= lo && day.arrivals[i]! < hi) keep.push(i);
  return {
    name: `${day.name} ${from}:00-${to}:00`,
    startMs: day.startMs + lo * 1000,
    durationSeconds: hi - lo,
    arrivals: Float64Array.from(keep, (i) => day.arrivals[i]! - lo),
    prompt: Int32Array.from(keep, (i) => day.prompt[i]!),
    output: Int32Array.from(keep, (i) => day.output[i]!),
  };
}

/** A pool of one-GPU nodes, everything else (provisioning, scale-down delay) at the schema's defaults. */
export function oneGpuPool(
  type: string,
  memoryGiB: number,
  costPerNodeHour: number,
  watts: { busy: number; idle: number },
  maxNodes = 64,
): GPUNodePoolSpec {
  return gpuNodePoolSpecSchema.parse({
    gpu: { type, count: 1, memoryGiB },
    power: { busyWattsPerGPU: watts.busy, idleWattsPerGPU: watts.idle },
    costPerNodeHour,
    minNodes: 0,
    maxNodes,
    provider: { type: "kwok" },
  });
}

/** The three GPU types, one GPU per node, at list prices already in the repo (the per-GPU share of a node). */
export const GPU_TYPES = [
  {
    pool: "l4",
    profile: "llama-3.1-8b-fp8/l4",
    // bench/standard.ts L4_POOL: AWS g6.xlarge-class on-demand, us-east-1.
    spec: L4_POOL,
    price: "g6.xlarge-class, $0.8048/h (bench/standard.ts)",
  },
  {
    pool: "l40s",
    profile: "llama-3.1-8b-fp8/l40s",
    // examples/gpunodepool-l40s.yaml: a g6e.12xlarge-class node of four L40S at $10.49/h, 350 W / 35 W.
    spec: oneGpuPool("nvidia-l40s", 48, 10.49 / 4, { busy: 350, idle: 35 }),
    price: "a quarter of g6e.12xlarge-class $10.49/h (examples/gpunodepool-l40s.yaml)",
  },
  {
    pool: "h100",
    profile: "llama-3.1-8b-fp8/h100",
    // bench/standard.ts H100_POOL: an eighth of a p5.48xlarge-class node at $98.32/h, 700 W / 90 W.
    spec: H100_POOL,
    price: "an eighth of p5.48xlarge-class $98.32/h (examples/gpunodepool-h100.yaml)",
  },
] as const;

/** Llama-3.1-8B FP8 on vLLM with inferops' defaults on the given variants (each profile in the spec). */
export function llamaSpec(
  variants: readonly { pool: string; profile: ServingProfile }[],
  overrides: { priority?: number; minReplicas?: number } = {},
): InferenceServiceSpec {
  return inferenceServiceSpecSchema.parse({
    model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
    template: { spec: { containers: [{ name: "vllm", image: "vllm/vllm-openai:v0.11.0" }] } },
    accelerators: variants.map((v) => ({
      pool: v.pool,
      gpusPerReplica: 1,
      profile: {
        maxTokensPerSecond: v.profile.spec.maxTokensPerSecond,
        maxConcurrentRequests: v.profile.spec.maxConcurrentRequests,
      },
    })),
    scaling: {
      minReplicas: overrides.minReplicas ?? 1,
      maxReplicas: 64,
      targets: { ttftSeconds: DEFAULT_SLO.ttftSeconds, itlSeconds: DEFAULT_SLO.itlSeconds },
    },
    ...(overrides.priority !== undefined ? { priority: overrides.priority } : {}),
  });
}

export { getProfile };

/**
 * Replicas ready at t = 0: the first minute's tokens per second over the profile's capacity at the default
 * token utilisation (0.8), at least 1. A warm start, not a decision: inferops takes over from the first
 * interval.
 */
export function warmReplicas(trace: Trace, profile: ServingProfile): number {
  let tokens = 0;
  for (let i = 0; i < trace.arrivals.length && trace.arrivals[i]! < 60; i++)
    tokens += trace.prompt[i]! + trace.output[i]!;
  return Math.max(1, Math.ceil(tokens / 60 / (profile.spec.maxTokensPerSecond * 0.8)));
}

/**
 * One service (bench/llama-8b, llamaSpec with inferops' defaults) on the given pools, each played by its
 * profile: no budget, the standard SLO, a 10 s interval.
 */
export function dayScenario(
  variants: readonly { pool: string; profile: ServingProfile; spec: GPUNodePoolSpec }[],
): Scenario {
  return {
    service: { namespace: "bench", name: "llama-8b", spec: llamaSpec(variants) },
    pools: variants.map((v) => ({ name: v.pool, spec: v.spec })),
    budgets: [],
    profiles: Object.fromEntries(variants.map((v) => [v.pool, v.profile])),
    slo: DEFAULT_SLO,
    intervalSeconds: 10,
  };
}

/** Machine, load, commit and date, for the figures' provenance. */
export function provenance(): { machine: string; load: string; commit: string; date: string } {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {}
  return {
    machine: `${cpus().length} x ${cpus()[0]?.model ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    load: loadavg()
      .map((x) => x.toFixed(2))
      .join(", "),
    commit,
    date: new Date().toISOString(),
  };
}

/** A markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

export const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
export const usd = (x: number) => `$${x.toFixed(2)}`;

/**
 * The day benchmarks' command line: `--hours FROM-TO` (a slice of the day, default 0-24), `--workers N`
 * (default 2) and `--out DIR` (default bench/results).
 */
export function dayBenchArgs(): { from: number; to: number; workers: number; out: string } {
  const { values } = parseArgs({
    options: {
      hours: { type: "string", default: "0-24" },
      workers: { type: "string", default: "2" },
      out: { type: "string" },
    },
  });
  const [from, to] = values.hours.split("-").map(Number) as [number, number];
  return {
    from,
    to,
    workers: Number(values.workers),
    out: resolve(values.out ?? join(import.meta.dirname, "results")),
  };
}
