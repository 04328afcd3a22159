// Objects tests create, built the way users and the pool providers build them.

/** A kwok-managed GPU node: kwok makes it Ready and runs the pods scheduled on it. */
export function gpuNode(name: string, pool: string, gpus: number) {
  const capacity = { cpu: "64", memory: "512Gi", pods: "110", "nvidia.com/gpu": String(gpus) };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { "kwok.x-k8s.io/node": "fake" },
      labels: { type: "kwok", "inferops.dev/pool": pool, "kubernetes.io/hostname": name },
    },
    spec: { taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }] },
    status: { capacity, allocatable: capacity },
  };
}
