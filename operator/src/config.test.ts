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

describe("parseConfig: --field-manager", () => {
  it("writes as inferops by default, and takes another manager from the flag or the environment", () => {
    expect(parseConfig({ identity: "a" }, {}).fieldManager).toBe("inferops");
    expect(parseConfig({ identity: "a", fieldManager: "inferops-b" }, {}).fieldManager).toBe("inferops-b");
    expect(parseConfig({ identity: "a" }, { INFEROPS_FIELD_MANAGER: "team a/ops" }).fieldManager).toBe(
      "team a/ops",
    );
    // The flag wins over the environment, as for every other setting.
    expect(
      parseConfig({ identity: "a", fieldManager: "flag" }, { INFEROPS_FIELD_MANAGER: "env" }).fieldManager,
    ).toBe("flag");
  });

  it("takes what the API server takes: up to 128 bytes of printable characters", () => {
    expect(parseConfig({ identity: "a", fieldManager: "x".repeat(128) }, {}).fieldManager).toHaveLength(128);
    expect(parseConfig({ identity: "a", fieldManager: "opérateur ✓" }, {}).fieldManager).toBe("opérateur ✓");
  });

  it.each([
    ["empty", "", /--field-manager.*must not be empty/],
    ["129 bytes", "x".repeat(129), /--field-manager.*at most 128 bytes/],
    ["128 characters but 256 bytes", "é".repeat(128), /--field-manager.*at most 128 bytes/],
    ["a tab", "inferops\tb", /--field-manager.*printable/],
    ["a newline", "inferops\n", /--field-manager.*printable/],
    ["a non-breaking space", "inferops\u00a0b", /--field-manager.*printable/],
  ])("names the flag when the manager is %s", (_case, fieldManager, message) => {
    expect(() => parseConfig({ identity: "a", fieldManager }, {})).toThrow(ConfigError);
    expect(() => parseConfig({ identity: "a", fieldManager }, {})).toThrow(message);
    expect(() => parseConfig({ identity: "a" }, { INFEROPS_FIELD_MANAGER: fieldManager })).toThrow(message);
  });
});
