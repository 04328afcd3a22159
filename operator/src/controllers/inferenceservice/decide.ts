// Who owns the replica count, per mode (see docs/operator.md):
// - Auto: the decision engine (the latest Plan). Until a Plan covers the service, replicas hold.
// - Recommend: nobody scales: replicas hold where they are (minReplicas at creation); the Plan goes to status.
// - Manual: spec.replicas, set by a human or by `kubectl scale` through the scale subresource (an HPA may
//   target the InferenceService itself); minReplicas when unset. The Plan decides it like the others
//   (planning/decide.ts manualReplicas()), so bounds, pools and budgets apply; see controller.ts planDecider.
import { Reason } from "../../apis/conditions.ts";
import type { GPUNodePool } from "../../apis/gpunodepool.ts";
import type { InferenceService } from "../../apis/inferenceservice.ts";
import { manualReplicas } from "../../planning/decide.ts";
import type { BudgetPlan, ServicePlan } from "../../planning/types.ts";
import type { Decision, DeploymentView } from "./status.ts";

const clamp = (n: number, svc: InferenceService) =>
  Math.min(Math.max(n, svc.spec.scaling.minReplicas), svc.spec.scaling.maxReplicas);

/**
 * Spreads a total over the variants on known pools: replicas stay where they run (no churn), more go to
 * the first variant in spec order, fewer come off the last.
 */
export function distribute(
  svc: InferenceService,
  total: number,
  current: Map<string, number>,
  pools: Map<string, GPUNodePool>,
): Map<string, number> {
  const variants = svc.spec.accelerators.map((a) => a.pool).filter((p) => pools.has(p));
  const out = new Map(variants.map((p) => [p, current.get(p) ?? 0]));
  let have = [...out.values()].reduce((a, b) => a + b, 0);
  for (let i = variants.length - 1; i >= 0 && have > total; i--) {
    const p = variants[i]!;
    const cut = Math.min(out.get(p)!, have - total);
    out.set(p, out.get(p)! - cut);
    have -= cut;
  }
  if (have < total && variants[0] !== undefined) out.set(variants[0], out.get(variants[0])! + total - have);
  return out;
}

const currentByPool = (deployments: DeploymentView[]) => new Map(deployments.map((d) => [d.pool, d.wanted]));

export function manualDecision(
  svc: InferenceService,
  deployments: DeploymentView[],
  pools: Map<string, GPUNodePool>,
): Decision {
  const { value: total, reason, message } = manualReplicas(svc.spec);
  return { perVariant: distribute(svc, total, currentByPool(deployments), pools), total, reason, message };
}

/** Replicas stay as they are (minReplicas when nothing runs yet), within bounds. */
export function holdDecision(
  svc: InferenceService,
  deployments: DeploymentView[],
  pools: Map<string, GPUNodePool>,
  why: { reason: string; message: string },
): Decision {
  const current = deployments.filter((d) => pools.has(d.pool)).reduce((s, d) => s + d.wanted, 0);
  const total = clamp(deployments.length === 0 ? svc.spec.scaling.minReplicas : current, svc);
  return { perVariant: distribute(svc, total, currentByPool(deployments), pools), total, ...why };
}

/** The budgets of the Plan that hold this service back, named, with what each holds back. */
export function budgetLimit(key: string, budgets: readonly BudgetPlan[]): Decision["budgetLimited"] {
  const held = budgets.flatMap((b) =>
    b.heldBack.filter((h) => h.key === key).map((h) => ({ budget: b.name, ...h })),
  );
  if (held.length === 0) return undefined;
  return {
    budgets: [...new Set(held.map((h) => h.budget))],
    message: held
      .map((h) => `CapacityBudget ${h.budget} holds back ${h.replicas} replicas (${h.limit})`)
      .join("; "),
  };
}

/** The decision engine's plan for the service, as the controller applies it. */
export function planDecision(
  svc: InferenceService,
  plan: ServicePlan,
  deployments: DeploymentView[],
  pools: Map<string, GPUNodePool>,
  budgets: readonly BudgetPlan[] = [],
  /** The replicas each variant ran as the plan saw them (its snapshot): what it decided from. */
  seen?: readonly { pool: string; replicas: number }[],
): Decision {
  const budgetLimited = budgetLimit(plan.key, budgets);
  const recommended = {
    recommended: plan.recommended.value,
    metrics: plan.metricsAvailable,
    limitedBy: plan.limitedBy,
    recommendation: {
      replicas: plan.replicas.value,
      reason: plan.replicas.reason,
      message: plan.replicas.message,
    },
    ...(budgetLimited ? { budgetLimited } : {}),
  };
  if (!plan.apply || svc.spec.scaling.mode === "Recommend") {
    const held = holdDecision(svc, deployments, pools, {
      reason: Reason.Recommend,
      message: `mode Recommend: would run ${plan.replicas.value} (${plan.replicas.reason}: ${plan.replicas.message})`,
    });
    return { ...held, ...recommended };
  }
  // A plan lowers a variant only from what it saw. When the Deployment runs more than the plan saw (its
  // caches were behind: a watch restarting after an API server outage, an apply the plan had not seen yet),
  // a value the plan did not decide as a decrease is no reason to remove replicas: keep what runs until a
  // plan that sees it decides.
  const kept: string[] = [];
  const perVariant = new Map(
    plan.variants
      .filter((v) => pools.has(v.pool))
      .map((v) => {
        const live = deployments.find((d) => d.pool === v.pool)?.wanted;
        const before = seen?.find((x) => x.pool === v.pool)?.replicas;
        if (live !== undefined && before !== undefined && v.replicas < live && v.replicas >= before) {
          kept.push(`${v.pool} keeps ${live} (the plan saw ${before} and asked ${v.replicas})`);
          return [v.pool, live] as const;
        }
        return [v.pool, v.replicas] as const;
      }),
  );
  const total = [...perVariant.values()].reduce((a, b) => a + b, 0);
  const message = kept.length > 0 ? `${plan.replicas.message}; ${kept.join("; ")}` : plan.replicas.message;
  return { perVariant, total, reason: plan.replicas.reason, message, ...recommended };
}
