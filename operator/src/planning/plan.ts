// plan(): the decision engine. Pure and deterministic: the same Snapshot and time give the same Plan.
//
// Stage 1, per service (recommend.ts, forecast.ts, behavior.ts):
//   signals fresh?  no  -> hold the current replicas (within bounds), MetricsMissing / MetricsStale
//                   yes -> recommendation = largest of queue, token, SLO and forecast views
//                          scale to zero after idleSeconds without demand; wake on activation demand
//                          behaviour: HPA tolerance, stabilization (scale-down window at least the lead
//                          time), panic mode, rate policies (mode Auto only)
//   mode Manual -> spec.replicas ?? minReplicas; bounds always.
// Stage 2, across services (allocate.ts, budgets.ts): variants, pools, budgets.
import { Reason } from "../apis/conditions.ts";
import { allocate, type ServiceAsk, type VariantOption, variantOptions } from "./allocate.ts";
import { estimateArrivals, RATE_WINDOW_SECONDS } from "./arrivals.ts";
import {
  applyBehavior,
  PANIC_THRESHOLD,
  PANIC_WINDOW_SECONDS,
  pruneRecommendations,
  pruneScaleEvents,
} from "./behavior.ts";
import { forecastDemand } from "./forecast.ts";
import { hasDemand, learn, recommend, replicaCapacity, requestSize, round } from "./recommend.ts";
import type {
  Decided,
  Plan,
  PoolSnapshot,
  ServiceMemory,
  ServicePlan,
  ServiceSnapshot,
  Snapshot,
} from "./types.ts";

/** Model load time added to a pool's provisioningSeconds for the default lead time. */
export const MODEL_LOAD_SECONDS = 60;
/** Provisioning time assumed when no variant names a known pool. */
export const DEFAULT_PROVISIONING_SECONDS = 300;
/** Signals older than this many evaluation intervals are stale. */
export const STALE_INTERVALS = 2;

type Health = { ok: boolean; reason: string; message: string };

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
      message: `signals are ${round(age / 1000, 1)}s old, over the ${round(limit / 1000, 1)}s limit (${STALE_INTERVALS} intervals)`,
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
  return {
    ok: true,
    reason: Reason.MetricsFresh,
    message: `signals ${round(Math.max(0, age) / 1000, 1)}s old from ${s.replicasReporting} replicas`,
  };
}

interface Stage1 {
  svc: ServiceSnapshot;
  current: number;
  recommended: Decided;
  target: Decided;
  boundsLimit?: { reason: string; message: string };
  metrics: Health;
  apply: boolean;
  memory: ServiceMemory;
  ask: ServiceAsk;
}

function emptyMemory(): ServiceMemory {
  return { recommendations: [], scaleEvents: [], rates: [] };
}

function copyMemory(m: ServiceMemory | undefined): ServiceMemory {
  if (!m) return emptyMemory();
  const copy: ServiceMemory = {
    ...m,
    recommendations: m.recommendations.map(([t, r]) => [t, r]),
    scaleEvents: m.scaleEvents.map(([t, c]) => [t, c]),
    rates: m.rates.map(([t, r]) => [t, r]),
  };
  if (m.forecast) copy.forecast = { ...m.forecast };
  if (m.learned) copy.learned = { ...m.learned };
  if (m.inSystem) copy.inSystem = m.inSystem.map(([t, n]) => [t, n]);
  if (m.ready) copy.ready = { ...m.ready };
  return copy;
}

function stage1(
  svc: ServiceSnapshot,
  snapshot: Snapshot,
  pools: ReadonlyMap<string, PoolSnapshot>,
  nowMs: number,
): Stage1 {
  const { scaling } = svc.spec;
  const { minReplicas: min, maxReplicas: max, mode } = scaling;
  const prev = snapshot.memory.services[svc.key];
  const mem = copyMemory(prev);
  const current = svc.variants.reduce((s, v) => s + v.replicas, 0);
  const ready = svc.variants.reduce((s, v) => s + Math.min(v.readyReplicas, v.replicas), 0);
  const currentByPool: Record<string, number> = {};
  const readyByPool: Record<string, number> = {};
  for (const v of svc.variants) {
    currentByPool[v.pool] = (currentByPool[v.pool] ?? 0) + v.replicas;
    readyByPool[v.pool] = (readyByPool[v.pool] ?? 0) + Math.min(v.readyReplicas, v.replicas);
  }
  const { options, unusable } = variantOptions(svc.spec.accelerators, pools);
  const lead = leadTimeSeconds(svc, options, pools);
  const health = signalHealth(svc, nowMs, snapshot.intervalMs, ready);
  const bound = (n: number) => Math.min(max, Math.max(min, n));
  const manual = (): Decided => {
    const value = bound(svc.spec.replicas ?? min);
    return {
      value,
      reason: Reason.Manual,
      message:
        svc.spec.replicas === undefined
          ? `mode Manual and spec.replicas unset: minReplicas ${value}`
          : `mode Manual: spec.replicas ${svc.spec.replicas}${value !== svc.spec.replicas ? `, within bounds ${value}` : ""}`,
    };
  };

  let recommended: Decided;
  let target: Decided;
  let boundsLimit: Stage1["boundsLimit"];

  if (!health.ok) {
    // Hold: never down, never to zero; the idle timer restarts (unknown is not idle).
    const held = bound(current);
    recommended = {
      value: held,
      reason: Reason.HoldingOnStaleMetrics,
      message: `${health.message}: holding ${held} replicas until fresh signals return${held !== current ? ` (${current} brought within bounds ${min}..${max})` : ""}`,
    };
    mem.lastDemandMs = nowMs;
    target = mode === "Manual" ? manual() : recommended;
    if (held !== current && mode !== "Manual") {
      boundsLimit = {
        reason: held > current ? Reason.AtMinReplicas : Reason.AtMaxReplicas,
        message: held > current ? `minReplicas ${min}` : `maxReplicas ${max}`,
      };
    }
  } else {
    // Arrivals by conservation where the servers count completions (arrivals.ts).
    const est = estimateArrivals({
      server: svc.spec.model.server,
      arrivalRate: svc.signals!.arrivalRate,
      queueDepth: svc.signals!.queueDepth,
      runningRequests: svc.signals!.runningRequests,
      history: prev?.inSystem ?? [],
      nowMs,
    });
    if (est) mem.inSystem = est.inSystem;
    const signals = est && est.growth > 0 ? { ...svc.signals!, arrivalRate: est.rate } : svc.signals!;
    // Rates over a window are per replica only when the replicas reporting have been the same all window.
    if (mem.ready?.count !== ready) mem.ready = { count: ready, sinceMs: nowMs };
    const steady = nowMs - mem.ready.sinceMs >= RATE_WINDOW_SECONDS * 1000;
    const weights = options.map((o) => ({
      pool: o.pool,
      tokensPerSecond: o.tokensPerSecond,
      slots: o.slots,
      replicas: ready > 0 ? (readyByPool[o.pool] ?? 0) : (currentByPool[o.pool] ?? 0),
    }));
    const capacity = replicaCapacity(weights, prev?.learned);
    const size = requestSize(prev?.learned, signals);
    const fc =
      signals.arrivalRate !== undefined
        ? forecastDemand({
            state: prev?.forecast,
            rates: prev?.rates ?? [],
            rate: signals.arrivalRate,
            nowMs,
            leadSeconds: lead,
          })
        : undefined;
    const rec = recommend({
      scaling,
      signals,
      current,
      ready,
      capacity,
      size,
      leadSeconds: lead,
      headroom: prev?.learned?.sloHeadroom,
      forecast: fc && {
        planningRate: fc.planningRate,
        trendRate: fc.trendRate,
        margin: fc.margin,
        leadSeconds: lead,
      },
    });

    mem.learned = learn(
      prev?.learned,
      signals,
      capacity.profiledTokensPerSecond,
      nowMs,
      scaling.targets,
      ready >= current,
      steady,
    );
    if (fc) {
      mem.forecast = fc.state;
      mem.rates = fc.rates;
    }
    mem.lastSignalsMs = signals.observedAtMs;
    const demand = hasDemand(signals);
    if (demand || mem.lastDemandMs === undefined) mem.lastDemandMs = nowMs;

    let raw: Decided = { value: rec.replicas, reason: rec.reason, message: rec.message };
    let toZero = false;
    const stz = scaling.scaleToZero?.enabled === true && min === 0 ? scaling.scaleToZero : undefined;
    if (stz) {
      const idleFor = (nowMs - mem.lastDemandMs) / 1000;
      if (!demand && idleFor >= stz.idleSeconds) {
        raw = {
          value: 0,
          reason: Reason.ScaledToZero,
          message: `no requests for ${round(idleFor, 1)}s (idleSeconds ${stz.idleSeconds})`,
        };
        toZero = true;
      } else if (!demand && current === 0) {
        raw = { value: 0, reason: Reason.ScaledToZero, message: "scaled to zero and no demand" };
        toZero = true;
      } else if (!demand && raw.value < 1) {
        raw = {
          value: 1,
          reason: Reason.IdleTimerRunning,
          message: `no demand for ${round(idleFor, 1)}s; scale to zero after idleSeconds ${stz.idleSeconds}`,
        };
      } else if (demand && raw.value < 1) {
        raw = {
          value: 1,
          reason: Reason.ActivationDemand,
          message:
            current === 0
              ? `demand while scaled to zero (activation ${signals.activationDemand ?? 0}, queue ${signals.queueDepth ?? 0}): waking one replica`
              : `demand present (running ${signals.runningRequests ?? 0}): at least one replica`,
        };
      }
    }
    recommended = raw;

    if (rec.reactive > 0 && rec.reactive >= PANIC_THRESHOLD * ready) {
      mem.panicUntilMs = nowMs + PANIC_WINDOW_SECONDS * 1000;
    }
    const panic = (mem.panicUntilMs ?? 0) > nowMs;

    const upWindow = scaling.behavior.scaleUp.stabilizationWindowSeconds;
    const downWindow = Math.max(scaling.behavior.scaleDown.stabilizationWindowSeconds, lead);
    // A planner without history (a new service, a restarted operator) starts as if the replicas running had
    // been recommended just now: nothing is scaled down before a full scale-down window of observations. That
    // seed holds no scale-up back in the evaluation that makes it (nobody recommended it).
    const seeded = mem.recommendations.length === 0;
    if (seeded) mem.recommendations = [[nowMs, current]];
    const history = pruneRecommendations(mem.recommendations, nowMs, Math.max(upWindow, downWindow));
    mem.recommendations = [...history, [nowMs, raw.value]];

    if (mode === "Manual") {
      target = manual();
    } else if (toZero) {
      target = raw;
    } else {
      const b = applyBehavior({
        behavior: scaling.behavior,
        current,
        desired: raw.value,
        nowMs,
        recommendations: history,
        scaleEvents: mem.scaleEvents,
        // Nor is waking from zero: the recommendations while at zero were all zero.
        upWindowSeconds: seeded || current === 0 ? 0 : upWindow,
        downWindowSeconds: downWindow,
        panic,
        rateLimits: mode === "Auto",
      });
      target = b.reason
        ? { value: b.value, reason: b.reason, message: b.message ?? "" }
        : { value: b.value, reason: raw.reason, message: raw.message };
      if (raw.value > max)
        boundsLimit = {
          reason: Reason.AtMaxReplicas,
          message: `maxReplicas ${max} (signals ask ${raw.value})`,
        };
      else if (raw.value < min)
        boundsLimit = {
          reason: Reason.AtMinReplicas,
          message: `minReplicas ${min} (signals ask ${raw.value})`,
        };
    }
    const bounded = bound(target.value);
    if (bounded !== target.value) {
      const reason = bounded > target.value ? Reason.AtMinReplicas : Reason.AtMaxReplicas;
      const message = `${bounded > target.value ? `minReplicas ${min}` : `maxReplicas ${max}`} (${target.reason}: ${target.message})`;
      target = { value: bounded, reason, message };
    }
  }

  return {
    svc,
    current,
    recommended,
    target,
    boundsLimit,
    metrics: health,
    apply: mode !== "Recommend",
    memory: mem,
    ask: {
      key: svc.key,
      namespace: svc.namespace,
      priority: svc.spec.priority,
      minReplicas: min,
      desired: target.value,
      options,
      unusable: unusable.map((u) => u.why),
      pools: svc.spec.accelerators.map((a) => a.pool),
      current: currentByPool,
      fixed: mode === "Recommend",
    },
  };
}

/** The decision engine: a Snapshot and the time in, a Plan out. Pure and deterministic. */
export function plan(snapshot: Snapshot, nowMs: number): Plan {
  const pools = new Map(snapshot.pools.map((p) => [p.name, p]));
  const firsts = snapshot.services.map((svc) => stage1(svc, snapshot, pools, nowMs));
  const allocation = allocate({
    asks: firsts.map((f) => f.ask),
    pools: snapshot.pools,
    budgets: snapshot.budgets,
    nowMs,
  });

  const memory: Plan["memory"] = { services: {} };
  const services = firsts.map((f): ServicePlan => {
    const placed = allocation.services.get(f.svc.key)!;
    const limit = placed.limitedBy ?? f.boundsLimit;
    const replicas: Decided = placed.limitedBy
      ? {
          value: placed.total,
          reason: placed.limitedBy.reason,
          message: `${placed.limitedBy.message} (wanted ${f.target.value}: ${f.target.reason})`,
        }
      : { ...f.target, value: placed.total };
    const mem = f.memory;
    if (f.apply && placed.total !== f.current) mem.scaleEvents.push([nowMs, placed.total - f.current]);
    mem.scaleEvents = pruneScaleEvents(mem.scaleEvents, nowMs, f.svc.spec.scaling.behavior);
    memory.services[f.svc.key] = mem;
    const out: ServicePlan = {
      key: f.svc.key,
      replicas,
      variants: placed.variants,
      recommended: f.recommended,
      metricsAvailable: { ok: f.metrics.ok, reason: f.metrics.reason, message: f.metrics.message },
      apply: f.apply,
    };
    if (limit) out.limitedBy = limit;
    return out;
  });
  return { services, pools: allocation.pools, budgets: allocation.budgets, memory };
}
