import { describe, expect, it } from "vitest";
import { gpuNodePool } from "../../../test/helpers/objects.ts";
import { ConditionType, Reason } from "../apis/conditions.ts";
import { variantLabels } from "../apis/labels.ts";
import { testPool } from "../nodepools/testing.ts";
import { plan } from "../planning/plan.ts";
import type { PlannerMemory } from "../planning/types.ts";
import { buildSnapshot, type World } from "./snapshot.ts";

const world = (pools: World["pools"]): World => ({
  services: [],
  pools,
  budgets: [],
  deployments: [],
  nodes: [],
  pods: [],
  namespaces: [],
});
const failing = (status: string, reason: string, message: string) => ({
  conditions: [
    {
      type: ConditionType.ProviderFailing,
      status,
      reason,
      message,
      lastTransitionTime: "2026-12-06T00:00:00Z",
    },
  ],
});

describe("buildSnapshot: pools", () => {
  it("a pool whose ProviderFailing condition is True cannot grow in the plan, with the condition's words", () => {
    const pools = [
      { ...testPool("stuck"), status: failing("True", Reason.CapacityUnavailable, "no g6.xlarge") },
      { ...testPool("fine"), status: failing("False", Reason.ProviderHealthy, "provider kwok answers") },
      {
        ...testPool("fixed", { provider: { type: "static" } }),
        status: failing("True", "ProviderError", "x"),
      },
      { ...testPool("new") },
      { ...testPool("odd"), status: { conditions: "not a list" } },
    ];
    const kind = { apiVersion: "inferops.dev/v1alpha1", kind: "GPUNodePool" };
    const snap = buildSnapshot(
      world(pools.map((p) => ({ ...kind, ...p }))),
      new Map(),
      { services: {} },
      15_000,
    );
    expect(Object.fromEntries(snap.pools.map((p) => [p.name, p.cannotGrow]))).toEqual({
      stuck: "CapacityUnavailable: no g6.xlarge",
      fine: undefined,
      fixed: undefined,
      new: undefined,
      odd: undefined,
    });
    expect(snap.pools.find((p) => p.name === "stuck")?.cannotGrowReason).toBe(Reason.CapacityUnavailable);
  });
});

describe("buildSnapshot: services", () => {
  it("counts a variant's pods being deleted on a Ready node (they still hold GPUs), not those elsewhere or on a lost node", () => {
    const svc = {
      apiVersion: "inferops.dev/v1alpha1",
      kind: "InferenceService",
      metadata: { name: "llama", namespace: "team", generation: 1 },
      spec: {
        model: { name: "m", server: "vllm" },
        template: { spec: { containers: [{ name: "server", image: "vllm/vllm-openai" }] } },
        accelerators: [{ pool: "l4" }],
      },
    };
    const deployment = {
      metadata: { name: "llama-l4", namespace: "team", labels: variantLabels("llama", "l4") },
      spec: { replicas: 2 },
      status: { readyReplicas: 2 },
    };
    const pod = (name: string, extra: Record<string, unknown>, ns = "team", svcName = "llama") => ({
      metadata: { name, namespace: ns, labels: variantLabels(svcName, "l4"), ...extra },
      spec: { nodeName: "n1" },
    });
    const going = { deletionTimestamp: "2026-12-06T00:00:00Z" };
    const snap = buildSnapshot(
      {
        ...world([]),
        services: [svc],
        deployments: [deployment],
        nodes: [
          { metadata: { name: "n1" }, status: { conditions: [{ type: "Ready", status: "True" }] } },
          { metadata: { name: "n2" }, status: { conditions: [{ type: "Ready", status: "Unknown" }] } },
        ],
        pods: [
          pod("a", {}),
          pod("b", going),
          pod("c", going),
          pod("d", going, "other"),
          pod("e", going, "team", "mistral"),
          { ...pod("f", going), spec: {} },
          { ...pod("g", going), spec: { nodeName: "n2" } },
        ],
      },
      new Map(),
      { services: {} },
      15_000,
    );
    expect(snap.services[0]?.variants).toEqual([
      { pool: "l4", replicas: 2, readyReplicas: 2, terminating: 2 },
    ]);
  });
});

describe("buildSnapshot: what the last planner learned (status.learned)", () => {
  const NOW = Date.parse("2026-12-07T12:00:00Z");
  const svc = (learned?: Record<string, unknown>) => ({
    apiVersion: "inferops.dev/v1alpha1",
    kind: "InferenceService",
    metadata: { name: "chat", namespace: "team", generation: 1 },
    spec: {
      model: { name: "m", server: "vllm" },
      template: { spec: { containers: [{ name: "server", image: "vllm/vllm-openai" }] } },
      accelerators: [{ pool: "l4", profile: { maxTokensPerSecond: 2000 } }],
      scaling: { minReplicas: 1, maxReplicas: 20 },
    },
    ...(learned ? { status: { learned } } : {}),
  });
  const deployment = {
    metadata: { name: "chat-l4", namespace: "team", labels: variantLabels("chat", "l4") },
    spec: { replicas: 6 },
    status: { readyReplicas: 6 },
  };
  // 6 replicas serving 4,800 tokens/s: 3 at the profile's 2,000 x 0.8, 6 at half the profile.
  const signals = new Map([
    [
      "team/chat",
      {
        signals: {
          observedAtMs: NOW - 2_000,
          replicasReporting: 6,
          queueDepth: 0,
          runningRequests: 30,
          arrivalRate: 4,
          promptTokensPerSecond: 3_600,
          generationTokensPerSecond: 1_200,
        },
      },
    ],
  ]);
  const snapshot = (learned?: Record<string, unknown>, memory: PlannerMemory = { services: {} }) =>
    buildSnapshot(
      {
        ...world([gpuNodePool("l4", { maxNodes: 20, gpu: { type: "nvidia-l4", count: 1, memoryGiB: 24 } })]),
        services: [svc(learned)],
        deployments: [deployment],
      },
      signals,
      memory,
      10_000,
    );
  const learned = { capacityScale: 0.5, sloHeadroom: 1.2, observedAt: new Date(NOW - 60_000).toISOString() };

  it("a planner without memory of the service starts from it, relaxing from when it was written", () => {
    expect(snapshot(learned).memory.services["team/chat"]).toEqual({
      recommendations: [],
      scaleEvents: [],
      rates: [],
      learned: { capacityScale: 0.5, atMs: NOW - 60_000, sloHeadroom: 1.2, sloHeadroomAtMs: NOW - 60_000 },
    });
    // Its own memory wins; nothing, or something it cannot read, restores nothing.
    const own: PlannerMemory = {
      services: { "team/chat": { recommendations: [], scaleEvents: [], rates: [] } },
    };
    expect(snapshot(learned, own).memory).toBe(own);
    expect(snapshot().memory.services).toEqual({});
    expect(snapshot({ capacityScale: "half", observedAt: "x" }).memory.services).toEqual({});
  });

  it("so a new leader asks for the replicas the old one learned they need, not what the profile says", () => {
    const fresh = plan(snapshot(), NOW).services[0]!;
    const restored = plan(snapshot(learned), NOW).services[0]!;
    // 4,800 tokens/s: 3 replicas at the profile's 2,000 x 0.8; 8 at half of it with a headroom of 1.2.
    expect(fresh.recommended.value).toBe(3);
    expect(restored.recommended.value).toBe(8);
  });

  it("a capacity above the profile (served at the SLO) is restored as such, and held without a probe", () => {
    const above = { capacityScale: 1.6, observedAt: new Date(NOW - 60_000).toISOString() };
    expect(snapshot(above).memory.services["team/chat"]!.learned).toEqual({
      capacityScale: 1.6,
      servedAtSlo: 1.6,
      atMs: NOW - 60_000,
    });
    // 4,800 tokens/s at 0.8 of 2,000 x 1.6: 2 replicas, not the profile's 3.
    expect(plan(snapshot(above), NOW).services[0]!.recommended.value).toBe(2);
  });
});
