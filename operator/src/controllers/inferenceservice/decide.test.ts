import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gpuNodePool } from "../../../../test/helpers/objects.ts";
import { gpuNodePoolSchema } from "../../apis/gpunodepool.ts";
import { inferenceServiceSchema } from "../../apis/inferenceservice.ts";
import { distribute, holdDecision, manualDecision } from "./decide.ts";
import type { DeploymentView } from "./status.ts";

const make = (scaling: object, extra: object = {}) =>
  inferenceServiceSchema.parse({
    apiVersion: "inferops.dev/v1alpha1",
    kind: "InferenceService",
    metadata: { name: "s", namespace: "n" },
    spec: {
      model: { name: "m", server: "vllm" },
      template: { spec: { containers: [{ name: "c" }] } },
      accelerators: [{ pool: "a" }, { pool: "b" }, { pool: "c" }],
      scaling,
      ...extra,
    },
  });
const poolNamed = (name: string) => gpuNodePoolSchema.parse(gpuNodePool(name));
const pools = new Map(["a", "b", "c"].map((p) => [p, poolNamed(p)]));
const view = (pool: string, wanted: number): DeploymentView => ({
  pool,
  wanted,
  replicas: wanted,
  readyReplicas: wanted,
  updatedReplicas: wanted,
  observed: true,
});

describe("distribute", () => {
  const svc = make({ minReplicas: 1, maxReplicas: 20 });
  it.each([
    ["fills the first variant from nothing", 4, {}, { a: 4, b: 0, c: 0 }],
    ["keeps replicas where they run when adding", 6, { b: 2 }, { a: 4, b: 2, c: 0 }],
    ["takes replicas off the last variant first", 3, { a: 2, b: 2, c: 2 }, { a: 2, b: 1, c: 0 }],
  ])("%s", (_name, total, current, want) => {
    const out = distribute(svc, total, new Map(Object.entries(current)), pools);
    expect(Object.fromEntries(out)).toEqual(want);
  });

  it("never places replicas on an unknown pool", () => {
    const out = distribute(svc, 5, new Map([["b", 3]]), new Map([["b", poolNamed("b")]]));
    expect(Object.fromEntries(out)).toEqual({ b: 5 });
  });

  it("always sums to the total and never goes negative", () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(20), fc.nat(20), fc.nat(20), (total, a, b, c) => {
        const out = distribute(
          svc,
          total,
          new Map([
            ["a", a],
            ["b", b],
            ["c", c],
          ]),
          pools,
        );
        const values = [...out.values()];
        expect(values.reduce((x, y) => x + y, 0)).toBe(total);
        for (const v of values) expect(v).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe("manualDecision", () => {
  it("follows spec.replicas within bounds", () => {
    const d = manualDecision(
      make({ mode: "Manual", minReplicas: 1, maxReplicas: 5 }, { replicas: 4 }),
      [],
      pools,
    );
    expect(d).toMatchObject({ total: 4, reason: "Manual" });
  });
  it("uses minReplicas when spec.replicas is unset", () => {
    expect(manualDecision(make({ mode: "Manual", minReplicas: 2, maxReplicas: 5 }), [], pools).total).toBe(2);
  });
});

describe("holdDecision", () => {
  const why = { reason: "HoldingOnStaleMetrics", message: "m" };
  it("starts at minReplicas when nothing runs", () => {
    expect(holdDecision(make({ minReplicas: 3, maxReplicas: 5 }), [], pools, why).total).toBe(3);
  });
  it("keeps what runs, never scaling down", () => {
    expect(
      holdDecision(make({ minReplicas: 1, maxReplicas: 9 }), [view("a", 4), view("b", 3)], pools, why).total,
    ).toBe(7);
  });
  it("clamps into new bounds", () => {
    expect(holdDecision(make({ minReplicas: 1, maxReplicas: 5 }), [view("a", 7)], pools, why).total).toBe(5);
  });
});
