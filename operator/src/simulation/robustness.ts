// The robustness suite (issue 11): inferops with default settings on traces nobody tuned for (the seeded
// families of families.ts and the standard traces), against what a user could have had instead:
//
// - every baseline family at its defaults (as the benchmark report picks them: report.ts familyDefault);
// - each family's configuration tuned once, on a *different* trace of the same group (same GPU and profile):
//   the cheapest configuration of the tuning trace's sweep reaching 99%, else its best-attaining one
//   (report.ts familyBest), applied unchanged;
// - the frontier tuned in hindsight on the trace itself: per family, the cheapest configuration of the
//   trace's own sweep reaching inferops' attainment;
// - the bounds (sized for 99%, replayed; and the clairvoyant bound re-allocated for inferops' attainment).
//
// Then issue 11's targets for inferops on each trace, each met, missed, or not applicable with the reason.
// Pure parts (tuning assignment, picking, the checks, the excess over the need, rendering) are functions of
// plain data; runRobustness runs the suites and the extra configurations on a job runner.

import { z } from "zod";
import { Reason } from "../apis/conditions.ts";
import { type LatestAsk, latestAsk } from "./feasibility.ts";
import type { JobRunner } from "./jobs.ts";
import { createPolicy, KEDA_DEFAULTS, KPA_DEFAULTS, type PolicySpec } from "./policies/index.ts";
import {
  ATTAINMENT_TARGET,
  BASELINES,
  type Baseline,
  type Entry,
  entries,
  familyBest,
  familyDefault,
  latestAskLine,
  shortParams,
} from "./report.ts";
import { type PolicyResult, policyResultSchema, toPolicyResult } from "./results.ts";
import type { RunResult, TimelinePoint } from "./simulate.ts";
import {
  boundsAt,
  type Progress,
  runSuites,
  type SuiteInput,
  type SuiteOutput,
  WINDOW_SECONDS,
} from "./suite.ts";
import { cheapestReaching, paretoFrontier } from "./sweep.ts";

/** Issue 11's targets for inferops with default settings, on every trace of the suite. */
export const ROBUSTNESS_TARGETS = {
  /** Attainment at least min(this, the clairvoyant bound's replayed attainment minus boundSlack). */
  attainment: ATTAINMENT_TARGET,
  boundSlack: 0.01,
  /** GPU-hours at most this times the clairvoyant bound sized for inferops' own attainment. */
  clairvoyantRatio: 1.15,
  /** GPU-hours at most this times the cheapest hindsight-tuned baseline reaching inferops' attainment. */
  hindsightRatio: 1.1,
  /** "Much higher attainment" against a tuned-once configuration: at least this many points more. */
  muchHigher: 0.01,
  /** Never more than this times the need for longer than one lead time after demand falls... */
  excessRatio: 1.5,
  /** ...and at least this many replicas over it (1 replica over a need of 1 is not an excess). */
  excessSlack: 2,
} as const;

/** A trace of the suite: what runSuites runs, its group (traces that share a GPU and profile) and a description. */
export interface RobustnessTrace {
  input: SuiteInput;
  group: string;
  description: string;
}

/**
 * The trace each trace's tuned-once configurations come from: the group's preferred tuning traces in order
 * (`tuners`), then the group's other traces, the first that is not the trace itself. Undefined for a trace
 * alone in its group.
 */
export function assignTuning(
  traces: readonly { name: string; group: string }[],
  tuners: Readonly<Record<string, readonly string[]>>,
): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const t of traces) {
    const group = traces.filter((x) => x.group === t.group).map((x) => x.name);
    const order = [...(tuners[t.group] ?? []).filter((n) => group.includes(n)), ...group];
    out.set(
      t.name,
      order.find((n) => n !== t.name),
    );
  }
  return out;
}

/**
 * A configuration run on one trace as a spec to run on another (the same absolute targets and windows; the
 * replica bounds of the trace it is applied to).
 */
export function policySpecOf(
  e: Pick<PolicyResult, "family" | "params">,
  bounds: { minReplicas: number; maxReplicas: number },
): PolicySpec {
  const p = e.params;
  const num = (k: string) => {
    const v = p[k];
    if (typeof v !== "number") throw new RangeError(`${e.family} configuration without a number ${k}`);
    return v;
  };
  switch (e.family) {
    case "static":
      return { family: "static", replicas: num("replicas") };
    case "hpa":
      return {
        family: "hpa",
        metric: p.metric as Extract<PolicySpec, { family: "hpa" }>["metric"],
        target: num("target"),
        scaleDownWindowSeconds: num("scaleDownWindowSeconds"),
        minReplicas: bounds.minReplicas,
        maxReplicas: bounds.maxReplicas,
      };
    case "keda":
      return {
        family: "keda",
        threshold: num("threshold"),
        minReplicaCount: num("minReplicaCount"),
        maxReplicaCount: bounds.maxReplicas,
        cooldownPeriodSeconds: num("cooldownPeriodSeconds"),
        scaleDownWindowSeconds: num("scaleDownWindowSeconds"),
      };
    case "kpa":
      return {
        family: "kpa",
        target: num("target"),
        scaleDownDelaySeconds: num("scaleDownDelaySeconds"),
        minScale: num("minScale"),
        maxScale: bounds.maxReplicas,
      };
    default:
      throw new RangeError(`${e.family} is not a baseline family`);
  }
}

/** KEDA's and Knative's own defaults (the full sweep holds them; a quick one does not). */
export function familyDefaultSpecs(bounds: { minReplicas: number; maxReplicas: number }): PolicySpec[] {
  return [
    {
      family: "keda",
      threshold: 1,
      minReplicaCount: KEDA_DEFAULTS.minReplicaCount,
      maxReplicaCount: bounds.maxReplicas,
      cooldownPeriodSeconds: KEDA_DEFAULTS.cooldownPeriodSeconds,
      scaleDownWindowSeconds: 300,
    },
    {
      family: "kpa",
      target: KPA_DEFAULTS.target,
      scaleDownDelaySeconds: 0,
      minScale: Math.max(1, bounds.minReplicas),
      maxScale: bounds.maxReplicas,
    },
  ];
}

/** Minutes in which a run held more than the excess ratio times the need of that minute and of the lead time before it. */
export interface Excess {
  minutes: number;
  /** Longest run of consecutive such minutes. */
  longest: number;
  /** The minute with the highest ratio, when any. */
  worst?: { minute: number; held: number; need: number };
  /**
   * The minutes over, by the policy's decision reason at their start (TimelinePoint.reason), when the
   * policy gives one: why the fleet was held (EXCESS_CAUSES).
   */
  byReason?: Record<string, number>;
}

/** The views that size the fleet: held over the need, they were sized by a capacity below the servers'. */
const SIZED =
  "the views asked for it, sized by the capacity the profile and what was learned give: a profile below what the servers serve asks for more than the need (spec.scaling.capacityProbe measures it)";

/** What each decision reason says about a fleet held over the need after demand fell. */
export const EXCESS_CAUSES: Readonly<Record<string, string>> = {
  [Reason.ScaleDownStabilized]:
    "the scale-down window (the spec's, at least the lead time) still held a higher recommendation: the fall shows in the 60 s rates a rate window late, so the window ends after the lead time the target allows",
  [Reason.QueueDepth]:
    "pods still held a backlog routed to them before the fall (the queue view keeps them and asks for the arrivals' need beside them)",
  [Reason.RecurringBursts]: "held for a burst expected to recur within the scale-down window",
  [Reason.StartingCancelled]:
    "the replicas starting were cancelled, and the scale-down window held the ones ready (the spec's window, at least the lead time)",
  [Reason.ScaleDownLimit]:
    "the scale-down rate limit (behavior.scaleDown.policies) removed replicas step by step",
  [Reason.WithinTolerance]: SIZED,
  [Reason.TokenThroughput]: SIZED,
  [Reason.LatencySLO]: SIZED,
  [Reason.Forecast]: SIZED,
};

/**
 * Where a run holds more than `ratio` times the need (and at least `slack` replicas more) for longer than one
 * lead time after demand falls: at each minute's start, the ready replicas against the highest need of that
 * minute and of the lead time before it (so holding the need of a minute that ended less than a lead time
 * ago is not an excess).
 */
export function excessOverNeed(
  timeline: readonly Pick<TimelinePoint, "t" | "ready" | "reason">[],
  needs: ArrayLike<number>,
  leadSeconds: number,
  options: { windowSeconds?: number; ratio?: number; slack?: number } = {},
): Excess {
  const w = options.windowSeconds ?? WINDOW_SECONDS;
  const ratio = options.ratio ?? ROBUSTNESS_TARGETS.excessRatio;
  const slack = options.slack ?? ROBUSTNESS_TARGETS.excessSlack;
  const back = Math.ceil(leadSeconds / w);
  const out: Excess = { minutes: 0, longest: 0 };
  let run = 0;
  let worstRatio = 0;
  for (const p of timeline) {
    const m = Math.floor(p.t / w + 1e-9);
    if (m >= needs.length) continue;
    let need = 0;
    for (let k = Math.max(0, m - back); k <= m; k++) need = Math.max(need, needs[k]!);
    const over = p.ready > ratio * need && p.ready >= need + slack;
    if (over) {
      out.minutes++;
      if (p.reason !== undefined) {
        out.byReason ??= {};
        out.byReason[p.reason] = (out.byReason[p.reason] ?? 0) + 1;
      }
      run++;
      out.longest = Math.max(out.longest, run);
      const r = p.ready / Math.max(1, need);
      if (r > worstRatio) {
        worstRatio = r;
        out.worst = { minute: m, held: p.ready, need };
      }
    } else run = 0;
  }
  return out;
}

export type Verdict = "met" | "missed" | "n/a";

export interface RobustnessCheck {
  target: string;
  verdict: Verdict;
  detail: string;
}

/** A named result of a trace's runs. */
export type Named = Entry;
/** A tuned-once configuration's result on a trace, with the trace it was tuned on. */
export type TunedOnce = Named & { tunedOn: string };

/** What the checks read of one trace: plain data. */
export interface TraceFigures {
  trace: string;
  inferops: Named;
  /** The clairvoyant bound sized for `boundTarget`: its replayed attainment, its analytic GPU-hours. */
  clairvoyant: Named;
  instant?: Named;
  boundTarget: number;
  /** GPU-hours of the clairvoyant bound re-allocated for inferops' attainment (suite.ts boundsAt). */
  clairvoyantAtInferops: number;
  defaults: Partial<Record<Baseline, Named>>;
  tunedOnce: Partial<Record<Baseline, TunedOnce>>;
  /** Per family, the cheapest configuration of the trace's own sweep reaching inferops' attainment. */
  hindsight: Partial<Record<Baseline, Named>>;
  excess: Excess;
  leadSeconds: number;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const num = (x: number, d = 2) => x.toFixed(d);

/** The cheapest of the hindsight-tuned configurations (any family), when any reaches inferops' attainment. */
export function cheapestHindsight(f: Pick<TraceFigures, "hindsight">): Named | undefined {
  let best: Named | undefined;
  for (const e of Object.values(f.hindsight)) if (e && (!best || e.gpuHours < best.gpuHours)) best = e;
  return best;
}

/** Does inferops beat a configuration: equal or higher attainment at lower cost, or much higher attainment. */
export function beats(inf: Pick<PolicyResult, "sloAttainment" | "gpuHours">, other: typeof inf): boolean {
  const eps = 1e-9;
  return (
    (inf.sloAttainment + eps >= other.sloAttainment && inf.gpuHours < other.gpuHours) ||
    inf.sloAttainment >= other.sloAttainment + ROBUSTNESS_TARGETS.muchHigher - eps
  );
}

/** Issue 11's four targets on one trace. */
export function checkRobustness(f: TraceFigures): RobustnessCheck[] {
  const T = ROBUSTNESS_TARGETS;
  const inf = f.inferops;
  const clv = f.clairvoyant;
  const out: RobustnessCheck[] = [];

  const floor = Math.min(T.attainment, clv.sloAttainment - T.boundSlack);
  out.push({
    target: `attainment >= min(${pct(T.attainment)}, the clairvoyant bound's replayed attainment - ${T.boundSlack * 100} point)`,
    verdict: inf.sloAttainment + 1e-9 >= floor ? "met" : "missed",
    detail: `${pct(inf.sloAttainment)} against ${pct(floor)} (bound replayed: ${pct(clv.sloAttainment)})`,
  });

  const boundMissesOwnTarget = clv.sloAttainment + 1e-9 < f.boundTarget;
  const clvRatio = inf.gpuHours / f.clairvoyantAtInferops;
  const hs = cheapestHindsight(f);
  const costDetails: string[] = [];
  let costVerdict: Verdict = "met";
  if (boundMissesOwnTarget) {
    costVerdict = "n/a";
    costDetails.push(
      `no ratio against the clairvoyant bound: its replay reaches ${pct(clv.sloAttainment)}, below the ${pct(f.boundTarget)} it is sized for (would be ${num(clvRatio)}x of ${num(f.clairvoyantAtInferops)} GPU-h)`,
    );
  } else {
    const ok = clvRatio <= T.clairvoyantRatio + 1e-9;
    if (!ok) costVerdict = "missed";
    costDetails.push(
      `${num(clvRatio)}x the clairvoyant bound at ${pct(inf.sloAttainment)} (${num(inf.gpuHours)} / ${num(f.clairvoyantAtInferops)} GPU-h, at most ${T.clairvoyantRatio}x)`,
    );
  }
  if (hs) {
    const r = inf.gpuHours / hs.gpuHours;
    if (r > T.hindsightRatio + 1e-9) costVerdict = "missed";
    else if (costVerdict === "n/a") costVerdict = "met";
    costDetails.push(
      `${num(r)}x the cheapest hindsight-tuned baseline at its attainment, ${hs.name} (${pct(hs.sloAttainment)}, ${num(hs.gpuHours)} GPU-h; at most ${T.hindsightRatio}x)`,
    );
  } else {
    costDetails.push(`no baseline configuration reaches ${pct(inf.sloAttainment)} on this trace`);
  }
  out.push({
    target: `GPU-hours <= ${T.clairvoyantRatio}x the clairvoyant bound at inferops' attainment and <= ${T.hindsightRatio}x the cheapest hindsight-tuned baseline reaching it`,
    verdict: costVerdict,
    detail: costDetails.join("; "),
  });

  const tuned = BASELINES.map((b) => f.tunedOnce[b]).filter((e): e is TunedOnce => e !== undefined);
  const lost = tuned.filter((e) => !beats(inf, e));
  out.push({
    target: `beats every family's configuration tuned on a different trace (equal or higher attainment at lower cost, or ${T.muchHigher * 100} point more)`,
    verdict: tuned.length === 0 ? "n/a" : lost.length === 0 ? "met" : "missed",
    detail:
      tuned.length === 0
        ? "no other trace of the same group to tune on"
        : tuned
            .map(
              (e) =>
                `${beats(inf, e) ? "beats" : "does not beat"} ${e.family} ${shortParams(e)} (tuned on ${e.tunedOn}: ${pct(e.sloAttainment)}, ${num(e.gpuHours)} GPU-h)`,
            )
            .join("; "),
  });

  const x = f.excess;
  out.push({
    target: `never holds more than ${T.excessRatio}x the need for longer than one lead time (${f.leadSeconds} s) after demand falls`,
    verdict: x.minutes === 0 ? "met" : "missed",
    detail:
      x.minutes === 0
        ? "no minute over"
        : `${x.minutes} minutes over (longest run ${x.longest}); worst at minute ${x.worst!.minute}: ${x.worst!.held} ready against a need of ${x.worst!.need}` +
          (x.byReason ? `. ${excessWhy(x.byReason)}` : ""),
  });
  return out;
}

/** Why the minutes over were held, by the decision's reason at each, most first (EXCESS_CAUSES). */
export function excessWhy(byReason: Readonly<Record<string, number>>): string {
  const parts = Object.entries(byReason)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, n]) => {
      const cause = EXCESS_CAUSES[reason];
      return `${n} ${n === 1 ? "minute" : "minutes"} ${reason}${cause ? ` (${cause})` : ""}`;
    });
  return `Why, by inferops' decision at each minute over: ${parts.join("; ")}`;
}

/** One trace's outcome: its suite, the extra runs, the figures and the checks. */
export interface RobustnessOutcome {
  trace: RobustnessTrace;
  tunedOn?: string;
  suite: SuiteOutput;
  figures: TraceFigures;
  checks: RobustnessCheck[];
  /** How early a policy must act (feasibility.ts), where the attainment target is missed and it was analysed. */
  latestAsk?: LatestAsk;
}

/** The figures of one trace from its suite and the results of the extra runs (defaults, tuned once). */
export function figuresOf(
  suite: SuiteOutput,
  extra: { defaults: Map<string, Named>; tunedOnce: Partial<Record<Baseline, TunedOnce>> },
): TraceFigures {
  const sweep = entries(suite);
  const named = (n: string) => sweep.find((e) => e.name === n);
  const inf = named("inferops");
  const clv = named("clairvoyant");
  if (!inf || !clv) throw new RangeError(`suite ${suite.result.trace} has no inferops or clairvoyant run`);
  const withDefaults = [...sweep, ...extra.defaults.values()];
  const defaults: Partial<Record<Baseline, Named>> = {};
  const hindsight: Partial<Record<Baseline, Named>> = {};
  for (const b of BASELINES) {
    const d = familyDefault(suite, b, withDefaults);
    if (d) defaults[b] = d;
    const h = cheapestReaching(
      sweep.filter((e) => e.family === b),
      inf.sloAttainment,
    );
    if (h) hindsight[b] = h;
  }
  const instant = named("instant");
  const run = suite.runs.get("inferops");
  return {
    trace: suite.result.trace,
    inferops: inf,
    clairvoyant: clv,
    ...(instant ? { instant } : {}),
    boundTarget: suite.input.curve.attainment,
    clairvoyantAtInferops: boundsAt(suite, Math.min(inf.sloAttainment, 0.9999)).clairvoyant,
    defaults,
    tunedOnce: extra.tunedOnce,
    hindsight,
    excess: excessOverNeed(run?.timeline ?? [], suite.needs, suite.lead),
    leadSeconds: suite.lead,
  };
}

/** Runs on the runner: every trace's suite, then the family defaults a sweep lacks and the tuned-once configurations. */
export async function runRobustness(
  traces: readonly RobustnessTrace[],
  runner: JobRunner,
  options: {
    tuners: Readonly<Record<string, readonly string[]>>;
    /** Analyse how early a policy must act on one-hour traces where inferops misses its attainment target. */
    leadTime?: boolean;
    onProgress?: Progress;
  },
): Promise<RobustnessOutcome[]> {
  const suites = await runSuites(
    traces.map((t) => t.input),
    runner,
    options.onProgress,
  );
  const byName = new Map(suites.map((s) => [s.result.trace, s]));
  const tuning = assignTuning(
    traces.map((t) => ({ name: t.input.name, group: t.group })),
    options.tuners,
  );

  // The extra configurations of each trace: the defaults its sweep lacks, and each family's best on its
  // tuning trace (reusing this trace's run of the same configuration when its sweep has one).
  type Extra = { trace: number; spec: PolicySpec; name: string; role: "default" | Baseline };
  const extras: Extra[] = [];
  traces.forEach((t, i) => {
    const suite = suites[i]!;
    const { scaling } = t.input.scenario.service.spec;
    const bounds = { minReplicas: Math.max(1, scaling.minReplicas), maxReplicas: scaling.maxReplicas };
    for (const spec of familyDefaultSpecs(bounds)) {
      const name = createPolicy(spec, t.input.scenario).name;
      if (!suite.result.policies[name]) extras.push({ trace: i, spec, name, role: "default" });
    }
    const from = tuning.get(t.input.name);
    const tuner = from === undefined ? undefined : byName.get(from);
    if (!tuner) return;
    const all = entries(tuner);
    for (const b of BASELINES) {
      const best = familyBest(b, all);
      if (!best) continue;
      const spec = policySpecOf(best, bounds);
      extras.push({ trace: i, spec, name: createPolicy(spec, t.input.scenario).name, role: b });
    }
  });
  let done = 0;
  const results = await Promise.all(
    extras.map(async (x) => {
      const suite = suites[x.trace]!;
      const have = suite.result.policies[x.name];
      if (have) return { name: x.name, ...have };
      const run = (await runner.run({
        kind: "run",
        trace: suite.input.trace,
        scenario: suite.input.scenario,
        policy: x.spec,
        options: { warmReplicas: suite.warm },
      })) as RunResult;
      options.onProgress?.(++done, extras.length, `${suite.result.trace}: ${run.name}`);
      return { name: run.name, ...toPolicyResult(run) };
    }),
  );

  const outcomes = traces.map((t, i): RobustnessOutcome => {
    const suite = suites[i]!;
    const defaults = new Map<string, Named>();
    const tunedOnce: Partial<Record<Baseline, TunedOnce>> = {};
    const tunedOn = tuning.get(t.input.name);
    extras.forEach((x, k) => {
      if (x.trace !== i) return;
      const r = results[k]!;
      if (x.role === "default") defaults.set(r.name, r);
      else tunedOnce[x.role] = { ...r, tunedOn: tunedOn! };
    });
    const figures = figuresOf(suite, { defaults, tunedOnce });
    return {
      trace: t,
      ...(tunedOn === undefined ? {} : { tunedOn }),
      suite,
      figures,
      checks: checkRobustness(figures),
    };
  });

  if (options.leadTime) {
    await Promise.all(
      outcomes
        .filter((o) => !o.suite.input.day && o.checks[0]!.verdict === "missed")
        .map(async (o) => {
          const f = o.figures;
          const target = Math.min(
            ROBUSTNESS_TARGETS.attainment,
            f.clairvoyant.sloAttainment - ROBUSTNESS_TARGETS.boundSlack,
          );
          o.latestAsk = await latestAsk(runner, o.suite, target);
        }),
    );
  }
  return outcomes;
}

// ---- Results: JSON and Markdown ----

const namedSchema = policyResultSchema.extend({ name: z.string() });
const checkSchema = z.strictObject({
  target: z.string(),
  verdict: z.enum(["met", "missed", "n/a"]),
  detail: z.string(),
});

export const robustnessTraceSchema = z.strictObject({
  trace: z.string(),
  group: z.string(),
  description: z.string(),
  tunedOn: z.string().optional(),
  requests: z.int().min(0),
  durationSeconds: z.number().min(0),
  peakNeed: z.int().min(0),
  warm: z.int().min(0),
  leadSeconds: z.number().min(0),
  inferops: namedSchema,
  bounds: z.strictObject({
    clairvoyant: namedSchema,
    instant: namedSchema.optional(),
    target: z.number(),
    clairvoyantAtInferopsGpuHours: z.number(),
  }),
  defaults: z.record(z.string(), namedSchema),
  tunedOnce: z.record(z.string(), namedSchema.extend({ tunedOn: z.string() })),
  hindsight: z.record(z.string(), namedSchema),
  /** Each family's Pareto frontier on the trace's own sweep. */
  frontier: z.record(z.string(), z.array(namedSchema)),
  excess: z.strictObject({
    minutes: z.int().min(0),
    longest: z.int().min(0),
    worst: z.strictObject({ minute: z.int(), held: z.int(), need: z.int() }).optional(),
    byReason: z.record(z.string(), z.int().min(0)).optional(),
  }),
  targets: z.array(checkSchema),
  latestAsk: z.string().optional(),
});

export const robustnessResultSchema = z.strictObject({
  command: z.string(),
  machine: z.string(),
  seconds: z.number(),
  traces: z.array(robustnessTraceSchema),
});
export type RobustnessResult = z.output<typeof robustnessResultSchema>;

/** The results file (validated). */
export function robustnessJson(
  outcomes: readonly RobustnessOutcome[],
  meta: { command: string; machine: string; seconds: number },
): RobustnessResult {
  const strip = (e: Named) => e;
  return robustnessResultSchema.parse({
    ...meta,
    seconds: Math.round(meta.seconds),
    traces: outcomes.map((o) => {
      const f = o.figures;
      const sweep = entries(o.suite);
      const frontier: Record<string, Named[]> = {};
      for (const b of BASELINES) frontier[b] = paretoFrontier(sweep.filter((e) => e.family === b)).map(strip);
      return {
        trace: f.trace,
        group: o.trace.group,
        description: o.trace.description,
        ...(o.tunedOn === undefined ? {} : { tunedOn: o.tunedOn }),
        requests: o.suite.stats.requests,
        durationSeconds: o.suite.stats.durationSeconds,
        peakNeed: Math.max(0, ...o.suite.needs),
        warm: o.suite.warm,
        leadSeconds: f.leadSeconds,
        inferops: f.inferops,
        bounds: {
          clairvoyant: f.clairvoyant,
          ...(f.instant ? { instant: f.instant } : {}),
          target: f.boundTarget,
          clairvoyantAtInferopsGpuHours: Number(f.clairvoyantAtInferops.toPrecision(6)),
        },
        defaults: f.defaults,
        tunedOnce: f.tunedOnce,
        hindsight: f.hindsight,
        frontier,
        excess: f.excess,
        targets: o.checks,
        ...(o.latestAsk ? { latestAsk: latestAskLine(o.latestAsk).replace(/^- /, "") } : {}),
      };
    }),
  });
}

const VERDICT: Record<Verdict, string> = { met: "met", missed: "**missed**", "n/a": "n/a" };

function row(label: string, e: Named, f: TraceFigures, hs: Named | undefined): string {
  return `| ${label} | ${shortParams(e)} | ${pct(e.sloAttainment)} | ${num(e.gpuHours)} | ${hs ? num(e.gpuHours / hs.gpuHours) : "–"} | ${num(e.gpuHours / f.clairvoyant.gpuHours)} | ${e.scaleActions} |`;
}

/** The Markdown section of one trace. */
export function robustnessSection(o: RobustnessOutcome): string {
  const f = o.figures;
  const s = o.suite.stats;
  const hs = cheapestHindsight(f);
  const lines = [
    `## ${f.trace}`,
    "",
    `${o.trace.description}. ${s.requests.toLocaleString("en-US")} requests over ${num(s.durationSeconds / 3600)} h; peak need ${Math.max(0, ...o.suite.needs)} replicas, warm start ${o.suite.warm}, lead time ${f.leadSeconds} s. ` +
      (o.tunedOn
        ? `Tuned-once configurations: each family's best on ${o.tunedOn}.`
        : "No other trace in its group to tune on."),
    "",
    `| policy | configuration | SLO met | GPU-h | x cheapest hindsight at inferops' attainment | x clairvoyant | scale actions |`,
    "|---|---|---|---|---|---|---|",
    row("**inferops**", f.inferops, f, hs),
    row(`clairvoyant bound (sized for ${pct(f.boundTarget)}, replayed)`, f.clairvoyant, f, hs),
  ];
  if (f.instant) lines.push(row("instant bound", f.instant, f, hs));
  for (const b of BASELINES) {
    const d = f.defaults[b];
    const t = f.tunedOnce[b];
    const h = f.hindsight[b];
    if (d) lines.push(row(`${b} (defaults)`, d, f, hs));
    if (t) lines.push(row(`${b} (tuned once, on ${t.tunedOn})`, t, f, hs));
    lines.push(
      h
        ? row(`${b} (hindsight, cheapest at ${pct(f.inferops.sloAttainment)})`, h, f, hs)
        : `| ${b} (hindsight) | none of the sweep reaches ${pct(f.inferops.sloAttainment)} | | | | | |`,
    );
  }
  lines.push(
    "",
    `The clairvoyant bound re-allocated for inferops' attainment (${pct(f.inferops.sloAttainment)}): ${num(f.clairvoyantAtInferops)} GPU-h.`,
    "",
    "Targets:",
    "",
    ...o.checks.map((c) => `- ${VERDICT[c.verdict]}: ${c.target}. ${c.detail}.`),
  );
  if (o.latestAsk) lines.push(latestAskLine(o.latestAsk));
  lines.push("");
  return lines.join("\n");
}

/** The whole report: a summary table, then a section per trace. */
export function robustnessMarkdown(
  outcomes: readonly RobustnessOutcome[],
  meta: { title: string; preamble: readonly string[]; attribution?: string },
): string {
  const mark = (v: Verdict) => (v === "met" ? "met" : v === "missed" ? "**missed**" : "n/a");
  const head = [
    `# ${meta.title}`,
    "",
    ...meta.preamble,
    "",
    ...(meta.attribution ? [meta.attribution, ""] : []),
    "Targets (issue 11), for inferops with default settings: (1) attainment at least min(99%, the clairvoyant bound's replayed attainment minus 1 point); " +
      "(2) GPU-hours at most 1.15x the clairvoyant bound at its own attainment and 1.1x the cheapest hindsight-tuned baseline reaching it; " +
      "(3) beats every family's configuration tuned once on a different trace (equal or higher attainment at lower cost, or 1 point more); " +
      "(4) never more than 1.5x the need (and 2 replicas over it) for longer than one lead time after demand falls.",
    "",
    "| trace | inferops SLO met | GPU-h | x cheapest hindsight | x clairvoyant at its attainment | (1) | (2) | (3) | (4) |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const o of outcomes) {
    const f = o.figures;
    const hs = cheapestHindsight(f);
    head.push(
      `| ${f.trace} | ${pct(f.inferops.sloAttainment)} | ${num(f.inferops.gpuHours)} | ${hs ? num(f.inferops.gpuHours / hs.gpuHours) : "–"} | ${num(f.inferops.gpuHours / f.clairvoyantAtInferops)} | ${o.checks.map((c) => mark(c.verdict)).join(" | ")} |`,
    );
  }
  const met = outcomes.flatMap((o) => o.checks).filter((c) => c.verdict === "met").length;
  const total = outcomes.flatMap((o) => o.checks).filter((c) => c.verdict !== "n/a").length;
  head.push("", `${met} of ${total} applicable targets met.`, "");
  return `${head.join("\n")}\n${outcomes.map(robustnessSection).join("\n")}`;
}
