// Stage 1 of plan(): what one service should run, before pools and budgets. Four steps, each returning a
// value, so that each rule lives in one of them:
//
//   observe    signals -> what the planner knows now: arrivals (by conservation), capacity per replica,
//              request size, the forecast, and what it learns for next time (recommend.ts learn()).
//   recommend  observation -> the replicas the signals ask for (the largest view, recommend.ts), then
//              scale to zero (idle timer, activation).
//   behave     recommendation -> what behaviour allows now: panic mode, stabilization windows, rate
//              policies (behavior.ts); mode Manual takes spec.replicas instead.
//   bound      -> minReplicas..maxReplicas, with the limit named.
//
// Signals that are missing or stale skip the first three: the service holds its replicas (never down,
// never to zero) and says why.
import { Reason } from "../apis/conditions.ts";
import type { ServiceAsk, VariantOption } from "./allocate.ts";
import { type ArrivalEstimate, estimateArrivals, growing, RATE_WINDOW_SECONDS } from "./arrivals.ts";
import {
  applyBehavior,
  ceil,
  PANIC_THRESHOLD,
  PANIC_WINDOW_SECONDS,
  pruneRecommendations,
} from "./behavior.ts";
import { type ForecastResult, forecastDemand } from "./forecast.ts";
import {
  type CapacityEstimate,
  hasDemand,
  learn,
  type Recommendation,
  recommend,
  replicaCapacity,
  requestSize,
  round,
} from "./recommend.ts";
import { recordPeak, recurrenceHold } from "./recurrence.ts";
import type { Decided, PoolSnapshot, ServiceMemory, ServiceSnapshot, Signals, Snapshot } from "./types.ts";

/**
 * Replicas still starting after their lead time are expected within this time (startingIn): any moment, as
 * far as the planner can tell. Pods asked for over a minute arrive over a minute, and each one flooded with
 * arrivals until the rest come would otherwise count as a busy pod (with 60 s here, idle-burst counted 10
 * of 10 just-ready pods busy and asked 38 replicas while the rest of the 31 asked for were seconds away).
 * A replica that does not come shows in the next evaluations: the ready pods' own queues grow, and each
 * counts as busy by its queue.
 */
export const OVERDUE_SECONDS = 15;
/** Model load time added to a pool's provisioningSeconds for the default lead time. */
export const MODEL_LOAD_SECONDS = 60;
/** Provisioning time assumed when no variant names a known pool. */
export const DEFAULT_PROVISIONING_SECONDS = 300;
/** Signals older than this many evaluation intervals are stale. */
export const STALE_INTERVALS = 2;

export type Health = { ok: boolean; reason: string; message: string };

/** Lead time: spec.scaling.leadTimeSeconds, or the preferred variant's pool provisioningSeconds + 60 s. */
export function leadTimeSeconds(
  svc: ServiceSnapshot,
  options: readonly VariantOption[],
  pools: ReadonlyMap<string, PoolSnapshot>,
): number {
  const explicit = svc.spec.scaling.leadTimeSeconds;
  if (explicit !== undefined) return explicit;
  const best = options[0] ? pools.get(options[0].pool) : undefined;
  return (best?.spec.provisioningSeconds ?? DEFAULT_PROVISIONING_SECONDS) + MODEL_LOAD_SECONDS;
}

/** Whether the service's signals can be acted on now. */
export function signalHealth(svc: ServiceSnapshot, nowMs: number, intervalMs: number, ready: number): Health {
  const s = svc.signals;
  if (s === undefined) {
    return {
      ok: false,
      reason: Reason.MetricsMissing,
      message: `no signals could be read${svc.signalsError ? `: ${svc.signalsError}` : ""}`,
    };
  }
  const age = nowMs - s.observedAtMs;
  const limit = STALE_INTERVALS * intervalMs;
  if (age > limit) {
    return {
      ok: false,
      reason: Reason.MetricsStale,
      // No age in the message: it becomes a status condition, which must not change every reconcile.
      message: `signals last read at ${new Date(s.observedAtMs).toISOString()}, older than the ${round(limit / 1000, 1)}s limit (${STALE_INTERVALS} intervals)`,
    };
  }
  if (ready > 0 && s.replicasReporting === 0) {
    return {
      ok: false,
      reason: Reason.MetricsMissing,
      message: `none of the ${ready} ready replicas reported signals`,
    };
  }
  const any =
    s.queueDepth !== undefined ||
    s.arrivalRate !== undefined ||
    s.promptTokensPerSecond !== undefined ||
    s.generationTokensPerSecond !== undefined;
  if (ready > 0 && !any) {
    return {
      ok: false,
      reason: Reason.MetricsMissing,
      message:
        "signals carry none of queueDepth, arrivalRate, promptTokensPerSecond, generationTokensPerSecond",
    };
  }
  // Some signals may be missing while others are fresh (a NaN gauge, a metric the server does not
  // expose): the views that need them have no say, and the message names them.
  const missing = CORE_SIGNALS.filter((k) => s[k] === undefined);
  // Ready replicas that did not report (a scrape that failed or timed out beside healthy ones) are said
  // too: the signals are the others', and a pod that stays silent would otherwise go unseen.
  const from =
    s.replicasReporting < ready
      ? `${s.replicasReporting} of ${ready} ready replicas (${ready - s.replicasReporting} did not report)`
      : `${s.replicasReporting} replicas`;
  return {
    ok: true,
    reason: Reason.MetricsFresh,
    message: `signals from ${from}, fresh${missing.length ? `; not reported: ${missing.join(", ")}` : ""}`,
  };
}

/** How long a signal once reported is expected: after that, a server that stopped exposing it is believed. */
const REPORTED_MEMORY_MS = 3_600_000;

/**
 * The views' signals reported within the last hour and missing now; records those reported now in memory.
 * A signal never reported (a runtime that does not expose it) is not missed.
 */
function goneSignals(st: Standing, mem: ServiceMemory): string[] {
  const s = st.svc.signals;
  const reported: Partial<Record<string, number>> = { ...mem.reported };
  const gone: string[] = [];
  for (const k of CORE_SIGNALS) {
    if (s?.[k] !== undefined) reported[k] = st.nowMs;
    else if (st.nowMs - (reported[k] ?? Number.NEGATIVE_INFINITY) <= REPORTED_MEMORY_MS) gone.push(k);
  }
  mem.reported = reported;
  return gone;
}

/** The signals the replica views read, named in MetricsAvailable's message when missing. */
const CORE_SIGNALS = [
  "queueDepth",
  "runningRequests",
  "arrivalRate",
  "promptTokensPerSecond",
  "generationTokensPerSecond",
] as const;

/** What stage 1 hands to the allocation and to the Plan. */
export interface ServiceDecision {
  svc: ServiceSnapshot;
  current: number;
  recommended: Decided;
  target: Decided;
  boundsLimit?: { reason: string; message: string };
  metrics: Health;
  apply: boolean;
  memory: ServiceMemory;
  ask: ServiceAsk;
  /** The lead time the decision used (leadTimeSeconds), for stage 2's lead-time rule. */
  lead: number;
}

/** The service as it stands: replicas, where they run, its options, lead time and signal health. */
interface Standing {
  svc: ServiceSnapshot;
  current: number;
  ready: number;
  currentByPool: Record<string, number>;
  readyByPool: Record<string, number>;
  /** Pods per pool being deleted, still holding their GPUs. */
  drainingByPool: Record<string, number>;
  options: VariantOption[];
  unusable: string[];
  lead: number;
  health: Health;
  nowMs: number;
  /** Memory from the last evaluation (undefined for a new service or a restarted planner). */
  prev?: ServiceMemory;
}

function emptyMemory(): ServiceMemory {
  return { recommendations: [], scaleEvents: [], rates: [] };
}

/**
 * This evaluation's memory, from the last one's. Shallow: stage 1 and plan() replace every array and object
 * they change (never push or assign into the last evaluation's), so the last memory stays as it was (the
 * property test "plan() is deterministic and leaves its input alone" checks it) without copying every
 * service's history at every evaluation (a third of stage 1's time at 10,000 services went to garbage).
 */
function copyMemory(m: ServiceMemory | undefined): ServiceMemory {
  return m ? { ...m } : emptyMemory();
}

function standing(
  svc: ServiceSnapshot,
  snapshot: Snapshot,
  options: VariantOption[],
  unusable: string[],
  lead: number,
  nowMs: number,
): Standing {
  const currentByPool: Record<string, number> = {};
  const readyByPool: Record<string, number> = {};
  const drainingByPool: Record<string, number> = {};
  let current = 0;
  let ready = 0;
  for (const v of svc.variants) {
    const r = Math.min(v.readyReplicas, v.replicas);
    current += v.replicas;
    ready += r;
    currentByPool[v.pool] = (currentByPool[v.pool] ?? 0) + v.replicas;
    readyByPool[v.pool] = (readyByPool[v.pool] ?? 0) + r;
    if (v.terminating) drainingByPool[v.pool] = (drainingByPool[v.pool] ?? 0) + v.terminating;
  }
  const prev = snapshot.memory.services[svc.key];
  return {
    svc,
    current,
    ready,
    currentByPool,
    readyByPool,
    drainingByPool,
    options,
    unusable,
    lead,
    health: signalHealth(svc, nowMs, snapshot.intervalMs, ready),
    nowMs,
    ...(prev ? { prev } : {}),
  };
}

/** What the planner knows after reading this evaluation's signals. */
export interface Observation {
  /** The signals, with the arrival rate corrected by conservation where the servers count completions. */
  signals: Signals;
  /** Requests in the servers per second: + growing, - draining (0 when unknown). */
  backlogTrend: number;
  /**
   * The requests in the servers (waiting plus running) grow beyond noise: the fleet is short now, or load is
   * rising faster than the rates (60 s means, half a minute old) say. A scale-up the views ask for is then
   * confirmed by a second signal, and neither the tolerance nor the scale-up window (which exist for noise
   * in one sample) holds it back. No queue is needed: vLLM runs hundreds of requests at once and queues none
   * until its KV cache is full, so an overloaded replica shows it by what it runs.
   */
  short: boolean;
  capacity: CapacityEstimate;
  size?: { prompt: number; output: number };
  forecast?: ForecastResult;
  /** Whether the signals show any demand. */
  demand: boolean;
}

/** Step 1: reads the signals into an Observation, and updates what is learned (into `mem`). */
export function observe(st: Standing, mem: ServiceMemory): Observation {
  const { svc, prev, nowMs, ready, current } = st;
  const raw = svc.signals!;
  // Arrivals by conservation where the servers count completions (arrivals.ts).
  const est = estimateArrivals({
    server: svc.spec.model.server,
    arrivalRate: raw.arrivalRate,
    queueDepth: raw.queueDepth,
    runningRequests: raw.runningRequests,
    history: prev?.inSystem ?? [],
    nowMs,
  });
  if (est) mem.inSystem = est.inSystem;
  const signals = est ? correctedSignals(raw, est) : raw;
  // Rates over a window are per replica only over the replicas that were ready during that window: the
  // time-weighted mean of the ready count over the rate window.
  mem.readyHistory = readyHistory(prev?.readyHistory, ready, nowMs);
  const meanReady = meanOver(mem.readyHistory, nowMs, RATE_WINDOW_SECONDS * 1000);
  const weights = st.options.map((o) => ({
    pool: o.pool,
    tokensPerSecond: o.tokensPerSecond,
    slots: o.slots,
    replicas: ready > 0 ? (st.readyByPool[o.pool] ?? 0) : (st.currentByPool[o.pool] ?? 0),
  }));
  const capacity = replicaCapacity(weights, prev?.learned);
  // Tokens per request from what the servers finished (the raw counters), never from arrivals corrected by
  // conservation: served tokens over arrivals shrinks the request as fast as the backlog grows.
  const size = requestSize(prev?.learned, raw);
  const forecast =
    signals.arrivalRate !== undefined
      ? forecastDemand({
          state: prev?.forecast,
          rates: prev?.rates ?? [],
          rate: signals.arrivalRate,
          nowMs,
          leadSeconds: st.lead,
        })
      : undefined;
  const backlogTrend = est?.trend ?? 0;
  const short = growing(backlogTrend, signals.arrivalRate);
  mem.learned = learn(
    prev?.learned,
    signals,
    capacity.profiledTokensPerSecond,
    nowMs,
    svc.spec.scaling.targets,
    {
      settled: ready >= current,
      servingReplicas: meanReady,
      backlogTrend,
      steady: steadyFleet(st, mem.readyHistory),
      sameServing: sameServing(st, mem.readyHistory),
      short,
      utilization: svc.spec.scaling.targets.tokenUtilization,
      tolerance: svc.spec.scaling.behavior.tolerance,
      downWindowSeconds: scaleDownWindow(st),
      probe: svc.spec.scaling.capacityProbe?.enabled ?? false,
    },
  );
  // The scale a probe raised in the last evaluation is in force from this one: the recommendations the
  // stabilization window holds were made at the old one, and are restated at the new one (probe.ts).
  const raised = prev?.learned?.raised;
  if (raised !== undefined && raised > 1) {
    mem.recommendations = mem.recommendations.map(([t, r]): [number, number] => [t, ceil(r / raised)]);
    if (mem.minutePeaks)
      mem.minutePeaks = mem.minutePeaks.map(([t, r]): [number, number] => [t, ceil(r / raised)]);
  }
  if (forecast) {
    mem.forecast = forecast.state;
    mem.rates = forecast.rates;
  }
  const starting = startingReplicas(prev?.starting, current - ready, nowMs);
  if (starting.length > 0) mem.starting = starting;
  else delete mem.starting;
  mem.lastSignalsMs = signals.observedAtMs;
  const demand = hasDemand(signals);
  if (demand || mem.lastDemandMs === undefined) mem.lastDemandMs = nowMs;
  return {
    signals,
    backlogTrend,
    short,
    capacity,
    ...(size ? { size } : {}),
    ...(forecast ? { forecast } : {}),
    demand,
  };
}

/** The step 2 result: the signals' ask, after scale to zero. */
interface Recommended {
  raw: Decided;
  /** The largest reactive view (queue, tokens, SLO), for panic mode. */
  reactive: number;
  /** Scale to zero decided: behaviour does not apply. */
  toZero: boolean;
  /** What the arrivals alone need at the SLO (Recommendation.demandLevel), when known. */
  demandLevel?: number;
}

/** Step 2: the replicas the signals ask for, then scale to zero. */
function recommendStep(st: Standing, obs: Observation, mem: ServiceMemory): Recommended {
  const { svc, current, ready, nowMs, prev, lead } = st;
  const { scaling } = svc.spec;
  const rec: Recommendation = recommend({
    scaling,
    signals: obs.signals,
    current,
    ready,
    capacity: obs.capacity,
    size: obs.size,
    leadSeconds: lead,
    ...(mem.starting ? { starting: startingIn(mem.starting, nowMs, lead) } : {}),
    headroom: prev?.learned?.sloHeadroom,
    forecast: obs.forecast && {
      planningRate: obs.forecast.planningRate,
      trendRate: obs.forecast.trendRate,
      margin: obs.forecast.margin,
      leadSeconds: lead,
    },
    backlogGrowing: obs.short,
  });
  const raw: Decided = { value: rec.replicas, reason: rec.reason, message: rec.message };
  const level = rec.demandLevel !== undefined ? { demandLevel: rec.demandLevel } : {};
  const stz =
    scaling.scaleToZero?.enabled === true && scaling.minReplicas === 0 ? scaling.scaleToZero : undefined;
  if (!stz) return { raw, reactive: rec.reactive, toZero: false, ...level };
  const idleFor = (nowMs - (mem.lastDemandMs ?? nowMs)) / 1000;
  const s = obs.signals;
  if (!obs.demand && idleFor >= stz.idleSeconds) {
    return {
      raw: {
        value: 0,
        reason: Reason.ScaledToZero,
        message: `no requests for ${round(idleFor, 1)}s (idleSeconds ${stz.idleSeconds})`,
      },
      reactive: rec.reactive,
      toZero: true,
      ...level,
    };
  }
  if (!obs.demand && current === 0) {
    return {
      raw: { value: 0, reason: Reason.ScaledToZero, message: "scaled to zero and no demand" },
      reactive: rec.reactive,
      toZero: true,
      ...level,
    };
  }
  if (raw.value >= 1) return { raw, reactive: rec.reactive, toZero: false, ...level };
  const woken: Decided = obs.demand
    ? {
        value: 1,
        reason: Reason.ActivationDemand,
        message:
          current === 0
            ? `demand while scaled to zero (activation ${s.activationDemand ?? 0}, queue ${s.queueDepth ?? 0}): waking one replica`
            : `demand present (running ${s.runningRequests ?? 0}): at least one replica`,
      }
    : {
        value: 1,
        reason: Reason.IdleTimerRunning,
        message: `no demand for ${round(idleFor, 1)}s; scale to zero after idleSeconds ${stz.idleSeconds}`,
      };
  return { raw: woken, reactive: rec.reactive, toZero: false, ...level };
}

/** Step 3: what behaviour allows now (panic, stabilization, rate policies), or spec.replicas in Manual. */
function behave(st: Standing, rec: Recommended, mem: ServiceMemory, short: boolean): Decided {
  const { svc, current, ready, nowMs, lead } = st;
  const { scaling } = svc.spec;
  if (rec.reactive > 0 && rec.reactive >= PANIC_THRESHOLD * ready) {
    mem.panicUntilMs = nowMs + PANIC_WINDOW_SECONDS * 1000;
  }
  const panic = (mem.panicUntilMs ?? 0) > nowMs;
  const upWindow = scaling.behavior.scaleUp.stabilizationWindowSeconds;
  const downWindow = scaleDownWindow(st);
  // A planner without history (a new service, a restarted operator) starts as if the replicas running had
  // been recommended just now: nothing is scaled down before a full scale-down window of observations. That
  // seed holds no scale-up back in the evaluation that makes it (nobody recommended it).
  const seeded = mem.recommendations.length === 0;
  if (seeded) mem.recommendations = [[nowMs, current]];
  const history = pruneRecommendations(mem.recommendations, nowMs, Math.max(upWindow, downWindow));
  const expected = expectedBurst(st, rec, mem, downWindow);
  const asked = expected ?? rec.raw;
  mem.recommendations = [...history, [nowMs, asked.value]];
  // A burst's level is what its arrivals need, not what the backlog of a burst the fleet was short for asks.
  mem.minutePeaks = recordPeak(mem.minutePeaks, nowMs, rec.demandLevel ?? rec.raw.value);
  if (scaling.mode === "Manual") return manualReplicas(st.svc.spec);
  if (rec.toZero) return rec.raw;
  const b = applyBehavior({
    behavior: scaling.behavior,
    current,
    desired: asked.value,
    nowMs,
    recommendations: history,
    scaleEvents: mem.scaleEvents,
    // Nor is waking from zero (the recommendations while at zero were all zero), nor a fleet short now: a
    // growing backlog confirms the ask, the window is there for a noisy sample.
    upWindowSeconds: seeded || current === 0 || short ? 0 : upWindow,
    downWindowSeconds: downWindow,
    panic,
    rateLimits: scaling.mode === "Auto",
  });
  const behaved: Decided = b.reason
    ? { value: b.value, reason: b.reason, message: b.message ?? "" }
    : { value: b.value, reason: asked.reason, message: asked.message };
  const kept = scaling.mode === "Auto" ? cancelStarting(st, behaved, mem, short, downWindow) : behaved;
  // Bursts that recur faster than a scale-down and a scale-up take: hold their level (recurrence.ts).
  const recurring = recurrenceHold(mem.minutePeaks, nowMs, lead, downWindow);
  if (recurring && recurring.level > kept.value) {
    return { value: recurring.level, reason: Reason.RecurringBursts, message: recurring.message };
  }
  return kept;
}

/** Replicas not ready yet are cancelled once no recommendation has asked for them for this long, */
export const CANCEL_AFTER_SECONDS = 60;
/** ... and the window holds more than this many times the replicas ready. */
export const CANCEL_RATIO = 1.5;

/**
 * Replicas asked for that nobody needs before they serve: the scale-down window holds a burst's ask (its
 * backlog, a spike) while the replicas it asked for are still starting, and they would become ready after
 * the burst, to be held for the rest of the window and then removed. When the window holds more than
 * CANCEL_RATIO times the replicas ready, every recommendation of the last CANCEL_AFTER_SECONDS is at most
 * the replicas ready, nothing waits (at most one request per ready replica)
 * and the fleet is not short, the replicas not ready yet are cancelled: the ask falls to the ready ones
 * (the ReplicaSet removes pods not ready before ready ones), and the window goes on holding those. Nothing
 * that serves is removed; a burst that comes back asks again. (bursts-20m: 38 asked during a 90 s burst
 * whose backlog 9 ready replicas held, 22 of them ready five minutes after it and held for another.)
 */
function cancelStarting(
  st: Standing,
  behaved: Decided,
  mem: ServiceMemory,
  short: boolean,
  downWindow: number,
): Decided {
  const { ready, current, nowMs } = st;
  if (short || behaved.reason !== Reason.ScaleDownStabilized) return behaved;
  // A planner that has not watched the service for a whole scale-down window (a new leader, a restarted
  // operator) cancels nothing: it does not know why the last one asked for them (docs/reliability.md).
  const watchedSince = mem.minutePeaks?.[0]?.[0];
  if (watchedSince === undefined || watchedSince > nowMs - downWindow * 1000) return behaved;
  const { recommendations } = mem;
  // A surplus of a few is left to the window: on a bursty trace the next burst asks for it again, a lead
  // time away (code: cancelling 2-4 of 14-22 cost 0.4 points and 7% more GPU-hours).
  if (current <= ready || behaved.value <= CANCEL_RATIO * ready) return behaved;
  if (requestsWait(st)) return behaved;
  const since = nowMs - CANCEL_AFTER_SECONDS * 1000;
  // The recommendations must cover the whole minute (a planner that just started has not seen it).
  if (recommendations.length === 0 || recommendations[0]![0] > since) return behaved;
  let asked = 0;
  for (const [t, v] of recommendations) if (t >= since) asked = Math.max(asked, v);
  if (asked > ready) return behaved;
  return {
    value: ready,
    reason: Reason.StartingCancelled,
    message: `${current - ready} replicas not ready yet are no longer asked for (at most ${asked} for ${CANCEL_AFTER_SECONDS}s, ${ready} ready, nothing waiting): cancelled; the scale-down window held ${behaved.value}`,
  };
}

/** More than one request per ready replica waits: the replicas ready are short of what arrives. */
function requestsWait(st: Standing): boolean {
  return (st.svc.signals?.queueDepth ?? 0) > Math.max(1, st.ready);
}

/**
 * A burst the recurrence hold was held for (recurrence.ts), come as expected: its arrivals need no more than
 * the level held (what they needed at the SLO before, from the minutes before this one), and the fleet is
 * not short. The views' ask above that level (the utilisation target's margin over a burst shorter than a
 * lead time) would bring replicas after the burst is over, and the scale-down window would then hold them
 * for a window: the ask is the level held (or this burst's need at the SLO if more, and never fewer
 * replicas than run). A burst beyond that level, or one the fleet falls short for, asks
 * as the views do. (On bursts of 90 s every 10 minutes, the fleet held at 21 served each burst within the
 * SLO, and the views' 25, ready a minute later, were held for ten minutes after each.)
 */
function expectedBurst(
  st: Standing,
  rec: Recommended,
  mem: ServiceMemory,
  downWindow: number,
): Decided | undefined {
  if (rec.toZero || rec.demandLevel === undefined || !mem.minutePeaks) return undefined;
  // The level asked is never below these two: an ask within them is left as it is (before the hold is read).
  if (rec.raw.value <= Math.max(rec.demandLevel, st.current)) return undefined;
  // A forecast that rises is the burst still growing beyond what it needs now, not its margin.
  if (rec.raw.reason === Reason.Forecast) return undefined;
  // Short: requests wait (more than one per replica ready) or the TTFT objective is missed. (Not
  // Observation.short: the requests running grow with every burst's arrivals, served or not.)
  const s = st.svc.signals;
  const ttft = st.svc.spec.scaling.targets.ttftSeconds;
  const late = ttft !== undefined && s?.ttftSeconds !== undefined && s.ttftSeconds > ttft;
  if (requestsWait(st) || late) return undefined;
  const minute = Math.floor(st.nowMs / 60_000) * 60_000;
  const before = mem.minutePeaks.filter(([t]) => t < minute);
  const held = recurrenceHold(before, st.nowMs, st.lead, downWindow);
  // Only in a burst (the arrivals' need at the bursts' level): between bursts, a rising forecast or a step
  // is not the burst that was held for.
  if (!held || rec.demandLevel < held.threshold) return undefined;
  const level = Math.max(held.level, rec.demandLevel, st.current);
  if (rec.raw.value <= level) return undefined;
  return {
    value: level,
    reason: Reason.RecurringBursts,
    message: `${held.message}; this burst's arrivals need ${rec.demandLevel} at the SLO: asking ${level}, not the ${rec.raw.value} the views ask (${rec.raw.reason}: their margin would be ready after the burst)`,
  };
}

/**
 * Mode Manual: spec.replicas (or minReplicas), within bounds. The one place Manual is decided: plan() and
 * the InferenceService controller (between a kubectl scale and the next Plan) both call it.
 */
export function manualReplicas(spec: Pick<ServiceSnapshot["spec"], "replicas" | "scaling">): Decided {
  const { minReplicas: min, maxReplicas: max } = spec.scaling;
  const asked = spec.replicas;
  const value = Math.min(max, Math.max(min, asked ?? min));
  return {
    value,
    reason: Reason.Manual,
    message:
      asked === undefined
        ? `mode Manual and spec.replicas unset: minReplicas ${value}`
        : `mode Manual: spec.replicas ${asked}${value !== asked ? `, within bounds ${value}` : ""}`,
  };
}

/** Step 4: minReplicas..maxReplicas, naming the bound that cut the target and what the signals asked. */
function bound(
  st: Standing,
  raw: Decided | undefined,
  target: Decided,
): { target: Decided; limit?: { reason: string; message: string } } {
  const { minReplicas: min, maxReplicas: max, mode } = st.svc.spec.scaling;
  let limit: { reason: string; message: string } | undefined;
  if (raw && mode !== "Manual") {
    if (raw.value > max) {
      limit = { reason: Reason.AtMaxReplicas, message: `maxReplicas ${max} (signals ask ${raw.value})` };
    } else if (raw.value < min) {
      limit = { reason: Reason.AtMinReplicas, message: `minReplicas ${min} (signals ask ${raw.value})` };
    }
  }
  const bounded = Math.min(max, Math.max(min, target.value));
  if (bounded === target.value) return { target, ...(limit ? { limit } : {}) };
  const up = bounded > target.value;
  return {
    target: {
      value: bounded,
      reason: up ? Reason.AtMinReplicas : Reason.AtMaxReplicas,
      message: `${up ? `minReplicas ${min}` : `maxReplicas ${max}`} (${target.reason}: ${target.message})`,
    },
    ...(limit ? { limit } : {}),
  };
}

/** Missing or stale signals: hold the current replicas within bounds (never down, never to zero). */
function hold(st: Standing, mem: ServiceMemory): { recommended: Decided; target: Decided; limit?: Decided } {
  const { svc, current, health, nowMs } = st;
  const { minReplicas: min, maxReplicas: max, mode } = svc.spec.scaling;
  const held = Math.min(max, Math.max(min, current));
  const recommended: Decided = {
    value: held,
    reason: Reason.HoldingOnStaleMetrics,
    message: `${health.message}: holding ${held} replicas until fresh signals return${held !== current ? ` (${current} brought within bounds ${min}..${max})` : ""}`,
  };
  // The idle timer restarts: unknown is not idle.
  mem.lastDemandMs = nowMs;
  if (mode === "Manual") return { recommended, target: manualReplicas(st.svc.spec) };
  if (held === current) return { recommended, target: recommended };
  return {
    recommended,
    target: recommended,
    limit: {
      value: held,
      reason: held > current ? Reason.AtMinReplicas : Reason.AtMaxReplicas,
      message: held > current ? `minReplicas ${min}` : `maxReplicas ${max}`,
    },
  };
}

/**
 * Replicas to keep so that a scale-down leaves the capacity its target counts on. The target is a count in
 * units of the current mix's mean replica (recommend.ts weights the profiles by replicas per variant), but a
 * scale-down removes the least preferred variants' replicas first (both allocators do), and those may hold
 * more than their share: removing an H100 from 2 L40S and 1 H100 takes two thirds of the capacity, not a
 * third. Returns the fewest replicas, from `target` up to `current`, whose removal order keeps at least
 * target x the mean; `target` itself when every variant is alike or one has no profile.
 */
export function replicasKeepingCapacity(
  options: readonly Pick<VariantOption, "pool" | "tokensPerSecond">[],
  currentByPool: Readonly<Record<string, number>>,
  current: number,
  target: number,
): number {
  if (target >= current || target <= 0) return target;
  if (options.some((o) => o.tokensPerSecond === undefined)) return target;
  const held = options.map((o) => ({ n: currentByPool[o.pool] ?? 0, tps: o.tokensPerSecond! }));
  const running = held.reduce((s, h) => s + h.n, 0);
  if (running !== current) return target;
  const mean = held.reduce((s, h) => s + h.n * h.tps, 0) / running;
  const need = target * mean * (1 - 1e-9);
  for (let keep = target; keep < current; keep++) {
    // Remove current - keep replicas, least preferred variant first.
    let remove = current - keep;
    let kept = 0;
    for (let i = held.length - 1; i >= 0; i--) {
      const gone = Math.min(remove, held[i]!.n);
      remove -= gone;
      kept += (held[i]!.n - gone) * held[i]!.tps;
    }
    if (kept >= need) return keep;
  }
  return current;
}

/**
 * A scale-up decided less than an interval ago and not carried out yet stands (mode Auto): a plan made
 * sooner than the interval (while growth waits for replicas to drain, planning/handover.ts) sees signals a
 * few seconds newer, and must not take back, on one sample, what the last evaluation decided (the demo saw
 * a budget hand-over started, undone 2 s later, and started again at the next interval: a pod of the
 * lower-priority service deleted and created again, and the scale-up 12 s later). Remembered from the
 * evaluation that decided it, so a chain of early plans never extends it.
 */
function standingScaleUp(target: Decided, mem: ServiceMemory, st: Standing, intervalMs: number): Decided {
  if (st.svc.spec.scaling.mode !== "Auto") {
    delete mem.decidedUp;
    return target;
  }
  const up = mem.decidedUp;
  if (up && st.nowMs - up.atMs < intervalMs && up.value > target.value && up.value > st.current) {
    const value = Math.min(up.value, st.svc.spec.scaling.maxReplicas);
    if (value > target.value) return { value, reason: up.reason, message: up.message };
  }
  if (target.value > st.current) {
    mem.decidedUp = { value: target.value, atMs: st.nowMs, reason: target.reason, message: target.message };
  } else delete mem.decidedUp;
  return target;
}

/** Stage 1 for one service: observe, recommend, behave, bound (or hold on bad signals). */
export function decideService(
  svc: ServiceSnapshot,
  snapshot: Snapshot,
  pools: ReadonlyMap<string, PoolSnapshot>,
  variants: { options: VariantOption[]; unusable: string[] },
  nowMs: number,
): ServiceDecision {
  const lead = leadTimeSeconds(svc, variants.options, pools);
  const st = standing(svc, snapshot, variants.options, variants.unusable, lead, nowMs);
  const mem = copyMemory(st.prev);
  let recommended: Decided;
  let target: Decided;
  let boundsLimit: { reason: string; message: string } | undefined;
  if (!st.health.ok) {
    const h = hold(st, mem);
    recommended = h.recommended;
    target = h.target;
    if (h.limit) boundsLimit = { reason: h.limit.reason, message: h.limit.message };
  } else {
    const obs = observe(st, mem);
    const gone = goneSignals(st, mem);
    const rec = recommendStep(st, obs, mem);
    recommended = rec.raw;
    const b = bound(st, rec.toZero ? undefined : rec.raw, behave(st, rec, mem, obs.short));
    target = b.target;
    boundsLimit = b.limit;
    // In mode Auto, and never above maxReplicas (a lowered maximum is a scale-down the user asked for).
    const keep =
      svc.spec.scaling.mode === "Auto"
        ? Math.min(
            svc.spec.scaling.maxReplicas,
            replicasKeepingCapacity(st.options, st.currentByPool, st.current, target.value),
          )
        : target.value;
    if (keep > target.value)
      target = {
        ...target,
        value: keep,
        message: `${target.message}; keeps ${keep}: the ${st.current - target.value} replicas a scale-down to ${target.value} removes first (least preferred variants) hold more than their share of the capacity`,
      };
    target = standingScaleUp(target, mem, st, snapshot.intervalMs);
    // A signal the views read went missing while the others stay fresh (a NaN gauge, a metric renamed):
    // the views that need it have no say, and what the others say is no reason to scale down.
    if (gone.length > 0 && target.value < st.current && svc.spec.scaling.mode !== "Manual") {
      target = {
        value: st.current,
        reason: Reason.HoldingOnStaleMetrics,
        message: `${gone.join(", ")} not reported since ${new Date(Math.max(...gone.map((k) => mem.reported?.[k] ?? 0))).toISOString()}: holding ${st.current} replicas (the other signals ask ${target.value}) until ${gone.length > 1 ? "they return" : "it returns"}, or for an hour`,
      };
    }
  }
  const { scaling } = svc.spec;
  return {
    svc,
    current: st.current,
    recommended,
    target,
    ...(boundsLimit ? { boundsLimit } : {}),
    metrics: st.health,
    apply: scaling.mode !== "Recommend",
    memory: mem,
    lead,
    ask: {
      key: svc.key,
      namespace: svc.namespace,
      priority: svc.spec.priority,
      minReplicas: scaling.minReplicas,
      desired: target.value,
      options: variants.options,
      unusable: variants.unusable,
      pools: svc.spec.accelerators.map((a) => a.pool),
      current: st.currentByPool,
      ...(Object.keys(st.drainingByPool).length ? { draining: st.drainingByPool } : {}),
      fixed: scaling.mode === "Recommend",
    },
  };
}

/**
 * The signals with the arrival rate by conservation (arrivals.ts). While a backlog drains, the tokens the
 * servers process are the backlog's as well as the arrivals': they are scaled to what arrives, as the
 * completion rate is (the pods that hold the backlog are the queue view's).
 */
function correctedSignals(raw: Signals, est: ArrivalEstimate): Signals {
  if (est.growth > 0) return { ...raw, arrivalRate: est.rate };
  if (est.drain <= 0 || raw.arrivalRate === undefined || !(raw.arrivalRate > 0)) return raw;
  const share = est.rate / raw.arrivalRate;
  return {
    ...raw,
    arrivalRate: est.rate,
    ...(raw.promptTokensPerSecond !== undefined
      ? { promptTokensPerSecond: raw.promptTokensPerSecond * share }
      : {}),
    ...(raw.generationTokensPerSecond !== undefined
      ? { generationTokensPerSecond: raw.generationTokensPerSecond * share }
      : {}),
  };
}

/**
 * The replicas asked for and not ready yet, oldest first ([epoch ms asked, replicas]), from the last
 * evaluation's: as replicas become ready the oldest asks are taken off (replicas start in the order they
 * were asked for), and replicas pending beyond the list (a new ask, a pod that failed) are added as asked now.
 */
export function startingReplicas(
  prev: readonly [number, number][] | undefined,
  pending: number,
  nowMs: number,
): [number, number][] {
  const out: [number, number][] = [];
  let left = Math.max(0, pending);
  // Keep the newest asks that the pending replicas still cover.
  for (let i = (prev?.length ?? 0) - 1; i >= 0 && left > 0; i--) {
    const [t, n] = prev![i]!;
    const kept = Math.min(n, left);
    out.unshift([t, kept]);
    left -= kept;
  }
  if (left > 0) out.push([nowMs, left]);
  return out;
}

/**
 * When each starting replica serves, seconds from now: what is left of its lead time, at least
 * OVERDUE_SECONDS (one that is late is expected soon; a queue that keeps growing shows in the next
 * evaluation's signals).
 */
export function startingIn(
  starting: readonly [number, number][],
  nowMs: number,
  lead: number,
): [number, number][] {
  return starting.map(([t, n]): [number, number] => [
    Math.min(lead, Math.max(OVERDUE_SECONDS, lead - (nowMs - t) / 1000)),
    n,
  ]);
}

/** The scale-down window in force: the spec's, and at least the lead time (capacity given back takes that long to return). */
function scaleDownWindow(st: Standing): number {
  return Math.max(st.svc.spec.scaling.behavior.scaleDown.stabilizationWindowSeconds, st.lead);
}

/**
 * The same replicas ready over a whole rate window (the history reaches back that far and never changed),
 * every desired replica ready and none draining: rates over the window are rates of this fleet.
 */
function steadyFleet(st: Standing, history: readonly [number, number][]): boolean {
  return st.ready === st.current && sameServing(st, history);
}

/**
 * The same replicas ready over the whole rate window and none draining (replicas may be starting): what
 * each served over the window is per replica, whatever joined or left.
 */
function sameServing(st: Standing, history: readonly [number, number][]): boolean {
  const { ready, nowMs } = st;
  if (ready === 0) return false;
  if (Object.values(st.drainingByPool).some((n) => n > 0)) return false;
  const first = history[0];
  if (!first || first[0] > nowMs - RATE_WINDOW_SECONDS * 1000) return false;
  return history.every(([, r]) => r === ready);
}

/** Keeps [epoch ms, ready] samples over the rate window (the last one before it, too, as its start). */
function readyHistory(
  prev: readonly [number, number][] | undefined,
  ready: number,
  nowMs: number,
): [number, number][] {
  const cutoff = nowMs - RATE_WINDOW_SECONDS * 1000;
  const kept = (prev ?? []).filter(([t]) => t < nowMs);
  let first = 0;
  while (first + 1 < kept.length && kept[first + 1]![0] <= cutoff) first++;
  return [...kept.slice(first), [nowMs, ready]];
}

/**
 * Time-weighted mean of a step function given by [t, value] samples (each value holds until the next
 * sample) over the `windowMs` before `nowMs`; the last sample's value when history does not reach back.
 */
export function meanOver(samples: readonly [number, number][], nowMs: number, windowMs: number): number {
  const last = samples[samples.length - 1];
  if (!last) return 0;
  const from = nowMs - windowMs;
  if (samples[0]![0] > from) {
    // History shorter than the window: weigh what we have, from the first sample on.
    const span = nowMs - samples[0]![0];
    if (span <= 0) return last[1];
    return stepIntegral(samples, samples[0]![0], nowMs) / span;
  }
  return stepIntegral(samples, from, nowMs) / windowMs;
}

function stepIntegral(samples: readonly [number, number][], from: number, to: number): number {
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const [t, v] = samples[i]!;
    const next = i + 1 < samples.length ? samples[i + 1]![0] : to;
    const a = Math.max(t, from);
    const b = Math.min(next, to);
    if (b > a) total += (b - a) * v;
  }
  return total;
}
