import pino from "pino";
import { describe, expect, it } from "vitest";
import { isTerminal } from "../../kube/errors.ts";
import type { EventSpec } from "../../kube/events.ts";
import { FakeKube } from "../../kube/fake.ts";
import { pathFor, R } from "../../kube/resources.ts";
import { createMetrics } from "../../metrics.ts";
import { plan } from "../../planning/plan.ts";
import { budget, prioritisedPair, snapshot, T0 } from "../../planning/testkit.ts";
import { makeBudgetReconciler } from "./reconcile.ts";

const log = pino({ level: "silent" });
const PATH = pathFor(R.capacityBudgets, { name: "shared" });
const SPEC = { limits: { powerWatts: 3500 } };

function setup(spec: unknown = SPEC) {
  const kube = new FakeKube({ now: () => T0 });
  kube.seed(PATH, {
    apiVersion: "inferops.dev/v1alpha1",
    kind: "CapacityBudget",
    metadata: { name: "shared" },
    spec,
  });
  const snap = snapshot(
    // Each running what it asks for: the budget takes from what runs (handover.ts).
    prioritisedPair(),
    { budgets: [budget("shared", SPEC)] },
  );
  const p = plan(snap, T0);
  const recorded: EventSpec[] = [];
  let planned: { plan: typeof p; snapshot: typeof snap; nowMs: number } | undefined = {
    plan: p,
    snapshot: snap,
    nowMs: T0,
  };
  // The informer's cache, read from the fake server as a watch would have delivered it.
  let cached: Awaited<ReturnType<FakeKube["get"]>> | undefined;
  const metrics = createMetrics();
  const { reconcile, forget } = makeBudgetReconciler({
    client: kube,
    budgets: { get: () => cached },
    events: {
      record: async (_r, e) => {
        recorded.push(e);
        return true;
      },
    },
    log,
    metrics,
    planned: () => planned,
    now: () => T0,
  });
  const sync = async () => {
    cached = await kube.get(PATH);
  };
  return {
    kube,
    recorded,
    metrics,
    forget,
    reconcile: async () => {
      await sync();
      return reconcile("shared");
    },
    unplan: () => {
      planned = undefined;
    },
  };
}

describe("CapacityBudget reconcile", () => {
  it("writes status once with an event for binding, then nothing while nothing changes", async () => {
    const t = setup();
    await t.reconcile();
    const statusWrites = () => t.kube.writes.filter((w) => w.path.endsWith("/status"));
    expect(statusWrites()).toHaveLength(1);
    const stored = (await t.kube.get<{ status: Record<string, unknown> }>(PATH)).status;
    expect(stored).toMatchObject({
      used: { powerWatts: 3500 },
      limits: { powerWatts: 3500 },
      heldBack: [{ namespace: "default", name: "low", replicas: 3, limit: "powerWatts" }],
    });
    expect(t.recorded.map((e) => e.reason)).toEqual(["BudgetBinding"]);
    await t.reconcile();
    expect(statusWrites()).toHaveLength(1);
    expect(t.recorded).toHaveLength(1);
  });

  it("exports used over limit, replicas held back, binding and violated per budget, and forgets a deleted budget", async () => {
    const t = setup();
    await t.reconcile();
    const text = await t.metrics.registry.metrics();
    expect(text).toContain('inferops_budget_used_ratio{budget="shared",limit="powerWatts"} 1');
    expect(text).toContain('inferops_budget_held_back_replicas{budget="shared"} 3');
    expect(text).toContain('inferops_budget_binding{budget="shared"} 1');
    expect(text).toContain('inferops_budget_violated{budget="shared"} 0');
    t.forget("shared");
    expect(await t.metrics.registry.metrics()).not.toContain('budget="shared"');
  });

  it("writes nothing before the first Plan", async () => {
    const t = setup();
    t.unplan();
    await t.reconcile();
    expect(t.kube.writes).toEqual([]);
  });

  it("reports a budget the operator cannot use, naming the field, and does not retry it", async () => {
    // The API server admits any string for timeZone (CEL cannot check IANA names); zod refuses it.
    const t = setup({ limits: { powerWatts: 3500 }, timeZone: "Mars/Olympus_Mons" });
    const err = await t.reconcile().catch((e: unknown) => e);
    expect(isTerminal(err)).toBe(true);
    const stored = (
      await t.kube.get<{ status: { conditions: { type: string; status: string; message: string }[] } }>(PATH)
    ).status;
    expect(stored.conditions.find((c) => c.type === "Valid")).toMatchObject({
      status: "False",
      message: expect.stringContaining("spec.timeZone: timeZone must be an IANA time zone"),
    });
    expect(t.recorded).toEqual([
      expect.objectContaining({
        type: "Warning",
        reason: "InvalidSpec",
        note: expect.stringContaining("spec.timeZone"),
      }),
    ]);
    // Again: status unchanged, no second write or event.
    await t.reconcile().catch(() => undefined);
    expect(t.kube.writes.filter((w) => w.path.endsWith("/status"))).toHaveLength(1);
    expect(t.recorded).toHaveLength(1);
  });

  it("fails, to be retried, when status cannot be written", async () => {
    const t = setup();
    const { ApiError } = await import("../../kube/errors.ts");
    t.kube.fault = (verb) =>
      verb === "PATCH"
        ? new ApiError("apply: unavailable", { code: "ServiceUnavailable", status: 503 })
        : undefined;
    await expect(t.reconcile()).rejects.toThrow(/writing status of CapacityBudget shared/);
    expect(t.recorded.map((e) => e.reason)).toEqual(["ApplyFailed"]);
  });
});
