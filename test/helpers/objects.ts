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

/** A GPUNodePool manifest of 8-GPU H100 nodes labelled and tainted as a real GPU pool; `spec` overrides. */
export function gpuNodePool(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "inferops.dev/v1alpha1" as const,
    kind: "GPUNodePool" as const,
    metadata: { name },
    spec: {
      gpu: { type: "nvidia-h100-80gb", count: 8, memoryGiB: 80 },
      power: { busyWattsPerGPU: 700, idleWattsPerGPU: 90 },
      costPerNodeHour: 98.32,
      maxNodes: 4,
      nodeLabels: { "inferops.dev/pool": name },
      nodeTaints: [{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }],
      provider: { type: "kwok" },
      ...spec,
    },
  };
}

/**
 * An InferenceService of Llama-3.1-8B on vLLM (the pod template as users write it); `spec` gives its GPU
 * variants and replaces any other default field.
 */
export function inferenceService(
  name: string,
  namespace: string,
  spec: { accelerators: Record<string, unknown>[] } & Record<string, unknown>,
) {
  return {
    apiVersion: "inferops.dev/v1alpha1" as const,
    kind: "InferenceService" as const,
    metadata: { name, namespace },
    spec: {
      model: { name: "meta-llama/Llama-3.1-8B-Instruct", server: "vllm" },
      template: {
        spec: {
          containers: [
            {
              name: "vllm",
              image: "vllm/vllm-openai:v0.11.0",
              ports: [{ name: "http", containerPort: 8000 }],
            },
          ],
        },
      },
      ...spec,
    },
  };
}
