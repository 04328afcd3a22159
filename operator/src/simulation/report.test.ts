import { describe, expect, it } from "vitest";
import { latestAskLine } from "./report.ts";

describe("latestAskLine", () => {
  const base = { attainment: 0.99, warm: 14, to: 64 };
  it("says by when capacity must be asked for, and whether any demand seen by then asked for it", () => {
    const line = latestAskLine({
      ...base,
      seconds: 210,
      reached: { at: 210, attainment: 0.996 },
      missed: { at: 220, attainment: 0.9868 },
      busiestNeedBefore: 13,
    });
    expect(line).toContain("must be asked for by 210 s");
    expect(line).toContain("at 220 s, 98.68%");
    expect(line).toContain("needed 13 replicas");
    expect(line).toContain("before any demand calls for it");
    const seen = latestAskLine({
      ...base,
      seconds: 880,
      reached: { at: 880, attainment: 0.9902 },
      missed: { at: 890, attainment: 0.9898 },
      busiestNeedBefore: 19,
    });
    expect(seen).not.toContain("before any demand");
  });
  it("says when the warm fleet is enough, and when no policy reaches the target", () => {
    expect(
      latestAskLine({
        ...base,
        seconds: 3600,
        reached: { at: 3600, attainment: 0.995 },
        busiestNeedBefore: 9,
      }),
    ).toContain("warm fleet of 14 alone reaches 99.50%");
    expect(latestAskLine({ ...base, missed: { at: 0, attainment: 0.97 } })).toContain(
      "no policy starting from this warm start",
    );
  });
});
