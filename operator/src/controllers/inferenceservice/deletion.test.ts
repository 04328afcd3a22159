import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../kube/client.ts";
import { COST_DRAINING_NODE, COST_NOT_READY, deletionCosts } from "./deletion.ts";

const pod = (name: string, node?: string, isReady = true): KubeObject =>
  ({
    metadata: { name, namespace: "ns" },
    spec: node ? { nodeName: node } : {},
    status: { conditions: [{ type: "Ready", status: isReady ? "True" : "False" }] },
  }) as KubeObject;

describe("pod-deletion-cost ranking", () => {
  it("removes not-ready pods first, then pods on draining nodes, then the pod alone on its node", () => {
    const mine = [pod("a", "n1"), pod("b", "n2"), pod("c", "n3"), pod("d", undefined), pod("e", "n4", false)];
    // n2 also runs another service's pod: removing b frees no node.
    const all = [...mine, pod("other", "n2")];
    const costs = deletionCosts(mine, all, new Set(["n3"]));
    expect(costs.get("d")).toBe(COST_NOT_READY);
    expect(costs.get("e")).toBe(COST_NOT_READY);
    expect(costs.get("c")).toBe(COST_DRAINING_NODE);
    const order = [...costs.entries()].sort((x, y) => x[1] - y[1]).map(([n]) => n);
    expect(order.indexOf("a")).toBeLessThan(order.indexOf("b"));
    expect(order.slice(-1)).toEqual(["b"]);
  });

  it("skips pods already being deleted and counts only live neighbours", () => {
    const leaving = { ...pod("x", "n1"), metadata: { name: "x", deletionTimestamp: "2026-12-05T00:00:00Z" } };
    const costs = deletionCosts([leaving, pod("y", "n1")], [leaving, pod("y", "n1")], new Set());
    expect(costs.has("x")).toBe(false);
    expect(costs.get("y")).toBe(100);
  });
});
