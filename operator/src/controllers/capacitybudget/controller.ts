// The CapacityBudget controller, declared: it reconciles CapacityBudgets after each Plan (the planner applies
// them when it allocates replicas; this controller reports them: status, conditions, events).
import type { ControllerSpec } from "../../kube/controller.ts";
import { CACHE } from "../caches.ts";
import type { Planner } from "../planner.ts";
import { makeBudgetReconciler } from "./reconcile.ts";

export const CAPACITY_BUDGET = "capacitybudget";

export function capacityBudgetController(planner: Pick<Planner, "plan" | "planned">): ControllerSpec {
  return {
    name: CAPACITY_BUDGET,
    for: CACHE.budgets,
    afterPlan: true,
    reconciler: ({ client, caches, events, log }) =>
      makeBudgetReconciler({
        client,
        budgets: caches.informer(CACHE.budgets),
        events,
        log,
        planned: () => {
          const plan = planner.plan;
          const input = planner.planned;
          return plan && input ? { plan, ...input } : undefined;
        },
      }),
  };
}
