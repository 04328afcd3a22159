// Pure: a CapacityBudget's status from the latest Plan and the Snapshot it was made from. The limits in
// force, what the planned replicas in scope use against them, the services it counts and holds back, and
// the conditions Binding, Violated, Valid and Ready (derived).
import type { CapacityBudget, CapacityBudgetStatus } from "../../apis/capacitybudget.ts";
import { ConditionType, Reason } from "../../apis/conditions.ts";
import { inScope, limitsInForce } from "../../planning/budgets.ts";
import type { BudgetPlan, ServicePlan, Snapshot } from "../../planning/types.ts";
import { steadyWatts } from "../../signals/power.ts";
import { type ConditionInput, mergeConditions } from "../conditions.ts";

export interface BudgetStatusInput {
  budget: CapacityBudget;
  /** The budget's part of the latest Plan. */
  plan: BudgetPlan;
  /** Every service's part of the same Plan, by key. */
  services: ReadonlyMap<string, ServicePlan>;
  /** The Snapshot the Plan was made from, and its time. */
  snapshot: Snapshot;
  nowMs: number;
  nowIso: string;
}

/** Two decimals: enough for status, and stable against float noise (no needless writes). */
const round = (x: number) => Math.round(x * 100) / 100;

const byName = (a: { type: string }, b: { type: string }) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0);

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Services in the budget's scope and the replicas the budget counts for each, highest priority first. */
export function countedServices(
  input: Pick<BudgetStatusInput, "budget" | "services" | "snapshot">,
): NonNullable<CapacityBudgetStatus["services"]> {
  const scope = input.snapshot.budgets.find((b) => b.name === input.budget.metadata.name);
  if (!scope) return [];
  return input.snapshot.services
    .filter((s) => inScope(scope, s.namespace))
    .map((s) => {
      const mode = s.spec.scaling.mode;
      // Nobody scales a service in mode Recommend: the budget counts what it runs. The others count what
      // the Plan gives them (Manual's spec.replicas included, after bounds and budgets).
      const replicas =
        mode === "Recommend"
          ? s.variants.reduce((n, v) => n + v.replicas, 0)
          : (input.services.get(s.key)?.variants.reduce((n, v) => n + v.replicas, 0) ?? 0);
      return { namespace: s.namespace, name: s.name, mode, priority: s.spec.priority, replicas };
    })
    .sort(
      (a, b) =>
        b.priority - a.priority ||
        (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
}

/**
 * How the budget's watts were counted: the sources of the pools its counted replicas run on (a pool counts
 * measured watts while its reading is fresh and GPUs are in use, nominal otherwise), and, when one of those
 * pools asks for measured power, the PowerMeasured condition naming the pools that fell back to nominal.
 */
export function budgetPower(input: Pick<BudgetStatusInput, "budget" | "services" | "snapshot">): {
  source: NonNullable<CapacityBudgetStatus["powerSource"]>;
  condition?: ConditionInput;
} {
  const { snapshot } = input;
  const scope = snapshot.budgets.find((b) => b.name === input.budget.metadata.name);
  const used = new Set<string>();
  for (const s of snapshot.services) {
    if (!scope || !inScope(scope, s.namespace)) continue;
    const variants =
      s.spec.scaling.mode === "Recommend" ? s.variants : (input.services.get(s.key)?.variants ?? []);
    for (const v of variants) if (v.replicas > 0) used.add(v.pool);
  }
  const sources = new Set<NonNullable<CapacityBudgetStatus["powerSource"]>>();
  const fresh: string[] = [];
  const stale: string[] = [];
  for (const p of snapshot.pools.filter((p) => used.has(p.name))) {
    sources.add(p.power?.wattsPerGPU !== undefined ? p.power.source : "Nominal");
    if (!p.spec.power.measured) continue;
    const line = `${p.name}: ${p.power?.message ?? "not read yet; the pool counts nominal watts"}`;
    if (p.power && p.power.source !== "Nominal") fresh.push(line);
    else stale.push(line);
  }
  const source = sources.size === 1 ? [...sources][0]! : sources.size > 1 ? "Mixed" : "Nominal";
  if (fresh.length + stale.length === 0) return { source };
  return {
    source,
    condition:
      stale.length > 0
        ? {
            type: ConditionType.PowerMeasured,
            status: "False",
            reason: Reason.PowerMeasurementStale,
            message: stale.join("; "),
          }
        : {
            type: ConditionType.PowerMeasured,
            status: "True",
            reason: Reason.PowerMeasured,
            message: fresh.join("; "),
          },
  };
}

export function computeBudgetStatus(input: BudgetStatusInput): CapacityBudgetStatus {
  const { budget, plan, nowMs, nowIso } = input;
  const { limits, window } = limitsInForce(budget.spec, nowMs);
  const services = countedServices(input);
  const heldBack = plan.heldBack
    .map((h) => ({ ...splitKey(h.key), replicas: h.replicas, limit: h.limit }))
    .sort(
      (a, b) =>
        (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
        (a.limit < b.limit ? -1 : a.limit > b.limit ? 1 : 0),
    );
  const inWindow = window !== undefined ? ` (window ${window} in force)` : "";

  const conditions: ConditionInput[] = [
    { type: ConditionType.Valid, status: "True", reason: Reason.SpecValid, message: "" },
  ];
  const held = heldBack.reduce((n, h) => n + h.replicas, 0);
  conditions.push(
    heldBack.length > 0
      ? {
          type: ConditionType.Binding,
          status: "True",
          reason: Reason.BudgetBinding,
          message: `holds back ${held} replicas${inWindow}: ${heldBack
            .map((h) => `${h.namespace}/${h.name} ${h.replicas} (${h.limit})`)
            .join(", ")}`,
        }
      : {
          type: ConditionType.Binding,
          status: "False",
          reason: Reason.WithinBudget,
          message: `every service in scope gets what it asks for${inWindow}`,
        },
  );
  const unscaled = services.some((s) => s.mode === "Recommend" && s.replicas > 0);
  const violatedReason = unscaled ? Reason.UnscaledCapacityExceedsBudget : Reason.MinimumsExceedBudget;
  conditions.push(
    plan.violated
      ? {
          type: ConditionType.Violated,
          status: "True",
          reason: violatedReason,
          message: `${plan.violated}${inWindow}; lower minReplicas, scale services in mode Recommend, or raise the limit`,
        }
      : { type: ConditionType.Violated, status: "False", reason: Reason.WithinBudget, message: "" },
  );
  conditions.push(
    plan.violated
      ? {
          type: ConditionType.Ready,
          status: "False",
          reason: violatedReason,
          message: "what no one may cut exceeds a limit in force",
        }
      : {
          type: ConditionType.Ready,
          status: "True",
          reason: heldBack.length > 0 ? Reason.BudgetBinding : Reason.WithinBudget,
          message: "the plan holds every limit in force",
        },
  );

  const power = budgetPower(input);
  if (power.condition) conditions.push(power.condition);

  const generation = budget.metadata.generation ?? 0;
  const status: CapacityBudgetStatus = {
    observedGeneration: generation,
    limits: {
      ...(limits.costPerHour !== undefined ? { costPerHour: limits.costPerHour } : {}),
      ...(limits.powerWatts !== undefined ? { powerWatts: limits.powerWatts } : {}),
      ...(limits.gpus ? { gpus: [...limits.gpus].sort(byName) } : {}),
    },
    used: {
      costPerHour: round(plan.used.costPerHour),
      // Measured watts waver: a change within 2% keeps the figure status has (signals/power.ts), while the
      // GPUs counted are the same (a replica more or less is a change, however large the budget).
      powerWatts:
        power.source !== "Nominal" &&
        budget.status?.powerSource === power.source &&
        sameGPUs(budget.status.used?.gpus, plan.used.gpus)
          ? steadyWatts(budget.status.used?.powerWatts, round(plan.used.powerWatts))
          : round(plan.used.powerWatts),
      gpus: Object.entries(plan.used.gpus)
        .map(([type, count]) => ({ type, count }))
        .sort(byName),
    },
    powerSource: power.source,
    services,
    heldBack,
    conditions: mergeConditions(
      // No pool it counts asks for measured power: no PowerMeasured condition (a former one goes).
      budget.status?.conditions?.filter((c) => power.condition || c.type !== ConditionType.PowerMeasured),
      conditions,
      generation,
      nowIso,
    ),
  };
  if (window !== undefined) status.activeWindow = window;
  return status;
}

/** The status of a budget the operator cannot use: Valid and Ready False, naming the field. */
export function invalidBudgetStatus(
  previous: CapacityBudgetStatus | undefined,
  generation: number,
  message: string,
  nowIso: string,
): CapacityBudgetStatus {
  const conditions = mergeConditions(
    previous?.conditions,
    [
      { type: ConditionType.Valid, status: "False", reason: Reason.InvalidSpec, message },
      {
        type: ConditionType.Ready,
        status: "False",
        reason: Reason.InvalidSpec,
        message: "the operator cannot use this budget: the planner ignores it",
      },
    ],
    generation,
    nowIso,
  );
  return { observedGeneration: generation, conditions };
}

/** The budget's metric samples: used over limit per limit in force, replicas held back, binding, violated. */
export function budgetGauges(status: CapacityBudgetStatus): {
  usedRatio: { limit: string; value: number }[];
  heldBack: number;
  binding: number;
  violated: number;
} {
  const { limits, used } = status;
  const ratio = (u: number | undefined, l: number) => (l > 0 ? (u ?? 0) / l : (u ?? 0) > 0 ? Infinity : 0);
  const usedRatio: { limit: string; value: number }[] = [];
  if (limits?.costPerHour !== undefined)
    usedRatio.push({ limit: "costPerHour", value: ratio(used?.costPerHour, limits.costPerHour) });
  if (limits?.powerWatts !== undefined)
    usedRatio.push({ limit: "powerWatts", value: ratio(used?.powerWatts, limits.powerWatts) });
  for (const g of limits?.gpus ?? [])
    usedRatio.push({
      limit: `gpus/${g.type}`,
      value: ratio(used?.gpus?.find((u) => u.type === g.type)?.count, g.max),
    });
  const isTrue = (type: string) => status.conditions?.find((c) => c.type === type)?.status === "True";
  return {
    usedRatio,
    heldBack: (status.heldBack ?? []).reduce((n, h) => n + h.replicas, 0),
    binding: isTrue(ConditionType.Binding) ? 1 : 0,
    violated: isTrue(ConditionType.Violated) ? 1 : 0,
  };
}

/** Whether status' GPUs per type are the plan's. */
function sameGPUs(
  status: readonly { type: string; count: number }[] | undefined,
  plan: Readonly<Record<string, number>>,
): boolean {
  const had = new Map((status ?? []).map((g) => [g.type, g.count]));
  const now = Object.entries(plan).filter(([, n]) => n > 0);
  return had.size === now.length && now.every(([type, n]) => had.get(type) === n);
}
