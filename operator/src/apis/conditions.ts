// Condition types and reasons: one catalog, CamelCase, shared by controllers, events and docs.

export const ConditionType = {
  /** Summary: derived from the others, true when the resource does what its spec asks. */
  Ready: "Ready",
  /** A rollout or scale change is under way. */
  Progressing: "Progressing",
  /** The service's signals are fresh; False means the service holds its replicas. */
  MetricsAvailable: "MetricsAvailable",
  /** Replicas are capped by maxReplicas, a pool limit or a budget. */
  ScalingLimited: "ScalingLimited",
  /** A CapacityBudget binds: some services get less than they ask for. */
  BudgetExceeded: "BudgetExceeded",
  /** Another autoscaler (an HPA, a KEDA ScaledObject) targets a Deployment we would manage. */
  Conflict: "Conflict",
  /** The spec cannot be acted on (unknown pool, bad template). */
  Valid: "Valid",
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const Reason = {
  // Ready / Progressing
  AllReplicasReady: "AllReplicasReady",
  ReplicasNotReady: "ReplicasNotReady",
  RollingOut: "RollingOut",
  ScalingUp: "ScalingUp",
  ScalingDown: "ScalingDown",
  Stable: "Stable",
  ScaledToZero: "ScaledToZero",
  // MetricsAvailable
  MetricsFresh: "MetricsFresh",
  MetricsMissing: "MetricsMissing",
  MetricsStale: "MetricsStale",
  MetricsSourceError: "MetricsSourceError",
  // ScalingLimited / BudgetExceeded
  WithinBounds: "WithinBounds",
  AtMaxReplicas: "AtMaxReplicas",
  AtMinReplicas: "AtMinReplicas",
  PoolAtMaxNodes: "PoolAtMaxNodes",
  BudgetBinding: "BudgetBinding",
  MinimumsExceedBudget: "MinimumsExceedBudget",
  WithinBudget: "WithinBudget",
  // Conflict / Valid
  NoConflict: "NoConflict",
  HPAConflict: "HPAConflict",
  ScaledObjectConflict: "ScaledObjectConflict",
  SpecValid: "SpecValid",
  UnknownPool: "UnknownPool",
  InvalidSpec: "InvalidSpec",
  // Decisions
  QueueDepth: "QueueDepth",
  TokenThroughput: "TokenThroughput",
  LatencySLO: "LatencySLO",
  Forecast: "Forecast",
  Manual: "Manual",
  Recommend: "Recommend",
  HoldingOnStaleMetrics: "HoldingOnStaleMetrics",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
