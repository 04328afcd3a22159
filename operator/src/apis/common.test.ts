import { describe, expect, it } from "vitest";
import { selectorMatches } from "./common.ts";

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
