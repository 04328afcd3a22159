// The decision engine's contract: a Snapshot in, a Plan out. Plain data only: the operator builds the
// Snapshot from informer caches and metric sources, the simulator from its simulated fleet, and both apply
// the Plan. plan() is pure: no I/O, no clock reads, no unseeded randomness.
import type { CapacityBudgetSpec } from "../apis/capacitybudget.ts";
import type { GPUNodePoolSpec } from "../apis/gpunodepool.ts";
import type { InferenceServiceSpec } from "../apis/inferenceservice.ts";
import type { PoolPower } from "../signals/power.ts";
import type { Signals } from "../signals/types.ts";
import type { ProbeState } from "./probe.ts";

// The signals a service's servers report are the signals layer's type; the planner reads them.
export type { HistogramBuckets, Signals } from "../signals/types.ts";

export interface VariantState {
  pool: string;
  /** Replicas the variant's Deployment asks for now. */
  replicas: number;
  /** Replicas ready to serve. */
  readyReplicas: number;
  /**
   * Pods of the variant being deleted on a Ready node (a scale-down's, draining their requests): they hold
   * their GPUs until gone, so the budget they use is not handed to another service before then (handover.ts).
   */
  terminating?: number;
}

export interface ServiceSnapshot {
  /** namespace/name */
  key: string;
  namespace: string;
  name: string;
  generation: number;
  spec: InferenceServiceSpec;
  variants: VariantState[];
  /** Latest signals, or undefined when none could be read. */
  signals?: Signals;
  /** Why signals are missing, when they are (the source's error). */
  signalsError?: string;
}

export interface PoolSnapshot {
  name: string;
  spec: GPUNodePoolSpec;
  /** Nodes that exist, Ready or not. */
  nodes: number;
  readyNodes: number;
  /** GPUs allocatable on Ready nodes. */
  allocatableGPUs: number;
  /** GPUs requested by scheduled pods. */
  usedGPUs: number;
  /** Measured power (spec.power.measured) and what a requested GPU draws; absent or no wattsPerGPU: nominal. */
  power?: PoolPower;
  /**
   * Why the pool cannot add nodes now (its provider fails, stalls or has no capacity: the pool's
   * ProviderFailing condition): the plan then counts only the nodes it has, as for a static pool, so replicas
   * go to the other pools a service lists instead of waiting for nodes that will not come.
   */
  cannotGrow?: string;
  /** The ProviderFailing condition's reason (CapacityUnavailable, ProviderError, ...), with cannotGrow. */
  cannotGrowReason?: string;
}

export interface BudgetSnapshot {
  name: string;
  spec: CapacityBudgetSpec;
  /** Namespaces in scope, resolved by the driver from the namespace selector; undefined: all. */
  namespaces?: string[];
}

/** State the planner keeps between calls (stabilization windows, forecasts). Opaque to the drivers. */
export interface PlannerMemory {
  services: Record<string, ServiceMemory>;
}

export interface ServiceMemory {
  /** Recent recommendations, for stabilization windows: [epoch ms, replicas]. */
  recommendations: [number, number][];
  /** Recent scale events, for rate policies: [epoch ms, change in replicas (+ up, - down)], as HPA keeps them. */
  scaleEvents: [number, number][];
  /** Forecast state (Holt's level and trend of the arrival rate), when known. */
  forecast?: { level: number; trend: number; atMs: number };
  /** Short-window arrival rates over the lead-time horizon: [epoch ms, rate]. */
  rates: [number, number][];
  /** Last time the service saw any demand, for scale to zero. */
  lastDemandMs?: number;
  /** Last fresh signals, for staleness and counters. */
  lastSignalsMs?: number;
  /** Panic mode (a burst of at least twice the ready capacity) lasts until this time (epoch ms). */
  panicUntilMs?: number;
  /** What the planner learned from past signals: request sizes and capacity observed at saturation. */
  learned?: LearnedModel;
  /** Requests in the servers (waiting + running) at recent evaluations, for the arrival estimate: [epoch ms, n]. */
  inSystem?: [number, number][];
  /** The highest recommendation of each minute over the last hour: [minute start, replicas] (recurrence.ts). */
  minutePeaks?: [number, number][];
  /**
   * The replicas asked for and not ready yet, oldest first: [epoch ms asked, replicas]. Each serves about a
   * lead time after it was asked, so the backlog grows only until enough of them do (recommend.ts
   * newReplicasTake). Absent while every replica is ready.
   */
  starting?: [number, number][];
  /** Ready replicas at recent evaluations, over the rate window: [epoch ms, ready] (rates per serving replica). */
  readyHistory?: [number, number][];
  /**
   * The last scale-up stage 1 decided, and when: it stands until an interval has passed, so that a plan made
   * sooner (the replan while growth waits for replicas to drain) does not take it back on a sample 2 s later.
   */
  decidedUp?: { value: number; atMs: number; reason: string; message: string };
  /**
   * When each of the replica views' signals (queueDepth, runningRequests, arrivalRate, the token rates) was
   * last reported: one that was reported within the last hour and is missing now is a partial outage.
   */
  reported?: Partial<Record<string, number>>;
}

/** Learned from the signals over time (see recommend.ts for the rules). */
export interface LearnedModel {
  /** Mean prompt tokens per request, measured while nothing queues (served = offered). */
  promptTokens?: number;
  /** Mean generated tokens per request, measured likewise. */
  outputTokens?: number;
  /**
   * Capacity over the profiles' maxTokensPerSecond, in [0.25, 4]: lowered by throughput observed at
   * saturation (relaxing back to 1), raised by what the replicas were seen serving with every objective met
   * (servedAtSlo) and by a capacity probe's measurement (probe.ts).
   */
  capacityScale?: number;
  /**
   * The most tokens/s per replica over the profile that the replicas were seen serving with every latency
   * objective met with room and nothing waiting (recommend.ts learn()): a capacity they have at the SLO.
   * Without a probe, the scale rises to it and no further; saturation lowers both.
   */
  servedAtSlo?: number;
  /** A capacity probe in progress (probe.ts). */
  probe?: ProbeState;
  /** When the last capacity probe ended (epoch ms). */
  probedAtMs?: number;
  /**
   * Set in the evaluation whose probe raised the scale, by that factor: the next evaluation restates the
   * stabilization window's past recommendations at the new scale.
   */
  raised?: number;
  /** What the probe did in this evaluation, for the log. */
  probeEvent?: string;
  /** Observed saturated tokens/s per replica, for variants without a profile. */
  capacityTokensPerSecond?: number;
  /** When capacityScale was last updated or relaxed (epoch ms). */
  atMs?: number;
  /**
   * Headroom for the TTFT objective, >= 1: the token views divide per-replica capacity by it. It grows
   * while more requests miss targets.ttftSeconds than the objective allows, and relaxes back to 1.
   */
  sloHeadroom?: number;
  /** When sloHeadroom was last updated (epoch ms). */
  sloHeadroomAtMs?: number;
  /** Requests per window that missed an objective, averaged over time (headroom.ts). */
  sloMissed?: number;
  /** Requests per window, averaged the same way. */
  sloRequests?: number;
  /** The current episode of misses: the averaged miss rate and the headroom when it started (headroom.ts). */
  sloEpisode?: { rate: number; headroom: number };
}

export interface Snapshot {
  /** Evaluation interval in ms (the staleness limit is two intervals). */
  intervalMs: number;
  services: ServiceSnapshot[];
  pools: PoolSnapshot[];
  budgets: BudgetSnapshot[];
  memory: PlannerMemory;
}

/** A number with its reason: which signal or limit decided it. */
export interface Decided {
  value: number;
  /** CamelCase reason from apis/conditions.ts Reason. */
  reason: string;
  message: string;
}

export interface ServicePlan {
  key: string;
  /** Replicas across variants the service should run. */
  replicas: Decided;
  /** Replicas per variant. */
  variants: { pool: string; replicas: number }[];
  /** What the signals alone ask for, before bounds, behaviour and budgets. */
  recommended: Decided;
  /** False when signals are missing or stale: the service holds. */
  metricsAvailable: { ok: boolean; reason: string; message: string };
  /** Set when bounds, pools or budgets cut the recommendation. */
  limitedBy?: { reason: string; message: string };
  /** Mode Recommend: the plan is advisory, nothing is scaled. */
  apply: boolean;
}

export interface PoolPlan {
  name: string;
  nodes: Decided;
}

export interface BudgetPlan {
  name: string;
  activeWindow?: string;
  used: { costPerHour: number; powerWatts: number; gpus: Record<string, number> };
  heldBack: { key: string; replicas: number; limit: string }[];
  /** Minimums alone exceed the budget: said, never broken silently. */
  violated?: string;
}

export interface Plan {
  services: ServicePlan[];
  pools: PoolPlan[];
  budgets: BudgetPlan[];
  memory: PlannerMemory;
  /**
   * Plan again this soon rather than at the next interval: growth waits for replicas to drain
   * (handover.ts), and the sooner the planner sees them gone, the sooner it comes.
   */
  replanAfterMs?: number;
}
