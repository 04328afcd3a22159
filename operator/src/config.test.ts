import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./config.ts";

describe("parseConfig: --promql-overrides", () => {
  it("allows services' own PromQL by default, and takes Forbid from the flag or the environment", () => {
    expect(parseConfig({ identity: "a" }, {}).promqlOverrides).toBe("Allow");
    expect(parseConfig({ identity: "a", promqlOverrides: "Forbid" }, {}).promqlOverrides).toBe("Forbid");
    expect(parseConfig({ identity: "a" }, { INFEROPS_PROMQL_OVERRIDES: "Forbid" }).promqlOverrides).toBe(
      "Forbid",
    );
  });

  it("names the flag and the values it takes when the value is wrong", () => {
    expect(() => parseConfig({ identity: "a", promqlOverrides: "forbid" }, {})).toThrow(ConfigError);
    expect(() => parseConfig({ identity: "a", promqlOverrides: "forbid" }, {})).toThrow(
      /--promql-overrides.*Allow or Forbid/,
    );
  });
});
