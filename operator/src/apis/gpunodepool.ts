// GPUNodePool: a set of identical GPU nodes, and how to add or remove them.
import { z } from "zod";
import {
  API_VERSION,
  clusterMeta,
  conditionsSchema,
  DNS_LABEL,
  labelMap,
  nonNegative,
  positive,
  seconds,
  taintSchema,
  text,
  withRules,
} from "./common.ts";

export const PROVIDERS = ["kwok", "clusterAPI", "karpenter", "static"] as const;
export type ProviderType = (typeof PROVIDERS)[number];

export const gpuSchema = z
  .strictObject({
    type: text(63)
      .min(1)
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "gpu.type must be lower-case letters, digits, '-' and '.'")
      .describe("GPU model, for example nvidia-h100-80gb; budgets cap GPUs by this name."),
    count: z.int().min(1).max(16).describe("GPUs per node (nvidia.com/gpu allocatable), 1 to 16."),
    memoryGiB: positive().max(1024).describe("Memory of one GPU in GiB."),
  })
  .describe("The GPUs each node carries.");

/** Exporters whose GPU power the operator reads through Prometheus. */
export const POWER_MEASUREMENTS = ["DCGM", "Kepler"] as const;
export type PowerMeasurement = (typeof POWER_MEASUREMENTS)[number];

export const measuredPowerSchema = withRules(
  z
    .strictObject({
      source: z
        .enum(POWER_MEASUREMENTS)
        .describe(
          "DCGM: NVIDIA DCGM exporter's DCGM_FI_DEV_POWER_USAGE, per node by its Hostname label. Kepler: Kepler's kepler_node_gpu_watts, per node by its node_name label.",
        ),
      query: text(4096)
        .min(1)
        .optional()
        .describe(
          "PromQL override: the watts of each node's GPUs, one series per node, labelled with the node's name in nodeLabel. Samples older than you allow must be filtered by the query itself.",
        ),
      nodeLabel: text(128)
        .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "power.measured.nodeLabel must be a Prometheus label name")
        .optional()
        .describe(
          "Label holding the node's name in the query's answer; default Hostname (DCGM), node_name (Kepler).",
        ),
      maxAgeSeconds: seconds(5, 3600)
        .optional()
        .describe(
          "The default query keeps samples at most this old (default 60); an older one is stale and the pool counts nominal watts.",
        ),
    })
    .describe(
      "Measure the pool's GPU power through the operator's Prometheus (--prometheus-url); budgets count it while it is fresh, nominal watts otherwise.",
    ),
  [
    {
      cel: "!has(self.query) || !has(self.maxAgeSeconds)",
      check: (m) => m.query === undefined || m.maxAgeSeconds === undefined,
      message:
        "power.measured.maxAgeSeconds applies to the default query only: an override query filters stale samples itself",
      field: ".maxAgeSeconds",
    },
  ],
);
export type MeasuredPower = z.output<typeof measuredPowerSchema>;

export const powerSchema = withRules(
  z
    .strictObject({
      busyWattsPerGPU: positive().max(5000).describe("Draw of one GPU while serving, watts."),
      idleWattsPerGPU: nonNegative().max(5000).describe("Draw of one idle GPU on a running node, watts."),
      measured: measuredPowerSchema.optional(),
    })
    .describe(
      "Per-GPU power, for power budgets and reports: nominal (these watts), or measured when power.measured is set.",
    ),
  [
    {
      cel: "self.idleWattsPerGPU <= self.busyWattsPerGPU",
      check: (p) => p.idleWattsPerGPU <= p.busyWattsPerGPU,
      message: "power.idleWattsPerGPU must not exceed power.busyWattsPerGPU",
      field: ".idleWattsPerGPU",
    },
  ],
);

const objectRef = (what: string) =>
  z.strictObject({
    namespace: text(63).min(1).describe(`Namespace of the ${what}.`),
    name: text(253).min(1).describe(`Name of the ${what}.`),
  });

export const providerSchema = withRules(
  z
    .strictObject({
      type: z
        .enum(PROVIDERS)
        .describe(
          "kwok: fake nodes for local clusters; clusterAPI: scales a MachineDeployment; karpenter: steers a Karpenter NodePool's limits; static: observe only.",
        ),
      clusterAPI: z
        .strictObject({
          machineDeployment: objectRef("Cluster API MachineDeployment").describe(
            "The MachineDeployment whose replicas are the pool's nodes.",
          ),
        })
        .optional()
        .describe("For type clusterAPI: the MachineDeployment whose scale subresource sets the node count."),
      karpenter: z
        .strictObject({ nodePool: text(253).min(1).describe("Name of the Karpenter NodePool.") })
        .optional()
        .describe("For type karpenter: the NodePool whose limits the operator sets."),
    })
    .describe("How nodes are added and removed."),
  [
    {
      cel: "self.type != 'clusterAPI' || has(self.clusterAPI)",
      check: (p) => p.type !== "clusterAPI" || p.clusterAPI !== undefined,
      message: "provider.type clusterAPI needs provider.clusterAPI.machineDeployment (namespace and name)",
      field: ".clusterAPI",
    },
    {
      cel: "self.type != 'karpenter' || has(self.karpenter)",
      check: (p) => p.type !== "karpenter" || p.karpenter !== undefined,
      message: "provider.type karpenter needs provider.karpenter.nodePool",
      field: ".karpenter",
    },
    {
      cel: "(self.type == 'clusterAPI' || !has(self.clusterAPI)) && (self.type == 'karpenter' || !has(self.karpenter))",
      check: (p) =>
        (p.type === "clusterAPI" || p.clusterAPI === undefined) &&
        (p.type === "karpenter" || p.karpenter === undefined),
      message: "set only the provider block that matches provider.type",
    },
  ],
);

export const gpuNodePoolSpecSchema = withRules(
  z
    .strictObject({
      gpu: gpuSchema,
      power: powerSchema,
      costPerNodeHour: nonNegative()
        .max(10000)
        .describe("Dollars per node-hour, billed from provisioning start."),
      minNodes: z.int().min(0).max(10000).default(0).describe("Fewest nodes the pool keeps."),
      maxNodes: z.int().min(1).max(10000).describe("Most nodes the pool may have."),
      nodeLabels: labelMap
        .optional()
        .describe(
          "Labels every node of the pool carries; replicas placed on the pool select them. Default: inferops.dev/pool=<name>.",
        ),
      nodeTaints: z
        .array(taintSchema)
        .max(16)
        .optional()
        .describe("Taints the pool's nodes carry; replicas placed on the pool tolerate them."),
      provisioningSeconds: seconds(0, 7200)
        .default(300)
        .describe(
          "Expected time from asking for a node to the node being Ready; scale-up plans this far ahead.",
        ),
      scaleDownDelaySeconds: seconds(0, 86400)
        .default(600)
        .describe(
          "How long the plan must not have wanted a node before it is chosen to be cordoned, drained and removed: the pool is held at the highest node count the plan asked for over this window.",
        ),
      provider: providerSchema,
      drainUnmanagedPods: z
        .boolean()
        .optional()
        .describe(
          "Whether scale-down may drain nodes that run pods inferops does not own (DaemonSets aside). Default false: such nodes are kept.",
        ),
    })
    .describe("Desired state of a GPUNodePool."),
  [
    {
      cel: "self.minNodes <= self.maxNodes",
      check: (s) => s.minNodes <= s.maxNodes,
      message: "minNodes must be less than or equal to maxNodes",
      field: ".minNodes",
    },
  ],
);
export type GPUNodePoolSpec = z.output<typeof gpuNodePoolSpecSchema>;

export const gpuNodePoolStatusSchema = z
  .strictObject({
    observedGeneration: z.int().min(0).optional().describe("metadata.generation this status reflects."),
    nodes: z.int().min(0).optional().describe("Nodes in the pool, including those provisioning."),
    registeredNodes: z.int().min(0).optional().describe("Nodes whose Node object exists (registered)."),
    readyNodes: z.int().min(0).optional().describe("Nodes Ready and schedulable."),
    drainingNodes: z
      .int()
      .min(0)
      .optional()
      .describe("Nodes cordoned and drained by the operator, to be removed."),
    desiredNodes: z.int().min(0).optional().describe("Nodes the latest plan wants."),
    allocatableGPUs: z.int().min(0).optional().describe("GPUs allocatable on Ready nodes."),
    usedGPUs: z.int().min(0).optional().describe("GPUs requested by pods running on the pool's nodes."),
    freeGPUs: z.int().min(0).optional().describe("GPUs allocatable on Ready nodes and not requested."),
    costPerHour: nonNegative()
      .optional()
      .describe("Dollars per hour of the pool's nodes, provisioning ones included."),
    powerWatts: nonNegative()
      .optional()
      .describe(
        "Draw of the pool's GPUs now, watts: measured (powerSource DCGM or Kepler), or nominal: busy watts per GPU in use, idle watts per other GPU.",
      ),
    powerSource: z
      .enum(["Nominal", ...POWER_MEASUREMENTS])
      .optional()
      .describe(
        "How powerWatts was counted: Nominal, or the exporter measured (spec.power.measured) while its samples are fresh.",
      ),
    conditions: conditionsSchema.optional(),
  })
  .describe("Observed state of a GPUNodePool.");
export type GPUNodePoolStatus = z.output<typeof gpuNodePoolStatusSchema>;

export const gpuNodePoolSchema = withRules(
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal("GPUNodePool"),
    metadata: clusterMeta,
    spec: gpuNodePoolSpecSchema,
    status: gpuNodePoolStatusSchema.optional(),
  }),
  [
    {
      cel: "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63",
      check: (s) => DNS_LABEL.test(s.metadata.name) && s.metadata.name.length <= 63,
      message:
        "metadata.name must be a DNS label (lower-case letters, digits and '-', at most 63 characters): it becomes a label value on nodes and pods",
      field: ".metadata.name",
    },
  ],
);
export type GPUNodePool = z.output<typeof gpuNodePoolSchema>;
