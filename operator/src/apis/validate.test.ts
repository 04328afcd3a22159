import { describe, expect, it } from "vitest";
import { EXAMPLES_DIR, readInvalidCases, readManifests } from "../../../test/helpers/fixtures.ts";
import { API_VERSION } from "./common.ts";
import { inferenceServiceSchema } from "./inferenceservice.ts";
import { formatErrors, parseResource, parseSpec } from "./validate.ts";

describe("examples", () => {
  const examples = readManifests(EXAMPLES_DIR).filter((m) => m.object.apiVersion === API_VERSION);

  it("cover every kind", () => {
    expect(new Set(examples.map((m) => m.object.kind))).toEqual(
      new Set(["InferenceService", "GPUNodePool", "CapacityBudget"]),
    );
  });

  it.each(examples.map((m) => [m.file, m.object] as const))("%s parses", (_file, object) => {
    const result = parseResource(object);
    if (!result.ok) throw new Error(formatErrors(result.errors));
    expect(result.value.kind).toBe(object.kind);
  });
});

describe("invalid inputs", () => {
  const cases = readInvalidCases();

  it("the catalogue holds at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s is rejected naming the field", (_name, c) => {
    const result = parseResource(c.object);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatErrors(result.errors);
    expect(result.errors.map((e) => e.path)).toContain(c.path);
    expect(text).toContain(c.message);
  });
});

describe("parseResource", () => {
  it("rejects a foreign apiVersion with the expected one", () => {
    const result = parseResource({ apiVersion: "apps/v1", kind: "Deployment" });
    expect(result).toMatchObject({ ok: false, errors: [{ path: "apiVersion" }] });
    expect(formatErrors(result.ok ? [] : result.errors)).toContain(API_VERSION);
  });

  it("rejects an unknown kind and lists ours", () => {
    const result = parseResource({ apiVersion: API_VERSION, kind: "GPUPool" });
    expect(formatErrors(result.ok ? [] : result.errors)).toContain(
      "InferenceService, GPUNodePool, CapacityBudget",
    );
  });

  it("applies defaults", () => {
    const [svc] = readManifests(EXAMPLES_DIR).filter((m) => m.object.kind === "InferenceService");
    const result = parseResource(svc!.object);
    if (!result.ok || result.value.kind !== "InferenceService") throw new Error("example must parse");
    expect(result.value.spec.scaling.mode).toBe("Auto");
    expect(result.value.spec.scaling.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    expect(result.value.spec.metrics.source).toBe("prometheus");
  });
});

describe("parseSpec", () => {
  const service = () =>
    structuredClone(examples.find((m) => m.object.kind === "InferenceService")!.object) as unknown as {
      spec: Record<string, unknown>;
    };
  const examples = readManifests(EXAMPLES_DIR);

  it("parses an object once, ignoring its status, and hands out the same frozen result until the object changes", () => {
    const raw: { spec: Record<string, unknown>; status: unknown } = {
      ...service(),
      status: { anything: "the operator's own, not validated" },
    };
    const first = parseSpec(inferenceServiceSchema, raw);
    if (!first.success) throw first.error;
    expect(parseSpec(inferenceServiceSchema, raw)).toBe(first);
    expect(Object.isFrozen(first.data.spec.scaling)).toBe(true);
    expect(() => {
      (first.data.spec.scaling as { maxReplicas: number }).maxReplicas = 1;
    }).toThrow(TypeError);
    // An informer replaces an object that changed: the new one is parsed afresh.
    const changed = {
      ...raw,
      spec: { ...raw.spec, scaling: { minReplicas: 1, maxReplicas: 3 } },
    };
    const second = parseSpec(inferenceServiceSchema, changed);
    if (!second.success) throw second.error;
    expect(second.data.spec.scaling.maxReplicas).toBe(3);
  });

  it("caches a refusal too", () => {
    const raw = { ...service(), spec: { model: {} } };
    const first = parseSpec(inferenceServiceSchema, raw);
    expect(first.success).toBe(false);
    expect(parseSpec(inferenceServiceSchema, raw)).toBe(first);
  });
});
