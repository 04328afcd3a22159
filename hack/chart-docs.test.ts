import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createMetrics } from "../operator/src/metrics.ts";
import { DEFAULT_LABELS } from "../operator/src/signals/sources/promql.ts";
import { DOC, leaves, ROOT, SCHEMA, VALUES, withFreshTable } from "./chart-docs.ts";

/** Every path of a values object: a map or list is a leaf when the schema declares no properties under it. */
function valuePaths(values: Record<string, unknown>, schemaLeaves: Set<string>, prefix = ""): string[] {
  return Object.entries(values).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    if (schemaLeaves.has(path) || v === null || typeof v !== "object" || Array.isArray(v)) return [path];
    return valuePaths(v as Record<string, unknown>, schemaLeaves, path);
  });
}

describe("the chart's values", () => {
  const schemaLeaves = leaves(JSON.parse(readFileSync(SCHEMA, "utf8"))).map((l) => l.path);

  it("values.yaml sets exactly the values the schema declares", () => {
    const values = parse(readFileSync(VALUES, "utf8"));
    expect(valuePaths(values, new Set(schemaLeaves)).sort()).toEqual([...schemaLeaves].sort());
  });

  it("every value has a description", () => {
    const missing = leaves(JSON.parse(readFileSync(SCHEMA, "utf8")))
      .filter((l) => !l.schema.description)
      .map((l) => l.path);
    expect(missing).toEqual([]);
  });

  it("docs/operator.md's table is generated from the schema (run `node hack/chart-docs.ts`)", () => {
    const doc = readFileSync(DOC, "utf8");
    expect(doc).toBe(withFreshTable(doc));
  });
});

describe("the chart's CRDs", () => {
  it("are crds/'s, file for file (run `make crds`)", () => {
    const dir = (d: string) =>
      readdirSync(join(ROOT, d))
        .filter((f) => f.endsWith(".yaml"))
        .sort()
        .map((f) => [f, readFileSync(join(ROOT, d, f), "utf8")]);
    expect(dir(join("charts", "inferops", "crds"))).toEqual(dir("crds"));
  });
});

describe("the chart's dashboard and alerts", () => {
  const exported = new Set(
    createMetrics()
      .registry.getMetricsAsArray()
      .flatMap((m) => [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]),
  );
  it.each([
    ["dashboard", join("charts", "inferops", "dashboards", "inferops.json")],
    ["alerts", join("charts", "inferops", "templates", "prometheusrule.yaml")],
  ])("the %s read only metrics the operator exports", (_, file) => {
    // Names that start with inferops_, less the label the scrape configuration attaches (inferops_service).
    const labels = new Set(Object.values(DEFAULT_LABELS));
    const used = [...readFileSync(join(ROOT, file), "utf8").matchAll(/\binferops_[a-z_]+\b/g)]
      .map((m) => m[0])
      .filter((name) => !labels.has(name));
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });
});
