// The CapacityBudget controller, declared: it reconciles CapacityBudgets after each Plan (the planner applies
// them when it allocates replicas; this controller reports them: status, conditions, events, metrics).
import type { ControllerSpec } from "../../kube/controller.ts";
import { CACHE } from "../caches.ts";
import type { Planner } from "../planner.ts";
import { makeBudgetReconciler } from "./reconcile.ts";

export const CAPACITY_BUDGET = "capacitybudget";

export function capacityBudgetController(planner: Pick<Planner, "plan" | "planned">): ControllerSpec {
  let forget: ((name: string) => void) | undefined;
  return {
    name: CAPACITY_BUDGET,
    for: CACHE.budgets,
    afterPlan: true,
    reconciler: ({ client, caches, events, log, metrics }) => {
      const r = makeBudgetReconciler({
        client,
        budgets: caches.informer(CACHE.budgets),
        events,
        log,
        metrics,
        planned: () => {
          const plan = planner.plan;
          const input = planner.planned;
          return plan && input ? { plan, ...input } : undefined;
        },
      });
      forget = r.forget;
      return r.reconcile;
    },
    // A deleted budget's metric series go with it.
    onDelete: (name) => forget?.(name),
  };
}
