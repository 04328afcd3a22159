// The committed robustness results (bench/results/robustness.json, written by npm run bench:robustness) stay
// in their format, with the four targets checked on every trace.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { robustnessResultSchema } from "../operator/src/simulation/robustness.ts";

describe("the robustness results", () => {
  it("keeps committed results in their format, four targets per trace", () => {
    const file = join(import.meta.dirname, "results", "robustness.json");
    if (!existsSync(file)) return;
    const parsed = robustnessResultSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    expect(parsed.traces.length).toBeGreaterThan(0);
    for (const t of parsed.traces) expect(t.targets).toHaveLength(4);
  });
});
