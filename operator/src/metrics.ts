// The operator's own Prometheus metrics: names inferops_*, units in the name, bounded label sets.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: "inferops_process_" });
  /** Work queue depth per controller, read when scraped. */
  const queueDepths = new Map<string, () => number>();
  return {
    queueDepths,
    registry,
    reconcileTotal: new Counter({
      name: "inferops_reconcile_total",
      help: "Reconciles by controller and outcome (success, error, terminal).",
      labelNames: ["controller", "outcome"] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: "inferops_reconcile_duration_seconds",
      help: "Time one reconcile takes.",
      labelNames: ["controller"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "inferops_workqueue_depth",
      help: "Keys waiting in the work queue.",
      labelNames: ["controller"] as const,
      registers: [registry],
      collect() {
        for (const [controller, depth] of queueDepths) this.set({ controller }, depth());
      },
    }),
    apiRequests: new Counter({
      name: "inferops_kube_api_requests_total",
      help: "Requests to the Kubernetes API by verb, resource and HTTP code (0: no answer).",
      labelNames: ["verb", "resource", "code"] as const,
      registers: [registry],
    }),
    apiRequestSeconds: new Histogram({
      name: "inferops_kube_api_request_duration_seconds",
      help: "Time a request to the Kubernetes API takes, answer read, by verb and resource (watches not counted).",
      labelNames: ["verb", "resource"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    decisions: new Counter({
      name: "inferops_scaling_decisions_total",
      help: "Replica changes applied, by direction and reason.",
      labelNames: ["direction", "reason"] as const,
      registers: [registry],
    }),
    actuationSeconds: new Histogram({
      name: "inferops_scaling_actuation_seconds",
      help: "Time from the start of the evaluation that decided a replica change until the API server acknowledged the Deployment write that applies it.",
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 60, 120],
      registers: [registry],
    }),
    desiredReplicas: new Gauge({
      name: "inferops_service_desired_replicas",
      help: "Replicas the operator wants per InferenceService.",
      labelNames: ["namespace", "service"] as const,
      registers: [registry],
    }),
    recommendedReplicas: new Gauge({
      name: "inferops_service_recommended_replicas",
      help: "Replicas the decision engine would run per InferenceService, after bounds and budgets (in mode Recommend nothing is scaled to it).",
      labelNames: ["namespace", "service"] as const,
      registers: [registry],
    }),
    budgetUsedRatio: new Gauge({
      name: "inferops_budget_used_ratio",
      help: "What the planned replicas in a CapacityBudget's scope use over each limit in force (limit: costPerHour, powerWatts, gpus/<type>).",
      labelNames: ["budget", "limit"] as const,
      registers: [registry],
    }),
    budgetHeldBackReplicas: new Gauge({
      name: "inferops_budget_held_back_replicas",
      help: "Replicas a CapacityBudget holds back, summed over the services in its scope.",
      labelNames: ["budget"] as const,
      registers: [registry],
    }),
    budgetBinding: new Gauge({
      name: "inferops_budget_binding",
      help: "1 while a CapacityBudget's Binding condition is True: it holds back replicas that services in its scope ask for.",
      labelNames: ["budget"] as const,
      registers: [registry],
    }),
    budgetViolated: new Gauge({
      name: "inferops_budget_violated",
      help: "1 when what no one may cut (minimums, services in mode Recommend) exceeds a limit of the CapacityBudget.",
      labelNames: ["budget"] as const,
      registers: [registry],
    }),
    poolNodes: new Gauge({
      name: "inferops_pool_nodes",
      help: "Nodes of a GPUNodePool by state: desired (the plan), current (provisioning included), registered, ready, draining.",
      labelNames: ["pool", "state"] as const,
      registers: [registry],
    }),
    poolCost: new Gauge({
      name: "inferops_pool_cost_dollars_per_hour",
      help: "Dollars per hour of a GPUNodePool's nodes, provisioning ones included.",
      labelNames: ["pool"] as const,
      registers: [registry],
    }),
    poolPower: new Gauge({
      name: "inferops_pool_power_watts",
      help: "Nominal draw of a GPUNodePool's GPUs now, watts.",
      labelNames: ["pool"] as const,
      registers: [registry],
    }),
    poolProviderFailing: new Gauge({
      name: "inferops_pool_provider_failing",
      help: "1 while a GPUNodePool's provider fails or stalls (its ProviderFailing condition is True).",
      labelNames: ["pool"] as const,
      registers: [registry],
    }),
    poolNodeOperations: new Counter({
      name: "inferops_pool_node_operations_total",
      help: "Node operations of the GPUNodePool controller: requested, cordoned, uncordoned, removed, evicted (pods).",
      labelNames: ["pool", "operation"] as const,
      registers: [registry],
    }),
    isLeader: new Gauge({
      name: "inferops_leader",
      help: "1 when this instance holds the lease (or runs without leader election).",
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
