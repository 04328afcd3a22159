// npm run bench:robustness [-- --quick] [--day | --no-day] [--lead-time] [--only a,b] [--out DIR] [--workers N]
//   [--seed N] [--timings]
//
// The robustness suite (issue 11; operator/src/simulation/robustness.ts): inferops with default settings on
// the seeded trace families (operator/src/simulation/families.ts) and the standard traces (conv and code as
// bench/run.ts builds them, and the 24-hour conv day), against every baseline family's defaults, each
// family's configuration tuned once on a different trace of the same group, the hindsight-tuned frontier and
// the bounds. Writes bench/results/robustness.md and robustness.json.
//
// --quick: a few traces (code, idle-burst, long-ramp, long-step) with a few configurations per family, and
// capacity measured at 1, 4 and 16 replicas on one sample each (so its families are sized slightly
// differently from the full run's), into a temporary directory unless --out is given; the day only with
// --day, the lead-time analysis only with --lead-time.
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type CapacityCurve,
  DEFAULT_FLEET_SIZES,
  mixOf,
  type RequestMix,
  tokensPerReplica,
} from "../operator/src/simulation/capacity.ts";
import { buildFamilies, longContextMix } from "../operator/src/simulation/families.ts";
import { workerRunner } from "../operator/src/simulation/jobs.ts";
import { progressBar } from "../operator/src/simulation/progress.ts";
import { ATTRIBUTION } from "../operator/src/simulation/report.ts";
import {
  type RobustnessTrace,
  robustnessJson,
  robustnessMarkdown,
  runRobustness,
} from "../operator/src/simulation/robustness.ts";
import { clientTimeoutOf } from "../operator/src/simulation/scenario.ts";
import { measureCurve } from "../operator/src/simulation/suite.ts";
import { buildTrace, type Trace, type TraceRecipe } from "../operator/src/simulation/trace.ts";
import { h100Scenario, MIN_PEAK_REPLICAS, scaleForPeak, standardScenario, TRACES_DIR } from "./standard.ts";

/** The --quick subset. */
export const QUICK_TRACES = ["code", "idle-burst", "long-ramp", "long-step"] as const;

/** Where each group's tuned-once configurations come from, in order of preference (robustness.ts assignTuning). */
export const TUNERS = { l4: ["conv", "code"], h100: ["long-steady", "long-ramp"] } as const;

/** The fleet size whose measured capacity per replica sizes the families (their peaks need 8 to 30 replicas). */
const SIZING_FLEET = 16;

const { values } = parseArgs({
  allowNegative: true,
  options: {
    quick: { type: "boolean", default: false },
    day: { type: "boolean" },
    "lead-time": { type: "boolean" },
    only: { type: "string" },
    out: { type: "string" },
    workers: { type: "string" },
    progress: { type: "boolean" },
    seed: { type: "string", default: "1" },
    timings: { type: "boolean", default: false },
  },
});
const quick = values.quick ?? false;
const withDay = values.day ?? !quick;
const leadTime = values["lead-time"] ?? !quick;
const out = resolve(
  values.out ??
    (quick ? join(tmpdir(), "inferops-bench-robustness-quick") : join(import.meta.dirname, "results")),
);
const workers = Number(values.workers ?? availableParallelism());
const seed = Number(values.seed);
const only = values.only?.split(",").map((s) => s.trim()) ?? (quick ? [...QUICK_TRACES] : undefined);
const wanted = (name: string) => only === undefined || only.includes(name);

/** The code measured: the commit, and whether the working tree held changes not committed yet. */
function codeVersion(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: import.meta.dirname })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: import.meta.dirname,
    })
      .toString()
      .trim();
    return dirty === "" ? `commit ${head}` : `commit ${head} with uncommitted changes`;
  } catch {
    return "code version unknown (no git)";
  }
}

/** A trace holding a mix's requests one per second: what measureCurve reads a mix from. */
function mixTrace(name: string, mix: RequestMix): Trace {
  const n = mix.prompt.length;
  return {
    name,
    startMs: 0,
    durationSeconds: n - 1,
    arrivals: Float64Array.from({ length: n }, (_, i) => i),
    prompt: mix.prompt,
    output: mix.output,
  };
}

const started = performance.now();
const version = codeVersion();
const runner = workerRunner(workers);
const bar = progressBar(
  quick ? "robustness --quick" : "robustness",
  values.progress === undefined ? {} : { enabled: values.progress },
);

try {
  const l4 = standardScenario();
  const h100 = h100Scenario();
  const base = (name: string): TraceRecipe => ({
    name,
    file: join(TRACES_DIR, `azure-llm-2023-${name}.csv`),
  });
  const convMix = mixOf(buildTrace(base("conv")));
  const longMix = longContextMix(convMix);
  const sizes = quick ? [1, 4, SIZING_FLEET] : [...DEFAULT_FLEET_SIZES];
  const measure = { replicas: sizes, ...(quick ? { samples: 1 } : {}) };
  let measured = 0;
  const curveProgress = () => bar.update(++measured, sizes.length * 3, "measuring capacity at the SLO");
  const [convCurve, codeCurve, longCurve] = (await Promise.all([
    measureCurve(runner, l4, base("conv"), measure, curveProgress),
    measureCurve(runner, l4, base("code"), measure, curveProgress),
    measureCurve(runner, h100, mixTrace("long-context mix", longMix), measure, curveProgress),
  ])) as [CapacityCurve, CapacityCurve, CapacityCurve];
  const kConv = scaleForPeak(buildTrace(base("conv")), convCurve, MIN_PEAK_REPLICAS);
  const kCode = scaleForPeak(buildTrace(base("code")), codeCurve, MIN_PEAK_REPLICAS);
  const baselines = quick ? "quick" : "full";

  const traces: RobustnessTrace[] = [];
  const standard = (
    name: string,
    recipe: TraceRecipe,
    curve: CapacityCurve,
    day: boolean,
    description: string,
  ) => {
    if (wanted(name)) {
      traces.push({
        input: { name, trace: recipe, day, scenario: l4, curve, baselines },
        group: "l4",
        description,
      });
    }
  };
  standard(
    "conv",
    { ...base("conv"), scale: kConv },
    convCurve,
    false,
    `Azure conversation trace, superposed x${kConv}`,
  );
  standard(
    "code",
    { ...base("code"), scale: kCode },
    codeCurve,
    false,
    `Azure code trace, superposed x${kCode}`,
  );
  if (withDay) {
    standard(
      "conv-day",
      { ...base("conv"), name: "conv-day", scale: kConv, day: true, seed: 1 },
      convCurve,
      true,
      `conv x${kConv} over 24 hours, thinned by the diurnal multiplier`,
    );
  }
  const families = buildFamilies(
    {
      conv: { scenario: l4, mix: convMix, tokensPerReplica: tokensPerReplica(convCurve, SIZING_FLEET) },
      long: { scenario: h100, mix: longMix, tokensPerReplica: tokensPerReplica(longCurve, SIZING_FLEET) },
    },
    { seed },
  );
  for (const f of families.filter((m) => wanted(m.name))) {
    traces.push({
      input: {
        name: f.name,
        trace: f.trace,
        day: false,
        scenario: f.scenario,
        curve: f.workload === "long" ? longCurve : convCurve,
        baselines,
      },
      group: f.workload === "long" ? "h100" : "l4",
      description: `${f.family}: ${f.description}`,
    });
  }
  const missing = (only ?? []).filter((n) => !traces.some((t) => t.input.name === n));
  if (missing.length > 0 && !(missing.length === 1 && missing[0] === "conv-day" && !withDay)) {
    throw new RangeError(`--only names unknown traces: ${missing.join(", ")}`);
  }

  const outcomes = await runRobustness(traces, runner, {
    tuners: TUNERS,
    leadTime,
    onProgress: (done, total, label) => bar.update(done, total, label),
  });
  bar.stop();
  const seconds = (performance.now() - started) / 1000;
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${workers} worker threads`;
  const args = process.argv.slice(2).join(" ");
  const command = `npm run bench:robustness${args ? ` -- ${args}` : ""}`;
  await mkdir(out, { recursive: true });
  const json = robustnessJson(outcomes, { command, machine: `${machine}; ${version}`, seconds });
  await writeFile(join(out, "robustness.json"), `${JSON.stringify(json, null, 2)}\n`);
  const curves = (c: CapacityCurve) =>
    c.points.map((p) => `${p.replicas}: ${p.tokensPerReplica.toFixed(0)}`).join(", ");
  const report = robustnessMarkdown(outcomes, {
    title: quick ? "inferops robustness suite (quick)" : "inferops robustness suite",
    preamble: [
      `Command: \`${command}\` on ${machine}: ${seconds.toFixed(0)} s. Family seed ${seed}. Measured on ${version}.`,
      "",
      `Llama-3.1-8B FP8 on vLLM. Group l4: one L4 per replica and per node (profile \`${l4.profiles.l4!.id}\`); conv and code superposed as in the standard benchmark, the families drawn from conv's request mix. ` +
        `Group h100: one H100 per replica and per node (profile \`${h100.profiles.h100!.id}\`), prompts of 8k-30k tokens (conv's mix mapped by rank). ` +
        `Measured capacity at the SLO, tokens/s per replica by fleet size: conv ${curves(convCurve)}; code ${curves(codeCurve)}; long-context ${curves(longCurve)}. ` +
        `The families are sized in replicas of load at the capacity of a fleet of ${SIZING_FLEET}. ` +
        `Clients give up on a request that has waited ${clientTimeoutOf(l4)} s for its first token (the server aborts it; a miss).`,
      "",
      "Defaults: static for the peak need, HPA's best configuration with its default 300 s window (HPA has no default target), KEDA's and Knative's own defaults. " +
        "Tuned once: each family's cheapest configuration reaching 99% on the tuning trace (else its best-attaining), applied unchanged. " +
        "Hindsight: each family's cheapest configuration of this trace's own sweep reaching inferops' attainment.",
    ],
    attribution: ATTRIBUTION,
  });
  await writeFile(join(out, "robustness.md"), report);
  for (const o of outcomes) {
    const inf = o.figures.inferops;
    console.log(
      `${o.figures.trace}: inferops ${(inf.sloAttainment * 100).toFixed(2)}% SLO, ${inf.gpuHours.toFixed(2)} GPU-h; ${o.checks.map((c) => c.verdict).join(", ")}`,
    );
  }
  console.log(`wrote ${join(out, "robustness.md")} and robustness.json in ${seconds.toFixed(0)} s`);
  if (values.timings && runner.timings) {
    const t = [...runner.timings].sort((a, b) => b.seconds - a.seconds);
    console.log(`jobs: ${t.length}, worker seconds ${t.reduce((s, x) => s + x.seconds, 0).toFixed(0)}`);
    for (const x of t.slice(0, 30)) console.log(`${x.seconds.toFixed(1).padStart(7)} s  ${x.label}`);
  }
} finally {
  bar.stop();
  await runner.close();
}
