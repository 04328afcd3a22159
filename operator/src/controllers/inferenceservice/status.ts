// Pure: an InferenceService's status from what its Deployments report and what was decided.

import { ConditionType, Reason } from "../../apis/conditions.ts";
import type { GPUNodePool } from "../../apis/gpunodepool.ts";
import type { InferenceService, InferenceServiceStatus } from "../../apis/inferenceservice.ts";
import { LABEL_SERVICE } from "../../apis/labels.ts";
import type { KubeObject } from "../../kube/client.ts";
import { replicaFootprint } from "../../planning/budgets.ts";
import type { LearnedModel, Signals } from "../../planning/types.ts";
import { steadyWatts } from "../../signals/power.ts";
import { type ConditionInput, mergeConditions } from "../conditions.ts";

export interface DeploymentView {
  pool: string;
  /** spec.replicas */
  wanted: number;
  /** status.replicas */
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  /** status.observedGeneration caught up with metadata.generation. */
  observed: boolean;
}

export function viewDeployment(pool: string, d: KubeObject): DeploymentView {
  const spec = (d.spec ?? {}) as { replicas?: number };
  const status = (d.status ?? {}) as {
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    observedGeneration?: number;
  };
  return {
    pool,
    wanted: spec.replicas ?? 1,
    replicas: status.replicas ?? 0,
    readyReplicas: status.readyReplicas ?? 0,
    updatedReplicas: status.updatedReplicas ?? 0,
    observed: (status.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0),
  };
}

export interface Decision {
  /** Replicas per variant the operator asks for. */
  perVariant: Map<string, number>;
  total: number;
  reason: string;
  message: string;
  /** What the signals alone asked for (Auto and Recommend). */
  recommended?: number;
  metrics?: { ok: boolean; reason: string; message: string };
  signals?: Signals;
  limitedBy?: { reason: string; message: string };
  /** What the Plan would run (bounds and budgets applied); status shows it in mode Recommend. */
  recommendation?: { replicas: number; reason: string; message: string };
  /** The CapacityBudgets that hold the service back, and by how much. */
  budgetLimited?: { budgets: string[]; message: string };
  /** Measured watts per GPU in use, per pool, where the latest Snapshot has them (spec.power.measured). */
  wattsPerGPU?: ReadonlyMap<string, number>;
  /** When the evaluation whose Plan made this decision started (epoch ms); absent for decisions no Plan made. */
  evaluatedAtMs?: number;
  /**
   * What the planner has learned for the service (its memory), on decisions a Plan made (empty when nothing
   * is learned); absent on the others, which keep what status says.
   */
  learned?: Pick<LearnedModel, "capacityScale" | "sloHeadroom">;
}

/** Another writer of a Deployment's replicas, whose replicas inferops leaves alone (the Conflict condition). */
export interface ReplicasConflict {
  deployment: string;
  by: string;
  reason: string;
  /** When inferops takes the replicas back, if it does by itself. */
  until?: string;
}

/** The Conflict condition's words for one conflict; a new leader finds its Deployment in them (`namesDeployment`). */
export function conflictMessage(c: ReplicasConflict): string {
  return `${c.by} scales Deployment ${c.deployment}; inferops leaves its replicas alone${c.until ? ` until ${c.until}` : ""}`;
}

/** Whether a Conflict message names the Deployment. */
export function namesDeployment(message: string, deployment: string): boolean {
  return message.split("; ").some((part) => part.endsWith(` scales Deployment ${deployment}`));
}

export interface StatusInput {
  svc: InferenceService;
  pools: Map<string, GPUNodePool>;
  deployments: DeploymentView[];
  decision: Decision;
  unknownPools: string[];
  conflicts: ReplicasConflict[];
  /** Deployments the API server refuses as the spec makes them, with its words. */
  refused?: { deployment: string; message: string }[];
  nowIso: string;
}

export function computeStatus(input: StatusInput): InferenceServiceStatus {
  const { svc, pools, deployments, decision, unknownPools, conflicts, refused = [], nowIso } = input;
  const byPool = new Map(deployments.map((d) => [d.pool, d]));
  const variants = svc.spec.accelerators.map((a) => {
    const d = byPool.get(a.pool);
    return {
      pool: a.pool,
      replicas: d?.replicas ?? 0,
      readyReplicas: d?.readyReplicas ?? 0,
      desiredReplicas: decision.perVariant.get(a.pool) ?? 0,
    };
  });
  const sum = (f: (v: (typeof variants)[number]) => number) => variants.reduce((s, v) => s + f(v), 0);
  const ready = sum((v) => v.readyReplicas);
  const replicas = sum((v) => v.replicas);
  const desired = decision.total;

  let cost = 0;
  let power = 0;
  let measuredPower = false;
  for (const a of svc.spec.accelerators) {
    const pool = pools.get(a.pool);
    const n = byPool.get(a.pool)?.replicas ?? 0;
    if (!pool || n === 0) continue;
    const measured = input.decision.wattsPerGPU?.get(a.pool);
    if (measured !== undefined) measuredPower = true;
    const replica = replicaFootprint(pool.spec, a.gpusPerReplica, measured);
    cost += n * replica.costPerHour;
    power += n * replica.powerWatts;
  }

  const rollingOut = deployments.some((d) => !d.observed || d.updatedReplicas < d.replicas);
  const scaling = deployments.some((d) => d.replicas !== d.wanted) || replicas !== desired;
  const conditions: ConditionInput[] = [
    unknownPools.length > 0
      ? {
          type: ConditionType.Valid,
          status: "False",
          reason: Reason.UnknownPool,
          message: `spec.accelerators names GPUNodePool ${unknownPools.join(", ")}, which does not exist; create it or remove the variant (existing replicas are kept)`,
        }
      : refused.length > 0
        ? {
            type: ConditionType.Valid,
            status: "False",
            reason: Reason.TemplateRefused,
            message: `${refused.map((r) => `the API server refuses Deployment ${r.deployment}: ${r.message}`).join("; ")}; fix spec.template (what runs is kept)`,
          }
        : { type: ConditionType.Valid, status: "True", reason: Reason.SpecValid, message: "" },
    conflicts.length > 0
      ? {
          type: ConditionType.Conflict,
          status: "True",
          reason: conflicts[0]!.reason,
          message: conflicts.map(conflictMessage).join("; "),
        }
      : { type: ConditionType.Conflict, status: "False", reason: Reason.NoConflict, message: "" },
    rollingOut || scaling
      ? {
          type: ConditionType.Progressing,
          status: "True",
          reason: rollingOut ? Reason.RollingOut : desired > replicas ? Reason.ScalingUp : Reason.ScalingDown,
          message: `${ready}/${desired} replicas ready`,
        }
      : { type: ConditionType.Progressing, status: "False", reason: Reason.Stable, message: "" },
  ];
  if (decision.metrics) {
    conditions.push({
      type: ConditionType.MetricsAvailable,
      status: decision.metrics.ok ? "True" : "False",
      reason: decision.metrics.reason,
      message: decision.metrics.message,
    });
  }
  conditions.push(
    decision.limitedBy
      ? { type: ConditionType.ScalingLimited, status: "True", ...decision.limitedBy }
      : { type: ConditionType.ScalingLimited, status: "False", reason: Reason.WithinBounds, message: "" },
  );
  conditions.push(
    decision.budgetLimited
      ? {
          type: ConditionType.BudgetLimited,
          status: "True",
          reason: Reason.BudgetBinding,
          message: decision.budgetLimited.message,
        }
      : { type: ConditionType.BudgetLimited, status: "False", reason: Reason.WithinBudget, message: "" },
  );
  const allReady = ready >= desired && !rollingOut && replicas === desired;
  conditions.push(
    unknownPools.length > 0
      ? {
          type: ConditionType.Ready,
          status: "False",
          reason: Reason.UnknownPool,
          message: `unknown GPUNodePool ${unknownPools.join(", ")}`,
        }
      : refused.length > 0
        ? {
            type: ConditionType.Ready,
            status: "False",
            reason: Reason.TemplateRefused,
            message: `the API server refuses Deployment ${refused.map((r) => r.deployment).join(", ")} (the Valid condition says why)`,
          }
        : allReady
          ? {
              type: ConditionType.Ready,
              status: "True",
              reason: desired === 0 ? Reason.ScaledToZero : Reason.AllReplicasReady,
              message: `${ready}/${desired} replicas ready`,
            }
          : {
              type: ConditionType.Ready,
              status: "False",
              reason: Reason.ReplicasNotReady,
              message: `${ready}/${desired} replicas ready`,
            },
  );

  const generation = svc.metadata.generation ?? 0;
  const previous = svc.status;
  const signals = decision.signals ? signalsStatus(decision.signals) : undefined;
  const signalsMoved = signals !== undefined && !signalsClose(previous?.signals, signals);
  // The same replicas for the same reason is the same decision: its message, whose figures are the signals'
  // (tokens/s, requests/s), is rewritten only with them, when one moved materially. Otherwise every
  // evaluation of a service under live load would rewrite its status (measured by bench/load.ts: 57,000
  // status writes in 15 minutes for 1,000 services, one per service every 16 s). So is the same replicas
  // for another of the signals' reasons while the signals have not moved: which view is the largest, or
  // whether the largest is within tolerance, changes with noise where views agree on the replicas (held
  // still, 1,000 services rewrote 2 to 53 statuses a minute for that alone; docs/benchmarks.md).
  const quiet = decision.signals !== undefined && !signalsMoved;
  const last = previous?.lastDecision;
  const sameDecision =
    last &&
    last.replicas === desired &&
    (last.reason === decision.reason ||
      (quiet && SIGNAL_REASONS.has(last.reason) && SIGNAL_REASONS.has(decision.reason))) &&
    (last.message === decision.message || quiet);
  return {
    observedGeneration: generation,
    replicas,
    readyReplicas: ready,
    desiredReplicas: desired,
    selector: `${LABEL_SERVICE}=${svc.metadata.name}`,
    variants,
    // Signals move every interval; status keeps the previous reading unless one moved materially, so a
    // steady service costs no writes.
    ...(signals && signalsMoved ? { signals } : previous?.signals ? { signals: previous.signals } : {}),
    lastDecision: sameDecision
      ? previous.lastDecision
      : { time: nowIso, replicas: desired, reason: decision.reason, message: decision.message },
    ...(svc.spec.scaling.mode === "Recommend" && decision.recommendation
      ? { recommendation: decision.recommendation }
      : {}),
    ...learnedField(previous?.learned, decision.learned, nowIso),
    costPerHour: round(cost),
    // Measured watts waver: a change within 2% keeps the figure status has (signals/power.ts), while the
    // replicas are the same (one more or fewer is a change).
    powerWatts:
      measuredPower && previous?.lastDecision?.replicas === desired
        ? steadyWatts(svc.status?.powerWatts, round(power))
        : round(power),
    conditions: mergeConditions(previous?.conditions, conditions, generation, nowIso),
  };
}

/** A learned figure moves status only by this much: a capacity relaxing back to its profile writes a few times. */
const LEARNED_STEP = 0.05;

/**
 * status.learned: what the planner learned that holds replicas up (a capacity scale below 1, an SLO headroom
 * above 1), for a new leader to start from (controllers/snapshot.ts). Rounded, and written when learning
 * moves a figure by LEARNED_STEP or one appears: learning costs a few writes, relaxing none.
 */
function learnedField(
  previous: InferenceServiceStatus["learned"],
  learned: Decision["learned"],
  nowIso: string,
): { learned?: NonNullable<InferenceServiceStatus["learned"]> } {
  if (!learned) return previous ? { learned: previous } : {};
  const scale =
    learned.capacityScale !== undefined && Math.abs(learned.capacityScale - 1) > 0.005
      ? round(learned.capacityScale)
      : undefined;
  const headroom =
    learned.sloHeadroom !== undefined && learned.sloHeadroom > 1.005 ? round(learned.sloHeadroom) : undefined;
  if (scale === undefined && headroom === undefined) return {};
  // Kept as written while the figures only relax back towards the profiles: a new leader relaxes what it
  // restores from observedAt the same way (controllers/snapshot.ts), so rewriting them as they relax would
  // cost writes at rest for nothing (measured: 1-9 a minute for 300 services). Rewritten when learning moves
  // one the other way by LEARNED_STEP: a capacity lower, a headroom higher, or one that was not there.
  const relaxed = (was: number | undefined, now: number | undefined, back: 1 | -1) =>
    was === undefined ? now === undefined : now === undefined || back * (now - was) > -LEARNED_STEP;
  // A capacity above the profiles (served at the SLO, or probed) does not relax: it is rewritten when it
  // moves by LEARNED_STEP either way or goes back to the profiles, so that a new leader never starts from
  // more capacity than the last one had.
  const scaleKept = (was: number | undefined, now: number | undefined) =>
    was !== undefined && was > 1
      ? now !== undefined && Math.abs(now - was) < LEARNED_STEP
      : (now === undefined || now < 1) && relaxed(was, now, 1);
  if (previous && scaleKept(previous.capacityScale, scale) && relaxed(previous.sloHeadroom, headroom, -1))
    return { learned: previous };
  return {
    learned: {
      ...(scale !== undefined ? { capacityScale: scale } : {}),
      ...(headroom !== undefined ? { sloHeadroom: headroom } : {}),
      observedAt: nowIso,
    },
  };
}

/**
 * Reasons that the signals give, through a view or a hold on one, as opposed to a bound, a budget, a mode or
 * missing metrics: with the same replicas and signals, a change among them is not a new decision.
 */
const SIGNAL_REASONS: ReadonlySet<string> = new Set([
  Reason.QueueDepth,
  Reason.TokenThroughput,
  Reason.LatencySLO,
  Reason.Forecast,
  Reason.WithinTolerance,
  Reason.ScaleDownStabilized,
  Reason.ScaleUpStabilized,
]);

/** Two decimals: enough for status, and stable against float noise (no needless writes). */
const round = (x: number) => Math.round(x * 100) / 100;

type SignalsStatus = NonNullable<InferenceServiceStatus["signals"]>;

function signalsStatus(s: Signals): SignalsStatus {
  const out: SignalsStatus = { observedAt: new Date(s.observedAtMs).toISOString() };
  if (s.queueDepth !== undefined) out.queueDepth = round(s.queueDepth);
  if (s.queuedReplicas !== undefined) out.queuedReplicas = s.queuedReplicas;
  if (s.runningRequests !== undefined) out.runningRequests = round(s.runningRequests);
  if (s.promptTokensPerSecond !== undefined || s.generationTokensPerSecond !== undefined)
    out.tokensPerSecond = round((s.promptTokensPerSecond ?? 0) + (s.generationTokensPerSecond ?? 0));
  if (s.arrivalRate !== undefined) out.arrivalRate = round(s.arrivalRate);
  if (s.kvCacheUtilization !== undefined) out.kvCacheUtilization = round(s.kvCacheUtilization);
  if (s.ttftSeconds !== undefined) out.ttftSeconds = round(s.ttftSeconds);
  if (s.itlSeconds !== undefined) out.itlSeconds = round(s.itlSeconds);
  if (s.requestItlSeconds !== undefined) out.requestItlSeconds = round(s.requestItlSeconds);
  return out;
}

/** Change below which a signal counts as unchanged: 10% of its value, and at least this much. */
const SIGNAL_FLOOR = {
  queueDepth: 0.5,
  queuedReplicas: 0.5,
  runningRequests: 0.5,
  tokensPerSecond: 1,
  arrivalRate: 0.1,
  kvCacheUtilization: 0.05,
  ttftSeconds: 0.05,
  itlSeconds: 0.005,
  requestItlSeconds: 0.005,
} as const;

/** Every signal within its tolerance, and the same signals present. */
export function signalsClose(a: SignalsStatus | undefined, b: SignalsStatus): boolean {
  if (!a) return false;
  return (Object.keys(SIGNAL_FLOOR) as (keyof typeof SIGNAL_FLOOR)[]).every((k) => {
    const x = a[k];
    const y = b[k];
    if (x === undefined || y === undefined) return x === y;
    return Math.abs(x - y) <= Math.max(0.1 * Math.max(Math.abs(x), Math.abs(y)), SIGNAL_FLOOR[k]);
  });
}
