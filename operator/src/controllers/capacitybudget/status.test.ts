import { describe, expect, it } from "vitest";
import { type CapacityBudget, capacityBudgetSchema } from "../../apis/capacitybudget.ts";
import { plan } from "../../planning/plan.ts";
import { budget, load, prioritisedPair, service, serviceSpec, snapshot, T0 } from "../../planning/testkit.ts";
import type { Snapshot } from "../../planning/types.ts";
import { transitions } from "./events.ts";
import { budgetGauges, computeBudgetStatus, invalidBudgetStatus } from "./status.ts";

const NOW_ISO = "2026-01-01T00:00:00Z";

function budgetObject(spec: unknown): CapacityBudget {
  return capacityBudgetSchema.parse({
    apiVersion: "inferops.dev/v1alpha1",
    kind: "CapacityBudget",
    metadata: { name: "shared", generation: 3 },
    spec,
  });
}

/**
 * Two Manual services on one-GPU H100 replicas (700 W each), each running 4 and asking for 4: a budget
 * that binds takes from what runs (growth into a limit waits for cut replicas to drain: handover.ts).
 */
function fleet(spec: unknown, nowMs = T0, extra: Snapshot["services"] = []) {
  const obj = budgetObject(spec);
  const snap = snapshot([...prioritisedPair(), ...extra], { budgets: [budget("shared", spec as never)] });
  const p = plan(snap, nowMs);
  const input = {
    budget: obj,
    plan: p.budgets[0]!,
    services: new Map(p.services.map((s) => [s.key, s])),
    snapshot: snap,
    nowMs,
    nowIso: NOW_ISO,
  };
  return { p, status: computeBudgetStatus(input), input };
}
const cond = (s: { conditions?: { type: string; message?: string }[] }, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe("computeBudgetStatus", () => {
  it("reports used against the limits in force, the replicas counted, and not binding when all fit", () => {
    const { status } = fleet({ limits: { powerWatts: 7000, gpus: [{ type: "nvidia-h100", max: 10 }] } });
    expect(status).toMatchObject({
      observedGeneration: 3,
      limits: { powerWatts: 7000, gpus: [{ type: "nvidia-h100", max: 10 }] },
      used: { costPerHour: 80, powerWatts: 5600, gpus: [{ type: "nvidia-h100", count: 8 }] },
      powerSource: "Nominal",
      heldBack: [],
      services: [
        { namespace: "default", name: "high", mode: "Manual", priority: 900, replicas: 4 },
        { namespace: "default", name: "low", mode: "Manual", priority: 100, replicas: 4 },
      ],
    });
    expect(status.activeWindow).toBeUndefined();
    expect(cond(status, "Binding")).toMatchObject({ status: "False", reason: "WithinBudget" });
    expect(cond(status, "Violated")).toMatchObject({ status: "False" });
    expect(cond(status, "Ready")).toMatchObject({ status: "True", reason: "WithinBudget" });
  });

  it("binds: the low priority loses replicas (Manual replicas count and are cut), the high one keeps its own", () => {
    const { p, status } = fleet({ limits: { powerWatts: 3500 } }); // 5 replicas of 700 W
    const replicas = (key: string) => p.services.find((s) => s.key === key)!.replicas.value;
    expect(replicas("default/high")).toBe(4);
    expect(replicas("default/low")).toBe(1);
    expect(status.used?.powerWatts).toBe(3500);
    expect(status.heldBack).toEqual([
      { namespace: "default", name: "low", replicas: 3, limit: "powerWatts" },
    ]);
    expect(cond(status, "Binding")).toMatchObject({
      status: "True",
      reason: "BudgetBinding",
      message: "holds back 3 replicas: default/low 3 (powerWatts)",
    });
    expect(cond(status, "Ready")).toMatchObject({ status: "True", reason: "BudgetBinding" });
  });

  it("a window in force tightens the limits, names itself, and shrinks the lowest priority first", () => {
    const spec = {
      limits: { powerWatts: 7000 },
      windows: [{ name: "peak", start: "11:00", end: "13:00", limits: { powerWatts: 2100 } }],
    };
    const before = fleet(spec, T0 - 2 * 3600_000); // 10:00 UTC: base limits
    const during = fleet(spec, T0); // 12:00 UTC: the window
    expect(before.status.activeWindow).toBeUndefined();
    expect(before.status.heldBack).toEqual([]);
    expect(during.status).toMatchObject({ activeWindow: "peak", limits: { powerWatts: 2100 } });
    const replicas = (p: typeof during.p, key: string) =>
      p.services.find((s) => s.key === key)!.replicas.value;
    expect(replicas(during.p, "default/high")).toBe(2); // low is at its minimum (1), then high is cut
    expect(replicas(during.p, "default/low")).toBe(1);
    expect(cond(during.status, "Binding")?.message).toContain("(window peak in force)");
    const notes = transitions(before.status, during.status);
    expect(notes.map((e) => e.reason)).toEqual(["BudgetWindowStarted", "BudgetBinding"]);
    expect(notes[0]!.note).toBe("window peak in force: powerWatts 2100");
    expect(transitions(during.status, before.status).map((e) => e.reason)).toEqual([
      "BudgetWindowEnded",
      "WithinBudget",
    ]);
    expect(transitions(during.status, during.status)).toEqual([]);
  });

  it("is Violated when minimums alone exceed a limit, and says when capacity nobody scales is counted", () => {
    const minimums = fleet({ limits: { powerWatts: 700 } });
    expect(cond(minimums.status, "Violated")).toMatchObject({
      status: "True",
      reason: "MinimumsExceedBudget",
    });
    expect(cond(minimums.status, "Ready")).toMatchObject({ status: "False", reason: "MinimumsExceedBudget" });
    expect(transitions(undefined, minimums.status).map((e) => [e.type, e.reason])).toContainEqual([
      "Warning",
      "MinimumsExceedBudget",
    ]);

    const recommend = service("trial", {
      spec: serviceSpec({ scaling: { mode: "Recommend" } }),
      replicas: 3,
      signals: load(1, 100, 100),
    });
    const unscaled = fleet({ limits: { powerWatts: 2100 } }, T0, [recommend]);
    expect(unscaled.status.services).toContainEqual(
      expect.objectContaining({ name: "trial", mode: "Recommend", replicas: 3 }),
    );
    expect(cond(unscaled.status, "Violated")).toMatchObject({
      status: "True",
      reason: "UnscaledCapacityExceedsBudget",
    });
  });

  it("counts only the services in its scope", () => {
    const obj = budgetObject({ limits: { gpus: [{ type: "nvidia-h100", max: 2 }] } });
    const snap = snapshot(
      [
        service("a", {
          namespace: "team-a",
          spec: serviceSpec({ replicas: 2, scaling: { mode: "Manual" } }),
        }),
        service("b", {
          namespace: "team-b",
          spec: serviceSpec({ replicas: 5, scaling: { mode: "Manual" } }),
        }),
      ],
      { budgets: [budget("shared", { limits: { gpus: [{ type: "nvidia-h100", max: 2 }] } }, ["team-a"])] },
    );
    const p = plan(snap, T0);
    const status = computeBudgetStatus({
      budget: obj,
      plan: p.budgets[0]!,
      services: new Map(p.services.map((s) => [s.key, s])),
      snapshot: snap,
      nowMs: T0,
      nowIso: NOW_ISO,
    });
    expect(status.services?.map((s) => s.name)).toEqual(["a"]);
    expect(status.used?.gpus).toEqual([{ type: "nvidia-h100", count: 2 }]);
  });

  it("keeps a condition's transition time while its status holds", () => {
    const { input, status } = fleet({ limits: { powerWatts: 3500 } });
    const again = computeBudgetStatus({
      ...input,
      budget: { ...input.budget, status },
      nowIso: "2026-01-01T00:05:00Z",
    });
    expect(again).toEqual(status);
  });
});

describe("invalidBudgetStatus", () => {
  it("names the field and turns Ready False", () => {
    const s = invalidBudgetStatus(undefined, 2, "spec.timeZone: timeZone must be an IANA time zone", NOW_ISO);
    expect(cond(s, "Valid")).toMatchObject({
      status: "False",
      reason: "InvalidSpec",
      message: "spec.timeZone: timeZone must be an IANA time zone",
      observedGeneration: 2,
    });
    expect(cond(s, "Ready")).toMatchObject({ status: "False", reason: "InvalidSpec" });
  });
});

describe("budgetGauges", () => {
  it("gives used over limit for each limit in force, held back replicas, binding and violated", () => {
    const { status } = fleet({ limits: { powerWatts: 3500, gpus: [{ type: "nvidia-h100", max: 10 }] } });
    expect(budgetGauges(status)).toEqual({
      usedRatio: [
        { limit: "powerWatts", value: 1 },
        { limit: "gpus/nvidia-h100", value: 0.5 },
      ],
      heldBack: 3,
      binding: 1,
      violated: 0,
    });
  });

  it("gives binding 0 when every service in scope gets what it asks for", () => {
    const { status } = fleet({ limits: { gpus: [{ type: "nvidia-h100", max: 10 }] } });
    expect(budgetGauges(status)).toMatchObject({ heldBack: 0, binding: 0, violated: 0 });
  });
});
