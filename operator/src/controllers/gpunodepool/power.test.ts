// A pool's power in status: measured while fresh, nominal (never zero) when stale, with PowerMeasured and
// its events on each transition.
import { describe, expect, it } from "vitest";
import { gpuNodePoolSpecSchema } from "../../apis/gpunodepool.ts";
import type { PoolNode } from "../../nodepools/provider.ts";
import { T0, testPool } from "../../nodepools/testing.ts";
import { poolPower } from "../../signals/power.ts";
import { powerTransition } from "./events.ts";
import { computePoolStatus, type PoolStatusInput } from "./status.ts";

const base = testPool("gpu").spec; // 8 GPUs per node, 700 W busy and 90 W idle per GPU
const spec = gpuNodePoolSpecSchema.parse({
  ...base,
  power: { ...base.power, measured: { source: "Kepler" } },
});
const nodes: PoolNode[] = [{ name: "a", state: "ready", gpus: 8, createdAt: T0 }];
const measure = (watts?: number) =>
  poolPower({
    power: spec.power,
    nodes: [{ name: "a", gpus: 8 }],
    usedGPUs: 2,
    ...(watts !== undefined ? { reading: { ok: true as const, watts: new Map([["a", watts]]) } } : {}),
  });
const input = (over: Partial<PoolStatusInput>): PoolStatusInput => ({
  spec,
  generation: 1,
  nodes,
  usedGPUs: 2,
  health: {},
  nowIso: new Date(T0).toISOString(),
  ...over,
});
const cond = (s: ReturnType<typeof computePoolStatus>) =>
  s.conditions?.find((c) => c.type === "PowerMeasured");

describe("pool status power", () => {
  it("reports the measured watts and their source while fresh", () => {
    const s = computePoolStatus(input({ power: measure(1234.56) }));
    expect(s).toMatchObject({ powerWatts: 1234.6, powerSource: "Kepler" });
    expect(cond(s)).toMatchObject({ status: "True", reason: "PowerMeasured" });
  });

  it("keeps the measured figure it reported while the draw wavers within 2%, so status is not rewritten", () => {
    const first = computePoolStatus(input({ power: measure(1000) }));
    const wavers = computePoolStatus(input({ power: measure(1015), previous: first }));
    expect(wavers).toEqual(first);
    expect(computePoolStatus(input({ power: measure(1100), previous: first })).powerWatts).toBe(1100);
  });

  it("falls back to nominal watts, never zero, when the measurement is stale", () => {
    const s = computePoolStatus(input({ power: measure() }));
    expect(s).toMatchObject({ powerWatts: 2 * 700 + 6 * 90, powerSource: "Nominal" });
    expect(cond(s)).toMatchObject({ status: "False", reason: "PowerMeasurementStale" });
  });

  it("waits for the next plan's reading, and drops the condition when measurement is no longer asked for", () => {
    const waiting = computePoolStatus(input({}));
    expect(cond(waiting)).toMatchObject({ status: "Unknown", reason: "AwaitingPlan" });
    const off = computePoolStatus(input({ spec: base, previous: waiting }));
    expect(off.powerSource).toBe("Nominal");
    expect(cond(off)).toBeUndefined();
    // A reading from the plan made before measurement was turned off does not count.
    expect(computePoolStatus(input({ spec: base, power: measure(1000) })).powerSource).toBe("Nominal");
  });

  it("records an event when the measurement turns stale and when it is fresh again, not while it stays", () => {
    const fresh = cond(computePoolStatus(input({ power: measure(1000) })));
    const stale = cond(computePoolStatus(input({ power: measure() })));
    expect(powerTransition(fresh, stale)).toMatchObject({ type: "Warning", reason: "PowerMeasurementStale" });
    expect(powerTransition(stale, fresh)).toMatchObject({ type: "Normal", reason: "PowerMeasured" });
    expect(powerTransition(stale, stale)).toBeUndefined();
    expect(powerTransition(undefined, { status: "Unknown", message: "" })).toBeUndefined();
  });
});
