// SLO headroom: capacity the token views add while more requests miss the latency objectives than
// spec.scaling.targets.attainment allows. The profile's capacity is measured on some request mix with some
// arrival process; a service whose requests arrive in bursts within the minute, or whose long prompts stall
// decodes, needs standing headroom above its average token demand that no per-minute signal shows. The only
// honest measure of it is the objective itself, so the planner reads it from the servers' histograms:
//
// - Misses: each evaluation, the share of the window's requests over targets.ttftSeconds (the TTFT histogram)
//   and over targets.itlSeconds (each request's mean inter-token latency), the larger of the two, times the
//   window's requests. Missed and total requests are averaged over time (EWMA, MISS_MEMORY_SECONDS), so a
//   burst counts by the requests it hurt, not by how long it lasted.
// - Growth: while the averaged miss rate exceeds the budget (1 - attainment) and the current window's share
//   does too (misses now, not only remembered), the headroom h grows
//   exponentially, faster the further over budget (at most 10 budgets): d ln h / dt = GAIN x excess per
//   minute. Only while no capacity is on its way (anti-windup: misses while replicas start say nothing about
//   headroom, and would be counted again when they are ready). Never above SLO_HEADROOM_MAX.
// - Only while it helps: within one episode of misses the headroom grows by at most 1.5x unless the miss
//   rate falls by 30% (EPISODE_GROWTH, EPISODE_PROGRESS). Misses that capacity does not cure (a prompt
//   whose prefill alone exceeds the target) would otherwise ratchet the headroom to its cap.
// - Relaxation: otherwise h relaxes back towards 1 with SLO_HEADROOM_RELAX_SECONDS, so headroom learned in a
//   bursty hour is given back when traffic calms down, slowly enough not to flap.
//
// The token views divide per-replica capacity by h (recommend.ts). Headroom never scales anything down:
// it is >= 1, and an evaluation without histograms (too few requests, or none read) only relaxes it.
import { fractionAbove } from "../signals/window.ts";
import type { HistogramBuckets, LearnedModel, Signals } from "./types.ts";

/** The SLO headroom never exceeds this. */
export const SLO_HEADROOM_MAX = 3;
/** Growth of ln(headroom) per minute, per multiple of the miss budget (at most 10 budgets count). */
export const SLO_HEADROOM_GAIN = 0.02;
/** Time constant with which the headroom relaxes back to 1 while the objective is met. */
export const SLO_HEADROOM_RELAX_SECONDS = 1800;
/** Time constant of the averaged miss rate. */
export const MISS_MEMORY_SECONDS = 120;
/**
 * Within one episode of misses (from when the averaged miss rate exceeds the budget until it is back
 * within it), the headroom grows at most by this factor unless the miss rate falls to EPISODE_PROGRESS of
 * where the episode started (then the episode starts again from there): misses that more capacity does not
 * reduce (a prompt whose prefill alone exceeds the TTFT target, a slow network) add at most 50%.
 */
export const EPISODE_GROWTH = 1.5;
export const EPISODE_PROGRESS = 0.7;
/** Fewer requests than this in a window say nothing about its miss rate. */
export const SLO_MIN_REQUESTS = 20;
/** Longest step of the headroom's clock (a gap in signals is not a long observation). */
const MAX_STEP_SECONDS = 60;

/** What the service's requests should meet (spec.scaling.targets). */
export interface Objectives {
  ttftSeconds?: number;
  itlSeconds?: number;
  /** Share of requests that should meet them. */
  attainment: number;
}

function over(h: HistogramBuckets | undefined, target: number | undefined) {
  if (target === undefined || !h || h.length === 0) return undefined;
  const requests = h[h.length - 1]!.count;
  if (!(requests >= SLO_MIN_REQUESTS)) return undefined;
  const share = fractionAbove(target, { buckets: h });
  return share === undefined ? undefined : { share, requests };
}

/**
 * The window's requests that missed an objective: the larger share over the TTFT target and over the ITL
 * target (each request's mean), from the servers' histograms, with the requests it is a share of. A lower
 * bound on the share missing either. Undefined when neither histogram has enough requests.
 */
export function sloMisses(
  signals: Signals,
  objectives: Objectives,
): { share: number; requests: number } | undefined {
  const ttft = over(signals.ttftHistogram, objectives.ttftSeconds);
  const itl = over(signals.requestItlHistogram, objectives.itlSeconds);
  if (!ttft) return itl;
  if (!itl) return ttft;
  return itl.share > ttft.share ? itl : ttft;
}

/** The learned headroom fields after this evaluation, or undefined when nothing is known or changes. */
export function updateHeadroom(
  prev: LearnedModel | undefined,
  signals: Signals,
  objectives: Objectives,
  nowMs: number,
  settled: boolean,
):
  | Pick<LearnedModel, "sloHeadroom" | "sloHeadroomAtMs" | "sloMissed" | "sloRequests" | "sloEpisode">
  | undefined {
  const misses = sloMisses(signals, objectives);
  if (!misses && prev?.sloHeadroomAtMs === undefined) return undefined;
  const dt = Math.min(MAX_STEP_SECONDS, Math.max(0, (nowMs - (prev?.sloHeadroomAtMs ?? nowMs)) / 1000));
  const keep = Math.exp(-dt / MISS_MEMORY_SECONDS);
  let missed = prev?.sloMissed;
  let requests = prev?.sloRequests;
  if (misses && settled) {
    const first = missed === undefined || requests === undefined;
    missed = first
      ? misses.share * misses.requests
      : keep * missed! + (1 - keep) * misses.share * misses.requests;
    requests = first ? misses.requests : keep * requests! + (1 - keep) * misses.requests;
  }
  const rate = missed !== undefined && requests !== undefined && requests > 0 ? missed / requests : undefined;
  const budget = 1 - objectives.attainment;
  let h = prev?.sloHeadroom ?? 1;
  let episode = prev?.sloEpisode;
  // Grows only while requests miss now: the average remembers misses for minutes after capacity cured them,
  // and growing on that memory alone would add headroom the fleet has already shown it does not need.
  if (misses && misses.share > budget && rate !== undefined && rate > budget) {
    // An episode of misses starts at this rate and headroom; capacity that does not help is not added.
    if (!episode || rate <= EPISODE_PROGRESS * episode.rate) episode = { rate, headroom: h };
    if (settled && h < EPISODE_GROWTH * episode.headroom) {
      const excess = Math.min(rate / budget, 10);
      h = Math.min(
        SLO_HEADROOM_MAX,
        EPISODE_GROWTH * episode.headroom,
        h * Math.exp((SLO_HEADROOM_GAIN * excess * dt) / 60),
      );
    }
  } else if (misses && misses.share <= budget && rate !== undefined && rate > budget) {
    // Met now while the average still remembers misses: hold (neither grow nor give back yet).
  } else {
    h = 1 + (h - 1) * Math.exp(-dt / SLO_HEADROOM_RELAX_SECONDS);
    if (rate !== undefined && rate <= budget) episode = undefined;
  }
  return {
    sloHeadroom: h,
    sloHeadroomAtMs: nowMs,
    sloEpisode: episode,
    ...(missed !== undefined ? { sloMissed: missed } : {}),
    ...(requests !== undefined ? { sloRequests: requests } : {}),
  };
}
