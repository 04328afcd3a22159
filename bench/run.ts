// npm run bench [-- --quick] [--lead-time] [--out DIR] [--workers N]
//
// The standard benchmark (bench/standard.ts): the conversation and code one-hour traces, each superposed
// until its peak minute needs at least 16 replicas, and the 24-hour conversation day; inferops with default
// settings, the two bounds and the baselines' sweeps, on both cores (worker_threads). Writes
// bench/results/<trace>.json (the results format), report.md and the SVG plots. --quick runs the two
// one-hour traces with a few configurations per family, into a temporary directory unless --out is given,
// and without the lead-time analysis unless --lead-time is given.
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_FLEET_SIZES } from "../operator/src/simulation/capacity.ts";
import { latestAsk } from "../operator/src/simulation/feasibility.ts";
import { workerRunner } from "../operator/src/simulation/jobs.ts";
import { progressBar } from "../operator/src/simulation/progress.ts";
import {
  ATTAINMENT_TARGET,
  ATTRIBUTION,
  checkTargets,
  feasibilityLines,
  markdownReport,
  writePlots,
} from "../operator/src/simulation/report.ts";
import { formatTraceResult } from "../operator/src/simulation/results.ts";
import { measureCurve, runSuites, type SuiteInput } from "../operator/src/simulation/suite.ts";
import { buildTrace, type TraceRecipe } from "../operator/src/simulation/trace.ts";
import { MIN_PEAK_REPLICAS, scaleForPeak, standardScenario, TRACES_DIR } from "./standard.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string" },
    workers: { type: "string" },
    progress: { type: "boolean" },
    timings: { type: "boolean", default: false },
    "lead-time": { type: "boolean" },
  },
});
const quick = values.quick ?? false;
const out = resolve(
  values.out ?? (quick ? join(tmpdir(), "inferops-bench-quick") : join(import.meta.dirname, "results")),
);
const workers = Number(values.workers ?? availableParallelism());
const started = performance.now();
const scenario = standardScenario();
const runner = workerRunner(workers);
const bar = progressBar(
  quick ? "bench --quick" : "bench",
  values.progress === undefined ? {} : { enabled: values.progress },
);

try {
  const base = (name: string): TraceRecipe => ({
    name,
    file: join(TRACES_DIR, `azure-llm-2023-${name}.csv`),
  });
  const sizes = quick ? [1, 4, 16] : [...DEFAULT_FLEET_SIZES];
  let measured = 0;
  const curveProgress = () => bar.update(++measured, sizes.length * 2, "measuring capacity at the SLO");
  const [convCurve, codeCurve] = await Promise.all([
    measureCurve(runner, scenario, base("conv"), { replicas: sizes }, curveProgress),
    measureCurve(runner, scenario, base("code"), { replicas: sizes }, curveProgress),
  ]);
  const kConv = scaleForPeak(buildTrace(base("conv")), convCurve, MIN_PEAK_REPLICAS);
  const kCode = scaleForPeak(buildTrace(base("code")), codeCurve, MIN_PEAK_REPLICAS);
  const baselines = quick ? "quick" : "full";
  const inputs: SuiteInput[] = [
    {
      name: "conv",
      trace: { ...base("conv"), scale: kConv },
      day: false,
      scenario,
      curve: convCurve,
      baselines,
    },
    {
      name: "code",
      trace: { ...base("code"), scale: kCode },
      day: false,
      scenario,
      curve: codeCurve,
      baselines,
    },
  ];
  if (!quick) {
    inputs.push({
      name: "conv-day",
      trace: { ...base("conv"), name: "conv-day", scale: kConv, day: true, seed: 1 },
      day: true,
      scenario,
      curve: convCurve,
      baselines,
    });
  }
  const suites = await runSuites(inputs, runner, (done, total, label) => bar.update(done, total, label));
  // How early a policy must act on each one-hour trace (a day's runs are 24 times longer: not analysed);
  // about 20 s, so --quick (CI) skips it unless given --lead-time.
  bar.update(0, 1, "lead-time feasibility");
  await Promise.all(
    suites
      .filter((s) => !s.input.day && (values["lead-time"] ?? !quick))
      .map(async (s) => {
        s.latestAsk = await latestAsk(runner, s, ATTAINMENT_TARGET);
      }),
  );
  bar.stop();
  await mkdir(out, { recursive: true });
  for (const s of suites) await writeFile(join(out, `${s.result.trace}.json`), formatTraceResult(s.result));
  const plots = await writePlots(out, suites);
  const seconds = (performance.now() - started) / 1000;
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const report = markdownReport(
    suites,
    {
      title: quick ? "inferops autoscaling benchmark (quick)" : "inferops autoscaling benchmark",
      preamble: [
        `Command: \`npm run bench${quick ? " -- --quick" : ""}\` on ${machine}, ${workers} worker threads: ${seconds.toFixed(0)} s.`,
        "",
        `Standard set: Llama-3.1-8B FP8 on vLLM (serving profile \`${scenario.profiles.l4!.id}\`), one L4 per replica and per node ($${scenario.pools[0]!.spec.costPerNodeHour}/node-hour, provisioning ${scenario.pools[0]!.spec.provisioningSeconds} s, model load ${scenario.profiles.l4!.modelLoadSeconds} s, node scale-down delay (unwanted for) ${scenario.pools[0]!.spec.scaleDownDelaySeconds} s). ` +
          `Rate scaling by superposition: conv x${kConv}, code x${kCode} (the fewest copies whose peak minute needs at least ${MIN_PEAK_REPLICAS} replicas).` +
          (quick
            ? ""
            : ` The day: conv x${kConv} tiled over 24 hours and thinned by the diurnal multiplier (peak 16:00, trough 04:00 at a fifth).`),
      ],
      attribution: ATTRIBUTION,
    },
    plots,
  );
  await writeFile(join(out, "report.md"), report);
  for (const s of suites) {
    const inf = s.result.policies.inferops!;
    const checks = checkTargets(s)
      .map((c) => `${c.skipped ? "not checked" : c.met ? "met" : "NOT MET"}: ${c.what} (${c.detail})`)
      .join("; ");
    for (const w of s.warnings) console.log(`  warning: ${w}`);
    for (const line of feasibilityLines(s).slice(2)) if (line.startsWith("- ")) console.log(`  ${line}`);
    console.log(
      `${s.result.trace}: inferops ${(inf.sloAttainment * 100).toFixed(2)}% SLO, ${inf.gpuHours.toFixed(2)} GPU-h; ${checks}`,
    );
  }
  console.log(`wrote ${out} in ${seconds.toFixed(0)} s`);
  if (values.timings && runner.timings) {
    const t = [...runner.timings].sort((a, b) => b.seconds - a.seconds);
    console.log(`jobs: ${t.length}, worker seconds ${t.reduce((s, x) => s + x.seconds, 0).toFixed(0)}`);
    for (const x of t.slice(0, 40)) console.log(`${x.seconds.toFixed(1).padStart(7)} s  ${x.label}`);
  }
} finally {
  bar.stop();
  await runner.close();
}
