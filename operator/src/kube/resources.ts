// REST paths of the resources the operator reads and writes.
import { GROUP, VERSION } from "../apis/common.ts";

export interface Resource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const r = (group: string, version: string, plural: string, kind: string, namespaced: boolean): Resource => ({
  group,
  version,
  plural,
  kind,
  namespaced,
});

export const R = {
  inferenceServices: r(GROUP, VERSION, "inferenceservices", "InferenceService", true),
  gpuNodePools: r(GROUP, VERSION, "gpunodepools", "GPUNodePool", false),
  capacityBudgets: r(GROUP, VERSION, "capacitybudgets", "CapacityBudget", false),
  deployments: r("apps", "v1", "deployments", "Deployment", true),
  services: r("", "v1", "services", "Service", true),
  pods: r("", "v1", "pods", "Pod", true),
  nodes: r("", "v1", "nodes", "Node", false),
  namespaces: r("", "v1", "namespaces", "Namespace", false),
  hpas: r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true),
  scaledObjects: r("keda.sh", "v1alpha1", "scaledobjects", "ScaledObject", true),
  leases: r("coordination.k8s.io", "v1", "leases", "Lease", true),
  events: r("events.k8s.io", "v1", "events", "Event", true),
  // Node providers' objects (nodepools/): Cluster API and Karpenter, read and steered, never created.
  machineDeployments: r("cluster.x-k8s.io", "v1beta1", "machinedeployments", "MachineDeployment", true),
  machines: r("cluster.x-k8s.io", "v1beta1", "machines", "Machine", true),
  karpenterNodePools: r("karpenter.sh", "v1", "nodepools", "NodePool", false),
  nodeClaims: r("karpenter.sh", "v1", "nodeclaims", "NodeClaim", false),
} as const;

export const apiVersionOf = (res: Resource) => (res.group ? `${res.group}/${res.version}` : res.version);

/** /apis/apps/v1/namespaces/ns/deployments/name/status; omit namespace to list across namespaces. */
export function pathFor(
  res: Resource,
  opts: { namespace?: string; name?: string; subresource?: string } = {},
): string {
  const base = res.group ? `/apis/${res.group}/${res.version}` : `/api/${res.version}`;
  const ns = res.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : "";
  const name = opts.name ? `/${encodeURIComponent(opts.name)}` : "";
  const sub = opts.name && opts.subresource ? `/${opts.subresource}` : "";
  return `${base}${ns}/${res.plural}${name}${sub}`;
}

const PLURALS: ReadonlySet<string> = new Set(Object.values(R).map((r) => r.plural));

/** The resource (plural, with subresource) a request path addresses: deployments, inferenceservices/status. */
export function resourceOfPath(path: string): string {
  const parts = path.split("?")[0]!.split("/").filter(Boolean);
  // /api/v1/... or /apis/group/version/...; then optional namespaces/<ns>; then plural[/name[/sub]]
  let i = parts[0] === "api" ? 2 : 3;
  // namespaces/<ns>/<plural>... or a Namespace's own subresource (namespaces/<name>/status): the word after
  // the name tells them apart, so a name never becomes a metric label.
  if (parts[i] === "namespaces" && parts.length > i + 2 && PLURALS.has(parts[i + 2]!)) i += 2;
  const plural = parts[i] ?? "unknown";
  const sub = parts[i + 2];
  return sub ? `${plural}/${sub}` : plural;
}
