import { describe, expect, it } from "vitest";
import { isLabelKey, isLabelValue, labelMap, selectorMatches, taintSchema } from "./common.ts";

describe("selectorMatches", () => {
  const labels = { team: "a", tier: "gold" };
  it.each([
    ["an empty selector matches everything", {}, true],
    ["matchLabels all equal", { matchLabels: { team: "a" } }, true],
    ["matchLabels one differs", { matchLabels: { team: "a", tier: "silver" } }, false],
    [
      "In",
      { matchExpressions: [{ key: "tier", operator: "In" as const, values: ["gold", "silver"] }] },
      true,
    ],
    [
      "In without the key",
      { matchExpressions: [{ key: "zone", operator: "In" as const, values: ["x"] }] },
      false,
    ],
    ["NotIn", { matchExpressions: [{ key: "tier", operator: "NotIn" as const, values: ["gold"] }] }, false],
    [
      "NotIn without the key",
      { matchExpressions: [{ key: "zone", operator: "NotIn" as const, values: ["x"] }] },
      true,
    ],
    ["Exists", { matchExpressions: [{ key: "team", operator: "Exists" as const }] }, true],
    ["DoesNotExist", { matchExpressions: [{ key: "team", operator: "DoesNotExist" as const }] }, false],
  ])("%s", (_name, selector, want) => {
    expect(selectorMatches(selector, labels)).toBe(want);
  });
});

describe("Kubernetes label keys and values (apimachinery's rules)", () => {
  it.each([
    ["inferops.dev/pool", true],
    ["nvidia.com/gpu.product", true],
    ["kubernetes.io/hostname", true],
    ["type", true],
    ["a", true],
    ["Upper_case.name-1", true],
    [`${"a".repeat(63)}`, true],
    [`${"a".repeat(64)}`, false],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}/name`, true],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}/name`, false],
    ["bad label key!!", false],
    ["", false],
    ["/name", false],
    ["prefix/", false],
    ["a/b/c", false],
    ["Upper.example.com/name", false],
    ["-leading", false],
    ["trailing.", false],
  ])("key %j: %s", (key, ok) => {
    expect(isLabelKey(key)).toBe(ok);
  });

  it.each([
    ["", true],
    ["true", true],
    ["NVIDIA-H100-80GB-HBM3", true],
    ["a.b_c-d", true],
    [`${"v".repeat(63)}`, true],
    [`${"v".repeat(64)}`, false],
    ["has space", false],
    ["-true", false],
    ["a/b", false],
  ])("value %j: %s", (value, ok) => {
    expect(isLabelValue(value)).toBe(ok);
  });

  it("refuses a label map with a bad key or value, and a taint with a bad key or value, naming the field", () => {
    expect(labelMap.safeParse({ "inferops.dev/pool": "h100" }).success).toBe(true);
    const badKey = labelMap.safeParse({ "bad label key!!": "x" });
    expect(badKey.error?.issues[0]?.message).toContain("every key must be a Kubernetes label key");
    const badValue = labelMap.safeParse({ pool: "has space" });
    expect(badValue.error?.issues[0]?.message).toContain("every value must be a Kubernetes label value");
    expect(
      taintSchema.safeParse({ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }).success,
    ).toBe(true);
    const taintKey = taintSchema.safeParse({ key: "a/b/c", effect: "NoSchedule" });
    expect(taintKey.error?.issues[0]?.path).toEqual(["key"]);
    const taintValue = taintSchema.safeParse({ key: "gpu", value: "-x", effect: "NoSchedule" });
    expect(taintValue.error?.issues[0]?.path).toEqual(["value"]);
  });
});
