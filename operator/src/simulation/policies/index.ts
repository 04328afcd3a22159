// Policies by description: plain data that crosses worker_threads (PolicySpec), built into a Policy where it
// runs. One file per policy, as the signals layer has one per adapter.
import type { Params, Policy } from "../policy.ts";
import type { Scenario } from "../scenario.ts";
import { type HpaParams, hpaPolicy } from "./hpa.ts";
import { inferopsPolicy } from "./inferops.ts";
import { type KedaParams, kedaPolicy } from "./keda.ts";
import { type KpaParams, kpaPolicy } from "./kpa.ts";
import { type ScheduleStep, schedulePolicy } from "./schedule.ts";
import { staticPolicy } from "./static.ts";

export type PolicySpec =
  | { family: "inferops"; allocator?: "optimiser" | "greedy" }
  | { family: "static"; replicas: number }
  | ({ family: "hpa" } & HpaParams)
  | ({ family: "keda" } & KedaParams)
  | ({ family: "kpa" } & KpaParams)
  | { family: "instant" | "clairvoyant"; steps: ScheduleStep[]; params: Params };

export function createPolicy(spec: PolicySpec, scenario: Scenario): Policy {
  switch (spec.family) {
    case "inferops":
      return inferopsPolicy(scenario, spec.allocator ? { allocator: spec.allocator } : {});
    case "static":
      return staticPolicy(spec.replicas);
    case "hpa":
      return hpaPolicy(spec);
    case "keda":
      return kedaPolicy(spec);
    case "kpa":
      return kpaPolicy(spec);
    case "instant":
    case "clairvoyant":
      return schedulePolicy(spec.family, spec.family, spec.params, spec.steps);
  }
}

export { defaultHpaBehavior, HPA_METRICS, HPA_SYNC_SECONDS, HPA_TOLERANCE, HpaController } from "./hpa.ts";
export { KEDA_DEFAULTS } from "./keda.ts";
export { KPA_DEFAULTS, KpaDecider } from "./kpa.ts";
export { replicasAt, type ScheduleStep } from "./schedule.ts";
