import { describe, expect, it } from "vitest";
import { getProfile } from "../serving/profiles.ts";
import { mulberry32 } from "../serving/workload.ts";
import { meanTokens, type RequestMix, windowNeeds } from "./capacity.ts";
import {
  buildFamilies,
  expectedRequests,
  FAMILY_SPECS,
  type FamilyMember,
  idleStretches,
  LONG_CONTEXT,
  longContextMix,
  memberSeed,
  type RatePoint,
  rateAt,
  requestsPerReplica,
  shapedTrace,
  stepShape,
  type Workload,
  withSpecProfile,
} from "./families.ts";
import { capacityCurve, testScenario } from "./testing.ts";
import { windowLoad } from "./trace.ts";

/** A conversation-like mix: prompts 200-3,000 tokens, outputs 20-600, seeded. */
function mix(size = 4000, seed = 5): RequestMix {
  const rand = mulberry32(seed);
  const prompt = new Int32Array(size);
  const output = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    prompt[i] = Math.round(200 + 2800 * rand() ** 2);
    output[i] = Math.round(20 + 580 * rand());
  }
  return { prompt, output };
}

const conv = mix();
const long = longContextMix(conv);
const h100 = (() => {
  const s = testScenario();
  const profile = getProfile("llama-3.1-8b-fp8/h100");
  return { ...s, profiles: { l4: profile } };
})();
const workloads: Record<"conv" | "long", Workload> = {
  conv: { scenario: testScenario(), mix: conv, tokensPerReplica: 2400 },
  long: { scenario: h100, mix: long, tokensPerReplica: 38_000 },
};
const all = buildFamilies(workloads, { seed: 3 });
const byName = (name: string): FamilyMember => all.find((m) => m.name === name)!;

describe("rate shapes", () => {
  it("interpolates linearly and jumps where two points share a time", () => {
    const shape = stepShape(2, 5, 100, 200);
    expect(rateAt(shape, 50)).toBe(2);
    expect(rateAt(shape, 100)).toBe(10);
    expect(rateAt(shape, 199.9)).toBe(10);
    expect(rateAt(shape, 200)).toBe(2);
    const ramp: RatePoint[] = [
      { t: 0, replicas: 0 },
      { t: 100, replicas: 10 },
    ];
    expect(rateAt(ramp, 25)).toBe(2.5);
    expect(expectedRequests(ramp, 2, 0, 100)).toBe(1000);
    expect(expectedRequests(ramp, 2, 50, 100)).toBe(750);
  });

  it("finds the idle stretches, merged across points", () => {
    const shape: RatePoint[] = [
      { t: 0, replicas: 0 },
      { t: 60, replicas: 0 },
      { t: 120, replicas: 0 },
      { t: 120, replicas: 5 },
      { t: 180, replicas: 5 },
      { t: 180, replicas: 0 },
      { t: 240, replicas: 0 },
    ];
    expect(idleStretches(shape)).toEqual([
      [0, 120],
      [180, 240],
    ]);
  });

  it("rejects a shape that does not start at 0, runs backwards or goes negative", () => {
    const ok = { t: 0, replicas: 1 };
    expect(() =>
      shapedTrace(
        "x",
        [
          { t: 5, replicas: 1 },
          { t: 10, replicas: 1 },
        ],
        1,
        conv,
        1,
      ),
    ).toThrow(/t = 0/);
    expect(() => shapedTrace("x", [ok, { t: 10, replicas: 1 }, { t: 5, replicas: 1 }], 1, conv, 1)).toThrow(
      /must not decrease/,
    );
    expect(() => shapedTrace("x", [ok, { t: 10, replicas: -1 }], 1, conv, 1)).toThrow(/negative/);
  });
});

describe("the families", () => {
  it("covers every family the suite asks for, with unique names", () => {
    const names = FAMILY_SPECS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(FAMILY_SPECS.map((s) => s.family))).toEqual(
      new Set(["step", "idle-burst", "ramp", "bursts", "long-context", "wrong-profile"]),
    );
    expect(names).toEqual(
      expect.arrayContaining(["step-3x", "step-5x", "step-10x", "bursts-5m", "bursts-10m", "bursts-20m"]),
    );
  });

  it("is deterministic for a seed and differs across seeds and members", () => {
    const again = buildFamilies(workloads, { seed: 3, only: ["step-10x", "idle-burst"] });
    for (const m of again) {
      const first = byName(m.name);
      expect([...m.trace.arrivals]).toEqual([...first.trace.arrivals]);
      expect([...m.trace.prompt]).toEqual([...first.trace.prompt]);
    }
    const other = buildFamilies(workloads, { seed: 4, only: ["step-10x"] })[0]!;
    expect(other.trace.arrivals.length).not.toBe(byName("step-10x").trace.arrivals.length);
    expect(memberSeed("step-3x", 1)).not.toBe(memberSeed("step-5x", 1));
    expect(() => buildFamilies(workloads, { only: ["step-11x"] })).toThrow(/no family member step-11x/);
  });

  it("follows each member's rate shape: requests per minute within Poisson noise of the shape's", () => {
    for (const m of all) {
      const perReplica = requestsPerReplica(workloads[m.workload]);
      const load = windowLoad(m.trace, 60);
      expect(load.requests.length).toBe(60);
      let total = 0;
      load.requests.forEach((got, w) => {
        const want = expectedRequests(m.shape, perReplica, w * 60, w * 60 + 60);
        total += want;
        // 5 standard deviations: a deterministic seed, but no test of luck.
        expect(Math.abs(got - want), `${m.name} minute ${w}`).toBeLessThanOrEqual(5 * Math.sqrt(want) + 1);
      });
      expect(Math.abs(m.trace.arrivals.length - total)).toBeLessThanOrEqual(4 * Math.sqrt(total));
    }
  });

  it("keeps the heights: a 10x step's busiest minute is about 10 times its quietest", () => {
    const load = windowLoad(byName("step-10x").trace, 60).requests;
    const ratio = Math.max(...load) / Math.min(...load);
    expect(ratio).toBeGreaterThan(8);
    expect(ratio).toBeLessThan(12.5);
    const ramp = windowLoad(byName("ramp").trace, 60).requests;
    expect(ramp[29]! / ramp[2]!).toBeGreaterThan(9); // 2 -> 24 replicas of load
  });

  it("holds no request in an idle stretch, and counts leading idle time in the trace's duration", () => {
    for (const m of all) {
      for (const [from, to] of idleStretches(m.shape)) {
        expect(
          m.trace.arrivals.some((t) => t >= from && t < to),
          `${m.name} [${from}, ${to})`,
        ).toBe(false);
      }
      expect(m.trace.durationSeconds).toBe(3600);
    }
    const idle = byName("idle-burst").trace;
    expect(idle.arrivals[0]!).toBeGreaterThanOrEqual(1200);
    expect(idle.arrivals[0]!).toBeLessThan(1210);
    const load = windowLoad(idle, 60).requests;
    expect(load.slice(0, 20).every((n) => n === 0)).toBe(true);
    expect(load[20]!).toBeGreaterThan(0);
    expect(idleStretches(byName("idle-bursts").shape)).toEqual([
      [0, 900],
      [1080, 1800],
      [1980, 2700],
      [2880, 3600],
    ]);
  });

  it("sizes peaks to need roughly 8 to 30 replicas at the workload's capacity", () => {
    for (const m of all) {
      const w = workloads[m.workload];
      const curve = capacityCurve([[1, 1, w.tokensPerReplica]]);
      const peak = Math.max(...windowNeeds(curve, windowLoad(m.trace, 60)));
      expect(peak, m.name).toBeGreaterThanOrEqual(8);
      expect(peak, m.name).toBeLessThanOrEqual(30);
    }
  });

  it("runs long-context members on their workload's scenario and prompts of 8k-30k tokens", () => {
    const m = byName("long-ramp");
    expect(m.scenario).toBe(h100);
    expect(Math.min(...m.trace.prompt)).toBeGreaterThanOrEqual(LONG_CONTEXT.minPrompt);
    expect(Math.max(...m.trace.prompt)).toBeLessThanOrEqual(LONG_CONTEXT.maxPrompt);
    expect(byName("step-3x").scenario).toBe(workloads.conv.scenario);
  });

  it("gives wrong-profile members a spec profile off by +-50% while the simulated profile stays true", () => {
    const truth = workloads.conv.scenario.service.spec.accelerators[0]!.profile!.maxTokensPerSecond;
    for (const [name, factor] of [
      ["wrong-profile-x1.5", 1.5],
      ["wrong-profile-x0.5", 0.5],
    ] as const) {
      const m = byName(name);
      expect(m.scenario.service.spec.accelerators[0]!.profile!.maxTokensPerSecond).toBe(
        Math.round(truth * factor),
      );
      expect(m.scenario.profiles).toBe(workloads.conv.scenario.profiles);
    }
    // The original scenario is untouched.
    expect(workloads.conv.scenario.service.spec.accelerators[0]!.profile!.maxTokensPerSecond).toBe(truth);
    expect(withSpecProfile(workloads.conv.scenario, 1).service.spec.accelerators[0]!.profile).toEqual(
      workloads.conv.scenario.service.spec.accelerators[0]!.profile,
    );
  });
});

describe("the long-context mix", () => {
  it("maps prompts by rank onto 8k-30k tokens, keeps their order and stays within the context", () => {
    expect(Math.min(...long.prompt)).toBe(LONG_CONTEXT.minPrompt);
    expect(Math.max(...long.prompt)).toBe(LONG_CONTEXT.maxPrompt);
    for (let i = 0; i < conv.prompt.length; i++) {
      for (const j of [i + 1, i + 7]) {
        if (j >= conv.prompt.length) continue;
        if (conv.prompt[i]! < conv.prompt[j]!) expect(long.prompt[i]!).toBeLessThanOrEqual(long.prompt[j]!);
      }
      expect(long.prompt[i]! + long.output[i]!).toBeLessThanOrEqual(LONG_CONTEXT.maxContext);
    }
    expect([...long.output]).toEqual([...conv.output]); // outputs of 20-600 fit beside 30k prompts
    expect(meanTokens(long)).toBeGreaterThan(12_000);
  });

  it("clips outputs that would overflow the context", () => {
    const m = longContextMix({ prompt: Int32Array.from([10, 20]), output: Int32Array.from([5, 9000]) });
    expect([...m.prompt]).toEqual([8192, 30_000]);
    expect([...m.output]).toEqual([5, 2768]);
  });
});
