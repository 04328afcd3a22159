import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { DEPTH, HUGE, mutants } from "./mutants.ts";

const schema = {
  properties: {
    spec: {
      type: "object",
      properties: {
        replicas: { type: "integer", minimum: 0, maximum: 10 },
        mode: { type: "string", enum: ["Auto", "Manual"] },
        name: { type: "string", maxLength: 8 },
        image: { type: "string" },
        pools: {
          type: "array",
          maxItems: 2,
          items: { type: "object", properties: { pool: { type: "string" } } },
        },
        template: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        unset: { type: "integer" },
      },
    },
  },
};
const base = {
  kind: "Thing",
  spec: { replicas: 2, mode: "Auto", name: "a", image: "img", pools: [{ pool: "p" }], template: { x: 1 } },
};

describe("mutants", () => {
  const all = mutants(base, schema);
  const at = (path: string) => all.filter((m) => m.path === path);
  const valuesAt = (path: string, get: (spec: Record<string, unknown>) => unknown) =>
    at(path).map((m) => get(m.object.spec as Record<string, unknown>));

  it("changes exactly the field it names, in a copy", () => {
    for (const m of all) {
      const spec = m.object.spec as Record<string, unknown>;
      const changed = Object.keys(base.spec).filter(
        (k) => !isDeepStrictEqual(spec[k], (base.spec as Record<string, unknown>)[k]),
      );
      const field = m.path.split(/[.[]/)[1];
      if (field === undefined) expect(isDeepStrictEqual(spec, base.spec), `${m.path} ${m.how}`).toBe(false);
      else expect(changed, `${m.path} ${m.how}`).toEqual([field]);
    }
    expect(base.spec.replicas).toBe(2);
  });

  it("tries other types, the bounds and whole numbers", () => {
    expect(valuesAt("spec.replicas", (s) => s.replicas)).toEqual(
      expect.arrayContaining(["ten", true, { a: 1 }, [1], -1, 11, 1.5, 1e300]),
    );
  });

  it("tries strings outside the enum, too long, huge where unbounded, and empty", () => {
    expect(valuesAt("spec.mode", (s) => s.mode)).toEqual(expect.arrayContaining(["NotAValue", "", 12345]));
    expect(valuesAt("spec.name", (s) => s.name)).toContain("a".repeat(9));
    expect(valuesAt("spec.image", (s) => (s.image as string).length ?? 0)).toContain(HUGE);
  });

  it("goes into list items, and tries lists too long and empty", () => {
    expect(at("spec.pools[0].pool").length).toBeGreaterThan(0);
    expect(valuesAt("spec.pools", (s) => (s.pools as unknown[]).length)).toEqual(
      expect.arrayContaining([3, 0]),
    );
  });

  it("adds unknown fields, and deep nesting where any field is allowed; leaves fields the object lacks", () => {
    expect(at("spec").map((m) => m.how)).toContain("with an unknown field");
    const deep = at("spec.template").find((m) => m.how.startsWith("nested"));
    expect(deep).toBeDefined();
    const template = (deep!.object.spec as Record<string, unknown>).template as { fuzz: unknown };
    let depth = 0;
    let node = template.fuzz as { nested?: unknown } | undefined;
    while (node?.nested) {
      node = node.nested as { nested?: unknown };
      depth++;
    }
    expect(depth).toBe(DEPTH);
    expect(at("spec.unset")).toEqual([]);
  });
});
