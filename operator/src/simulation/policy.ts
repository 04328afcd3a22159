// The plug-in point of the simulator: a policy observes the simulated fleet and decides replicas (and, for
// inferops, nodes) per pool. inferops, the baselines (static, HPA, KEDA, Knative KPA) and the bounds' replayed
// schedules all implement it; the event loop (simulate.ts) calls observe() every sampleSeconds and decide()
// every intervalSeconds, the first decision one interval after the start.
import type { World } from "../controllers/snapshot.ts";
import type { ReplicaMetrics } from "../serving/metrics.ts";
import type { PodDeletion, PodState } from "./fleet.ts";
import type { Scenario } from "./scenario.ts";

export const FAMILIES = ["inferops", "static", "hpa", "keda", "kpa", "instant", "clairvoyant"] as const;
export type Family = (typeof FAMILIES)[number];

/** A policy's parameters, as the results report them. */
export type Params = Record<string, number | string | boolean>;

/** What a policy sees of one pod. */
export interface PodView {
  id: number;
  pool: string;
  state: PodState;
}

/** The fleet as a policy sees it at one instant. */
export interface FleetView {
  /** Seconds since the start of the trace. */
  readonly t: number;
  /** Wall clock of t (epoch ms). */
  readonly nowMs: number;
  readonly scenario: Scenario;
  /** The pool the fleet started on and single-Deployment baselines use. */
  readonly primaryPool: string;
  /** Every pod that exists (draining ones included). */
  pods(): readonly PodView[];
  /** Replicas a pool's Deployment asks for now (pods not draining). */
  desired(pool: string): number;
  /** Ready (routable) replicas of a pool. */
  ready(pool: string): number;
  /** Ready pods' vLLM metrics now. */
  readyMetrics(): readonly { pod: PodView; metrics: ReplicaMetrics }[];
  /** Requests in flight (waiting and running) on each ready pod now. */
  readyInFlight(): readonly number[];
  /** Requests the router holds because no replica is ready. */
  heldRequests(): number;
  /** The fleet as the operator's informers would hold it (Kubernetes objects), for the operator's builder. */
  world(): World;
}

export interface Decision {
  /** Replicas per pool (pools not named keep theirs). */
  replicas: Record<string, number>;
  /**
   * Nodes per pool the policy plans (inferops' Plan.pools): each pool's target from then on, as the GPUNodePool
   * controller takes it. A pool never planned gets the nodes its pods need (simulation/fleet.ts).
   */
  nodes?: Record<string, number>;
  /**
   * Decide again this many seconds from now instead of one interval (when fewer): inferops' Plan.replanAfterMs,
   * which the operator's planning loop honours the same way (controllers/planner.ts).
   */
  againInSeconds?: number;
  /**
   * Why the scenario's service holds the replicas it does, when the policy says (inferops: the decision's
   * reason, such as ScaleDownStabilized). The timeline carries the last one (TimelinePoint.reason).
   */
  reason?: string;
}

export interface Policy {
  readonly name: string;
  readonly family: Family;
  readonly params: Params;
  /** Seconds between decisions. */
  readonly intervalSeconds: number;
  /** Seconds between observations, when the policy samples between decisions. */
  readonly sampleSeconds?: number;
  /**
   * Which pods its scale-downs remove (FleetOverrides.deletion, which a run's overrides still set): inferops
   * sets pod-deletion-cost as the operator does (deletionCost); the baselines leave the ReplicaSet's order.
   */
  readonly deletion?: PodDeletion;
  /** Replicas to start with, given the warm start (the fleet sized for the first minute). Default: warm. */
  initialReplicas?(warm: number): number;
  /** Called at t = 0 and every sampleSeconds (and before each decision when sampleSeconds is unset). */
  observe?(view: FleetView): void;
  decide(view: FleetView): Decision;
  /** Counts of decision reasons, for diagnosis (inferops: the plan's reasons). */
  reasons?(): Record<string, number>;
}
