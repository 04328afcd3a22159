// The three kinds, with what a CRD needs beyond the schema: names, scope, subresources, printer columns.
import type { z } from "zod";
import { type CapacityBudget, capacityBudgetSchema } from "./capacitybudget.ts";
import { GROUP, VERSION } from "./common.ts";
import { type GPUNodePool, gpuNodePoolSchema } from "./gpunodepool.ts";
import { type InferenceService, inferenceServiceSchema } from "./inferenceservice.ts";

export interface PrinterColumn {
  name: string;
  type: "integer" | "number" | "string" | "boolean" | "date";
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: "Namespaced" | "Cluster";
  description: string;
  schema: z.ZodType;
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
  printerColumns: PrinterColumn[];
}

const age: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since creation.",
};

export const inferenceServiceKind: KindInfo = {
  kind: "InferenceService",
  plural: "inferenceservices",
  singular: "inferenceservice",
  shortNames: ["infsvc"],
  scope: "Namespaced",
  description:
    "InferenceService runs one model on one server runtime and keeps it at the right number of replicas, on the right GPU variant, from the server's queue depth and token throughput.",
  schema: inferenceServiceSchema,
  scale: {
    specReplicasPath: ".spec.replicas",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  },
  printerColumns: [
    { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas", description: "Ready replicas." },
    {
      name: "Desired",
      type: "integer",
      jsonPath: ".status.desiredReplicas",
      description: "Replicas wanted.",
    },
    {
      name: "Queue",
      type: "number",
      jsonPath: ".status.signals.queueDepth",
      description: "Waiting requests.",
    },
    {
      name: "Tok/s",
      type: "number",
      jsonPath: ".status.signals.tokensPerSecond",
      description: "Tokens per second served.",
    },
    { name: "$/h", type: "number", jsonPath: ".status.costPerHour", description: "Dollars per hour." },
    {
      name: "Status",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: "Ready condition.",
    },
    {
      name: "Reason",
      type: "string",
      jsonPath: ".status.lastDecision.reason",
      description: "Why the last decision.",
      priority: 1,
    },
    {
      name: "Mode",
      type: "string",
      jsonPath: ".spec.scaling.mode",
      description: "Scaling mode.",
      priority: 1,
    },
    {
      name: "Recommended",
      type: "integer",
      jsonPath: ".status.recommendation.replicas",
      description: "Mode Recommend: replicas the decision engine would run.",
      priority: 1,
    },
    { name: "W", type: "number", jsonPath: ".status.powerWatts", description: "Watts.", priority: 1 },
    age,
  ],
};

export const gpuNodePoolKind: KindInfo = {
  kind: "GPUNodePool",
  plural: "gpunodepools",
  singular: "gpunodepool",
  shortNames: ["gpupool"],
  scope: "Cluster",
  description:
    "GPUNodePool is a set of identical GPU nodes: their GPUs, cost and power, bounds, and the provider that adds and removes them.",
  schema: gpuNodePoolSchema,
  printerColumns: [
    { name: "GPU", type: "string", jsonPath: ".spec.gpu.type", description: "GPU type." },
    { name: "Provider", type: "string", jsonPath: ".spec.provider.type", description: "Node provider." },
    {
      name: "Nodes",
      type: "integer",
      jsonPath: ".status.nodes",
      description: "Nodes, provisioning included.",
    },
    { name: "Ready", type: "integer", jsonPath: ".status.readyNodes", description: "Ready nodes." },
    {
      name: "Desired",
      type: "integer",
      jsonPath: ".status.desiredNodes",
      description: "Nodes the latest plan wants.",
    },
    {
      name: "Draining",
      type: "integer",
      jsonPath: ".status.drainingNodes",
      description: "Nodes being drained to be removed.",
      priority: 1,
    },
    {
      name: "GPUs-Used",
      type: "integer",
      jsonPath: ".status.usedGPUs",
      description: "GPUs requested by pods.",
    },
    {
      name: "GPUs-Alloc",
      type: "integer",
      jsonPath: ".status.allocatableGPUs",
      description: "GPUs allocatable on Ready nodes.",
    },
    { name: "$/h", type: "number", jsonPath: ".status.costPerHour", description: "Dollars per hour." },
    { name: "W", type: "number", jsonPath: ".status.powerWatts", description: "Watts now.", priority: 1 },
    {
      name: "Power-Source",
      type: "string",
      jsonPath: ".status.powerSource",
      description: "How the watts were counted: Nominal, DCGM or Kepler.",
      priority: 1,
    },
    {
      name: "Provider-Failing",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="ProviderFailing")].status',
      description: "The provider fails or stalls.",
      priority: 1,
    },
    age,
  ],
};

export const capacityBudgetKind: KindInfo = {
  kind: "CapacityBudget",
  plural: "capacitybudgets",
  singular: "capacitybudget",
  shortNames: ["capbudget"],
  scope: "Cluster",
  description:
    "CapacityBudget caps what the replicas of the services in a set of namespaces request: dollars per hour (their GPUs' share of node cost), watts and GPUs per type, optionally tighter in time windows; services share it by priority. GPUs no replica requests (nodes kept idle, GPUs left over by packing) are not counted.",
  schema: capacityBudgetSchema,
  printerColumns: [
    {
      name: "$/h-Used",
      type: "number",
      jsonPath: ".status.used.costPerHour",
      description: "Dollars per hour used.",
    },
    {
      name: "$/h-Limit",
      type: "number",
      jsonPath: ".status.limits.costPerHour",
      description: "Dollars per hour limit.",
    },
    { name: "W-Used", type: "number", jsonPath: ".status.used.powerWatts", description: "Watts used." },
    { name: "W-Limit", type: "number", jsonPath: ".status.limits.powerWatts", description: "Watts limit." },
    { name: "Window", type: "string", jsonPath: ".status.activeWindow", description: "Window in force." },
    {
      name: "Binding",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="Binding")].status',
      description: "The budget holds services back.",
    },
    {
      name: "Violated",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="Violated")].status',
      description: "What nobody may cut exceeds a limit.",
    },
    {
      name: "Power-Source",
      type: "string",
      jsonPath: ".status.powerSource",
      description: "How the watts used were counted: Nominal, DCGM, Kepler or Mixed.",
      priority: 1,
    },
    age,
  ],
};

export const KINDS: readonly KindInfo[] = [inferenceServiceKind, gpuNodePoolKind, capacityBudgetKind];

export type AnyResource = InferenceService | GPUNodePool | CapacityBudget;

export { GROUP, VERSION };
