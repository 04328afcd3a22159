import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../../../test/helpers/fixtures.ts";
import { crdFiles, crds, toStructural } from "./crd.ts";
import { KINDS } from "./kinds.ts";
import { renderReference } from "./reference.ts";

/** Every node of a schema, with its path, for structural checks. */
function* walk(node: unknown, path = ""): Generator<[string, Record<string, unknown>]> {
  if (typeof node !== "object" || node === null) return;
  const n = node as Record<string, unknown>;
  yield [path, n];
  for (const [k, v] of Object.entries((n.properties as object) ?? {})) yield* walk(v, `${path}.${k}`);
  if (n.items) yield* walk(n.items, `${path}[]`);
  if (typeof n.additionalProperties === "object") yield* walk(n.additionalProperties, `${path}{}`);
}

describe("generated files", () => {
  it.each([...crdFiles()])("crds/%s is up to date (run `make crds`)", (name, text) => {
    expect(readFileSync(join(ROOT, "crds", name), "utf8")).toBe(text);
  });

  it("docs/reference.md is up to date (run `make crds`)", () => {
    expect(readFileSync(join(ROOT, "docs", "reference.md"), "utf8")).toBe(renderReference());
  });
});

describe("CRD schemas are structural OpenAPI v3.0", () => {
  const all = crds().map((crd) => {
    const spec = crd.spec as {
      names: { kind: string };
      versions: { schema: { openAPIV3Schema: unknown } }[];
    };
    return [spec.names.kind, spec.versions[0]!.schema.openAPIV3Schema] as const;
  });

  it.each(all)("%s uses no JSON Schema 2020-12 keywords and types every node", (_kind, schema) => {
    for (const [path, node] of walk(schema)) {
      for (const banned of ["$schema", "const", "propertyNames", "$ref", "anyOf", "oneOf", "allOf"]) {
        expect(node, `${path} has ${banned}`).not.toHaveProperty(banned);
      }
      expect(node.additionalProperties, `${path}: additionalProperties false`).not.toBe(false);
      if (node.properties)
        expect(node, `${path}: properties and additionalProperties`).not.toHaveProperty(
          "additionalProperties",
        );
      expect(node.type ?? node["x-kubernetes-preserve-unknown-fields"], `${path} has no type`).toBeDefined();
      if (typeof node.exclusiveMinimum !== "undefined") expect(typeof node.exclusiveMinimum).toBe("boolean");
    }
  });

  it.each(all)("%s documents every spec field", (_kind, schema) => {
    const spec = (schema as { properties: { spec: unknown } }).properties.spec;
    for (const [path, node] of walk(spec, "spec")) {
      if (path.endsWith("[]") || path.endsWith("{}")) continue;
      expect(node.description, `${path} has no description`).toBeTruthy();
    }
  });

  it("gives InferenceService status and scale subresources and every kind printer columns", () => {
    const byKind = Object.fromEntries(
      crds().map((c) => [(c.spec as { names: { kind: string } }).names.kind, c]),
    );
    const version = (kind: string) =>
      (byKind[kind]!.spec as { versions: Record<string, unknown>[] }).versions[0]!;
    expect(version("InferenceService").subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: ".spec.replicas",
        statusReplicasPath: ".status.replicas",
        labelSelectorPath: ".status.selector",
      },
    });
    for (const info of KINDS) {
      expect((version(info.kind).additionalPrinterColumns as unknown[]).length).toBeGreaterThan(3);
      expect(parse(crdFiles().get(`inferops.dev_${info.plural}.yaml`)!).spec.names.categories).toEqual([
        "inferops",
      ]);
    }
  });
});

describe("toStructural", () => {
  it.each([
    ["const becomes a one-value enum", { const: "x" }, { enum: ["x"] }],
    [
      "safe-integer bounds are dropped",
      { type: "integer", minimum: -(2 ** 53 - 1), maximum: 2 ** 53 - 1 },
      { type: "integer" },
    ],
    [
      "real bounds stay",
      { type: "integer", minimum: 0, maximum: 16 },
      { type: "integer", minimum: 0, maximum: 16 },
    ],
    [
      "additionalProperties false goes",
      { type: "object", properties: { a: { type: "string" } }, additionalProperties: false },
      { type: "object", properties: { a: { type: "string" } } },
    ],
    [
      "maps keep additionalProperties",
      { type: "object", additionalProperties: { type: "string" }, propertyNames: { type: "string" } },
      { type: "object", additionalProperties: { type: "string" } },
    ],
    [
      "defaults are data, not schema",
      { default: { const: 1, minimum: 2 ** 60 } },
      { default: { const: 1, minimum: 2 ** 60 } },
    ],
  ])("%s", (_name, input, expected) => {
    expect(toStructural(input)).toEqual(expected);
  });
});
