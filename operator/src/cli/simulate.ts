// `inferops simulate --trace FILE --config DIR`: replays the user's own traffic through inferops (their
// InferenceService as they would apply it, on their GPUNodePools, under their CapacityBudgets) and through
// the baselines (static, HPA, KEDA, Knative KPA, swept) and the two lower bounds, prints the report and
// writes the results, the report and the plots. User-facing output goes to stdout/stderr here.
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { isConfigError, loadConfig, scenarioFromConfig } from "../simulation/config.ts";
import { latestAsk } from "../simulation/feasibility.ts";
import { inlineRunner, type JobRunner, workerRunner } from "../simulation/jobs.ts";
import { progressBar } from "../simulation/progress.ts";
import { ATTRIBUTION, markdownReport, writePlots } from "../simulation/report.ts";
import { formatTraceResult } from "../simulation/results.ts";
import { checkContext, DEFAULT_CLIENT_TIMEOUT_SECONDS, ScenarioError } from "../simulation/scenario.ts";
import { fleetSizesFor, measureCurve, prepareSuiteOn, runPrepared } from "../simulation/suite.ts";
import {
  buildTrace,
  isTraceError,
  parseStart,
  type ScaleBy,
  type TimeUnit,
  type TraceRecipe,
} from "../simulation/trace.ts";
import { curveUnservable } from "../simulation/warnings.ts";

interface SimulateOptions {
  trace: string;
  config: string;
  format?: "csv" | "jsonl";
  timestampColumn?: string;
  inputColumn?: string;
  outputColumn?: string;
  timeUnit?: TimeUnit;
  start?: string;
  contextTokens?: string;
  clientTimeout?: string;
  scale: string;
  scaleBy: string;
  day?: boolean;
  service?: string;
  profile?: string[];
  baselines: string;
  out: string;
  workers?: string;
  interval: string;
  progress: boolean;
  leadTime?: boolean;
}

function fail(message: string): never {
  console.error(`inferops simulate: ${message}`);
  process.exit(2);
}

/** Exit status when no allowed fleet serves the trace (2 is for invalid input). */
export const UNSERVABLE_EXIT = 3;

/** Ends the command without a report: no allowed fleet serves the trace; says why on stderr. */
function unservable(message: string): void {
  console.error(`inferops simulate: ${message}`);
  process.exitCode = UNSERVABLE_EXIT;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be an integer >= 1, got ${JSON.stringify(value)}`);
  return n;
}

export async function simulateCommand(opts: SimulateOptions): Promise<void> {
  const started = performance.now();
  const profiles: Record<string, string> = {};
  for (const p of opts.profile ?? []) {
    const [pool, id] = p.split("=");
    if (!pool || !id) fail(`--profile takes POOL=PROFILE_ID, got ${JSON.stringify(p)}`);
    profiles[pool] = id;
  }
  if (!["full", "quick", "none"].includes(opts.baselines)) {
    fail(`--baselines must be full, quick or none, got ${JSON.stringify(opts.baselines)}`);
  }
  const scale = positiveInt(opts.scale, "--scale");
  if (opts.scaleBy !== "superpose" && opts.scaleBy !== "jitter") {
    fail(`--scale-by must be superpose or jitter, got ${JSON.stringify(opts.scaleBy)}`);
  }
  if (opts.scaleBy === "jitter" && opts.day) {
    fail("--scale-by jitter does not combine with --day: the day is built from superposed copies");
  }
  const scaleBy: ScaleBy = opts.scaleBy;
  const interval = positiveInt(opts.interval, "--interval");
  const contextTokens =
    opts.contextTokens === undefined ? undefined : positiveInt(opts.contextTokens, "--context-tokens");
  const timeoutFlag = opts.clientTimeout ?? String(DEFAULT_CLIENT_TIMEOUT_SECONDS);
  const timeout = Number(timeoutFlag);
  if (!(timeout >= 0) || timeoutFlag.trim() === "")
    fail(
      `--client-timeout must be a number of seconds >= 0 (0: clients never give up), got ${JSON.stringify(timeoutFlag)}`,
    );
  const clientTimeoutSeconds = timeout === 0 ? Number.POSITIVE_INFINITY : timeout;
  const workers =
    opts.workers === undefined ? availableParallelism() : positiveInt(opts.workers, "--workers");

  let scenario: ReturnType<typeof scenarioFromConfig>["scenario"];
  try {
    const loaded = scenarioFromConfig(loadConfig(opts.config), {
      ...(opts.service ? { service: opts.service } : {}),
      profiles,
      intervalSeconds: interval,
      ...(contextTokens === undefined ? {} : { contextTokens }),
      clientTimeoutSeconds,
    });
    scenario = loaded.scenario;
    for (const w of loaded.warnings) console.error(`warning: ${w}`);
  } catch (err) {
    if (isConfigError(err) || err instanceof ScenarioError)
      fail(`invalid --config ${opts.config}:\n${err.message}`);
    throw err;
  }
  try {
    checkContext(scenario);
  } catch (err) {
    if (err instanceof ScenarioError) fail(`--context-tokens: ${err.message}`);
    throw err;
  }

  const name = basename(opts.trace).replace(/\.(csv|jsonl|ndjson)$/i, "");
  const columns = {
    ...(opts.timestampColumn ? { timestamp: opts.timestampColumn } : {}),
    ...(opts.inputColumn ? { input: opts.inputColumn } : {}),
    ...(opts.outputColumn ? { output: opts.outputColumn } : {}),
  };
  let start: number | undefined;
  if (opts.start !== undefined) {
    try {
      start = parseStart(opts.start);
    } catch (err) {
      if (isTraceError(err)) fail(err.message);
      throw err;
    }
  }
  const read = {
    ...(opts.format ? { format: opts.format } : {}),
    ...(Object.keys(columns).length > 0 ? { columns } : {}),
    ...(opts.timeUnit ? { timeUnit: opts.timeUnit } : {}),
    ...(start === undefined ? {} : { start }),
  };
  const file = resolve(opts.trace);
  const base: TraceRecipe = { name, file, read };
  const recipe: TraceRecipe = {
    ...base,
    name: opts.day ? `${name}-day` : name,
    scale,
    ...(scale > 1 && scaleBy === "jitter" ? { scaleBy, seed: 1 } : {}),
    ...(opts.day ? { day: true, seed: 1 } : {}),
  };
  try {
    buildTrace(recipe);
  } catch (err) {
    if (isTraceError(err) || err instanceof RangeError) fail(err.message);
    throw err;
  }

  const runner: JobRunner = workers > 1 ? workerRunner(workers) : inlineRunner();
  const bar = progressBar("simulate", { enabled: opts.progress && process.stderr.isTTY === true });
  try {
    let measured = 0;
    const sizes = fleetSizesFor(buildTrace(recipe), scenario);
    const curve = await measureCurve(runner, scenario, base, { replicas: sizes }, (_d, total) =>
      bar.update(++measured, total, "measuring capacity at the SLO"),
    );
    // A mix no fleet serves within the SLO ends here, before any run: its capacity is 0 tokens/s.
    const collapsed = curveUnservable(curve, scenario);
    if (collapsed) {
      bar.stop();
      unservable(collapsed);
      return;
    }
    bar.update(0, 1, "replicas each minute needs, bounds replayed");
    const prepared = await prepareSuiteOn(runner, {
      name: recipe.name,
      trace: recipe,
      day: opts.day === true,
      scenario,
      curve,
      baselines: opts.baselines as "full" | "quick" | "none",
    });
    bar.stop();
    if (prepared.unservable) {
      unservable(prepared.unservable);
      return;
    }
    // Printed before the runs, and again in the report.
    for (const w of prepared.warnings) console.error(`warning: ${w}`);
    let done = 0;
    const suite = await runPrepared(prepared, runner, (r) =>
      bar.update(++done, prepared.jobs.length, `${prepared.input.name}: ${r.name}`),
    );
    if (opts.leadTime) {
      bar.update(0, 1, "how early a policy must act");
      suite.latestAsk = await latestAsk(runner, suite, scenario.service.spec.scaling.targets.attainment);
    }
    bar.stop();
    const out = resolve(opts.out);
    await mkdir(out, { recursive: true });
    await writeFile(join(out, `${suite.result.trace}.json`), formatTraceResult(suite.result));
    const plots = await writePlots(out, [suite]);
    const seconds = (performance.now() - started) / 1000;
    const report = markdownReport(
      [suite],
      {
        title: `inferops simulate: ${scenario.service.namespace}/${scenario.service.name} on ${basename(opts.trace)}`,
        preamble: [
          `Trace ${opts.trace}${scale > 1 ? ` ${scaleBy === "jitter" ? "scaled by jittered copies" : "superposed"} x${scale}` : ""}${opts.day ? ", as a 24-hour day" : ""}; configuration ${opts.config}; serving profiles ${Object.entries(
            scenario.profiles,
          )
            .map(([p, prof]) => `${p}: ${prof.id}`)
            .join(", ")}; ${seconds.toFixed(0)} s.`,
        ],
        ...(/azure-llm-2023/.test(opts.trace) ? { attribution: ATTRIBUTION } : {}),
      },
      plots,
    );
    await writeFile(join(out, "report.md"), report);
    process.stdout.write(report);
    process.stdout.write(
      `\nwrote ${join(out, `${suite.result.trace}.json`)}, report.md and the plots to ${out}\n`,
    );
  } finally {
    bar.stop();
    await runner.close();
  }
}

/** Registers `inferops simulate` on the program. */
export function registerSimulateCommand(program: Command): void {
  program
    .command("simulate")
    .description(
      "Replay a request trace through inferops and the baselines (static, HPA, KEDA, Knative KPA) in a simulated GPU fleet; print the report and write results and plots.",
    )
    .requiredOption(
      "--trace <file>",
      "request trace: CSV (TIMESTAMP, ContextTokens, GeneratedTokens) or JSONL (timestamp in ms, input_length, output_length)",
    )
    .requiredOption(
      "--config <dir>",
      "directory (or file) of InferenceService, GPUNodePool and CapacityBudget manifests",
    )
    .option("--format <csv|jsonl>", "trace format (default: from the file extension)")
    .option("--timestamp-column <name>", "trace column/field with the arrival time")
    .option("--input-column <name>", "trace column/field with the prompt length in tokens")
    .option("--output-column <name>", "trace column/field with the output length in tokens")
    .option("--time-unit <s|ms>", "unit of numeric timestamps (CSV default s, JSONL default ms)")
    .option(
      "--start <time>",
      "the trace's start, t = 0: epoch seconds or a wall-clock time such as '2023-11-16 18:00:00' (UTC unless an offset is given), so that idle time before the first request counts (default: the first request)",
    )
    .option(
      "--context-tokens <n>",
      "the context the model servers are started with (vLLM --max-model-len; default: the serving profile's, 32768 for Llama-3.1); longer requests are refused",
    )
    .option(
      "--client-timeout <seconds>",
      "how long a client waits for its request's first token before it gives up and the server aborts the request (an SLO miss, counted as abandoned); 0: clients wait for ever",
      String(DEFAULT_CLIENT_TIMEOUT_SECONDS),
    )
    .option("--scale <k>", "k copies of the trace (rate x k), laid out as --scale-by says", "1")
    .option(
      "--scale-by <superpose|jitter>",
      "superpose: copies shifted across the span (for a stationary trace); jitter: every copy in place, each request moved by up to 5 s (keeps steps, ramps and idle periods, which superposition flattens)",
      "superpose",
    )
    .option(
      "--day",
      "build a 24-hour day from a one-hour trace (diurnal multiplier, peak 16:00, trough 04:00 at a fifth)",
    )
    .option(
      "--service <name>",
      "namespace/name of the InferenceService to simulate, when the configuration holds several",
    )
    .option(
      "--profile <pool=id...>",
      "serving profile per pool (default: matched from the pool's gpu.type and the model size)",
    )
    .option(
      "--baselines <full|quick|none>",
      "baseline sweep: full, quick (a few configurations per family) or none",
      "full",
    )
    .option("--out <dir>", "where to write the results, report.md and the plots", "inferops-simulation")
    .option("--workers <n>", "worker threads (default: the machine's cores)")
    .option("--interval <seconds>", "inferops evaluation interval", "10")
    .option(
      "--lead-time",
      "also find how early a policy must act to reach the service's targets.attainment: the latest step from the warm start to maxReplicas that still does (about ten more runs of the trace)",
    )
    .option("--no-progress", "no progress bar")
    .action(async (opts: SimulateOptions) => {
      await simulateCommand(opts);
    });
}
