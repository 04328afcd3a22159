import { describe, expect, it } from "vitest";
import { ConditionType, Reason } from "../apis/conditions.ts";
import { variantLabels } from "../apis/labels.ts";
import { testPool } from "../nodepools/testing.ts";
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
