// Units of work for a benchmark or a what-if run, as plain data so they can run in worker_threads: a
// simulation of one policy on one trace, or one fleet size of a capacity measurement. Runners execute them
// in this thread (tests, small runs) or on a pool of workers (both cores of the machine).
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import {
  type CapacityCurve,
  type CapacityPoint,
  type MeasureOptions,
  measurePoint,
  scenarioMix,
} from "./capacity.ts";
import { measureWindowMisses, type NeedsOptions, type WindowMisses } from "./needs.ts";
import { createPolicy, type PolicySpec } from "./policies/index.ts";
import type { Scenario } from "./scenario.ts";
import { type RunOptions, type RunResult, simulate } from "./simulate.ts";
import { buildTrace, type Trace, type TraceRecipe } from "./trace.ts";

/** A trace by recipe (each worker builds and caches it) or given whole. */
export type TraceRef = TraceRecipe | Trace;

export type Job =
  | { kind: "run"; trace: TraceRef; scenario: Scenario; policy: PolicySpec; options: RunOptions }
  | { kind: "capacity"; trace: TraceRef; scenario: Scenario; replicas: number; options: MeasureOptions }
  | {
      kind: "needs";
      trace: TraceRef;
      scenario: Scenario;
      curve: CapacityCurve;
      first: number;
      last: number;
      options: NeedsOptions;
    };

export type JobResult<J extends Job> = J extends { kind: "run" }
  ? RunResult
  : J extends { kind: "needs" }
    ? WindowMisses[]
    : CapacityPoint;

function traceOf(ref: TraceRef): Trace {
  return "arrivals" in ref ? ref : buildTrace(ref);
}

/** Runs one job in this thread. */
export async function runJob<J extends Job>(job: J): Promise<JobResult<J>> {
  const trace = traceOf(job.trace);
  if (job.kind === "run") {
    return (await simulate(
      trace,
      job.scenario,
      createPolicy(job.policy, job.scenario),
      job.options,
    )) as JobResult<J>;
  }
  if (job.kind === "needs") {
    return (await measureWindowMisses(
      trace,
      job.scenario,
      job.curve,
      job.first,
      job.last,
      job.options,
    )) as JobResult<J>;
  }
  const mix = scenarioMix(trace, job.scenario, job.options.sample ?? 0);
  return (await measurePoint(job.scenario, mix, job.replicas, job.options)) as JobResult<J>;
}

export interface JobRunner {
  run<J extends Job>(job: J): Promise<JobResult<J>>;
  close(): Promise<void>;
  /** Seconds each finished job took in its worker, with a label, for tuning the benchmark. */
  timings?: { label: string; seconds: number }[];
}

function label(job: Job): string {
  const trace = "arrivals" in job.trace ? job.trace.name : job.trace.name;
  if (job.kind === "run") return `${trace} ${JSON.stringify(job.policy).slice(0, 120)}`;
  if (job.kind === "needs") return `${trace} needs of windows ${job.first}..${job.last - 1}`;
  return `${trace} capacity ${job.replicas} (sample ${job.options.sample ?? 0})`;
}

/** Runs jobs one at a time in this thread (deterministic order; for tests and tiny runs). */
export function inlineRunner(): JobRunner {
  return {
    run: (job) => runJob(job),
    close: async () => {},
  };
}

interface Pending {
  job: Job;
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
}

/** Runs jobs on `size` worker threads (default: the machine's cores), first come first served. */
export function workerRunner(size = availableParallelism()): JobRunner {
  const queue: Pending[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, Pending>();
  const workers: Worker[] = [];
  const timings: { label: string; seconds: number }[] = [];
  const dispatch = () => {
    while (idle.length > 0 && queue.length > 0) {
      const w = idle.pop()!;
      const p = queue.shift()!;
      busy.set(w, p);
      w.postMessage(p.job);
    }
  };
  for (let i = 0; i < Math.max(1, size); i++) {
    const w = new Worker(new URL("./worker.ts", import.meta.url));
    w.on("message", (msg: { ok: true; result: unknown; seconds: number } | { ok: false; error: string }) => {
      const p = busy.get(w);
      busy.delete(w);
      idle.push(w);
      if (p) {
        if (msg.ok) timings.push({ label: label(p.job), seconds: msg.seconds });
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new Error(msg.error));
      }
      dispatch();
    });
    w.on("error", (err) => {
      const p = busy.get(w);
      busy.delete(w);
      p?.reject(err);
    });
    workers.push(w);
    idle.push(w);
  }
  return {
    timings,
    run: (job) =>
      new Promise((resolve, reject) => {
        queue.push({ job, resolve: resolve as (r: unknown) => void, reject });
        dispatch();
      }),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
