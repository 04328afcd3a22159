// Test helpers for the planner: fixtures built through the real zod schemas (so defaults are the shipped
// ones), and a small fluid model of a fleet to run plan() in a closed loop with virtual time.

import type { z } from "zod";
import { type CapacityBudgetSpec, capacityBudgetSpecSchema } from "../apis/capacitybudget.ts";
import { type GPUNodePoolSpec, gpuNodePoolSpecSchema } from "../apis/gpunodepool.ts";
import { type InferenceServiceSpec, inferenceServiceSpecSchema } from "../apis/inferenceservice.ts";
import { mulberry32 } from "../serving/workload.ts";
import { plan } from "./plan.ts";
import type {
  BudgetSnapshot,
  Plan,
  PlannerMemory,
  PoolSnapshot,
  ServiceSnapshot,
  Signals,
  Snapshot,
  VariantState,
} from "./types.ts";

export const T0 = Date.UTC(2025, 0, 6, 12, 0, 0); // a Monday, 12:00 UTC
export const INTERVAL_MS = 15_000;

type SpecInput = z.input<typeof inferenceServiceSpecSchema>;
type PoolInput = z.input<typeof gpuNodePoolSpecSchema>;
type BudgetInput = z.input<typeof capacityBudgetSpecSchema>;

export function serviceSpec(
  over: Partial<SpecInput> & { scaling?: SpecInput["scaling"] } = {},
): InferenceServiceSpec {
  return inferenceServiceSpecSchema.parse({
    model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
    template: { spec: { containers: [{ name: "vllm" }] } },
    accelerators: [
      { pool: "h100", gpusPerReplica: 1, profile: { maxTokensPerSecond: 2000, maxConcurrentRequests: 16 } },
    ],
    ...over,
    scaling: { minReplicas: 1, maxReplicas: 20, ...over.scaling },
  });
}

export function poolSpec(over: Partial<PoolInput> = {}): GPUNodePoolSpec {
  return gpuNodePoolSpecSchema.parse({
    gpu: { type: "nvidia-h100", count: 8, memoryGiB: 80 },
    power: { busyWattsPerGPU: 700, idleWattsPerGPU: 90 },
    costPerNodeHour: 80,
    minNodes: 0,
    maxNodes: 10,
    provider: { type: "kwok" },
    ...over,
  });
}

export function pool(
  name: string,
  over: Partial<PoolInput> = {},
  state: Partial<PoolSnapshot> = {},
): PoolSnapshot {
  return { name, spec: poolSpec(over), nodes: 0, readyNodes: 0, allocatableGPUs: 0, usedGPUs: 0, ...state };
}

export function budget(name: string, spec: BudgetInput, namespaces?: string[]): BudgetSnapshot {
  return { name, spec: capacityBudgetSpecSchema.parse(spec) as CapacityBudgetSpec, namespaces };
}

/** A service with `replicas` ready replicas on its first variant unless `variants` says otherwise. */
export function service(
  name: string,
  opts: {
    spec?: InferenceServiceSpec;
    namespace?: string;
    replicas?: number;
    ready?: number;
    variants?: VariantState[];
    signals?: Partial<Signals> | null;
    signalsError?: string;
    now?: number;
  } = {},
): ServiceSnapshot {
  const spec = opts.spec ?? serviceSpec();
  const replicas = opts.replicas ?? 2;
  const variants = opts.variants ?? [
    { pool: spec.accelerators[0]!.pool, replicas, readyReplicas: opts.ready ?? replicas },
  ];
  const readyTotal = variants.reduce((s, v) => s + v.readyReplicas, 0);
  const namespace = opts.namespace ?? "default";
  const out: ServiceSnapshot = {
    key: `${namespace}/${name}`,
    namespace,
    name,
    generation: 1,
    spec,
    variants,
  };
  if (opts.signals !== null) {
    out.signals = {
      observedAtMs: opts.now ?? T0,
      replicasReporting: readyTotal,
      queueDepth: 0,
      runningRequests: 0,
      ...opts.signals,
    };
  }
  if (opts.signalsError !== undefined) out.signalsError = opts.signalsError;
  return out;
}

/**
 * Two services in mode Manual on the default pool, "high" (priority 900) and "low" (priority 100), each
 * running 4 replicas and asking for 4: the pair the budget tests share.
 */
export function prioritisedPair(): ServiceSnapshot[] {
  return [
    service("high", {
      replicas: 4,
      spec: serviceSpec({ priority: 900, replicas: 4, scaling: { mode: "Manual" } }),
    }),
    service("low", {
      replicas: 4,
      spec: serviceSpec({ priority: 100, replicas: 4, scaling: { mode: "Manual" } }),
    }),
  ];
}

export function snapshot(
  services: ServiceSnapshot[],
  opts: {
    pools?: PoolSnapshot[];
    budgets?: BudgetSnapshot[];
    memory?: PlannerMemory;
    intervalMs?: number;
  } = {},
): Snapshot {
  return {
    intervalMs: opts.intervalMs ?? INTERVAL_MS,
    services,
    pools: opts.pools ?? [
      pool("h100"),
      pool("l40s", { gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 } }),
    ],
    budgets: opts.budgets ?? [],
    memory: opts.memory ?? { services: {} },
  };
}

/** Load signals for `rate` requests/s of `prompt`+`output` tokens, fully served. */
export function load(
  rate: number,
  prompt = 500,
  output = 200,
  extra: Partial<Signals> = {},
): Partial<Signals> {
  return {
    arrivalRate: rate,
    promptTokensPerSecond: rate * prompt,
    generationTokensPerSecond: rate * output,
    queueDepth: 0,
    ...extra,
  };
}

/** A small seeded PRNG (mulberry32), for noise that is the same on every run. */
export const prng = mulberry32;

/** A standard normal sample from two uniforms (Box-Muller). */
export function gaussian(rand: () => number): number {
  const u = Math.max(1e-12, rand());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export interface FleetStep {
  t: number;
  /** Replicas the plan set (what the Deployments ask for). */
  replicas: number;
  ready: number;
  queue: number;
  arrival: number;
  plan: Plan;
}

/**
 * Runs plan() in a closed loop against a fluid model of one service: replicas become ready `readyAfterMs`
 * after they are asked for; the queue grows by (arrivals - what ready replicas serve) * dt; the signals
 * are what the model servers would report.
 */
export function runFleet(opts: {
  spec: InferenceServiceSpec;
  pools?: PoolSnapshot[];
  steps: number;
  arrival: (tMs: number) => number;
  prompt?: number;
  output?: number;
  /** Tokens/s one replica really serves (may differ from the profile). */
  capacity?: number;
  slots?: number;
  readyAfterMs?: number;
  initialReplicas?: number;
  intervalMs?: number;
  startMs?: number;
  /**
   * p95 latencies the servers report at a utilisation of their real capacity (served / capacity, 0..1);
   * none by default.
   */
  latency?: (utilization: number) => Pick<Signals, "ttftSeconds" | "requestItlSeconds">;
}): FleetStep[] {
  const intervalMs = opts.intervalMs ?? INTERVAL_MS;
  const prompt = opts.prompt ?? 500;
  const output = opts.output ?? 200;
  const capacity = opts.capacity ?? opts.spec.accelerators[0]!.profile?.maxTokensPerSecond ?? 2000;
  const slots = opts.slots ?? 16;
  const readyAfterMs = opts.readyAfterMs ?? 360_000;
  const poolName = opts.spec.accelerators[0]!.pool;
  let t = opts.startMs ?? T0;
  // Ready times of the replicas asked for, oldest first.
  let fleet: number[] = Array.from(
    { length: opts.initialReplicas ?? opts.spec.scaling.minReplicas },
    () => t,
  );
  let queue = 0;
  let memory: PlannerMemory = { services: {} };
  const out: FleetStep[] = [];
  for (let i = 0; i < opts.steps; i++) {
    const lambda = Math.max(0, opts.arrival(t));
    const ready = fleet.filter((r) => r <= t).length;
    const mu = (ready * capacity) / (prompt + output);
    const dt = intervalMs / 1000;
    const served = Math.min(lambda + queue / dt, mu);
    queue = Math.max(0, queue + (lambda - served) * dt);
    const util = mu > 0 ? served / mu : 0;
    const signals: Partial<Signals> = {
      arrivalRate: lambda,
      promptTokensPerSecond: served * prompt,
      generationTokensPerSecond: served * output,
      queueDepth: queue,
      runningRequests: ready * slots * util,
      kvCacheUtilization: Math.min(1, util),
      replicasReporting: ready,
      ...opts.latency?.(util),
    };
    const svc = service("svc", {
      spec: opts.spec,
      variants: [{ pool: poolName, replicas: fleet.length, readyReplicas: ready }],
      signals,
      now: t,
    });
    const p = plan(
      snapshot([svc], { pools: opts.pools ?? [pool(poolName, { maxNodes: 100 })], memory, intervalMs }),
      t,
    );
    memory = p.memory;
    const want = p.services[0]!.replicas.value;
    if (want > fleet.length) {
      fleet = [...fleet, ...Array.from({ length: want - fleet.length }, () => t + readyAfterMs)];
    } else if (want < fleet.length) {
      // Starting replicas go first (newest), then ready ones.
      fleet = [...fleet].sort((a, b) => a - b).slice(0, want);
    }
    out.push({ t, replicas: want, ready, queue, arrival: lambda, plan: p });
    t += intervalMs;
  }
  return out;
}

/** Number of times the replica count changed, and of reversals (up after down or down after up). */
export function scaleEvents(steps: readonly FleetStep[]): { changes: number; reversals: number } {
  let changes = 0;
  let reversals = 0;
  let lastDir = 0;
  for (let i = 1; i < steps.length; i++) {
    const d = Math.sign(steps[i]!.replicas - steps[i - 1]!.replicas);
    if (d === 0) continue;
    changes++;
    if (lastDir !== 0 && d !== lastDir) reversals++;
    lastDir = d;
  }
  return { changes, reversals };
}
