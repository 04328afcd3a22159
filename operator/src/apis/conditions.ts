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
  /** CapacityBudget: its limits in force hold some services below what they ask for. */
  Binding: "Binding",
  /** CapacityBudget: what nobody may cut (minimums, services in mode Recommend) alone exceeds a limit. */
  Violated: "Violated",
  /** InferenceService: a CapacityBudget holds it below what it asks for; the message names the budget. */
  BudgetLimited: "BudgetLimited",
  /** Another autoscaler (an HPA, a KEDA ScaledObject) targets a Deployment we would manage. */
  Conflict: "Conflict",
  /** The spec cannot be acted on (unknown pool, bad template). */
  Valid: "Valid",
  /** GPUNodePool: nodes are being added, or drained and removed. */
  Scaling: "Scaling",
  /** GPUNodePool: the plan wants more nodes than maxNodes allows. */
  AtMaxNodes: "AtMaxNodes",
  /** GPUNodePool: the provider failed or stalls; the reason says how, the operator backs off. */
  ProviderFailing: "ProviderFailing",
  /** GPUNodePool, CapacityBudget: spec.power.measured is read fresh; False: nominal watts count instead. */
  PowerMeasured: "PowerMeasured",
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
  // ScalingLimited / Binding / Violated / BudgetLimited
  WithinBounds: "WithinBounds",
  AtMaxReplicas: "AtMaxReplicas",
  AtMinReplicas: "AtMinReplicas",
  PoolAtMaxNodes: "PoolAtMaxNodes",
  BudgetBinding: "BudgetBinding",
  MinimumsExceedBudget: "MinimumsExceedBudget",
  WithinBudget: "WithinBudget",
  /** What services in mode Recommend run (nobody scales it), with the minimums, exceeds a limit. */
  UnscaledCapacityExceedsBudget: "UnscaledCapacityExceedsBudget",
  /** A budget window's limits came into force (an event). */
  BudgetWindowStarted: "BudgetWindowStarted",
  /** A budget window ended: the base limits are in force again (an event). */
  BudgetWindowEnded: "BudgetWindowEnded",
  // Conflict / Valid
  NoConflict: "NoConflict",
  HPAConflict: "HPAConflict",
  ScaledObjectConflict: "ScaledObjectConflict",
  /** Another writer (not an HPA) kept changing a Deployment's replicas: inferops leaves them for a while. */
  ReplicasContested: "ReplicasContested",
  /** Another writer changed a Deployment's replicas once: inferops set them back (an event). */
  ReplicasOverridden: "ReplicasOverridden",
  /** Event: another writer kept rewriting an object's status; inferops stops writing it for a while. */
  StatusContested: "StatusContested",
  /** Event: spec.service.headless changed, so the Service was deleted and made again (clusterIP is immutable). */
  ServiceRemade: "ServiceRemade",
  SpecValid: "SpecValid",
  UnknownPool: "UnknownPool",
  /** The API server refuses the Deployment the spec makes (its pod template): the message names the field. */
  TemplateRefused: "TemplateRefused",
  InvalidSpec: "InvalidSpec",
  // Decisions
  QueueDepth: "QueueDepth",
  TokenThroughput: "TokenThroughput",
  LatencySLO: "LatencySLO",
  Forecast: "Forecast",
  Manual: "Manual",
  Recommend: "Recommend",
  HoldingOnStaleMetrics: "HoldingOnStaleMetrics",
  /** No queue, no arrivals, nothing running: the signals ask for nothing (bounds then decide). */
  NoDemand: "NoDemand",
  /** Scale to zero is enabled and demand stopped, but idleSeconds has not elapsed: one replica stays. */
  IdleTimerRunning: "IdleTimerRunning",
  /** Demand arrived while the service ran no replica (activation query or queue): wake up. */
  ActivationDemand: "ActivationDemand",
  // Behaviour (the names HPA uses in its AbleToScale / ScalingLimited conditions)
  /** The load-to-target ratio is within behavior.tolerance of 1: replicas stay. */
  WithinTolerance: "WithinTolerance",
  /** A higher recommendation within the scale-down stabilization window holds replicas up. */
  ScaleDownStabilized: "ScaleDownStabilized",
  /** A lower recommendation within the scale-up stabilization window holds replicas down. */
  ScaleUpStabilized: "ScaleUpStabilized",
  /**
   * Replicas asked for and not ready yet that no recommendation has asked for over the last minute, while
   * the ready ones cover every ask and nothing waits: cancelled before they serve (planning/decide.ts).
   */
  StartingCancelled: "StartingCancelled",
  /** Bursts recur faster than a scale-down and a scale-up take: their level is held (planning/recurrence.ts). */
  RecurringBursts: "RecurringBursts",
  /** A scale-up rate policy (behavior.scaleUp.policies) caps the step. */
  ScaleUpLimit: "ScaleUpLimit",
  /** A scale-down rate policy (behavior.scaleDown.policies) caps the step. */
  ScaleDownLimit: "ScaleDownLimit",
  /** Demand is at least twice the ready capacity: scale-up stabilization is skipped, scale-down is held. */
  PanicMode: "PanicMode",
  // Pools and placement
  /** The pool's node count is its minNodes. */
  PoolMinNodes: "PoolMinNodes",
  /** The pool's node count is what the replicas placed on it need. */
  NodesForReplicas: "NodesForReplicas",
  /** Provider static: the operator observes the pool's nodes and never changes them. */
  StaticPool: "StaticPool",
  /** None of the service's variants names a known GPUNodePool that fits a replica. */
  NoUsableVariant: "NoUsableVariant",
  // GPUNodePool (controllers/gpunodepool): conditions and events
  /** The pool has the nodes the plan wants, all Ready. */
  NodesReady: "NodesReady",
  /** Some of the nodes the plan wants are provisioning or not Ready. */
  NodesNotReady: "NodesNotReady",
  /** No plan yet for the pool: nothing is added or removed. */
  AwaitingPlan: "AwaitingPlan",
  /** The provider answered as asked. */
  ProviderHealthy: "ProviderHealthy",
  /** The provider's object (MachineDeployment, Karpenter NodePool) does not exist. */
  ProviderNotFound: "ProviderNotFound",
  /** The provider cannot get more nodes now. */
  InsufficientCapacity: "InsufficientCapacity",
  /** The provider cannot do what was asked (a static pool asked to change). */
  ProviderUnsupported: "ProviderUnsupported",
  /** The provider failed otherwise (the message says how). */
  ProviderError: "ProviderError",
  /** A node asked for did not register within twice provisioningSeconds plus a minute. */
  ProvisioningStalled: "ProvisioningStalled",
  /** Event: a stall's hold ended (a node the pool did not have registered, or the hold ran out: growth is tried again). */
  ProvisioningResumed: "ProvisioningResumed",
  /** The provider said a node asked for will not come (a launch failed for want of capacity, say). */
  CapacityUnavailable: "CapacityUnavailable",
  /**
   * Events: nodes asked for, a node asked for that registered, a node cordoned to be drained, brought back,
   * removed; an eviction held back.
   */
  NodesRequested: "NodesRequested",
  NodeRegistered: "NodeRegistered",
  NodeCordoned: "NodeCordoned",
  NodeUncordoned: "NodeUncordoned",
  NodeRemoved: "NodeRemoved",
  EvictionBlocked: "EvictionBlocked",
  ProviderRecovered: "ProviderRecovered",
  // Measured power (condition PowerMeasured, and its events)
  /** The pool's GPU power is measured by its exporter, fresh. */
  PowerMeasured: "PowerMeasured",
  /** The measurement is stale, missing or failed: the pool counts nominal watts, never zero. */
  PowerMeasurementStale: "PowerMeasurementStale",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
