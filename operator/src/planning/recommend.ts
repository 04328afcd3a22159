// Stage 1: what one service's signals ask for, before behaviour, bounds and budgets. The recommendation is
// the largest of these views (each with its reason):
//
// - QueueDepth: waiting requests against targets.queueDepthPerReplica. The queue is spread over every
//   replica the service has, starting ones included (HPA counts not-yet-ready pods at zero on scale-up), so
//   capacity on its way is not asked for twice: the ask is ceil(queue / target) replicas in all, never
//   replicas * (queue per ready replica / target), which multiplies the starting replicas again.
//   A request waits in the queue of the server it was routed to: replicas added later take new arrivals
//   only, never the backlog. So when the arrival rate and capacity are known, the ask is also capped at what
//   new replicas can take (newReplicasTake): the pods the backlog keeps busy (at most the ready ones) plus
//   the replicas the arrivals need, the backlog growing until the replicas starting serve (unless the
//   forecast still rises). A backlog stranded on a few pods after a burst asks for a few, not for
//   queue / target, and the ask falls as soon as arrivals fall.
// - TokenThroughput: token demand against per-replica capacity at targets.tokenUtilization. Demand is
//   arrivals * mean request size, or the tokens served when more while nothing waits (served tokens stop
//   growing at saturation; arrivals do not; while requests wait, the tokens served include the backlog's).
//   Capacity comes from the variants' profiles, weighted by where replicas run.
// - LatencySLO: the fewest replicas whose predicted p95 TTFT (queueing.ts) meets targets.ttftSeconds.
// - Forecast: the token and SLO views again at the arrival rate expected over the lead time (forecast.ts).
//
// Learning (kept in memory, used from the next evaluation on, so that one evaluation's views depend on its
// load only through the signals and never shrink when load grows):
// - request size: prompt and generated tokens per request, each part from the finished requests'
//   per-request histogram where the servers keep one (vLLM both; TGI the generated tokens), at any load;
//   else token rates / arrival rate, measured only while nothing queues (then served = offered); learned
//   when both parts are measured, smoothed (EWMA 0.2);
// - capacity at saturation: when requests queue (queueDepth > 0) and the KV cache is high
//   (kvCacheUtilization >= 0.9), replicas are serving all they can, so tokens/s per reporting replica is a
//   measurement of capacity, once the ready replicas have been the same for a whole rate window (a
//   replica ready for part of the window served for part of it, and would read as a slow one). Against
//   profiles it becomes a scale in [0.25, 1] (EWMA 0.3): the operator lowers the profile when replicas
//   prove slower, never raises it (the profile is capacity at the latency targets; saturated throughput can
//   be higher at the cost of latency). The scale relaxes back towards 1 with a one-hour time constant when
//   no saturation is seen. Variants without a profile use the measured tokens/s per replica directly.
// - capacity above the profile: only with scaling.capacityProbe.enabled, by a probe (probe.ts) that
//   shrinks a steady fleet whose latency stays well under its targets and keeps the scale (up to 4) at which
//   the replicas still meet them; saturation then lowers that scale as it lowers any other.
import { Reason } from "../apis/conditions.ts";
import { DEFAULT_ATTAINMENT, type InferenceServiceSpec } from "../apis/inferenceservice.ts";
import { draining, RATE_WINDOW_SECONDS } from "./arrivals.ts";
import { ceil, replicasForRatio } from "./behavior.ts";
import { type Objectives, SLO_MIN_REQUESTS, sloMisses, updateHeadroom } from "./headroom.ts";
import { CAPACITY_SCALE_MAX, PROBE_EDGE, probeCapacity } from "./probe.ts";
import { replicasForTtft, type TtftSizing } from "./queueing.ts";
import type { LearnedModel, Signals } from "./types.ts";

export type Scaling = InferenceServiceSpec["scaling"];

/** The queue view never asks for more replicas than drain the expected backlog within this time. */
export const QUEUE_DRAIN_SECONDS = 60;
/** KV-cache use at or above which a queueing replica counts as saturated. */
export const SATURATION_KV = 0.9;
/**
 * Request size is measured only from windows with at least this many requests: the rates of a window with a
 * handful (the tail of a quiet period) divide prompt tokens counted at prefill by completions counted at the
 * end, and read a 1,150-token request as 33 tokens.
 */
export const SIZE_MIN_REQUESTS = 20;
/** EWMA weight of a new request-size measurement. */
export const SIZE_SMOOTHING = 0.2;
/** EWMA weight of a new capacity measurement. */
export const CAPACITY_SMOOTHING = 0.3;
/** The learned capacity never goes below this share of the profile. */
export const CAPACITY_SCALE_MIN = 0.25;
/** Time constant with which the learned capacity scale relaxes back to the profile. */
export const CAPACITY_RELAX_SECONDS = 3600;

/** A variant's profile, weighted by how many replicas run on it. */
export interface VariantCapacity {
  pool: string;
  /** profile.maxTokensPerSecond, when given. */
  tokensPerSecond?: number;
  /** profile.maxConcurrentRequests, when given. */
  slots?: number;
  /** Weight: replicas on this variant. */
  replicas: number;
}

export interface CapacityEstimate {
  /** Effective tokens/s of one replica (profiles scaled by what was learned); undefined when unknown. */
  tokensPerSecond?: number;
  /** Profiles alone, weighted the same way (what the learned scale applies to). */
  profiledTokensPerSecond?: number;
  /** Concurrent requests per replica, for the queueing model; 1 when no profile gives it. */
  slots: number;
  /** How it was derived, for messages. */
  source: string;
}

/**
 * Per-replica capacity of the service's current mix of variants: profiles weighted by replicas per variant
 * (the first variant alone when nothing runs), scaled by the learned capacity scale; variants without a
 * profile count with the measured saturated throughput, or not at all when none was measured.
 */
export function replicaCapacity(
  variants: readonly VariantCapacity[],
  learned?: LearnedModel,
): CapacityEstimate {
  const total = variants.reduce((s, v) => s + v.replicas, 0);
  const weighted = total > 0 ? variants.filter((v) => v.replicas > 0) : variants.slice(0, 1);
  const weight = (v: VariantCapacity) => (total > 0 ? v.replicas : 1);
  const scale = learned?.capacityScale ?? 1;
  let w = 0;
  let cap = 0;
  let pw = 0;
  let pcap = 0;
  let sw = 0;
  let slots = 0;
  for (const v of weighted) {
    const vw = weight(v);
    if (v.tokensPerSecond !== undefined) {
      pw += vw;
      pcap += vw * v.tokensPerSecond;
      w += vw;
      cap += vw * v.tokensPerSecond * scale;
    } else if (learned?.capacityTokensPerSecond !== undefined) {
      w += vw;
      cap += vw * learned.capacityTokensPerSecond;
    }
    if (v.slots !== undefined) {
      sw += vw;
      slots += vw * v.slots;
    }
  }
  const tokensPerSecond = w > 0 ? cap / w : undefined;
  const profiledTokensPerSecond = pw > 0 ? pcap / pw : undefined;
  const source =
    tokensPerSecond === undefined
      ? "no profile and no saturation measured"
      : pw > 0
        ? scale < 1
          ? `profiles x ${round(scale, 2)} learned at saturation`
          : "profiles"
        : "measured at saturation";
  return {
    tokensPerSecond,
    profiledTokensPerSecond,
    slots: sw > 0 ? Math.max(1, Math.round(slots / sw)) : 1,
    source,
  };
}

/**
 * Mean prompt and generated tokens of the requests that finished over the window, from per-request
 * histograms (Signals.finished*): each undefined when the servers keep no such histogram or nothing finished.
 * Unlike token rates over the request rate, numerator and denominator count the same requests.
 */
export function finishedSize(signals: Signals): { prompt?: number; output?: number; requests: number } {
  const requests = signals.finishedRequestsPerSecond ?? 0;
  if (!(requests > 0)) return { requests: 0 };
  const prompt = signals.finishedPromptTokensPerSecond;
  const output = signals.finishedGenerationTokensPerSecond;
  return {
    requests,
    ...(prompt !== undefined ? { prompt: prompt / requests } : {}),
    ...(output !== undefined ? { output: output / requests } : {}),
  };
}

/**
 * Mean request size, each part from the first that knows it: what was learned; the window's finished
 * requests (finishedSize()); the token rates over the request rate. The last reads a request far too large
 * while load rises from idle (prompts count as they are prefilled, vLLM's requests as they finish: 68,000
 * tokens a request at the onset of a burst in the robustness suite's idle-bursts, 50x the truth).
 */
export function requestSize(
  learned: LearnedModel | undefined,
  signals: Signals,
): { prompt: number; output: number } | undefined {
  const finished = finishedSize(signals);
  const rate = signals.arrivalRate;
  const ratio = (tokens: number | undefined) =>
    tokens !== undefined && rate !== undefined && rate > 0 ? tokens / rate : undefined;
  const prompt = learned?.promptTokens ?? finished.prompt ?? ratio(signals.promptTokensPerSecond);
  const output = learned?.outputTokens ?? finished.output ?? ratio(signals.generationTokensPerSecond);
  if (prompt === undefined && output === undefined) return undefined;
  return { prompt: prompt ?? 0, output: output ?? 0 };
}

/** Tokens/s served now, when the servers report token rates. */
export function servedTokens(signals: Signals): number | undefined {
  if (signals.promptTokensPerSecond === undefined && signals.generationTokensPerSecond === undefined) {
    return undefined;
  }
  return (signals.promptTokensPerSecond ?? 0) + (signals.generationTokensPerSecond ?? 0);
}

/**
 * Token demand: arrivals times the mean request size, or the tokens served when they are more and nothing
 * waits (a request mix grown longer than the size learned so far shows there first). While requests wait,
 * the tokens served are the backlog's as well as the arrivals': replicas that just became ready prefill a
 * full batch of waiting prompts at once (a 10x step in the robustness suite read 106,000 tokens/s where
 * 51,000 arrived, and asked 50 replicas where 26 serve), and pods that hold a backlog serve it at their full
 * rate. The backlog is the queue view's.
 */
export function tokenDemand(
  signals: Signals,
  size: { prompt: number; output: number } | undefined,
): number | undefined {
  const served = servedTokens(signals);
  const offered =
    signals.arrivalRate !== undefined && size ? signals.arrivalRate * (size.prompt + size.output) : undefined;
  if (served === undefined) return offered;
  if (offered === undefined) return served;
  if ((signals.queueDepth ?? 0) > 0) return offered;
  return Math.max(served, offered);
}

/** Any sign of demand: arrivals, queue, running requests, tokens, or demand at the activation query. */
export function hasDemand(signals: Signals): boolean {
  return (
    (signals.arrivalRate ?? 0) > 0 ||
    (signals.queueDepth ?? 0) > 0 ||
    (signals.runningRequests ?? 0) > 0 ||
    (servedTokens(signals) ?? 0) > 0 ||
    (signals.activationDemand ?? 0) > 0
  );
}

/** How the fleet stood while the signals were measured (decide.ts observe()). */
export interface LearnContext {
  /** No capacity on its way (ready = desired): misses then say something about headroom. Default true. */
  settled?: boolean;
  /**
   * Replicas that served over the rate window (the time-weighted mean of the ready count): rates are per
   * serving replica. Default: signals.replicasReporting.
   */
  servingReplicas?: number;
  /**
   * Requests in the servers per second over the rate window (+ growing, - draining). A draining backlog
   * is stranded on the pods it was routed to: the fleet serves all that arrives, only those pods queue, and
   * their misses say nothing of capacity or headroom. Default 0.
   */
  backlogTrend?: number;
  /**
   * The same ready replicas over a whole rate window, all desired ones ready and none draining: what a
   * capacity probe step needs before it reads the fleet (probe.ts). Default false.
   */
  steady?: boolean;
  /**
   * The same replicas ready over a whole rate window and none draining (some may be starting): what was
   * served over the window is per replica (served at the SLO). Default false.
   */
  sameServing?: boolean;
  /** The requests in the servers grow beyond noise (growing()). Default false. */
  short?: boolean;
  /** targets.tokenUtilization, for the probe's load test. Default 1. */
  utilization?: number;
  /** behavior.tolerance, which a probe step must overcome. Default 0. */
  tolerance?: number;
  /** The scale-down stabilization window in force, seconds, which a probe step waits for. Default 0. */
  downWindowSeconds?: number;
  /** scaling.capacityProbe.enabled: probe capacity above the profile (probe.ts). Default false. */
  probe?: boolean;
}

/** Updates what was learned with this evaluation's signals (rules in the file header). */
export function learn(
  prev: LearnedModel | undefined,
  signals: Signals,
  profiledTokensPerSecond: number | undefined,
  nowMs: number,
  objectives: Objectives = { attainment: DEFAULT_ATTAINMENT },
  context: LearnContext = {},
): LearnedModel {
  const ttftTargetSeconds = objectives.ttftSeconds;
  const next: LearnedModel = { ...prev };
  const queue = signals.queueDepth ?? 0;
  const rate = signals.arrivalRate ?? 0;
  // Request size: from the window's finished requests where the servers keep per-request histograms (at any
  // load), else from token rates over the request rate while nothing queues (then served = offered).
  const finished = finishedSize(signals);
  const enoughFinished = finished.requests * RATE_WINDOW_SECONDS >= SIZE_MIN_REQUESTS;
  const steadyRatio = rate * RATE_WINDOW_SECONDS >= SIZE_MIN_REQUESTS && queue === 0;
  const sized = (fromFinished: number | undefined, tokens: number | undefined) =>
    enoughFinished && fromFinished !== undefined
      ? fromFinished
      : steadyRatio && tokens !== undefined
        ? tokens / rate
        : undefined;
  const prompt = sized(finished.prompt, signals.promptTokensPerSecond);
  const output = sized(finished.output, signals.generationTokensPerSecond);
  if (prompt !== undefined && output !== undefined) {
    next.promptTokens = ewma(prev?.promptTokens, prompt, SIZE_SMOOTHING);
    next.outputTokens = ewma(prev?.outputTokens, output, SIZE_SMOOTHING);
  }
  const served = servedTokens(signals) ?? 0;
  // Stranded: the backlog drains (the pods that hold it serve it off while the rest keep up with arrivals).
  const stranded = draining(context.backlogTrend ?? 0, signals.arrivalRate);
  // Saturated: requests queue and either the KV cache is full (decode-bound) or the TTFT objective is missed
  // (prefill-bound replicas queue with the KV cache mostly empty), while the backlog is not draining: a
  // backlog that drains is stranded on some pods while the rest serve what arrives, and tokens/s per replica
  // then measure the arrivals, not capacity.
  const latencyBound =
    ttftTargetSeconds !== undefined &&
    signals.ttftSeconds !== undefined &&
    signals.ttftSeconds > ttftTargetSeconds;
  const serving = context.servingReplicas ?? signals.replicasReporting;
  // Held by a few: fewer than half the reporting replicas queue (Signals.queuedReplicas). A backlog left on
  // the pods a burst was routed to, beside replicas that serve what arrives with room to spare: their
  // tokens/s per replica measure the arrivals, not capacity, and their misses are the backlog's (idle-bursts:
  // one pod held 4,000 requests for half an hour, and each later burst, served by 23 replicas, read as a
  // capacity of 0.53 of the profile).
  const fewQueue =
    signals.queuedReplicas !== undefined &&
    signals.queuedReplicas > 0 &&
    signals.queuedReplicas * 2 < signals.replicasReporting;
  const saturated =
    !stranded &&
    !fewQueue &&
    queue > 0 &&
    ((signals.kvCacheUtilization ?? 0) >= SATURATION_KV || latencyBound) &&
    signals.replicasReporting > 0 &&
    serving > 0 &&
    served > 0;
  delete next.raised;
  delete next.probeEvent;
  if (saturated) {
    const perReplica = served / Math.max(serving, 1e-9);
    next.capacityTokensPerSecond = ewma(prev?.capacityTokensPerSecond, perReplica, CAPACITY_SMOOTHING);
    if (profiledTokensPerSecond !== undefined && profiledTokensPerSecond > 0) {
      // Saturation lowers the scale, also one a probe raised above the profile (probe.ts), never raises it.
      const prevScale = prev?.capacityScale ?? 1;
      const measured = clamp(
        perReplica / profiledTokensPerSecond,
        CAPACITY_SCALE_MIN,
        Math.max(1, prevScale),
      );
      next.capacityScale = (1 - CAPACITY_SMOOTHING) * prevScale + CAPACITY_SMOOTHING * measured;
    }
    delete next.servedAtSlo;
    next.atMs = nowMs;
  } else {
    // Served at the SLO: tokens/s per replica over a window in which every latency objective was met with
    // room, at most one request per replica waited and the same replicas served all of it (none joined,
    // left or drained: a window across a change of the fleet read 2.42x the profile where the truth is
    // 1.77x) is a capacity the replicas have at the SLO, whatever the profile says. The scale rises to it at
    // once (the window's mean is the measurement; the fleet it sizes runs at the utilisation target of what
    // was served, never beyond): a profile at half the truth costs the first minutes, not the hour. It never
    // rises beyond what was served: that is the probe's. The latency is read only for a window that served
    // more than is known (most services, most of the time, serve less than their profile).
    const shown =
      profiledTokensPerSecond !== undefined && profiledTokensPerSecond > 0 && served > 0 && serving > 0
        ? served / serving / profiledTokensPerSecond
        : 0;
    if (
      shown > Math.max(1, prev?.servedAtSlo ?? 1) &&
      queue <= serving &&
      (signals.kvCacheUtilization ?? 0) < SATURATION_KV &&
      !(context.short ?? false) &&
      (context.sameServing ?? false) &&
      !stranded
    ) {
      const { latency, missed } = latencyOverTarget(signals, objectives);
      if (latency !== undefined && latency <= PROBE_EDGE && !missed) {
        next.servedAtSlo = Math.min(CAPACITY_SCALE_MAX, shown);
      }
    }
    if (prev?.capacityScale !== undefined && prev.capacityScale < 1) {
      // A scale learned below the profile relaxes back to it; one a probe measured above it holds (the
      // saturation rule and the SLO headroom act when it stops being true).
      const dt = Math.max(0, (nowMs - (prev.atMs ?? nowMs)) / 1000);
      next.capacityScale = 1 - (1 - prev.capacityScale) * Math.exp(-dt / CAPACITY_RELAX_SECONDS);
      next.atMs = nowMs;
    }
  }
  // What was served at the SLO raises the scale to it (and says so to the next evaluation: raised).
  const before = next.capacityScale ?? 1;
  if (next.servedAtSlo !== undefined && next.servedAtSlo > before) {
    next.capacityScale = next.servedAtSlo;
    next.raised = next.servedAtSlo / before;
    next.atMs = nowMs;
  }
  if (!context.probe) {
    // Without probing, the profile (or what was served at the SLO beyond it) is an upper bound: a scale a
    // probe raised (before capacityProbe was turned off) goes back to it, and no probe stays open.
    const bound = Math.max(1, next.servedAtSlo ?? 1);
    if ((next.capacityScale ?? 1) > bound) {
      next.capacityScale = bound;
      next.atMs = nowMs;
    }
    delete next.probe;
  } else if (profiledTokensPerSecond !== undefined && profiledTokensPerSecond > 0) {
    const p = probeCapacity({
      scale: next.capacityScale ?? 1,
      profiled: profiledTokensPerSecond,
      served,
      serving,
      steady: context.steady ?? false,
      ...latencyOverTarget(signals, objectives),
      short: context.short ?? false,
      utilization: context.utilization ?? 1,
      tolerance: context.tolerance ?? 0,
      downWindowSeconds: context.downWindowSeconds ?? 0,
      headroom: prev?.sloHeadroom ?? 1,
      nowMs,
      ...(prev?.probe ? { probe: prev.probe } : {}),
      ...(prev?.probedAtMs !== undefined ? { probedAtMs: prev.probedAtMs } : {}),
    });
    if (p.scale !== (next.capacityScale ?? 1)) {
      next.capacityScale = Math.min(CAPACITY_SCALE_MAX, p.scale);
      next.atMs = nowMs;
    }
    if (p.probe) next.probe = p.probe;
    else delete next.probe;
    if (p.probedAtMs !== undefined) next.probedAtMs = p.probedAtMs;
    if (p.raised !== undefined) next.raised = p.raised;
    if (p.event !== undefined) next.probeEvent = p.event;
  }
  const headroom = updateHeadroom(prev, signals, objectives, nowMs, (context.settled ?? true) && !stranded);
  if (headroom) Object.assign(next, headroom);
  return next;
}

/**
 * The worst p95 latency over its target among the objectives the signals report, when the window holds
 * enough requests to say, and whether misses exceed the objective's budget.
 */
function latencyOverTarget(signals: Signals, objectives: Objectives): { latency?: number; missed: boolean } {
  const requests = (signals.arrivalRate ?? 0) * RATE_WINDOW_SECONDS;
  const misses = sloMisses(signals, objectives);
  const missed = misses !== undefined && misses.share > 1 - objectives.attainment;
  if (requests < SLO_MIN_REQUESTS) return { missed };
  let latency: number | undefined;
  const ratio = (p95: number | undefined, target: number | undefined) => {
    if (p95 === undefined || target === undefined || !(target > 0)) return;
    latency = Math.max(latency ?? 0, p95 / target);
  };
  ratio(signals.ttftSeconds, objectives.ttftSeconds);
  ratio(signals.requestItlSeconds ?? signals.itlSeconds, objectives.itlSeconds);
  return { ...(latency !== undefined ? { latency } : {}), missed };
}

export interface View {
  replicas: number;
  reason: string;
  message: string;
}

export interface RecommendInput {
  scaling: Scaling;
  signals: Signals;
  /** Replicas the service has (ready and starting). */
  current: number;
  /** Of which ready. */
  ready: number;
  capacity: CapacityEstimate;
  /** Mean request size, when known. */
  size?: { prompt: number; output: number };
  /** Time for new capacity to serve, seconds (the backlog grows until then). */
  leadSeconds?: number;
  /**
   * The replicas starting, by when each is expected to serve: [seconds from now, replicas], soonest first
   * (what is left of each one's lead time). The backlog the queue view expects grows only until enough of
   * them serve the arrivals. Default: none expected before the lead time.
   */
  starting?: readonly [number, number][];
  /** SLO headroom learned from TTFT and ITL misses (>= 1): the token views divide per-replica capacity by it. */
  headroom?: number;
  /** Arrival rate to provision for over the lead time (forecast.ts), when an arrival rate is known. */
  forecast?: { planningRate: number; trendRate: number; margin: number; leadSeconds: number };
  /**
   * The requests in the servers are growing (growing()): the fleet is short now, so no view holds a
   * scale-up back within the tolerance.
   */
  backlogGrowing?: boolean;
}

export interface Recommendation {
  /** The largest view. */
  replicas: number;
  reason: string;
  message: string;
  /** The largest of the reactive views (queue, tokens, SLO), without the forecast: panic compares this. */
  reactive: number;
  /** Every view computed, in order: queue, tokens, SLO, forecast tokens, forecast SLO. */
  views: View[];
  /**
   * Replicas the arrivals alone need at the SLO, without the backlog, the utilisation target, the tolerance or
   * the forecast: the larger of the SLO sizing at the arrival rate and the offered tokens at the replicas'
   * full capacity (divided by the learned SLO headroom). Undefined without an arrival rate, a request size
   * and a capacity. What a burst's level is measured in (recurrence.ts): the queue view during a burst the
   * fleet was short for asks for the backlog too, and would be held at that level for every burst after.
   */
  demandLevel?: number;
}

/** The unconstrained recommendation: the largest of the views (ties go to the earlier, reactive one). */
export function recommend(input: RecommendInput): Recommendation {
  const { scaling, signals, current, ready, capacity, size } = input;
  const tol = scaling.behavior.tolerance;
  const tolUp = input.backlogGrowing ? 0 : tol;
  const { targets } = scaling;
  const views: View[] = [];
  const pending = Math.max(0, current - ready);

  if (signals.queueDepth !== undefined) {
    const q = signals.queueDepth;
    const target = targets.queueDepthPerReplica;
    const r =
      current > 0
        ? replicasForRatio(current, q / (current * target), tol, tolUp)
        : { replicas: ceil(q / target), withinTolerance: false };
    let replicas = r.replicas;
    let note = "";
    // On a rising trend the replicas starting were sized for a lower rate than the one coming, and what
    // the ramp adds after them serves a lead time after it is asked for: the backlog grows for the whole
    // lead time, not only until they serve (a long-context ramp lost 3 points of attainment otherwise).
    const rising =
      input.forecast !== undefined &&
      signals.arrivalRate !== undefined &&
      input.forecast.trendRate > signals.arrivalRate * (1 + tol);
    const takeable = newReplicasTake(
      q,
      signals.arrivalRate,
      ready,
      signals.queuedReplicas,
      capacity,
      size,
      input.leadSeconds ?? 0,
      targets.tokenUtilization / Math.max(1, input.headroom ?? 1),
      signals.podQueues,
      pending > 0 && !rising ? input.starting : undefined,
      input.forecast?.trendRate,
    );
    if (takeable !== undefined && takeable.replicas < replicas) {
      replicas = takeable.replicas;
      note = ` capped at ${takeable.replicas}: the backlog stays on the pods that hold it (${takeable.busy} of the ${takeable.holders} holding it stay busy with the ${round(takeable.backlog, 0)} requests expected when capacity on its way is ready), and ${takeable.arrivals} serve ${round(signals.arrivalRate ?? 0, 2)} req/s`;
    }
    views.push({
      replicas,
      reason: r.withinTolerance && !note ? Reason.WithinTolerance : Reason.QueueDepth,
      message:
        `queue ${round(q, 1)} at ${target} per replica` +
        (pending > 0 ? ` (${pending} starting replicas count as capacity on its way)` : "") +
        (r.withinTolerance && !note ? `: within tolerance ${tol} of ${current}` : `: ${r.replicas}`) +
        note,
    });
  }

  const headroom = Math.max(1, input.headroom ?? 1);
  const perReplica =
    capacity.tokensPerSecond !== undefined
      ? (capacity.tokensPerSecond * targets.tokenUtilization) / headroom
      : undefined;
  const demand = tokenDemand(signals, size);
  if (perReplica !== undefined && demand !== undefined) {
    views.push(
      tokenView(
        demand,
        perReplica,
        current,
        tol,
        tolUp,
        Reason.TokenThroughput,
        "",
        capacity,
        targets.tokenUtilization,
        headroom,
      ),
    );
  }

  // The queueing model of one replica, when the SLO view applies: sized once at the arrival rate (the SLO
  // view and the demand level share that sizing), again at the forecast's rate.
  const ttft = targets.ttftSeconds;
  const model =
    ttft !== undefined && capacity.tokensPerSecond !== undefined && size
      ? {
          tokensPerSecond: capacity.tokensPerSecond,
          slots: capacity.slots,
          promptTokens: size.prompt,
          outputTokens: size.output,
        }
      : undefined;
  const sizeFor = (rate: number): TtftSizing | undefined =>
    ttft !== undefined && model ? replicasForTtft(ttft, rate, model, scaling.maxReplicas) : undefined;
  const slo = (rate: number, reason: string, label: string, sizing = sizeFor(rate)): View | undefined => {
    if (ttft === undefined || !sizing) return undefined;
    const p = round(sizing.predicted.seconds, 3);
    // HPA's tolerance, on the rate: no change when the current replicas suffice for a rate within
    // `tolerance` of the observed one (a noisy sample at a boundary does not add a replica, and a dip does
    // not remove one).
    if (
      sizing.met &&
      current > 0 &&
      sizing.replicas !== current &&
      (sizing.replicas < current || tolUp > 0)
    ) {
      const edge = sizing.replicas > current ? rate / (1 + tol) : rate * (1 + tol);
      const atEdge = sizeFor(edge);
      if (
        atEdge?.met &&
        (sizing.replicas > current ? atEdge.replicas <= current : atEdge.replicas >= current)
      ) {
        return {
          replicas: current,
          reason: Reason.WithinTolerance,
          message: `${label}${round(rate, 3)} req/s: ${sizing.replicas} replicas for a p95 TTFT <= ${ttft}s, within tolerance ${tol} of ${current}`,
        };
      }
    }
    if (sizing.met) {
      return {
        replicas: sizing.replicas,
        reason,
        message: `${label}${round(rate, 3)} req/s: ${sizing.replicas} replicas give a predicted p95 TTFT of ${p}s <= ${targets.ttftSeconds}s`,
      };
    }
    if (sizing.unattainable) {
      return {
        replicas: 0,
        reason,
        message: `${label}TTFT target ${targets.ttftSeconds}s is below the prefill of a mean prompt (${round(sizing.predicted.prefill, 3)}s): replicas cannot meet it; ignored`,
      };
    }
    return {
      replicas: sizing.replicas,
      reason,
      message: `${label}${round(rate, 3)} req/s: even ${sizing.replicas} replicas predict a p95 TTFT of ${p}s > ${targets.ttftSeconds}s`,
    };
  };

  const atArrivals = signals.arrivalRate !== undefined ? sizeFor(signals.arrivalRate) : undefined;
  if (signals.arrivalRate !== undefined) {
    const v = slo(signals.arrivalRate, Reason.LatencySLO, "", atArrivals);
    if (v) views.push(v);
  }
  const reactiveViews = views.length;

  const f = input.forecast;
  if (f && size && perReplica !== undefined) {
    const label = `forecast over the ${f.leadSeconds}s lead time (trend ${round(f.trendRate, 3)} + margin ${round(f.margin, 3)} req/s): `;
    const fv = tokenView(
      f.planningRate * (size.prompt + size.output),
      perReplica,
      current,
      tol,
      tolUp,
      Reason.Forecast,
      label,
      capacity,
      targets.tokenUtilization,
      headroom,
    );
    views.push(fv);
    const sv = slo(f.planningRate, Reason.Forecast, label);
    if (sv) views.push(sv);
  }

  let best: View | undefined;
  for (const v of views) if (!best || v.replicas > best.replicas) best = v;
  const reactive = Math.max(0, ...views.slice(0, reactiveViews).map((v) => v.replicas));
  const level = demandLevel(input, headroom, atArrivals);
  const extra = level !== undefined ? { demandLevel: level } : {};
  if (!best || best.replicas === 0) {
    return {
      replicas: 0,
      reason: Reason.NoDemand,
      message: views.length > 0 ? `no demand: ${views.map((v) => v.message).join("; ")}` : "no demand",
      reactive,
      views,
      ...extra,
    };
  }
  return { replicas: best.replicas, reason: best.reason, message: best.message, reactive, views, ...extra };
}

/**
 * Recommendation.demandLevel: what the arrivals alone need at the SLO. `sizing`: the SLO view's sizing at the
 * arrival rate, when it applies.
 */
function demandLevel(input: RecommendInput, headroom: number, sizing?: TtftSizing): number | undefined {
  const { signals, capacity, size } = input;
  const rate = signals.arrivalRate;
  if (rate === undefined || !size || capacity.tokensPerSecond === undefined) return undefined;
  if (rate <= 0) return 0;
  const tokens = ceil((rate * (size.prompt + size.output) * headroom) / capacity.tokensPerSecond);
  if (!sizing) return tokens;
  return sizing.met || !sizing.unattainable ? Math.max(tokens, sizing.replicas) : tokens;
}

/**
 * What new replicas can take: a request waits in the queue of the server it was routed to, so a backlog is
 * drained by the pods that hold it, and replicas added later take only new arrivals. The backlog expected
 * when capacity on its way is ready (today's queue plus what the replicas serving cannot serve until the
 * lead time, with those already starting joining as each serves (backlogGrowth), spread over the ready
 * ones) keeps some pods busy for longer than QUEUE_DRAIN_SECONDS: with each pod's queue
 * known (Signals.podQueues), those whose own queue plus their share of that growth exceeds what they drain
 * in that time (mu x QUEUE_DRAIN_SECONDS); otherwise at most min(holders, backlog / (mu x
 * QUEUE_DRAIN_SECONDS)), as if the backlog were packed onto as few pods as it fills. The others, old and new,
 * serve arrivals at the utilisation target. The queue view asks for no more than those busy pods plus the
 * replicas the arrivals need: a queue stranded on a few pods asks for a few, and the ask falls as soon as
 * arrivals fall. (The packed bound counted 17 busy pods on a 10x step where 4 held 13,000 requests and 13
 * pods just ready held a few each, and asked for 53 replicas where 40 served. Growth over a whole lead
 * time, while 17 replicas asked five minutes earlier were seconds from serving, counted 16 of 16 ready pods
 * busy on the same step and asked for 49 where 26 serve.)
 */
export function newReplicasTake(
  queue: number,
  arrivalRate: number | undefined,
  ready: number,
  /** Pods that report a queue, when the signals say: only they hold today's backlog. */
  queued: number | undefined,
  capacity: CapacityEstimate,
  size: { prompt: number; output: number } | undefined,
  leadSeconds: number,
  utilization: number,
  /** Each queueing pod's queue, when the signals say. */
  podQueues?: readonly number[],
  /** Replicas on their way: [seconds until they serve, replicas], soonest first (RecommendInput.starting). */
  starting?: readonly [number, number][],
  /** The arrival rate the forecast's trend gives at the lead time (backlogGrowth). */
  rateAtLead?: number,
): { replicas: number; busy: number; holders: number; arrivals: number; backlog: number } | undefined {
  if (arrivalRate === undefined || capacity.tokensPerSecond === undefined || !size) return undefined;
  const tokens = size.prompt + size.output;
  if (tokens <= 0 || !(capacity.tokensPerSecond > 0)) return undefined;
  const mu = capacity.tokensPerSecond / tokens;
  // What the replicas serving cannot serve piles up on the ready ones until the lead time (replicas asked
  // for now serve then), and less as those on their way join; today's queue is on the pods that report one.
  const growth = backlogGrowth(arrivalRate, mu, ready, leadSeconds, starting, rateAtLead);
  const holders = growth > 0 ? ready : Math.min(ready, queued ?? ready);
  const backlog = queue + growth;
  const drained = mu * QUEUE_DRAIN_SECONDS;
  let busy: number;
  if (podQueues) {
    const share = ready > 0 ? growth / ready : 0;
    const queued = podQueues.filter((q) => q + share > drained).length;
    const others = share > drained ? Math.max(0, ready - podQueues.length) : 0;
    busy = Math.min(holders, queued + others);
  } else busy = Math.min(holders, Math.floor(backlog / drained));
  const arrivals = ceil(arrivalRate / (mu * Math.max(utilization, 1e-6)));
  return { replicas: busy + arrivals, busy, holders, arrivals, backlog };
}

/**
 * Requests that pile up within the lead time: arrivals beyond what the serving replicas serve, with the
 * replicas on their way joining as each serves (their times clamped to [0, leadSeconds]). Arrivals rise
 * linearly to `rateAtLead` at the lead time when that is higher (the forecast's trend: on a ramp the rate
 * keeps rising while capacity is on its way), and hold at today's rate otherwise.
 */
export function backlogGrowth(
  arrivalRate: number,
  mu: number,
  ready: number,
  leadSeconds: number,
  starting: readonly [number, number][] = [],
  rateAtLead?: number,
): number {
  const slope =
    rateAtLead !== undefined && rateAtLead > arrivalRate && leadSeconds > 0
      ? (rateAtLead - arrivalRate) / leadSeconds
      : 0;
  // Arrivals beyond `served` req/s over [a, b]: the rate rises, so the excess is positive from its zero on.
  const excess = (a: number, b: number, served: number): number => {
    const from = slope > 0 ? Math.max(a, (served - arrivalRate) / slope) : a;
    if (from >= b) return 0;
    if (slope === 0) return Math.max(0, arrivalRate - served) * (b - a);
    return (arrivalRate - served) * (b - from) + (slope * (b * b - from * from)) / 2;
  };
  let growth = 0;
  let t = 0;
  let serving = ready;
  for (const [at, n] of starting) {
    const until = Math.min(leadSeconds, Math.max(t, at));
    growth += excess(t, until, serving * mu);
    t = until;
    serving += n;
  }
  return growth + excess(t, Math.max(t, leadSeconds), serving * mu);
}

function tokenView(
  demand: number,
  perReplica: number,
  current: number,
  tol: number,
  tolUp: number,
  reason: string,
  label: string,
  capacity: CapacityEstimate,
  utilization: number,
  headroom = 1,
): View {
  const r =
    current > 0
      ? replicasForRatio(current, demand / (current * perReplica), tol, tolUp)
      : { replicas: ceil(demand / perReplica), withinTolerance: false };
  return {
    replicas: r.replicas,
    reason: r.withinTolerance ? Reason.WithinTolerance : reason,
    message:
      `${label}${round(demand, 1)} tokens/s at ${utilization} of ${round(capacity.tokensPerSecond ?? 0, 1)} per replica (${capacity.source})` +
      (headroom > 1.005 ? ` / SLO headroom ${round(headroom, 2)}` : "") +
      (r.withinTolerance ? `: within tolerance ${tol} of ${current}` : `: ${r.replicas}`),
  };
}

function ewma(prev: number | undefined, x: number, weight: number): number {
  return prev === undefined ? x : (1 - weight) * prev + weight * x;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
