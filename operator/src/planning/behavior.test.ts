import { describe, expect, it } from "vitest";
import { Reason } from "../apis/conditions.ts";
import { behaviorSchema } from "../apis/inferenceservice.ts";
import {
  applyBehavior,
  type Behavior,
  ceil,
  pruneRecommendations,
  pruneScaleEvents,
  replicasForRatio,
  scaleDownLimit,
  scaleUpLimit,
  stabilize,
} from "./behavior.ts";
import { T0 } from "./testkit.ts";

const defaults: Behavior = behaviorSchema.parse({});
/** The scale-down defaults before 2026-12: Percent 25 per 120 s, kept as a typical slow policy. */
const slowDown: Behavior = behaviorSchema.parse({
  scaleDown: { policies: [{ type: "Percent", value: 25, periodSeconds: 120 }] },
});
const at = (seconds: number) => T0 + seconds * 1000;

describe("tolerance (HPA)", () => {
  it.each([
    // current, ratio, tolerance, replicas, within
    [10, 1.05, 0.1, 10, true],
    [10, 0.95, 0.1, 10, true],
    [10, 1.1, 0.1, 10, true],
    [10, 1.11, 0.1, 12, false],
    [10, 0.85, 0.1, 9, false],
    [10, 1.05, 0, 11, false],
    [0, 3, 0.1, 0, false],
  ])("current %d ratio %f tolerance %f -> %d", (current, ratio, tol, replicas, within) => {
    expect(replicasForRatio(current, ratio, tol)).toEqual({ replicas, withinTolerance: within });
  });

  it("ceil forgives floating-point dust", () => {
    expect(ceil(4.0000000000001)).toBe(4);
    expect(ceil(4.01)).toBe(5);
    expect(ceil(-1)).toBe(0);
  });
});

describe("stabilization windows (HPA)", () => {
  it.each([
    {
      name: "scale-down held by a higher recommendation in the window",
      recs: [[at(-300), 8]],
      desired: 5,
      current: 10,
      up: 0,
      down: 600,
      value: 8,
      reason: Reason.ScaleDownStabilized,
    },
    {
      name: "scale-down free once the higher recommendation left the window",
      recs: [[at(-700), 8]],
      desired: 5,
      current: 10,
      up: 0,
      down: 600,
      value: 5,
      reason: undefined,
    },
    {
      name: "never above current on the way down",
      recs: [[at(-10), 20]],
      desired: 5,
      current: 10,
      up: 0,
      down: 600,
      value: 10,
      reason: Reason.ScaleDownStabilized,
    },
    {
      name: "scale-up held by a lower recommendation in the scale-up window",
      recs: [[at(-30), 6]],
      desired: 10,
      current: 5,
      up: 60,
      down: 600,
      value: 6,
      reason: Reason.ScaleUpStabilized,
    },
    {
      name: "scale-up immediate with no scale-up window (the default)",
      recs: [[at(-30), 6]],
      desired: 10,
      current: 5,
      up: 0,
      down: 600,
      value: 10,
      reason: undefined,
    },
  ])("$name", ({ recs, desired, current, up, down, value, reason }) => {
    const r = stabilize({
      recommendations: recs as [number, number][],
      nowMs: at(0),
      desired,
      current,
      upWindowSeconds: up,
      downWindowSeconds: down,
    });
    expect(r).toEqual(reason ? { value, reason } : { value });
  });
});

describe("rate policies (HPA)", () => {
  const rules = (over: object) => behaviorSchema.parse({ scaleUp: over, scaleDown: over });

  it.each([
    // default scale-up: Percent 100 or Pods 4 per 15 s, Max
    { name: "small: +4 beats doubling", current: 3, events: [], up: defaults.scaleUp, limit: 7 },
    { name: "large: doubling beats +4", current: 10, events: [], up: defaults.scaleUp, limit: 20 },
    {
      name: "changes within the period count: 5 added 10 s ago",
      current: 8,
      events: [[at(-10), 5]],
      up: defaults.scaleUp,
      limit: 8, // period start 3: max(6, 7) = 7 < current: no further now
    },
    {
      name: "changes before the period do not",
      current: 8,
      events: [[at(-20), 5]],
      up: defaults.scaleUp,
      limit: 16,
    },
    {
      name: "selectPolicy Min takes the smaller step",
      current: 10,
      events: [],
      up: rules({
        selectPolicy: "Min",
        policies: [
          { type: "Percent", value: 100, periodSeconds: 15 },
          { type: "Pods", value: 4, periodSeconds: 15 },
        ],
      }).scaleUp,
      limit: 14,
    },
    {
      name: "Disabled never scales up",
      current: 3,
      events: [],
      up: rules({ selectPolicy: "Disabled" }).scaleUp,
      limit: 3,
    },
    { name: "from zero: Pods 4", current: 0, events: [], up: defaults.scaleUp, limit: 4 },
    {
      name: "from zero with only a Percent policy: one replica",
      current: 0,
      events: [],
      up: rules({ policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] }).scaleUp,
      limit: 1,
    },
  ])("scale-up: $name", ({ current, events, up, limit }) => {
    expect(scaleUpLimit(current, events as [number, number][], at(0), up)).toBe(limit);
  });

  it.each([
    // a slow scale-down: Percent 25 per 120 s
    { name: "25% of 10", current: 10, events: [], rules: slowDown.scaleDown, limit: 7 },
    {
      name: "25% of 3 rounds down to removing 0.75 -> 2",
      current: 3,
      events: [],
      rules: slowDown.scaleDown,
      limit: 2,
    },
    {
      name: "a removal in the period uses it up",
      current: 7,
      events: [[at(-60), -3]],
      rules: slowDown.scaleDown,
      limit: 7,
    },
    // Kubernetes docs example: 80 replicas, Pods 4 / 60 s and Percent 10 / 60 s
    {
      name: "docs example, Max: 10% of 80 is 8 (more than 4 pods)",
      current: 80,
      events: [],
      rules: rules({
        policies: [
          { type: "Pods", value: 4, periodSeconds: 60 },
          { type: "Percent", value: 10, periodSeconds: 60 },
        ],
      }).scaleDown,
      limit: 72,
    },
    {
      name: "docs example, Min: 4 pods",
      current: 80,
      events: [],
      rules: rules({
        selectPolicy: "Min",
        policies: [
          { type: "Pods", value: 4, periodSeconds: 60 },
          { type: "Percent", value: 10, periodSeconds: 60 },
        ],
      }).scaleDown,
      limit: 76,
    },
    {
      name: "Disabled never scales down",
      current: 9,
      events: [],
      rules: rules({ selectPolicy: "Disabled" }).scaleDown,
      limit: 9,
    },
  ])("scale-down: $name", ({ current, events, rules: r, limit }) => {
    expect(scaleDownLimit(current, events as [number, number][], at(0), r)).toBe(limit);
  });
});

describe("applyBehavior", () => {
  const base = {
    behavior: defaults,
    nowMs: at(0),
    recommendations: [] as [number, number][],
    scaleEvents: [] as [number, number][],
    upWindowSeconds: 0,
    downWindowSeconds: 600,
    panic: false,
    rateLimits: true,
  };

  it("passes a recommendation through when nothing limits it", () => {
    expect(applyBehavior({ ...base, current: 4, desired: 6 })).toEqual({
      value: 6,
      reason: undefined,
      message: undefined,
    });
  });

  it("rate-limits a scale-up and says so", () => {
    const r = applyBehavior({ ...base, current: 2, desired: 30 });
    expect(r).toMatchObject({ value: 6, reason: Reason.ScaleUpLimit });
  });

  it("rate-limits a scale-down after stabilization", () => {
    const r = applyBehavior({ ...base, behavior: slowDown, current: 20, desired: 2, downWindowSeconds: 0 });
    expect(r).toMatchObject({ value: 15, reason: Reason.ScaleDownLimit });
  });

  it("by default, once the window lets go, goes down to the recommendation at once", () => {
    const r = applyBehavior({ ...base, current: 20, desired: 2, downWindowSeconds: 0 });
    expect(r.value).toBe(2);
  });

  it("without rate limits (mode Recommend) gives the stabilized target", () => {
    expect(applyBehavior({ ...base, current: 2, desired: 30, rateLimits: false }).value).toBe(30);
  });

  it("panic skips scale-up stabilization", () => {
    const calm = applyBehavior({
      ...base,
      current: 4,
      desired: 8,
      upWindowSeconds: 300,
      recommendations: [[at(-60), 4]],
    });
    expect(calm).toMatchObject({ value: 4, reason: Reason.ScaleUpStabilized });
    const panic = applyBehavior({
      ...base,
      current: 4,
      desired: 8,
      upWindowSeconds: 300,
      recommendations: [[at(-60), 4]],
      panic: true,
    });
    expect(panic.value).toBe(8);
  });

  it("panic never scales down", () => {
    const r = applyBehavior({ ...base, current: 10, desired: 3, downWindowSeconds: 0, panic: true });
    expect(r).toMatchObject({ value: 10, reason: Reason.PanicMode });
  });
});

describe("pruning", () => {
  it("keeps recommendations within the window", () => {
    expect(
      pruneRecommendations(
        [
          [at(-700), 1],
          [at(-100), 2],
        ],
        at(0),
        600,
      ),
    ).toEqual([[at(-100), 2]]);
  });
  it("keeps scale events within the longest policy period", () => {
    // 15 s up, 120 s down
    expect(
      pruneScaleEvents(
        [
          [at(-200), 1],
          [at(-100), -2],
          [at(-5), 3],
        ],
        at(0),
        slowDown,
      ),
    ).toEqual([
      [at(-100), -2],
      [at(-5), 3],
    ]);
  });
});
