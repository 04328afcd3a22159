// Pure: a GPUNodePool's status from its nodes, the pods on them, the latest plan and the provider's health.
import type { Condition } from "../../apis/common.ts";
import { ConditionType, Reason } from "../../apis/conditions.ts";
import type { GPUNodePoolSpec, GPUNodePoolStatus } from "../../apis/gpunodepool.ts";
import type { PoolNode } from "../../nodepools/provider.ts";
import type { PoolPlan } from "../../planning/types.ts";
import { type PoolPower, steadyWatts } from "../../signals/power.ts";
import { type ConditionInput, mergeConditions } from "../conditions.ts";

/** The provider's health as the controller saw it last. */
export interface ProviderHealth {
  failing?: { reason: string; message: string };
  /** A node asked for that should have registered long ago. */
  stalled?: string;
  /** The provider said, recently, that a node asked for will not come. */
  capacity?: string;
}

export interface PoolStatusInput {
  spec: GPUNodePoolSpec;
  generation: number;
  previous?: GPUNodePoolStatus;
  nodes: readonly PoolNode[];
  /** GPUs requested by the pods running on the pool's nodes. */
  usedGPUs: number;
  /** The latest plan's nodes for the pool; undefined before the first plan. */
  plan?: PoolPlan;
  health: ProviderHealth;
  /** What the controller is doing or waiting for, in a sentence. */
  activity?: { scaling: "up" | "down"; message: string };
  /** The pool's measured power from the latest plan's Snapshot (spec.power.measured); undefined: nominal. */
  power?: PoolPower;
  nowIso: string;
}

export function computePoolStatus(input: PoolStatusInput): GPUNodePoolStatus {
  const { spec, nodes } = input;
  const live = nodes.filter((n) => n.state !== "deleting");
  const registered = live.filter((n) => n.state !== "registering");
  const ready = live.filter((n) => n.state === "ready");
  const draining = live.filter((n) => n.state === "draining");
  const allocatable = ready.reduce((s, n) => s + n.gpus, 0);
  const used = input.usedGPUs;
  // Every GPU of a running node draws at least idle power; those requested by pods draw busy power.
  const running = registered.reduce((s, n) => s + n.gpus, 0);
  const busy = Math.min(used, running);
  const nominalWatts = busy * spec.power.busyWattsPerGPU + (running - busy) * spec.power.idleWattsPerGPU;
  // Measured while fresh (signals/power.ts), else nominal: a stale measurement never reads as zero.
  // A reading made for another spec (measurement just turned off or switched exporter) does not count.
  const measured =
    input.power && input.power.source !== "Nominal" && input.power.source === spec.power.measured?.source
      ? input.power
      : undefined;
  const powerWatts =
    measured?.watts !== undefined
      ? steadyWatts(
          input.previous?.powerSource === measured.source ? input.previous.powerWatts : undefined,
          round(measured.watts, 1),
        )
      : nominalWatts;
  const desired = input.plan?.nodes.value;

  const conditions: ConditionInput[] = [];
  const failing = input.health.failing;
  conditions.push(
    failing
      ? { type: ConditionType.ProviderFailing, status: "True", ...failing }
      : input.health.capacity
        ? {
            type: ConditionType.ProviderFailing,
            status: "True",
            reason: Reason.CapacityUnavailable,
            message: input.health.capacity,
          }
        : input.health.stalled
          ? {
              type: ConditionType.ProviderFailing,
              status: "True",
              reason: Reason.ProvisioningStalled,
              message: input.health.stalled,
            }
          : {
              type: ConditionType.ProviderFailing,
              status: "False",
              reason: Reason.ProviderHealthy,
              message: `provider ${spec.provider.type} answers`,
            },
  );
  conditions.push(
    input.plan?.nodes.reason === Reason.PoolAtMaxNodes
      ? {
          type: ConditionType.AtMaxNodes,
          status: "True",
          reason: Reason.PoolAtMaxNodes,
          message: input.plan.nodes.message,
        }
      : {
          type: ConditionType.AtMaxNodes,
          status: "False",
          reason: Reason.WithinBounds,
          message: `the plan wants ${desired ?? "no"} node(s), maxNodes ${spec.maxNodes}`,
        },
  );
  conditions.push(
    input.activity
      ? {
          type: ConditionType.Scaling,
          status: "True",
          reason: input.activity.scaling === "up" ? Reason.ScalingUp : Reason.ScalingDown,
          message: input.activity.message,
        }
      : {
          type: ConditionType.Scaling,
          status: "False",
          reason: Reason.Stable,
          message: `${live.length} node(s), as the plan wants`,
        },
  );
  conditions.push(readyCondition(input, live.length, ready.length, desired));
  const powerCondition = powerMeasuredCondition(spec, input.power);
  if (powerCondition) conditions.push(powerCondition);

  const status: GPUNodePoolStatus = {
    observedGeneration: input.generation,
    nodes: live.length,
    registeredNodes: registered.length,
    readyNodes: ready.length,
    drainingNodes: draining.length,
    ...(desired !== undefined ? { desiredNodes: desired } : {}),
    allocatableGPUs: allocatable,
    usedGPUs: used,
    freeGPUs: Math.max(0, allocatable - used),
    costPerHour: round(live.length * spec.costPerNodeHour, 4),
    powerWatts: round(powerWatts, 1),
    powerSource: measured?.source ?? "Nominal",
    conditions: mergeConditions(
      // Without spec.power.measured there is no PowerMeasured condition (a removed one goes).
      input.previous?.conditions?.filter((c) => powerCondition || c.type !== ConditionType.PowerMeasured),
      conditions,
      input.generation,
      input.nowIso,
    ),
  };
  return status;
}

/** PowerMeasured, for a pool with spec.power.measured: True while the reading is fresh, else False (nominal). */
export function powerMeasuredCondition(
  spec: GPUNodePoolSpec,
  power: PoolPower | undefined,
): ConditionInput | undefined {
  const configured = spec.power.measured?.source;
  if (!configured) return undefined;
  if (power?.configured !== configured)
    return {
      type: ConditionType.PowerMeasured,
      status: "Unknown",
      reason: Reason.AwaitingPlan,
      message: `${configured} power is read at the next plan`,
    };
  return power.source === configured
    ? {
        type: ConditionType.PowerMeasured,
        status: "True",
        reason: Reason.PowerMeasured,
        message: power.message,
      }
    : {
        type: ConditionType.PowerMeasured,
        status: "False",
        reason: Reason.PowerMeasurementStale,
        message: power.message,
      };
}

function readyCondition(
  input: PoolStatusInput,
  live: number,
  ready: number,
  desired: number | undefined,
): ConditionInput {
  const failing = input.health.failing;
  if (failing)
    return {
      type: ConditionType.Ready,
      status: "False",
      reason: failing.reason,
      message: `provider ${input.spec.provider.type} fails: ${failing.message}`,
    };
  if (desired === undefined)
    return {
      type: ConditionType.Ready,
      status: "Unknown",
      reason: Reason.AwaitingPlan,
      message: `no plan for the pool yet; ${ready} of ${live} node(s) Ready`,
    };
  if (ready < Math.min(desired, live) || live < desired)
    return {
      type: ConditionType.Ready,
      status: "False",
      reason: Reason.NodesNotReady,
      message: `${ready} of the ${desired} node(s) the plan wants are Ready (${live} in the pool)`,
    };
  return {
    type: ConditionType.Ready,
    status: "True",
    reason: Reason.NodesReady,
    message: `${ready} node(s) Ready; the plan wants ${desired}`,
  };
}

/** The status of a pool the operator cannot use: Valid and Ready False, naming the field; nothing is scaled. */
export function invalidPoolStatus(
  previous: GPUNodePoolStatus | undefined,
  generation: number,
  message: string,
  nowIso: string,
): GPUNodePoolStatus {
  const conditions: ConditionInput[] = [
    { type: ConditionType.Valid, status: "False", reason: Reason.InvalidSpec, message },
    {
      type: ConditionType.Ready,
      status: "False",
      reason: Reason.InvalidSpec,
      message: `the spec cannot be used: no node is added or removed, and a drain under way is undone: ${message}`,
    },
  ];
  return {
    ...previous,
    observedGeneration: generation,
    conditions: mergeConditions(previous?.conditions, conditions, generation, nowIso),
  };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export const conditionOf = (status: GPUNodePoolStatus | undefined, type: string): Condition | undefined =>
  status?.conditions?.find((c) => c.type === type);
