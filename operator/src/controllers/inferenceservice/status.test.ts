import { describe, expect, it } from "vitest";
import { gpuNodePool } from "../../../../test/helpers/objects.ts";
import { gpuNodePoolSchema } from "../../apis/gpunodepool.ts";
import { inferenceServiceSchema } from "../../apis/inferenceservice.ts";
import {
  computeStatus,
  conflictMessage,
  type Decision,
  type DeploymentView,
  namesDeployment,
  signalsClose,
} from "./status.ts";

const svc = inferenceServiceSchema.parse({
  apiVersion: "inferops.dev/v1alpha1",
  kind: "InferenceService",
  metadata: { name: "s", namespace: "n", generation: 4 },
  spec: {
    model: { name: "m", server: "vllm" },
    template: { spec: { containers: [{ name: "c" }] } },
    accelerators: [{ pool: "h100", gpusPerReplica: 2 }],
  },
});
const pools = new Map([["h100", gpuNodePoolSchema.parse(gpuNodePool("h100", { costPerNodeHour: 80 }))]]);
const decision = (total: number): Decision => ({
  perVariant: new Map([["h100", total]]),
  total,
  reason: "Manual",
  message: "m",
});
const view = (wanted: number, replicas: number, ready: number): DeploymentView => ({
  pool: "h100",
  wanted,
  replicas,
  readyReplicas: ready,
  updatedReplicas: replicas,
  observed: true,
});
const status = (d: DeploymentView[], dec = decision(2), extra = {}) =>
  computeStatus({
    svc,
    pools,
    deployments: d,
    decision: dec,
    unknownPools: [],
    conflicts: [],
    nowIso: "2026-01-01T00:00:00Z",
    ...extra,
  });
const cond = (s: ReturnType<typeof status>, type: string) => s.conditions?.find((c) => c.type === type);

/**
 * The status after a decision of 2 replicas for `reason`, with `tokens` tokens/s in its signals, at `nowIso`,
 * over the status `prev` (none: a new service).
 */
function decidedAt(
  reason: string,
  message: string,
  tokens: number,
  nowIso: string,
  prev?: ReturnType<typeof status>,
): ReturnType<typeof status> {
  return computeStatus({
    svc: prev ? { ...svc, status: prev } : svc,
    pools,
    deployments: [view(2, 2, 2)],
    decision: {
      ...decision(2),
      reason,
      message,
      signals: { observedAtMs: Date.parse(nowIso), replicasReporting: 2, promptTokensPerSecond: tokens },
    },
    unknownPools: [],
    conflicts: [],
    nowIso,
  });
}

describe("computeStatus", () => {
  it("is Ready when every desired replica is ready, with cost and power of the GPUs held", () => {
    const s = status([view(2, 2, 2)]);
    expect(s).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      desiredReplicas: 2,
      observedGeneration: 4,
      selector: "inferops.dev/service=s",
    });
    expect(cond(s, "Ready")).toMatchObject({
      status: "True",
      reason: "AllReplicasReady",
      observedGeneration: 4,
    });
    expect(cond(s, "Progressing")?.status).toBe("False");
    // 2 replicas x 2 GPUs of an 8-GPU $80/h node; 700 W each.
    expect(s.costPerHour).toBe(40);
    expect(s.powerWatts).toBe(2800);
  });

  it("is Progressing and not Ready while scaling up", () => {
    const s = status([view(3, 2, 2)], decision(3));
    expect(cond(s, "Ready")).toMatchObject({ status: "False", reason: "ReplicasNotReady" });
    expect(cond(s, "Progressing")).toMatchObject({ status: "True", reason: "ScalingUp" });
  });

  it("says which pool is unknown", () => {
    const s = status([], decision(0), { unknownPools: ["a100"] });
    expect(cond(s, "Valid")).toMatchObject({ status: "False", reason: "UnknownPool" });
    expect(cond(s, "Valid")?.message).toContain("a100");
    expect(cond(s, "Ready")?.status).toBe("False");
  });

  it("reports a conflict with the autoscaler that holds the Deployment", () => {
    const s = status([view(2, 2, 2)], decision(2), {
      conflicts: [{ deployment: "s-h100", by: "HorizontalPodAutoscaler x", reason: "HPAConflict" }],
    });
    expect(cond(s, "Conflict")).toMatchObject({ status: "True", reason: "HPAConflict" });
  });

  it("keeps the last decision's time when the decision did not change", () => {
    const first = status([view(2, 2, 2)]);
    const again = computeStatus({
      svc: { ...svc, status: first },
      pools,
      deployments: [view(2, 2, 2)],
      decision: decision(2),
      unknownPools: [],
      conflicts: [],
      nowIso: "2026-01-01T01:00:00Z",
    });
    expect(again).toEqual(first);
  });

  it("rewrites the same decision's message only when the signals it quotes moved materially", () => {
    const at = (tokens: number, nowIso: string, prev?: ReturnType<typeof status>) =>
      decidedAt(
        "TokenThroughput",
        `${tokens} tokens/s at 0.8 of 2300 per replica (profiles): 2`,
        tokens,
        nowIso,
        prev,
      );
    const first = at(2000, "2026-01-01T00:00:00Z");
    // 3% more tokens/s, the same replicas for the same reason: nothing to write (a live service's figures
    // move every evaluation).
    expect(at(2060, "2026-01-01T00:00:10Z", first)).toEqual(first);
    // 20% more: the signals are rewritten, and the message quoting them with them.
    const moved = at(2400, "2026-01-01T00:00:20Z", first);
    expect(moved.signals?.tokensPerSecond).toBe(2400);
    expect(moved.lastDecision).toMatchObject({
      time: "2026-01-01T00:00:20Z",
      message: expect.stringMatching(/^2400 /),
    });
    // Another reason or other replicas is another decision when the signals are not there to say otherwise.
    const other = computeStatus({
      svc: { ...svc, status: first },
      pools,
      deployments: [view(2, 2, 2)],
      decision: { ...decision(2), reason: "QueueDepth", message: "queue 9 at 4 per replica: 2" },
      unknownPools: [],
      conflicts: [],
      nowIso: "2026-01-01T00:00:30Z",
    });
    expect(other.lastDecision).toMatchObject({ reason: "QueueDepth", time: "2026-01-01T00:00:30Z" });
  });

  it("keeps the decision when another view gives the same replicas and the signals have not moved", () => {
    // Held still, the largest view flips with noise between views that agree on 2 (bench/load.ts).
    const first = decidedAt(
      "TokenThroughput",
      "1089.3 tokens/s at 0.8 of 2300 per replica (profiles): 2",
      1089,
      "2026-01-01T00:00:00Z",
    );
    const tolerance = decidedAt(
      "WithinTolerance",
      "1.39 req/s: 1 replicas for a p95 TTFT <= 2s, within tolerance 0.1 of 2",
      1090,
      "2026-01-01T00:00:10Z",
      first,
    );
    expect(tolerance).toEqual(first);
    expect(
      decidedAt(
        "LatencySLO",
        "1.4 req/s: 2 replicas for a p95 TTFT <= 2s",
        1092,
        "2026-01-01T00:00:20Z",
        first,
      ),
    ).toEqual(first);
    // With the signals moved, the new reason is written.
    expect(
      decidedAt(
        "LatencySLO",
        "1.8 req/s: 2 replicas for a p95 TTFT <= 2s",
        1400,
        "2026-01-01T00:00:30Z",
        first,
      ).lastDecision,
    ).toMatchObject({ reason: "LatencySLO", time: "2026-01-01T00:00:30Z" });
    // A reason that is not the signals' (a budget, a bound) is another decision whatever the signals.
    expect(
      decidedAt("BudgetBinding", "held back by CapacityBudget b", 1089, "2026-01-01T00:00:40Z", first)
        .lastDecision,
    ).toMatchObject({ reason: "BudgetBinding", time: "2026-01-01T00:00:40Z" });
  });
});

describe("signalsClose", () => {
  it("treats small moves as unchanged and large ones as changed", () => {
    expect(signalsClose({ queueDepth: 10, observedAt: "a" }, { queueDepth: 10.5, observedAt: "b" })).toBe(
      true,
    );
    expect(signalsClose({ queueDepth: 10, observedAt: "a" }, { queueDepth: 14, observedAt: "b" })).toBe(
      false,
    );
    expect(signalsClose({ queueDepth: 0, observedAt: "a" }, { queueDepth: 0.3, observedAt: "b" })).toBe(true);
    expect(signalsClose({ observedAt: "a" }, { queueDepth: 1, observedAt: "b" })).toBe(false);
  });
});

describe("the Conflict message", () => {
  it("names each Deployment so that a new leader finds it, and no other", () => {
    const message = [
      { deployment: "a-l4", by: "HorizontalPodAutoscaler h", reason: "HPAConflict" },
      {
        deployment: "a-h100",
        by: "another writer (x)",
        reason: "ReplicasContested",
        until: "5 minutes pass",
      },
    ]
      .map(conflictMessage)
      .join("; ");
    expect(namesDeployment(message, "a-l4")).toBe(true);
    expect(namesDeployment(message, "a-h100")).toBe(true);
    expect(namesDeployment(message, "a-h1")).toBe(false);
    expect(namesDeployment(message, "h100")).toBe(false);
  });
});

describe("status.learned", () => {
  const at = (nowIso: string, learned: Decision["learned"], prev?: ReturnType<typeof status>) =>
    computeStatus({
      svc: prev ? { ...svc, status: prev } : svc,
      pools,
      deployments: [view(2, 2, 2)],
      decision: { ...decision(2), ...(learned ? { learned } : {}) },
      unknownPools: [],
      conflicts: [],
      nowIso,
    });

  it("keeps what holds replicas up, rounded, rewritten when learning moves a figure by 0.05 (not as it relaxes), and goes when the profiles hold", () => {
    const first = at("2026-01-01T00:00:00Z", { capacityScale: 0.7012, sloHeadroom: 1.0001 });
    expect(first.learned).toEqual({ capacityScale: 0.7, observedAt: "2026-01-01T00:00:00Z" });
    // Relaxing back towards the profile, by any amount: the same status (no write); a new leader relaxes it
    // from observedAt the same way.
    const later = at("2026-01-01T00:10:00Z", { capacityScale: 0.9 }, first);
    expect(later.learned).toBe(first.learned);
    // Learning: a headroom appears (written, with the scale as it is now); a scale lower by 0.05 or more.
    const moved = at("2026-01-01T00:20:00Z", { capacityScale: 0.76, sloHeadroom: 1.3 }, later);
    expect(moved.learned).toEqual({
      capacityScale: 0.76,
      sloHeadroom: 1.3,
      observedAt: "2026-01-01T00:20:00Z",
    });
    expect(at("2026-01-01T00:30:00Z", { capacityScale: 0.72, sloHeadroom: 1.2 }, moved).learned).toBe(
      moved.learned,
    );
    expect(at("2026-01-01T00:30:00Z", { capacityScale: 0.7, sloHeadroom: 1.3 }, moved).learned).toEqual({
      capacityScale: 0.7,
      sloHeadroom: 1.3,
      observedAt: "2026-01-01T00:30:00Z",
    });
    // Back at the profile and without headroom: gone.
    expect(at("2026-01-01T01:00:00Z", { capacityScale: 0.999 }, moved).learned).toBeUndefined();
    // A decision no Plan made (no learned) keeps what status has.
    expect(at("2026-01-01T01:00:00Z", undefined, moved).learned).toBe(moved.learned);
  });

  it("keeps a capacity above the profiles, rewritten when it moves by 0.05 either way or goes back to them", () => {
    const above = at("2026-01-01T00:00:00Z", { capacityScale: 1.6 });
    expect(above.learned).toEqual({ capacityScale: 1.6, observedAt: "2026-01-01T00:00:00Z" });
    expect(at("2026-01-01T00:10:00Z", { capacityScale: 1.62 }, above).learned).toBe(above.learned);
    expect(at("2026-01-01T00:10:00Z", { capacityScale: 1.7 }, above).learned?.capacityScale).toBe(1.7);
    // Lowered by saturation, or back at the profile: a new leader must not start from more than there is.
    expect(at("2026-01-01T00:10:00Z", { capacityScale: 1.5 }, above).learned?.capacityScale).toBe(1.5);
    expect(at("2026-01-01T00:10:00Z", { capacityScale: 1 }, above).learned).toBeUndefined();
    // From below the profiles to above them: written.
    const below = at("2026-01-01T00:00:00Z", { capacityScale: 0.8 });
    expect(at("2026-01-01T00:10:00Z", { capacityScale: 1.2 }, below).learned?.capacityScale).toBe(1.2);
  });
});
