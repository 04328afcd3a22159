import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../kube/client.ts";
import {
  COST_DRAINING_NODE,
  COST_NOT_READY,
  COST_PER_NODE_NEIGHBOUR,
  deletionCost,
  deletionCosts,
} from "./deletion.ts";

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

describe("deletionCost, the rule the operator and the simulated fleet share", () => {
  it.each([
    ["not ready", { ready: false, nodeDraining: false, podsOnNode: 3 }, COST_NOT_READY],
    ["not ready on a draining node", { ready: false, nodeDraining: true, podsOnNode: 1 }, COST_NOT_READY],
    ["not on a node", { ready: false, nodeDraining: false, podsOnNode: 0 }, COST_NOT_READY],
    ["on a draining node", { ready: true, nodeDraining: true, podsOnNode: 4 }, COST_DRAINING_NODE],
    ["alone on its node", { ready: true, nodeDraining: false, podsOnNode: 1 }, COST_PER_NODE_NEIGHBOUR],
    ["with two neighbours", { ready: true, nodeDraining: false, podsOnNode: 3 }, 3 * COST_PER_NODE_NEIGHBOUR],
  ])("%s", (_name, candidate, want) => {
    expect(deletionCost(candidate)).toBe(want);
  });

  it("gives deletionCosts the costs it computed before the rule was shared", () => {
    // The expression deletionCosts held inline until the simulator needed it too.
    const previous = (p: KubeObject, perNode: Map<string, number>, draining: ReadonlySet<string>) => {
      const node = (p.spec as { nodeName?: string }).nodeName;
      const isReady = (p.status as { conditions: { status: string }[] }).conditions[0]!.status === "True";
      return !node || !isReady
        ? COST_NOT_READY
        : draining.has(node)
          ? COST_DRAINING_NODE
          : COST_PER_NODE_NEIGHBOUR * (perNode.get(node) ?? 1);
    };
    const nodes = ["n1", "n2", "n3", undefined];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...nodes), fc.boolean(), fc.boolean()), { maxLength: 12 }),
        fc.subarray(["n1", "n2", "n3"]),
        (specs, draining) => {
          const all = specs.map(([node, isReady], i) => pod(`p${i}`, node, isReady));
          const mine = all.filter((_, i) => specs[i]![2]);
          const perNode = new Map<string, number>();
          for (const p of all) {
            const node = (p.spec as { nodeName?: string }).nodeName;
            if (node) perNode.set(node, (perNode.get(node) ?? 0) + 1);
          }
          const drainingNodes = new Set(draining);
          const costs = deletionCosts(mine, all, drainingNodes);
          expect(costs.size).toBe(mine.length);
          for (const p of mine)
            expect(costs.get(p.metadata!.name!)).toBe(previous(p, perNode, drainingNodes));
        },
      ),
    );
  });
});
