// Seeded synthetic trace families for the robustness suite: loads whose shape nobody tuned for, each drawn
// from a real trace's request mix (capacity.ts mixOf) and sized in replicas of load, so that the same shape
// means the same thing on any GPU.
//
// Each member is a non-homogeneous Poisson process whose rate is piecewise linear in time (a shape: points
// (t, replicas of load), linear between them, a jump where two points share a time), sampled by thinning
// with a seeded PRNG: deterministic for a seed. A rate of R replicas of load is R times the workload's
// capacity per replica (tokens/s, measured at the SLO) over the mix's mean tokens per request, in
// requests/s; the shapes peak at 16 to 25 replicas, so that each needs roughly 8 to 30 replicas at its peak.
// A stretch whose rate is zero at both ends holds no request, and the trace's t = 0 is the shape's, so
// leading idle time counts.
//
// The families (all one hour; `FAMILY_SPECS` lists them):
// - step: a base level, a step up at 15 min to 3x, 5x or 10x, back down at 35 min;
// - idle-burst: 20 idle minutes, a 10-minute burst, then quiet (1 replica of load); idle-bursts: 15 idle
//   minutes, then 3-minute bursts every 15 minutes with nothing in between;
// - ramp: linear from 2 to 24 replicas over 25 minutes, then back down over 25;
// - bursts: a base of 6 replicas with 90 s bursts to 20 every 5, 10 or 20 minutes (within, about and beyond
//   the 600 s scale-down window);
// - long-context: prompts of 8k to 30k tokens (the mix's prompts mapped by rank onto that range, outputs
//   kept), on H100s: stationary, a ramp and a 5x step;
// - wrong-profile: stationary load (12 replicas) where the InferenceService's spec says 1.5x and 0.5x the
//   serving profile's maxTokensPerSecond, while the simulated replicas keep the true profile.
import { mulberry32 } from "../serving/workload.ts";
import { meanTokens, type RequestMix } from "./capacity.ts";
import { primaryPool, type Scenario } from "./scenario.ts";
import type { Trace } from "./trace.ts";

/** A point of a rate shape: at `t` seconds the rate is `replicas` replicas of load. */
export interface RatePoint {
  t: number;
  replicas: number;
}

export type FamilyName = "step" | "idle-burst" | "ramp" | "bursts" | "long-context" | "wrong-profile";

/** A workload: the scenario a member runs on, the mix it draws from, and one replica's capacity for it. */
export interface Workload {
  scenario: Scenario;
  mix: RequestMix;
  /** Capacity of one replica for this mix at the SLO, tokens (prompt + output) per second. */
  tokensPerReplica: number;
}

/** The workloads the families draw from: the conversation mix on L4s, and the long-context mix on H100s. */
export type WorkloadName = "conv" | "long";

/** A family member, as plain data. */
export interface MemberSpec {
  name: string;
  family: FamilyName;
  workload: WorkloadName;
  /** What the load does, in a few words. */
  description: string;
  shape: readonly RatePoint[];
  /** The spec's profile maxTokensPerSecond relative to the serving profile's (wrong-profile members). */
  specProfileFactor?: number;
}

export interface FamilyMember extends MemberSpec {
  trace: Trace;
  scenario: Scenario;
}

const MINUTE = 60;
const HOUR = 3600;

/** A base level, a jump to `height` times it at `up`, back down at `down`. */
export function stepShape(base: number, height: number, up = 15 * MINUTE, down = 35 * MINUTE): RatePoint[] {
  return [
    { t: 0, replicas: base },
    { t: up, replicas: base },
    { t: up, replicas: base * height },
    { t: down, replicas: base * height },
    { t: down, replicas: base },
    { t: HOUR, replicas: base },
  ];
}

/** Nothing for `idle` seconds, then `level` for `seconds`, then `quiet` to the end of the hour. */
export function idleBurstShape(idle: number, level: number, seconds: number, quiet: number): RatePoint[] {
  return [
    { t: 0, replicas: 0 },
    { t: idle, replicas: 0 },
    { t: idle, replicas: level },
    { t: idle + seconds, replicas: level },
    { t: idle + seconds, replicas: quiet },
    { t: HOUR, replicas: quiet },
  ];
}

/** `base`, with a jump to `level` for `seconds` at each of `starts`, to the end of the hour. */
export function pulsesShape(
  base: number,
  level: number,
  starts: readonly number[],
  seconds: number,
): RatePoint[] {
  const out: RatePoint[] = [{ t: 0, replicas: base }];
  for (const at of starts) {
    out.push(
      { t: at, replicas: base },
      { t: at, replicas: level },
      { t: at + seconds, replicas: level },
      { t: at + seconds, replicas: base },
    );
  }
  out.push({ t: HOUR, replicas: base });
  return out;
}

/** `base`, with bursts to `level` for `seconds` every `period` seconds (the first at half a period). */
export function burstsShape(base: number, level: number, period: number, seconds: number): RatePoint[] {
  const starts: number[] = [];
  for (let at = period / 2; at + seconds <= HOUR; at += period) starts.push(at);
  return pulsesShape(base, level, starts, seconds);
}

/** `low` until `from`, linear to `high` at `peak`, linear back to `low` at `to`, then `low`. */
export function rampShape(low: number, high: number, from: number, peak: number, to: number): RatePoint[] {
  return [
    { t: 0, replicas: low },
    { t: from, replicas: low },
    { t: peak, replicas: high },
    { t: to, replicas: low },
    { t: HOUR, replicas: low },
  ];
}

const flat = (level: number): RatePoint[] => [
  { t: 0, replicas: level },
  { t: HOUR, replicas: level },
];

/** Every member of every family, in the order the suite runs them. */
export const FAMILY_SPECS: readonly MemberSpec[] = [
  ...(
    [
      [3, 6],
      [5, 4],
      [10, 2.5],
    ] as const
  ).map(
    ([height, base]): MemberSpec => ({
      name: `step-${height}x`,
      family: "step",
      workload: "conv",
      description: `${base} replicas of load, ${height}x from minute 15 to 35, then ${base} again`,
      shape: stepShape(base, height),
    }),
  ),
  {
    name: "idle-burst",
    family: "idle-burst",
    workload: "conv",
    description: "20 idle minutes, 20 replicas of load for 10 minutes, then 1",
    shape: idleBurstShape(20 * MINUTE, 20, 10 * MINUTE, 1),
  },
  {
    name: "idle-bursts",
    family: "idle-burst",
    workload: "conv",
    description: "15 idle minutes, then 16 replicas of load for 3 minutes every 15 minutes, nothing between",
    shape: pulsesShape(0, 16, [15 * MINUTE, 30 * MINUTE, 45 * MINUTE], 3 * MINUTE),
  },
  {
    name: "ramp",
    family: "ramp",
    workload: "conv",
    description: "2 replicas of load, linear to 24 from minute 5 to 30, back to 2 by minute 55",
    shape: rampShape(2, 24, 5 * MINUTE, 30 * MINUTE, 55 * MINUTE),
  },
  ...[5, 10, 20].map(
    (period): MemberSpec => ({
      name: `bursts-${period}m`,
      family: "bursts",
      workload: "conv",
      description: `6 replicas of load, 90 s bursts to 20 every ${period} minutes`,
      shape: burstsShape(6, 20, period * MINUTE, 90),
    }),
  ),
  {
    name: "long-steady",
    family: "long-context",
    workload: "long",
    description: "prompts of 8k-30k tokens, 12 replicas of load (H100)",
    shape: flat(12),
  },
  {
    name: "long-ramp",
    family: "long-context",
    workload: "long",
    description:
      "prompts of 8k-30k tokens, linear from 2 to 20 replicas of load over 25 minutes and back (H100)",
    shape: rampShape(2, 20, 5 * MINUTE, 30 * MINUTE, 55 * MINUTE),
  },
  {
    name: "long-step",
    family: "long-context",
    workload: "long",
    description: "prompts of 8k-30k tokens, 4 replicas of load, 5x from minute 15 to 35 (H100)",
    shape: stepShape(4, 5),
  },
  ...[1.5, 0.5].map(
    (factor): MemberSpec => ({
      name: `wrong-profile-x${factor}`,
      family: "wrong-profile",
      workload: "conv",
      description: `12 replicas of load, steady; the spec's maxTokensPerSecond is ${factor}x the true profile's`,
      shape: flat(12),
      specProfileFactor: factor,
    }),
  ),
];

/** The rate of a shape at t, replicas of load (after a jump, the later value). */
export function rateAt(shape: readonly RatePoint[], t: number): number {
  let i = 0;
  while (i + 1 < shape.length && shape[i + 1]!.t <= t) i++;
  const a = shape[i]!;
  const b = shape[i + 1];
  if (!b || b.t === a.t || t <= a.t) return a.replicas;
  return a.replicas + ((b.replicas - a.replicas) * (t - a.t)) / (b.t - a.t);
}

/** Expected requests of a shape over [from, to), at `perReplica` requests/s per replica of load. */
export function expectedRequests(
  shape: readonly RatePoint[],
  perReplica: number,
  from: number,
  to: number,
): number {
  let sum = 0;
  for (let i = 0; i + 1 < shape.length; i++) {
    const a = shape[i]!;
    const b = shape[i + 1]!;
    const lo = Math.max(from, a.t);
    const hi = Math.min(to, b.t);
    if (hi <= lo) continue;
    const r = (t: number) => a.replicas + ((b.replicas - a.replicas) * (t - a.t)) / (b.t - a.t);
    sum += ((r(lo) + r(hi)) / 2) * (hi - lo);
  }
  return sum * perReplica;
}

/** Stretches [from, to) where the shape's rate is zero throughout. */
export function idleStretches(shape: readonly RatePoint[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i + 1 < shape.length; i++) {
    const a = shape[i]!;
    const b = shape[i + 1]!;
    if (b.t <= a.t || a.replicas !== 0 || b.replicas !== 0) continue;
    const last = out[out.length - 1];
    if (last && last[1] === a.t) last[1] = b.t;
    else out.push([a.t, b.t]);
  }
  return out;
}

/**
 * A non-homogeneous Poisson trace with a piecewise-linear rate (`shape`, at `perReplica` requests/s per
 * replica of load), requests drawn from the mix; by thinning, segment by segment, with a seeded PRNG. It spans
 * the shape: t = 0 is the shape's first point even when no request comes for a while.
 */
export function shapedTrace(
  name: string,
  shape: readonly RatePoint[],
  perReplica: number,
  mix: RequestMix,
  seed: number,
): Trace {
  if (shape.length < 2 || shape[0]!.t !== 0)
    throw new RangeError(`${name}: a shape starts at t = 0 with 2+ points`);
  for (let i = 1; i < shape.length; i++) {
    if (shape[i]!.t < shape[i - 1]!.t) throw new RangeError(`${name}: shape times must not decrease`);
    if (shape[i]!.replicas < 0) throw new RangeError(`${name}: a rate cannot be negative`);
  }
  const rand = mulberry32(seed);
  const a: number[] = [];
  const p: number[] = [];
  const o: number[] = [];
  for (let i = 0; i + 1 < shape.length; i++) {
    const s = shape[i]!;
    const e = shape[i + 1]!;
    const max = Math.max(s.replicas, e.replicas) * perReplica;
    if (e.t <= s.t || max <= 0) continue;
    let t = s.t;
    for (;;) {
      t += -Math.log(1 - rand()) / max;
      if (t >= e.t) break;
      const rate = (s.replicas + ((e.replicas - s.replicas) * (t - s.t)) / (e.t - s.t)) * perReplica;
      if (rand() * max >= rate) continue;
      const k = Math.floor(rand() * mix.prompt.length);
      a.push(t);
      p.push(mix.prompt[k]!);
      o.push(mix.output[k]!);
    }
  }
  return {
    name,
    startMs: 0,
    durationSeconds: shape[shape.length - 1]!.t,
    arrivals: Float64Array.from(a),
    prompt: Int32Array.from(p),
    output: Int32Array.from(o),
  };
}

/** Context the long-context mix stays within (the model's maxModelLen for Llama-3.1-8B as served). */
export const LONG_CONTEXT = { minPrompt: 8192, maxPrompt: 30_000, maxContext: 32_768 } as const;

/**
 * A long-context mix from a real one: each prompt mapped by its rank among the mix's prompts onto
 * [minPrompt, maxPrompt], evenly in log scale (the longest prompts stay the longest); outputs kept, clipped so
 * that prompt plus output stays within maxContext.
 */
export function longContextMix(mix: RequestMix, range: typeof LONG_CONTEXT = LONG_CONTEXT): RequestMix {
  const n = mix.prompt.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (x, y) => mix.prompt[x]! - mix.prompt[y]! || x - y,
  );
  const prompt = new Int32Array(n);
  const output = new Int32Array(n);
  const ratio = range.maxPrompt / range.minPrompt;
  order.forEach((i, rank) => {
    const q = n > 1 ? rank / (n - 1) : 0;
    prompt[i] = Math.round(range.minPrompt * ratio ** q);
    output[i] = Math.max(1, Math.min(mix.output[i]!, range.maxContext - prompt[i]!));
  });
  return { prompt, output };
}

/** The scenario with its spec's profile maxTokensPerSecond scaled (the simulated replicas keep the truth). */
export function withSpecProfile(scenario: Scenario, factor: number): Scenario {
  const pool = primaryPool(scenario);
  const spec = scenario.service.spec;
  return {
    ...scenario,
    service: {
      ...scenario.service,
      spec: {
        ...spec,
        accelerators: spec.accelerators.map((a) =>
          a.pool === pool && a.profile
            ? {
                ...a,
                profile: {
                  ...a.profile,
                  maxTokensPerSecond: Math.round(a.profile.maxTokensPerSecond * factor),
                },
              }
            : a,
        ),
      },
    },
  };
}

/** A member's seed: the suite's seed mixed with its name (members differ; each is stable on its own). */
export function memberSeed(name: string, seed: number): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Requests/s of one replica of load for a workload. */
export function requestsPerReplica(workload: Workload): number {
  return workload.tokensPerReplica / meanTokens(workload.mix);
}

/** Builds the members (all, or those named in `only`), deterministic for a seed. */
export function buildFamilies(
  workloads: Record<WorkloadName, Workload>,
  options: { seed?: number; only?: readonly string[]; specs?: readonly MemberSpec[] } = {},
): FamilyMember[] {
  const specs = options.specs ?? FAMILY_SPECS;
  const unknown = (options.only ?? []).filter((n) => !specs.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new RangeError(
      `no family member ${unknown.join(", ")}; known: ${specs.map((s) => s.name).join(", ")}`,
    );
  }
  return specs
    .filter((s) => !options.only || options.only.includes(s.name))
    .map((spec) => {
      const w = workloads[spec.workload];
      const trace = shapedTrace(
        spec.name,
        spec.shape,
        requestsPerReplica(w),
        w.mix,
        memberSeed(spec.name, options.seed ?? 1),
      );
      const scenario =
        spec.specProfileFactor === undefined
          ? w.scenario
          : withSpecProfile(w.scenario, spec.specProfileFactor);
      return { ...spec, trace, scenario };
    });
}
