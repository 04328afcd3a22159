// The CapacityBudget reconcile: read the budget from the cache and the latest Plan, write status once and
// only when it changed, and record the transitions as events. The planner applies budgets; this reports them.
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import {
  type CapacityBudget,
  type CapacityBudgetStatus,
  capacityBudgetSchema,
} from "../../apis/capacitybudget.ts";
import { formatErrors, parseSpec, toFieldErrors } from "../../apis/validate.ts";
import type { KubeClient, KubeObject } from "../../kube/client.ts";
import { TerminalError } from "../../kube/errors.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { ReconcileResult } from "../../kube/queue.ts";
import { R } from "../../kube/resources.ts";
import { applyStatus, StatusWrites, statusContested } from "../../kube/status.ts";
import type { Metrics } from "../../metrics.ts";
import type { Plan, Snapshot } from "../../planning/types.ts";
import * as events from "./events.ts";
import { budgetGauges, computeBudgetStatus, invalidBudgetStatus } from "./status.ts";

export interface BudgetReconcilerDeps {
  client: Pick<KubeClient, "apply">;
  /** The budgets' informer cache. */
  budgets: { get(name: string): KubeObject | undefined };
  events: Pick<EventRecorder, "record">;
  log: Logger;
  /** The latest Plan, with the Snapshot and time it was made from; undefined before the first. */
  planned: () => { plan: Plan; snapshot: Snapshot; nowMs: number } | undefined;
  metrics?: Pick<Metrics, "budgetUsedRatio" | "budgetHeldBackReplicas" | "budgetBinding" | "budgetViolated">;
  now?: () => number;
}

/** JSON round-trip, so undefined fields and key order do not count as changes. */
const normalise = (o: unknown) => JSON.parse(JSON.stringify(o ?? {}));

export function makeBudgetReconciler(deps: BudgetReconcilerDeps) {
  const now = deps.now ?? Date.now;
  /** The limit labels each budget's ratio series has, so a limit no longer in force loses its series. */
  const series = new Map<string, string[]>();
  const statusWrites = new StatusWrites();
  const forget = (name: string) => {
    statusWrites.forget(R.capacityBudgets, undefined, name);
    for (const limit of series.get(name) ?? []) deps.metrics?.budgetUsedRatio.remove({ budget: name, limit });
    deps.metrics?.budgetHeldBackReplicas.remove({ budget: name });
    deps.metrics?.budgetBinding.remove({ budget: name });
    deps.metrics?.budgetViolated.remove({ budget: name });
    series.delete(name);
  };
  const record = (name: string, status: CapacityBudgetStatus) => {
    if (!deps.metrics) return;
    const g = budgetGauges(status);
    const limits = g.usedRatio.map((r) => r.limit);
    for (const limit of series.get(name) ?? [])
      if (!limits.includes(limit)) deps.metrics.budgetUsedRatio.remove({ budget: name, limit });
    for (const r of g.usedRatio) deps.metrics.budgetUsedRatio.set({ budget: name, limit: r.limit }, r.value);
    deps.metrics.budgetHeldBackReplicas.set({ budget: name }, g.heldBack);
    deps.metrics.budgetBinding.set({ budget: name }, g.binding);
    deps.metrics.budgetViolated.set({ budget: name }, g.violated);
    series.set(name, limits);
  };
  const reconcile = async function reconcile(name: string): Promise<ReconcileResult | undefined> {
    const raw = deps.budgets.get(name);
    if (!raw || raw.metadata?.deletionTimestamp) {
      forget(name);
      return undefined;
    }
    const previous = raw.status as CapacityBudgetStatus | undefined;
    const nowIso = new Date(now()).toISOString();

    const parsed = parseSpec(capacityBudgetSchema, raw);
    if (!parsed.success) {
      // The API server admitted it (a time zone its CEL cannot check, an older CRD...), but the planner
      // cannot use it: say so, naming the field, instead of dropping it silently.
      const message = formatErrors(toFieldErrors(parsed.error));
      forget(name);
      const status = invalidBudgetStatus(previous, raw.metadata?.generation ?? 0, message, nowIso);
      if (!isDeepStrictEqual(normalise(status), normalise(previous))) {
        await applyStatus(deps.client, R.capacityBudgets, raw, status);
        await deps.events.record(events.regarding(raw), events.invalid(name, message));
      }
      throw new TerminalError(`CapacityBudget ${name} does not validate: ${message}`);
    }
    const budget: CapacityBudget = { ...parsed.data, status: previous };
    const planned = deps.planned();
    const part = planned?.plan.budgets.find((b) => b.name === name);
    // Created after the latest Plan: the next one (every interval) covers it and wakes this reconcile.
    if (!planned || !part) return undefined;

    const status = computeBudgetStatus({
      budget,
      plan: part,
      services: new Map(planned.plan.services.map((s) => [s.key, s])),
      snapshot: planned.snapshot,
      nowMs: planned.nowMs,
      nowIso,
    });
    record(name, status);
    if (isDeepStrictEqual(normalise(status), normalise(previous))) return undefined;
    const log = deps.log.child({ name });
    let write: Awaited<ReturnType<StatusWrites["write"]>>;
    try {
      write = await statusWrites.write(deps.client, R.capacityBudgets, raw, status, now());
    } catch (err) {
      await deps.events.record(events.regarding(raw), events.applyFailed(err));
      throw err;
    }
    if (write.contestStarted) {
      log.warn("another writer keeps rewriting this status; not writing it for a while");
      await deps.events.record(events.regarding(raw), statusContested("CapacityBudget"));
    }
    if (!write.written) return undefined;
    for (const e of events.transitions(previous, status)) {
      log.info({ reason: e.reason }, e.note);
      await deps.events.record(events.regarding(raw), e);
    }
    return undefined;
  };
  return { reconcile, forget };
}
