// What a run on traffic nobody tuned for must say before anyone reads its numbers: requests the servers
// refuse (longer than the context), a warm start held back by maxReplicas or maxNodes, a spec profile that
// disagrees with the capacity measured on the trace, and a trace that no allowed fleet can serve. Pure: the
// suite (suite.ts) computes them, `inferops simulate` prints them on stderr and the report carries them.
import { type CapacityCurve, tokensPerReplica } from "./capacity.ts";
import type { WindowMisses } from "./needs.ts";
import { acceleratorOf, contextTokensOf, primaryPool, type Scenario } from "./scenario.ts";
import type { Trace } from "./trace.ts";

/** A spec profile further than this (either way) from the measured capacity at the SLO is warned about. */
export const PROFILE_TOLERANCE = 0.2;

/** The most replicas any fleet may hold, and the limit that sets it (scenario.ts replicaLimit). */
export interface ReplicaLimit {
  replicas: number;
  limit: string;
}

/** Requests whose prompt + output exceed the servers' context. */
export interface BeyondContext {
  contextTokens: number;
  requests: number;
  /** Share of the trace's requests. */
  share: number;
  /** The longest request, prompt + output tokens. */
  longest: number;
}

export function beyondContext(trace: Trace, scenario: Scenario): BeyondContext {
  const contextTokens = contextTokensOf(scenario, primaryPool(scenario));
  let requests = 0;
  let longest = 0;
  for (let i = 0; i < trace.arrivals.length; i++) {
    const size = trace.prompt[i]! + trace.output[i]!;
    if (size > contextTokens) requests++;
    longest = Math.max(longest, size);
  }
  const n = trace.arrivals.length;
  return { contextTokens, requests, share: n > 0 ? requests / n : 0, longest };
}

/** The spec's profile of the primary variant against the capacity measured at the SLO on the trace's mix. */
export interface ProfileCheck {
  pool: string;
  /** spec.accelerators[].profile.maxTokensPerSecond */
  spec: number;
  /** Measured tokens/s per replica at the SLO, for a fleet of `fleet` replicas. */
  measured: number;
  fleet: number;
  /** spec / measured. */
  ratio: number;
}

/**
 * The primary variant's profile against the measured capacity per replica at the fleet size the busiest
 * minute needs (what the planner's token view relies on at the peak); undefined when the variant has no
 * profile or the curve collapsed.
 */
export function checkProfile(
  scenario: Scenario,
  curve: CapacityCurve,
  peakNeed: number,
): ProfileCheck | undefined {
  const pool = primaryPool(scenario);
  const spec = acceleratorOf(scenario, pool).profile?.maxTokensPerSecond;
  if (spec === undefined || curve.points.length === 0) return undefined;
  const fleet = Math.max(1, peakNeed);
  const measured = tokensPerReplica(curve, fleet);
  if (!(measured > 0)) return undefined;
  return { pool, spec, measured, fleet, ratio: spec / measured };
}

/** Why no allowed fleet serves the trace at the attainment target, naming the limit and the figure. */
export function curveUnservable(curve: CapacityCurve, scenario: Scenario): string | undefined {
  const collapsed = curve.points.find((p) => p.collapsed);
  if (!collapsed) return undefined;
  const { ttftSeconds, itlSeconds } = scenario.slo;
  return (
    `no fleet of any size serves this trace at ${pct(curve.attainment)} of requests within the SLO (TTFT <= ${ttftSeconds} s, ITL <= ${itlSeconds} s): ` +
    `even served alone on an idle replica (${curve.profile}), only ${pct(collapsed.attainment)} of its requests meet it, so its capacity at the SLO is 0 tokens/s. ` +
    "Long prompts take longer than the TTFT objective to prefill: a faster GPU, more GPUs per replica, or a TTFT objective that allows the prefill."
  );
}

/**
 * Whether the windows' measured misses (needs.ts) can be kept within the attainment target's budget with
 * at most `limit.replicas` replicas; when not, why, with the best attainment any allowed fleet reaches.
 */
export function needsUnservable(
  windows: readonly WindowMisses[],
  attainment: number,
  limit: ReplicaLimit,
  busiestNeed?: number,
): string | undefined {
  let requests = 0;
  let least = 0;
  let atLimit = false;
  for (const w of windows) {
    requests += w.requests;
    let best = Number.POSITIVE_INFINITY;
    let at = w.from;
    w.misses.forEach((m, i) => {
      if (m < best) {
        best = m;
        at = w.from + i;
      }
    });
    least += best;
    if (best > 0 && at >= limit.replicas) atLimit = true;
  }
  if (requests === 0 || least <= Math.floor((1 - attainment) * requests)) return undefined;
  const reach = 1 - least / requests;
  const need =
    busiestNeed !== undefined && busiestNeed > limit.replicas
      ? ` The busiest minute needs about ${busiestNeed} replicas at the measured capacity.`
      : "";
  return atLimit
    ? `no allowed fleet serves this trace at ${pct(attainment)}: with ${limit.replicas} replicas (${limit.limit}) in every minute, only ${pct(reach)} of its requests meet the SLO.${need} Raise the limit, or expect ${pct(reach)} at best.`
    : `no fleet serves this trace at ${pct(attainment)}: more replicas stop helping before ${limit.replicas} (${limit.limit}), and at best ${pct(reach)} of its requests meet the SLO: they miss it even on a fleet that is not loaded.`;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const int = (x: number) => Math.round(x).toLocaleString("en-US");
/** A measured figure as a user writes it in a spec: three significant digits. */
export const suggested = (x: number) => Number(x.toPrecision(3));

/** The warnings of a suite, one sentence each, as `inferops simulate` prints them and the report lists them. */
export function warningLines(w: {
  beyondContext?: BeyondContext;
  warmClamp?: { wanted: number; replicas: number; limit: string };
  profile?: ProfileCheck;
  unservable?: string;
}): string[] {
  const out: string[] = [];
  const b = w.beyondContext;
  if (b && b.requests > 0) {
    out.push(
      `${int(b.requests)} requests (${pct(b.share)} of the trace) are longer than the servers' context of ${int(b.contextTokens)} tokens (prompt + output; the longest is ${int(b.longest)}): vLLM refuses them with HTTP 400, so they are counted as refused, apart from the SLO, and left out of the capacity measurement. Serve them with a longer --max-model-len (inferops simulate --context-tokens) or route them elsewhere.`,
    );
  }
  if (w.warmClamp) {
    out.push(
      `the warm start was held at ${w.warmClamp.replicas} replicas by ${w.warmClamp.limit}: the trace's first minute needs ${int(w.warmClamp.wanted)}.`,
    );
  }
  const p = w.profile;
  if (p && Math.abs(p.ratio - 1) > PROFILE_TOLERANCE) {
    out.push(
      `spec.accelerators[${p.pool}].profile.maxTokensPerSecond is ${int(p.spec)} tokens/s per replica, ${p.ratio.toFixed(2)}x what this trace's mix measures at the SLO: ${int(p.measured)} tokens/s per replica for a fleet of ${p.fleet} (the busiest minute's need). ` +
        `inferops plans with the profile until it learns otherwise; put maxTokensPerSecond: ${suggested(p.measured)} in the spec.`,
    );
  }
  if (w.unservable) out.push(w.unservable);
  return out;
}
