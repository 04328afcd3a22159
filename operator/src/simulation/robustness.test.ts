import { describe, expect, it } from "vitest";
import type { CapacityCurve } from "./capacity.ts";
import { inlineRunner } from "./jobs.ts";
import { createPolicy } from "./policies/index.ts";
import type { PolicyResult } from "./results.ts";
import {
  assignTuning,
  beats,
  checkRobustness,
  excessOverNeed,
  excessWhy,
  familyDefaultSpecs,
  type Named,
  policySpecOf,
  ROBUSTNESS_TARGETS,
  robustnessJson,
  robustnessMarkdown,
  robustnessResultSchema,
  runRobustness,
  type TraceFigures,
} from "./robustness.ts";
import { baselineSpecs } from "./sweep.ts";
import { syntheticTrace, testScenario } from "./testing.ts";

const bounds = { minReplicas: 1, maxReplicas: 64 };

/** A curve with a plausible operating point, so the sweep's targets are not zero. */
function curve(tokensPerReplica = 2000): CapacityCurve {
  const point = (replicas: number) => ({
    replicas,
    requestsPerSecond: (replicas * tokensPerReplica) / 1000,
    tokensPerReplica,
    attainment: 0.99,
    running: 20,
    waiting: 0.5,
    inFlight: 21,
    kv: 0.4,
  });
  return { profile: "p", attainment: 0.99, meanTokens: 1000, points: [point(1), point(4)] };
}

function result(
  family: PolicyResult["family"],
  sloAttainment: number,
  gpuHours: number,
  name: string = family,
): Named {
  return {
    name,
    family,
    params: {},
    sloAttainment,
    gpuHours,
    costUsd: gpuHours,
    energyKWh: 0,
    peakPowerW: 0,
    budgetViolationSeconds: 0,
    scaleActions: 0,
    ttftP50: 0,
    ttftP95: 0,
    ttftP99: 0,
    refused: 0,
    abandoned: 0,
  };
}

describe("tuning once, on another trace", () => {
  it("tunes each trace on its group's first tuner, the first tuner on the next, a lone trace on none", () => {
    const traces = [
      { name: "conv", group: "l4" },
      { name: "code", group: "l4" },
      { name: "step", group: "l4" },
      { name: "long-a", group: "h100" },
      { name: "long-b", group: "h100" },
      { name: "alone", group: "a100" },
    ];
    const t = assignTuning(traces, { l4: ["conv", "code"], h100: ["long-a"] });
    expect(Object.fromEntries(t)).toEqual({
      conv: "code",
      code: "conv",
      step: "conv",
      "long-a": "long-b",
      "long-b": "long-a",
      alone: undefined,
    });
    // A tuner missing from the run (--only): the next one, then any other trace of the group.
    const quick = assignTuning(traces.slice(1, 3), { l4: ["conv", "code"] });
    expect(Object.fromEntries(quick)).toEqual({ code: "step", step: "code" });
  });

  it("turns every configuration of the full sweep back into the spec that ran it", () => {
    const scenario = testScenario();
    const specs = baselineSpecs({ curve: curve(), peakNeed: 12, ...bounds, quick: false });
    expect(specs.length).toBeGreaterThan(40);
    for (const spec of specs) {
      const policy = createPolicy(spec, scenario);
      const again = createPolicy(
        policySpecOf({ family: policy.family, params: policy.params }, bounds),
        scenario,
      );
      expect(again.name).toBe(policy.name);
      expect(again.params).toEqual(policy.params);
    }
    expect(() => policySpecOf({ family: "inferops", params: {} }, bounds)).toThrow(/not a baseline/);
    expect(() => policySpecOf({ family: "static", params: {} }, bounds)).toThrow(/replicas/);
  });

  it("names KEDA's and Knative's defaults as the full sweep runs them", () => {
    const scenario = testScenario();
    const full = new Set(
      baselineSpecs({ curve: curve(), peakNeed: 12, ...bounds, quick: false }).map(
        (s) => createPolicy(s, scenario).name,
      ),
    );
    for (const spec of familyDefaultSpecs(bounds))
      expect(full.has(createPolicy(spec, scenario).name)).toBe(true);
  });
});

describe("the excess over the need", () => {
  const timeline = (ready: number[]) => ready.map((r, m) => ({ t: m * 60, ready: r }));

  it("allows holding a fallen need for one lead time, then counts each minute over 1.5x and 2 replicas", () => {
    const needs = [10, 10, 2, 2, 2, 2, 2, 2, 2, 2];
    // Lead 180 s: minutes 2-4 still see the 10 of minute 1; from minute 5 the need is 2.
    const held = excessOverNeed(timeline([10, 10, 10, 10, 10, 10, 10, 3, 4, 10]), needs, 180);
    expect(held.minutes).toBe(4); // minutes 5, 6, 8 and 9: 3 is within 1.5x, 4 is 2x and 2 over
    expect(held.longest).toBe(2);
    expect(held.worst).toEqual({ minute: 5, held: 10, need: 2 });
    expect(excessOverNeed(timeline([10, 10, 10, 10, 10, 3, 3, 3, 3, 3]), needs, 180).minutes).toBe(0);
  });

  it("says why each minute over was held, by the policy's decision reason then", () => {
    const needs = [10, 10, 2, 2, 2, 2, 2, 2, 2, 2];
    const reasons = ["QueueDepth", "QueueDepth", "ScaleDownStabilized", "ScaleDownStabilized"];
    const points = [10, 10, 10, 10, 10, 10, 10, 8, 8, 2].map((ready, m) => ({
      t: m * 60,
      ready,
      reason: reasons[Math.min(3, Math.floor(m / 2))]!,
    }));
    // Minutes 5-8 over: 5 (index 2, ScaleDownStabilized), 6-8 ScaleDownStabilized too.
    const x = excessOverNeed(points, needs, 180);
    expect(x.minutes).toBe(4);
    expect(x.byReason).toEqual({ ScaleDownStabilized: 4 });
    const why = excessWhy({ QueueDepth: 2, ScaleDownStabilized: 5, Mystery: 1 });
    expect(why).toMatch(
      /^Why, by inferops' decision at each minute over: 5 minutes ScaleDownStabilized \(the scale-down window/,
    );
    expect(why).toContain("; 2 minutes QueueDepth (pods still held a backlog");
    expect(why).toContain("; 1 minute Mystery");
    // Without reasons (the baselines), none are counted.
    expect(excessOverNeed(timeline([10, 10, 10, 10, 10, 10, 10]), needs, 180).byReason).toBeUndefined();
  });

  it("does not count one or two replicas over a small need, nor minutes past the needs", () => {
    expect(excessOverNeed(timeline([3, 3, 3]), [1, 1], 60).minutes).toBe(2); // minute 2 has no need: skipped
    expect(excessOverNeed(timeline([2, 2]), [1, 1], 60).minutes).toBe(0);
    expect(excessOverNeed([], [1], 60)).toEqual({ minutes: 0, longest: 0 });
  });
});

describe("issue 11's targets", () => {
  const figures = (over: Partial<TraceFigures> = {}): TraceFigures => ({
    trace: "t",
    inferops: result("inferops", 0.995, 10, "inferops"),
    clairvoyant: result("clairvoyant", 0.992, 9, "clairvoyant"),
    boundTarget: 0.99,
    clairvoyantAtInferops: 9.5,
    defaults: {},
    tunedOnce: {
      static: { ...result("static", 0.99, 12, "static-12"), params: { replicas: 12 }, tunedOn: "conv" },
      hpa: { ...result("hpa", 0.9, 6), tunedOn: "conv" },
    },
    hindsight: { static: result("static", 0.996, 11, "static-11"), kpa: result("kpa", 0.995, 9.5, "kpa") },
    excess: { minutes: 0, longest: 0 },
    leadSeconds: 360,
    ...over,
  });
  const verdicts = (f: TraceFigures) => checkRobustness(f).map((c) => c.verdict);

  it("meets all four when inferops reaches the floor, costs little, beats the tuned-once and never overholds", () => {
    expect(verdicts(figures())).toEqual(["met", "met", "met", "met"]);
    const lines = checkRobustness(figures());
    expect(lines[1]!.detail).toMatch(
      /1\.05x the clairvoyant bound.*1\.05x the cheapest hindsight-tuned baseline at its attainment, kpa/,
    );
    expect(lines[2]!.detail).toMatch(/beats static 12 replicas \(tuned on conv: 99\.00%, 12\.00 GPU-h\)/);
  });

  it("misses each one on its own failure", () => {
    // (1) below min(99%, the replayed bound - 1 point); a bound replaying at 97% lowers the floor to 96%.
    expect(verdicts(figures({ inferops: result("inferops", 0.98, 10) }))[0]).toBe("missed"); // floor 98.2%
    expect(
      verdicts(
        figures({ inferops: result("inferops", 0.965, 10), clairvoyant: result("clairvoyant", 0.97, 9) }),
      )[0],
    ).toBe("met");
    // (2) over 1.15x the bound at its attainment, or over 1.1x the cheapest hindsight configuration.
    expect(verdicts(figures({ clairvoyantAtInferops: 8 }))[1]).toBe("missed");
    expect(verdicts(figures({ hindsight: { kpa: result("kpa", 0.995, 9) } }))[1]).toBe("missed");
    // (3) a tuned-once configuration at the same attainment for less, or higher attainment for more.
    const cheaper = { ...result("keda", 0.995, 8), tunedOn: "conv" };
    expect(verdicts(figures({ tunedOnce: { keda: cheaper } }))[2]).toBe("missed");
    const better = { ...result("keda", 0.9999, 30), tunedOn: "conv" };
    expect(verdicts(figures({ tunedOnce: { keda: better } }))[2]).toBe("missed");
    // (4) any minute over.
    const excess = { minutes: 4, longest: 3, worst: { minute: 20, held: 30, need: 5 } };
    const c = checkRobustness(figures({ excess }))[3]!;
    expect(c.verdict).toBe("missed");
    expect(c.detail).toMatch(
      /4 minutes over \(longest run 3\); worst at minute 20: 30 ready against a need of 5/,
    );
  });

  it("prints no ratio against a bound whose replay misses its own target, and says why", () => {
    const f = figures({ clairvoyant: result("clairvoyant", 0.95, 9), hindsight: {} });
    const c = checkRobustness(f)[1]!;
    expect(c.verdict).toBe("n/a");
    expect(c.detail).toMatch(/its replay reaches 95\.00%, below the 99\.00% it is sized for/);
    expect(c.detail).toMatch(/no baseline configuration reaches 99\.50%/);
    // The hindsight comparison still applies alone.
    const h = checkRobustness({ ...f, hindsight: { static: result("static", 0.996, 12) } })[1]!;
    expect(h.verdict).toBe("met");
    expect(verdicts(figures({ tunedOnce: {} }))[2]).toBe("n/a");
  });

  it("counts much higher attainment as a win at any cost", () => {
    const inf = { sloAttainment: 0.99, gpuHours: 20 };
    expect(beats(inf, { sloAttainment: 0.99 - ROBUSTNESS_TARGETS.muchHigher, gpuHours: 5 })).toBe(true);
    expect(beats(inf, { sloAttainment: 0.985, gpuHours: 5 })).toBe(false);
    expect(beats(inf, { sloAttainment: 0.99, gpuHours: 20 })).toBe(false);
    expect(beats(inf, { sloAttainment: 0.99, gpuHours: 21 })).toBe(true);
  });
});

describe("runRobustness", () => {
  it("runs the suites, the missing defaults and the configurations tuned on the other trace, and reports them", async () => {
    const scenario = testScenario({ scaling: { maxReplicas: 8 } });
    const c = curve();
    // Two short traces of one group: a flat load and a step (about 2 and 6 replicas at 2,000 tokens/s).
    const flat = { ...syntheticTrace(600, () => 3, { seed: 1 }), name: "flat" };
    const step = { ...syntheticTrace(600, (t) => (t < 300 ? 3 : 9), { seed: 2 }), name: "step" };
    const traces = [flat, step].map((trace) => ({
      input: { name: trace.name, trace, day: false, scenario, curve: c, baselines: "quick" as const },
      group: "l4",
      description: `${trace.name} load`,
    }));
    const outcomes = await runRobustness(traces, inlineRunner(), { tuners: { l4: ["flat"] } });
    expect(outcomes.map((o) => o.tunedOn)).toEqual(["step", "flat"]);
    for (const o of outcomes) {
      const f = o.figures;
      expect(Object.keys(f.defaults).sort()).toEqual(["hpa", "keda", "kpa", "static"]);
      expect(f.defaults.keda!.params.minReplicaCount).toBe(0); // not in a quick sweep: run as an extra
      expect(Object.keys(f.tunedOnce).sort()).toEqual(["hpa", "keda", "kpa", "static"]);
      expect(o.checks).toHaveLength(4);
      expect(f.clairvoyantAtInferops).toBeGreaterThan(0);
    }
    // The static fleet tuned on the step is the step's best static fleet, run on the flat load.
    const stepStatic = outcomes[1]!.suite.result.policies;
    const tuned = outcomes[0]!.figures.tunedOnce.static!;
    expect(tuned.tunedOn).toBe("step");
    expect(stepStatic[tuned.name]).toBeDefined();

    const json = robustnessJson(outcomes, { command: "test", machine: "here", seconds: 1.4 });
    expect(robustnessResultSchema.parse(JSON.parse(JSON.stringify(json))).traces).toHaveLength(2);
    expect(json.traces[0]!.frontier.static!.length).toBeGreaterThan(0);
    const md = robustnessMarkdown(outcomes, { title: "robustness", preamble: ["test"] });
    expect(md).toMatch(/\| flat \| \d+\.\d+% \|/);
    expect(md).toMatch(/\| static \(tuned once, on step\) \|/);
    expect(md.match(/^- (met|\*\*missed\*\*|n\/a): /gm)).toHaveLength(8);
  }, 120_000);
});
