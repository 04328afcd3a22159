import { describe, expect, it } from "vitest";
import { mergeConditions } from "./conditions.ts";

const T0 = "2026-01-01T00:00:00Z";
const T1 = "2026-01-01T00:05:00Z";

describe("mergeConditions", () => {
  it("sets lastTransitionTime on a new condition", () => {
    const out = mergeConditions(
      undefined,
      [{ type: "Ready", status: "True", reason: "R", message: "m" }],
      3,
      T0,
    );
    expect(out).toEqual([
      {
        type: "Ready",
        status: "True",
        reason: "R",
        message: "m",
        observedGeneration: 3,
        lastTransitionTime: T0,
      },
    ]);
  });

  it("writes a message within the CRD's 32768 and with its control characters escaped: the API server would refuse the status", () => {
    const [c] = mergeConditions(
      undefined,
      [
        {
          type: "Valid",
          status: "False",
          reason: "TemplateRefused",
          message: `\u001b[2J${"x".repeat(40_000)}`,
        },
      ],
      1,
      T0,
    );
    expect(c!.message.startsWith("\\x1b[2Jxxx")).toBe(true);
    expect(Buffer.byteLength(c!.message)).toBeLessThanOrEqual(32768);
  });

  it("keeps lastTransitionTime when only reason, message or generation change", () => {
    const first = mergeConditions(
      undefined,
      [{ type: "Ready", status: "False", reason: "A", message: "a" }],
      1,
      T0,
    );
    const second = mergeConditions(
      first,
      [{ type: "Ready", status: "False", reason: "B", message: "b" }],
      2,
      T1,
    );
    expect(second[0]).toMatchObject({ reason: "B", observedGeneration: 2, lastTransitionTime: T0 });
  });

  it("moves lastTransitionTime when status changes", () => {
    const first = mergeConditions(
      undefined,
      [{ type: "Ready", status: "False", reason: "A", message: "a" }],
      1,
      T0,
    );
    const second = mergeConditions(
      first,
      [{ type: "Ready", status: "True", reason: "A", message: "a" }],
      1,
      T1,
    );
    expect(second[0]?.lastTransitionTime).toBe(T1);
  });

  it("keeps conditions it was not given, sorted by type", () => {
    const first = mergeConditions(
      undefined,
      [{ type: "Valid", status: "True", reason: "V", message: "" }],
      1,
      T0,
    );
    const out = mergeConditions(
      first,
      [{ type: "Progressing", status: "False", reason: "P", message: "" }],
      1,
      T1,
    );
    expect(out.map((c) => c.type)).toEqual(["Progressing", "Valid"]);
  });
});
