// The report of a benchmark or what-if run: per trace, a Markdown table of inferops, the bounds and each
// baseline family (its defaults and its best configuration), the targets checked, the full sweep, and two
// plots rendered headless by vega-lite to SVG: replicas against demand over time, and GPU-hours against SLO
// attainment with each family's Pareto frontier and inferops' point.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { DEMAND_WINDOW_SECONDS, type LatestAsk, ratioTargetFeasibility } from "./feasibility.ts";
import type { PolicyResult } from "./results.ts";
import { clientTimeoutOf } from "./scenario.ts";
import { boundsAt, type SuiteOutput } from "./suite.ts";
import { bestAttaining, cheapestReaching, paretoFrontier } from "./sweep.ts";

export const ATTRIBUTION =
  'Traces: Azure LLM inference trace 2023 (Azure Public Dataset), CC-BY 4.0. Patel et al., "Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024.';

/** The attainment a policy must reach to meet the SLO target. */
export const ATTAINMENT_TARGET = 0.99;
export const CLAIRVOYANT_RATIO_TARGET = 1.25;
export const DAY_BASELINE_RATIO_TARGET = 0.8;

export const BASELINES = ["static", "hpa", "keda", "kpa"] as const;
export type Baseline = (typeof BASELINES)[number];

export type Entry = PolicyResult & { name: string };

export function entries(suite: SuiteOutput): Entry[] {
  return Object.entries(suite.result.policies).map(([name, p]) => ({ name, ...p }));
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const pct3 = (x: number) => `${(x * 100).toFixed(3)}%`;
const num = (x: number, d = 2) => x.toFixed(d);

export function shortParams(e: Entry): string {
  const p = e.params;
  switch (e.family) {
    case "static":
      return `${p.replicas} replicas`;
    case "hpa":
      return `${p.metric} ${p.target}/pod, window ${p.scaleDownWindowSeconds}s`;
    case "keda":
      return `waiting ${p.threshold}/replica, min ${p.minReplicaCount}, ${p.minReplicaCount === 0 ? `cooldown ${p.cooldownPeriodSeconds}s` : `window ${p.scaleDownWindowSeconds}s`}`;
    case "kpa":
      return `target ${p.target} (x0.7), delay ${p.scaleDownDelaySeconds}s`;
    case "inferops":
      return "defaults";
    default:
      return `60 s windows, lead ${p.leadSeconds}s`;
  }
}

/** A family's default configuration, as the sweep runs it. */
export function familyDefault(suite: SuiteOutput, family: Baseline, all: Entry[]): Entry | undefined {
  const peak = Math.max(...suite.needs);
  const of = all.filter((e) => e.family === family);
  switch (family) {
    case "static":
      return of.find((e) => e.params.replicas === peak);
    case "hpa":
      // HPA has no default target: its best configuration with the upstream default behaviour (300 s window).
      return (
        cheapestReaching(
          of.filter((e) => e.params.scaleDownWindowSeconds === 300),
          ATTAINMENT_TARGET,
        ) ?? bestAttaining(of.filter((e) => e.params.scaleDownWindowSeconds === 300))
      );
    case "keda":
      return of.find((e) => e.params.minReplicaCount === 0);
    case "kpa":
      return of.find((e) => e.params.target === 100 && e.params.scaleDownDelaySeconds === 0);
  }
}

/** A family's best configuration: the cheapest reaching the target attainment, else the best attaining. */
export function familyBest(family: string, all: Entry[]): Entry | undefined {
  const of = all.filter((e) => e.family === family);
  return cheapestReaching(of, ATTAINMENT_TARGET) ?? bestAttaining(of);
}

export interface TargetCheck {
  what: string;
  met: boolean;
  detail: string;
  /** Not checked: the bound it compares with missed its own target when replayed (detail says why). */
  skipped?: boolean;
}

/** A bound's replayed attainment against the attainment it was sized for. */
export function replayMisses(e: { params: Record<string, unknown>; sloAttainment: number }): boolean {
  const target = e.params.attainmentTarget;
  return typeof target === "number" && e.sloAttainment < target;
}

/** Why no ratio is given against a bound (its replay missed its own target). */
export function boundMissNote(
  name: string,
  e: { params: Record<string, unknown>; sloAttainment: number },
): string {
  return `the ${name} bound's schedule, replayed, meets the SLO for ${pct(e.sloAttainment)} of requests, under the ${pct(Number(e.params.attainmentTarget))} it was sized for: it bounds nothing at that attainment, so no ratio is given against it`;
}

/**
 * The bounds re-allocated at an attainment, capped at 99.99% (at 100% the miss budget is zero, and the
 * needs become each window's largest measured fleet).
 */
function boundsNear(suite: SuiteOutput, attainment: number) {
  return boundsAt(suite, Math.min(attainment, 0.9999));
}

/** The bounds at an attainment, against a number of GPU-hours a target asks for. */
function boundsNote(suite: SuiteOutput, attainment: number, asked: number): string {
  if (suite.windowMisses.length === 0) return "";
  const b = boundsNear(suite, attainment);
  return `; the target asks for ${num(asked)} GPU-h, and at ${pct(attainment)} the clairvoyant bound needs ${num(b.clairvoyant)}, the instant bound ${num(b.instant)}`;
}

/** The issue's targets for one trace. */
export function checkTargets(suite: SuiteOutput): TargetCheck[] {
  const all = entries(suite);
  const inf = all.find((e) => e.name === "inferops");
  const clair = all.find((e) => e.name === "clairvoyant");
  if (!inf || !clair) return [];
  const out: TargetCheck[] = [
    {
      what: `SLO attainment >= ${pct(ATTAINMENT_TARGET)}`,
      met: inf.sloAttainment >= ATTAINMENT_TARGET,
      detail: pct(inf.sloAttainment),
    },
    replayMisses(clair)
      ? {
          what: `GPU-hours <= ${CLAIRVOYANT_RATIO_TARGET}x clairvoyant`,
          met: false,
          skipped: true,
          detail: boundMissNote("clairvoyant", clair),
        }
      : {
          what: `GPU-hours <= ${CLAIRVOYANT_RATIO_TARGET}x clairvoyant`,
          met: inf.gpuHours <= CLAIRVOYANT_RATIO_TARGET * clair.gpuHours,
          detail: `${num(inf.gpuHours)} / ${num(clair.gpuHours)} = ${num(inf.gpuHours / clair.gpuHours)}x`,
        },
  ];
  if (suite.input.day) {
    const baselines = all.filter((e) => (BASELINES as readonly string[]).includes(e.family));
    const same = cheapestReaching(baselines, inf.sloAttainment);
    if (same) {
      out.push({
        what: `GPU-hours <= ${DAY_BASELINE_RATIO_TARGET}x the cheapest baseline at the same attainment`,
        met: inf.gpuHours <= DAY_BASELINE_RATIO_TARGET * same.gpuHours,
        detail: `${same.name} (${pct(same.sloAttainment)}): ${num(inf.gpuHours)} / ${num(same.gpuHours)} = ${num(inf.gpuHours / same.gpuHours)}x${boundsNote(suite, same.sloAttainment, DAY_BASELINE_RATIO_TARGET * same.gpuHours)}`,
      });
    } else {
      const best = bestAttaining(baselines);
      if (best) {
        out.push({
          what: "no baseline reaches inferops' attainment: fewer GPU-hours than the best-attaining baseline",
          met: inf.gpuHours < best.gpuHours,
          detail: `${best.name} (${pct(best.sloAttainment)}): ${num(inf.gpuHours)} vs ${num(best.gpuHours)}`,
        });
      }
    }
  }
  return out;
}

/** The lead-time analysis in one sentence. */
export function latestAskLine(a: LatestAsk): string {
  const target = pct(a.attainment);
  if (a.seconds === undefined) {
    return `- Lead time: even asking for maxReplicas (${a.to}) at the start, after the warm start of ${a.warm}, reaches only ${pct(a.missed?.attainment ?? 0)} (< ${target}): no policy starting from this warm start reaches the target.`;
  }
  const need = a.busiestNeedBefore === undefined ? "" : a.busiestNeedBefore;
  if (a.missed === undefined) {
    return `- Lead time: the warm fleet of ${a.warm} alone reaches ${pct(a.reached?.attainment ?? 0)} (>= ${target}).`;
  }
  return (
    `- Lead time: to reach ${target}, capacity beyond the warm start of ${a.warm} replicas must be asked for by ${a.seconds} s ` +
    `(a step to maxReplicas ${a.to} then gives ${pct(a.reached!.attainment)}; at ${a.missed.at} s, ${pct(a.missed.attainment)}). ` +
    `Until ${a.seconds} s the busiest ${DEMAND_WINDOW_SECONDS} s of arrivals needed ${need} replicas at the measured capacity` +
    (a.busiestNeedBefore !== undefined && a.busiestNeedBefore <= a.warm
      ? `, no more than the warm fleet: a policy that reaches the target here scales up before any demand calls for it.`
      : ".")
  );
}

/** Where the report's feasibility analyses apply to this suite (feasibility.ts). */
export function feasibilityLines(suite: SuiteOutput): string[] {
  const out: string[] = [];
  if (suite.latestAsk) out.push(latestAskLine(suite.latestAsk));
  if (suite.input.day && suite.windowMisses.length > 0) {
    const baselines = entries(suite).filter((e) => (BASELINES as readonly string[]).includes(e.family));
    const ranges = ratioTargetFeasibility(
      baselines,
      (a) => boundsNear(suite, a),
      ATTAINMENT_TARGET,
      DAY_BASELINE_RATIO_TARGET,
    );
    // Contiguous ranges where the target is at or above the clairvoyant bound, merged.
    const feasible: { from: number; to: number; baselines: Set<string> }[] = [];
    let open = false;
    for (const r of ranges) {
      const ok = r.allowed >= r.clairvoyant;
      const last = feasible[feasible.length - 1];
      if (ok && open && last) {
        last.to = r.to;
        last.baselines.add(r.baseline);
      } else if (ok) feasible.push({ from: r.from, to: r.to, baselines: new Set([r.baseline]) });
      open = ok;
    }
    out.push(
      `- The day's target (${DAY_BASELINE_RATIO_TARGET}x the cheapest baseline at the same attainment) against the bounds at each attainment from ${pct(ATTAINMENT_TARGET)}: ` +
        (feasible.length === 0
          ? "below the clairvoyant bound everywhere: no policy with these lead times can meet it."
          : `at or above the clairvoyant bound only for attainments in ${feasible.map((f) => `(${pct3(f.from)}, ${pct3(f.to)}] (cheapest baselines there: ${[...f.baselines].join(", ")})`).join(", ")}; below it everywhere else.`),
      "",
      "  | attainment | cheapest baseline reaching it | target allows (GPU-h) | clairvoyant bound | instant bound |",
      "  |---|---|---|---|---|",
      ...ranges.map(
        (r) =>
          `  | ${r.aboveAll ? `above ${pct3(r.from)}` : `${pct3(r.from)} to ${pct3(r.to)}`} | ${r.aboveAll ? `none; best-attaining ${r.baseline}` : r.baseline} (${num(r.baselineGpuHours)}) | ${r.aboveAll ? `< ${num(r.allowed)}` : num(r.allowed)} | ${num(r.clairvoyant)} | ${num(r.instant)} |`,
      ),
    );
  }
  return out.length > 0 ? ["Feasibility (what any policy could do):", "", ...out, ""] : [];
}

/** A row; the ratio column is empty when the clairvoyant bound is no bound (its replay missed its target). */
function row(e: Entry, label: string, clairvoyantGpuHours: number | undefined): string {
  const ratio = clairvoyantGpuHours === undefined ? "-" : num(e.gpuHours / clairvoyantGpuHours);
  const slo =
    (e.family === "instant" || e.family === "clairvoyant") && replayMisses(e)
      ? `${pct(e.sloAttainment)} (target ${pct(Number(e.params.attainmentTarget))} missed)`
      : pct(e.sloAttainment);
  return `| ${label} | ${shortParams(e)} | ${slo} | ${num(e.ttftP50)} / ${num(e.ttftP95)} / ${num(e.ttftP99)} | ${num(e.gpuHours)} | ${ratio} | ${num(e.costUsd)} | ${num(e.energyKWh)} | ${num(e.peakPowerW / 1000)} | ${num(e.budgetViolationSeconds, 0)} | ${e.scaleActions} |`;
}

const HEADER =
  "| policy | configuration | SLO met | TTFT p50 / p95 / p99 (s) | GPU-h | x clairvoyant | cost ($) | energy (kWh) | peak (kW) | over budget (s) | scale actions |\n|---|---|---|---|---|---|---|---|---|---|---|";

/** The capacity curve in one phrase: per fleet size, the median with the samples' range. */
export function capacityPhrase(points: SuiteOutput["input"]["curve"]["points"]): string {
  return points
    .map((p) => {
      if (p.collapsed) return `${p.replicas}: 0 (only ${pct(p.attainment)} meet the SLO even alone)`;
      const range =
        p.spread && p.spread.samples > 1 ? ` (${num(p.spread.min, 0)}-${num(p.spread.max, 0)})` : "";
      const lifted =
        p.measuredTokensPerReplica !== undefined &&
        Math.abs(p.measuredTokensPerReplica - p.tokensPerReplica) >= 0.5
          ? `, median ${num(p.measuredTokensPerReplica, 0)}`
          : "";
      return `${p.replicas}: ${num(p.tokensPerReplica, 0)}${range}${lifted}`;
    })
    .join(", ");
}

/** How the bounds were replayed, and what that says about them. */
function boundsLines(suite: SuiteOutput, all: Entry[]): string[] {
  const out: string[] = [];
  const raised = suite.raised.filter((r) => r > 0).length;
  const inst = all.find((e) => e.name === "instant");
  const replays = inst?.params.replays;
  if (typeof replays === "number") {
    out.push(
      `The bounds' schedules are replayed with every backlog carried: the instant bound took ${replays} replay${replays === 1 ? "" : "s"}${raised > 0 ? `, raising ${raised} of ${suite.needs.length} minutes by ${suite.raised.reduce((a, b) => a + b, 0)} replica-minutes in all over their own-arrival needs` : ""}.`,
    );
  }
  for (const name of ["clairvoyant", "instant"] as const) {
    const e = all.find((x) => x.name === name);
    if (e && replayMisses(e)) out.push(`Note: ${boundMissNote(name, e)}.`);
  }
  return out.length > 0 ? [...out, ""] : [];
}

/** The Markdown section of one trace. */
export function traceSection(suite: SuiteOutput, plots?: { replicas: string; pareto: string }): string {
  const all = entries(suite);
  const clair = all.find((e) => e.name === "clairvoyant")!;
  const cg = replayMisses(clair) ? undefined : clair.gpuHours;
  const s = suite.stats;
  const peak = Math.max(...suite.needs);
  const lines: string[] = [];
  lines.push(`## ${suite.result.trace}${suite.input.day ? " (24-hour day)" : ""}`, "");
  const warnings = suite.warnings ?? [];
  if (warnings.length > 0) {
    lines.push("Warnings:", "", ...warnings.map((w) => `- **${w}**`), "");
  }
  const b = suite.beyondContext;
  const refused =
    b && b.requests > 0
      ? ` ${b.requests.toLocaleString("en-US")} of them (${pct(b.share)}) are longer than the servers' context of ${b.contextTokens.toLocaleString("en-US")} tokens: refused under every policy, and not scored.`
      : "";
  const samples = suite.input.curve.points[0]?.spread?.samples ?? 1;
  lines.push(
    `${s.requests.toLocaleString("en-US")} requests over ${num(s.durationSeconds / 3600, 2)} h (${num(s.requestsPerSecond, 1)} req/s, mean prompt ${num(s.meanPrompt, 0)} and output ${num(s.meanOutput, 0)} tokens).${refused} ` +
      `Measured capacity at the SLO (Poisson arrivals${samples > 1 ? `, median of ${samples} samples with their range, non-decreasing in the fleet size` : ""}): ${capacityPhrase(suite.input.curve.points)} tokens/s per replica (fleet size: per replica). ` +
      `Needs measured on each minute's own arrivals, then raised where the replayed schedule missed: peak ${peak} replicas, ${num(suite.needs.reduce((a, b) => a + b, 0) / 60, 1)} replica-hours; warm start ${suite.warm}${suite.warmClamp ? ` (held by ${suite.warmClamp.limit}; the first minute asks for ${suite.warmClamp.wanted})` : ""}, lead time ${suite.lead} s.`,
    "",
  );
  lines.push(...boundsLines(suite, all));
  lines.push(HEADER);
  const named = (n: string, label: string) => {
    const e = all.find((x) => x.name === n);
    if (e) lines.push(row(e, label, cg));
  };
  named("inferops", "**inferops**");
  named("clairvoyant", "clairvoyant bound");
  named("instant", "instant bound");
  for (const family of BASELINES) {
    const d = familyDefault(suite, family, all);
    const b = familyBest(family, all);
    if (d) lines.push(row(d, `${family} (defaults)`, cg));
    if (b && b !== d) lines.push(row(b, `${family} (best)`, cg));
  }
  lines.push("");
  const inf = all.find((e) => e.name === "inferops");
  if (inf && suite.windowMisses.length > 0 && cg !== undefined) {
    const at = boundsNear(suite, inf.sloAttainment).clairvoyant;
    lines.push(
      "",
      `The clairvoyant bound sized for inferops' own attainment (${pct(inf.sloAttainment)}; an estimate from the same measured minutes with the same raises, not replayed) needs ${num(at)} GPU-h: inferops uses ${num(inf.gpuHours / at)}x of it.`,
    );
  }
  const checks = checkTargets(suite);
  if (checks.length > 0) {
    lines.push("Targets for inferops:", "");
    for (const c of checks)
      lines.push(`- ${c.skipped ? "not checked" : c.met ? "met" : "**not met**"}: ${c.what} (${c.detail})`);
    lines.push("");
  }
  lines.push(...feasibilityLines(suite));
  const frontier = BASELINES.map((f) => {
    const pts = paretoFrontier(all.filter((e) => e.family === f));
    return `- ${f}: ${pts.map((p) => `${num(p.gpuHours, 1)} GPU-h at ${pct(p.sloAttainment)} (${shortParams(p)})`).join("; ") || "none"}`;
  });
  lines.push("Pareto frontier per family (GPU-hours, SLO attainment):", "", ...frontier, "");
  if (plots) {
    lines.push(
      `![replicas against demand](${plots.replicas})`,
      "",
      `![GPU-hours against SLO attainment](${plots.pareto})`,
      "",
    );
  }
  lines.push("<details><summary>Every configuration run</summary>", "", HEADER);
  for (const e of [...all].sort((a, b) => a.family.localeCompare(b.family) || a.gpuHours - b.gpuHours)) {
    lines.push(row(e, e.name, cg));
  }
  lines.push("", "</details>", "");
  return lines.join("\n");
}

export interface ReportMeta {
  title: string;
  /** Command that produced it, machine, date: free text lines. */
  preamble: string[];
  attribution?: string;
}

export function markdownReport(
  suites: readonly SuiteOutput[],
  meta: ReportMeta,
  plots?: Map<string, { replicas: string; pareto: string }>,
): string {
  const head = [`# ${meta.title}`, "", ...meta.preamble, ""];
  if (meta.attribution) head.push(meta.attribution, "");
  const timeout = clientTimeoutOf(suites[0]?.input.scenario ?? {});
  head.push(
    "SLO: a request meets it when its TTFT is at most 2 s and its mean inter-token latency at most 100 ms. " +
      (timeout === Number.POSITIVE_INFINITY
        ? "Clients wait for their first token however long it takes. "
        : `A client gives up on a request that has waited ${num(timeout, 0)} s for its first token: the server aborts it, and it counts as a miss. `) +
      "GPU-hours and cost are billed per node from provisioning start; the bounds' are analytic (their other columns come from replaying their schedules). " +
      "See docs/simulator.md for the model and docs/benchmarks.md for the discussion.",
    "",
  );
  return `${head.join("\n")}\n${suites.map((s) => traceSection(s, plots?.get(s.result.trace))).join("\n")}`;
}

/** Ready replicas over time for inferops, the clairvoyant bound, each family's best run, and the need. */
export function replicasSpec(suite: SuiteOutput): TopLevelSpec {
  const all = entries(suite);
  const hours = suite.input.day;
  const unit = hours ? 3600 : 60;
  const values: { t: number; replicas: number; series: string }[] = [];
  suite.needs.forEach((n, w) => {
    values.push({ t: (w * 60) / unit, replicas: n, series: "needed (measured per minute)" });
  });
  const add = (name: string, label: string) => {
    const run = suite.runs.get(name);
    if (!run) return;
    for (const p of run.timeline) values.push({ t: p.t / unit, replicas: p.ready, series: label });
  };
  add("inferops", "inferops");
  add("clairvoyant", "clairvoyant bound");
  for (const f of BASELINES) {
    const b = familyBest(f, all);
    if (b) add(b.name, `${f}: ${b.name}`);
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `${suite.result.trace}: ready replicas against the need`,
    width: 720,
    height: 280,
    data: { values },
    mark: { type: "line", interpolate: "step-after", strokeWidth: 1.5, clip: true },
    encoding: {
      x: { field: "t", type: "quantitative", title: hours ? "hour of day" : "minute" },
      y: {
        field: "replicas",
        type: "quantitative",
        title: "replicas",
        scale: { domain: [0, Math.ceil(1.75 * Math.max(...suite.needs))] },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        legend: { orient: "bottom", columns: 2, labelLimit: 360 },
      },
      strokeDash: {
        condition: { test: "datum.series === 'needed (measured per minute)'", value: [4, 3] },
        value: [1, 0],
      },
    },
  } as TopLevelSpec;
}

/** GPU-hours against SLO attainment: every run, each family's frontier, inferops highlighted. */
export function paretoSpec(suite: SuiteOutput): TopLevelSpec {
  const all = entries(suite);
  // Misses (1 - attainment) on a log axis, better up: 99%, 99.9% and 90% are then far apart.
  const miss = (a: number) => Math.max(MISS_FLOOR, (1 - a) * 100);
  const points = all.map((e) => ({
    name: e.name,
    family: e.family,
    gpuHours: e.gpuHours,
    miss: miss(e.sloAttainment),
  }));
  const frontier = BASELINES.flatMap((f) =>
    paretoFrontier(all.filter((e) => e.family === f)).map((e) => ({
      family: f,
      gpuHours: e.gpuHours,
      miss: miss(e.sloAttainment),
    })),
  );
  const y = {
    field: "miss",
    type: "quantitative" as const,
    title: "requests missing the SLO (%, log)",
    scale: { type: "log" as const, domain: [100, MISS_FLOOR], clamp: true },
  };
  // GPU-hours up to 2.5x the clairvoyant bound: runs beyond (pinned at maxReplicas) would squash the rest.
  const clair =
    all.find((e) => e.name === "clairvoyant")?.gpuHours ?? Math.max(...points.map((p) => p.gpuHours));
  const xmax = Number((2.5 * clair).toPrecision(2));
  const x = {
    field: "gpuHours",
    type: "quantitative" as const,
    title: `GPU-hours (up to 2.5x the clairvoyant bound)`,
    scale: { domain: [0, xmax], nice: false },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `${suite.result.trace}: GPU-hours against SLO attainment (up and left is better)`,
    width: 560,
    height: 360,
    layer: [
      {
        data: { values: [{ miss: (1 - ATTAINMENT_TARGET) * 100 }] },
        mark: { type: "rule", strokeDash: [4, 4], color: "gray" },
        encoding: { y },
      },
      {
        data: { values: frontier },
        mark: { type: "line", strokeWidth: 1, opacity: 0.6, clip: true },
        encoding: { x, y, color: { field: "family", type: "nominal" }, order: { field: "gpuHours" } },
      },
      {
        data: { values: points },
        mark: { type: "point", filled: true, size: 45, clip: true },
        encoding: {
          x,
          y,
          color: { field: "family", type: "nominal", title: "family" },
          shape: { field: "family", type: "nominal" },
          size: { condition: { test: "datum.family === 'inferops'", value: 220 }, value: 45 },
          tooltip: [{ field: "name" }, { field: "gpuHours" }, { field: "miss" }],
        },
      },
      {
        data: { values: points.filter((p) => p.family === "inferops" || p.family === "clairvoyant") },
        mark: { type: "text", dx: 8, dy: -8, align: "left", fontSize: 11, clip: true },
        encoding: { x, y, text: { field: "name" } },
      },
    ],
  } as TopLevelSpec;
}

/** Lowest miss share drawn (0.01%): a run with no miss is drawn there. */
const MISS_FLOOR = 0.01;

/** Renders a vega-lite spec to SVG, headless (no canvas: text is measured by estimate). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Writes the plots of each suite to `dir`; returns their file names by trace. */
export async function writePlots(
  dir: string,
  suites: readonly SuiteOutput[],
): Promise<Map<string, { replicas: string; pareto: string }>> {
  await mkdir(dir, { recursive: true });
  const out = new Map<string, { replicas: string; pareto: string }>();
  for (const s of suites) {
    const name = s.result.trace;
    const files = { replicas: `${name}-replicas.svg`, pareto: `${name}-pareto.svg` };
    await writeFile(join(dir, files.replicas), await renderSvg(replicasSpec(s)));
    await writeFile(join(dir, files.pareto), await renderSvg(paretoSpec(s)));
    out.set(name, files);
  }
  return out;
}
