// The controllers the operator runs: one entry each. The manager builds their caches, event handlers,
// queues, metrics and leader gate from these declarations (docs/development.md, "Adding a controller").
import type { ControllerSpec } from "../kube/controller.ts";
import { capacityBudgetController } from "./capacitybudget/controller.ts";
import { gpuNodePoolController } from "./gpunodepool/controller.ts";
import { inferenceServiceController } from "./inferenceservice/controller.ts";
import type { Planner } from "./planner.ts";

export function controllers(planner: Planner): ControllerSpec[] {
  return [
    inferenceServiceController(planner),
    capacityBudgetController(planner),
    gpuNodePoolController(planner),
  ];
}
