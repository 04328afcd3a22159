// The simulated fleet as the operator's informers would hold it: the InferenceServices, their pools and
// budgets, one Deployment per variant, the pools' registered Nodes (cordoned while the node policy drains
// them) and the pods bound to them, and the Namespaces. The inferops policy builds its Snapshot from this
// World through the operator's own builder (controllers/snapshot.ts buildSnapshot), so the benchmark plans
// from exactly what the operator would see.
import { API_VERSION } from "../apis/common.ts";
import { GPU_RESOURCE, poolNodeLabels, variantLabels } from "../apis/labels.ts";
import type { World } from "../controllers/snapshot.ts";
import type { KubeObject } from "../kube/client.ts";
import type { Fleet } from "./fleet.ts";
import { servicesOf } from "./scenario.ts";

/** The label the API server sets on every Namespace: its name. */
const NAMESPACE_NAME = "kubernetes.io/metadata.name";

/** Only its presence matters to the planner: when a draining pod began to go is not modelled here. */
const TERMINATING_SINCE = "1970-01-01T00:00:00Z";

/**
 * The fleet's objects now. A budget whose scope the scenario resolved to namespaces selects exactly those,
 * through the name label every Namespace carries.
 */
export function fleetWorld(fleet: Fleet): World {
  const { pools, budgets } = fleet.scenario;
  const services = servicesOf(fleet.scenario);
  const namespaces = new Set([
    ...services.map((s) => s.namespace),
    ...budgets.flatMap((b) => b.namespaces ?? []),
  ]);
  const nodes: KubeObject[] = [];
  for (const p of pools) {
    for (const n of fleet.nodesOf(p.name)) {
      // A node asked for is a Node only once it registers (kwok, Cluster API and Karpenter alike).
      if (!n.ready) continue;
      const allocatable = { [GPU_RESOURCE]: String(p.spec.gpu.count) };
      nodes.push({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: n.name, labels: poolNodeLabels({ metadata: p, spec: p.spec }) },
        // A node the node policy drains is cordoned.
        ...(n.drainingSince !== undefined ? { spec: { unschedulable: true } } : {}),
        status: {
          capacity: allocatable,
          allocatable,
          conditions: [{ type: "Ready", status: "True" }],
        },
      });
    }
  }
  const pods: KubeObject[] = fleet.pods.flatMap((pod) => {
    const service = services[pod.service]!;
    return pod.node
      ? [
          {
            apiVersion: "v1",
            kind: "Pod",
            metadata: {
              name: `${service.name}-${pod.pool}-${pod.id}`,
              namespace: service.namespace,
              labels: variantLabels(service.name, pod.pool),
              // A pod a scale-down removed drains its requests while it is being deleted.
              ...(pod.state === "draining" ? { deletionTimestamp: TERMINATING_SINCE } : {}),
            },
            spec: {
              nodeName: pod.node.name,
              containers: [{ resources: { requests: { [GPU_RESOURCE]: String(pod.gpus) } } }],
            },
            status: { phase: "Running" },
          },
        ]
      : [];
  });
  return {
    services: services.map((service) => ({
      apiVersion: API_VERSION,
      kind: "InferenceService",
      metadata: { name: service.name, namespace: service.namespace, generation: 1 },
      spec: service.spec,
    })),
    pools: pools.map((p) => ({
      apiVersion: API_VERSION,
      kind: "GPUNodePool",
      metadata: { name: p.name, generation: 1 },
      spec: p.spec,
    })),
    budgets: budgets.map((b) => ({
      apiVersion: API_VERSION,
      kind: "CapacityBudget",
      metadata: { name: b.name, generation: 1 },
      spec: b.namespaces
        ? {
            ...b.spec,
            scope: {
              namespaceSelector: {
                matchExpressions: [{ key: NAMESPACE_NAME, operator: "In", values: b.namespaces }],
              },
            },
          }
        : b.spec,
    })),
    deployments: services.flatMap((service) =>
      service.spec.accelerators.map((a) => ({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
          name: `${service.name}-${a.pool}`,
          namespace: service.namespace,
          labels: variantLabels(service.name, a.pool),
        },
        spec: { replicas: fleet.desired(a.pool) },
        status: { readyReplicas: fleet.readyCount(a.pool) },
      })),
    ),
    nodes,
    pods,
    namespaces: [...namespaces].map((name) => ({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, labels: { [NAMESPACE_NAME]: name } },
    })),
  };
}
