import { describe, expect, it } from "vitest";
import { createPolicy } from "./policies/index.ts";
import type { Policy } from "./policy.ts";
import type { Scenario } from "./scenario.ts";
import { simulate } from "./simulate.ts";
import { syntheticTrace, testScenario } from "./testing.ts";

const steady = syntheticTrace(900, () => 6, { seed: 1 });

/** Scales to `to` replicas at `at` seconds, then holds. */
function stepPolicy(at: number, to: number): Policy {
  return {
    name: "step",
    family: "static",
    params: {},
    intervalSeconds: 1,
    decide: (v) => ({ replicas: { [v.primaryPool]: v.t >= at ? to : v.desired(v.primaryPool) } }),
  };
}

describe("the simulator", async () => {
  it("is deterministic: the same inputs give the same result", async () => {
    const sc = testScenario();
    const run = () => simulate(steady, sc, createPolicy({ family: "inferops" }, sc), { warmReplicas: 2 });
    expect(await run()).toEqual(await run());
  });

  it("conserves requests: every request is served or counted as unserved", async () => {
    const sc = testScenario();
    for (const spec of [
      { family: "static" as const, replicas: 1 },
      { family: "static" as const, replicas: 4 },
      { family: "inferops" as const },
    ]) {
      const r = await simulate(steady, sc, createPolicy(spec, sc), { warmReplicas: 2, drainSeconds: 60 });
      expect(r.requests).toBe(steady.arrivals.length);
      expect(r.sloMet).toBeLessThanOrEqual(r.requests - r.unserved);
      expect(r.unserved).toBeGreaterThanOrEqual(0);
      if (spec.family !== "static" || spec.replicas > 1) expect(r.unserved).toBe(0);
    }
    // One replica is overloaded: its queue is served late (TTFT says how late), nothing is lost.
    const starved = await simulate(steady, sc, createPolicy({ family: "static", replicas: 1 }, sc), {
      warmReplicas: 1,
    });
    expect(starved.unserved).toBe(0);
    expect(starved.sloAttainment).toBeLessThan(0.5);
    expect(starved.ttftP99).toBeGreaterThan(100);
    // No replica at all from t = 300: the router holds what arrives; unserved at the end, and counted.
    const none = await simulate(steady, sc, stepPolicy(300, 0), { warmReplicas: 2, drainSeconds: 60 });
    const after = [...steady.arrivals].filter((t) => t > 300.5).length;
    expect(none.unserved).toBeGreaterThanOrEqual(after);
    expect(none.unserved).toBeLessThan(after + 20);
    expect(none.sloMet).toBeLessThanOrEqual(none.requests - none.unserved);
  });

  it("bills nodes from provisioning start and makes new capacity wait for the node and the model", async () => {
    const sc = testScenario({ pool: { provisioningSeconds: 300, scaleDownDelaySeconds: 600 } });
    const r = await simulate(steady, sc, stepPolicy(100, 3), { warmReplicas: 1, timelineSeconds: 10 });
    const at = (t: number) => r.timeline.find((p) => p.t === t)!;
    expect(at(110)).toMatchObject({ desired: 3, ready: 1, nodes: 3 });
    expect(at(450).ready).toBe(1); // node ready at 400, model loads for 60 s
    expect(at(470).ready).toBe(3);
    // 1 node for 900 s, 2 nodes from their provisioning start at 100 s: 900 + 2 x 800 node-seconds.
    expect(r.gpuHours).toBeCloseTo((900 + 2 * 800) / 3600, 6);
    expect(r.costUsd).toBeCloseTo((900 + 2 * 800) / 3600, 6);
  });

  it("drains on scale-down and removes an empty node only after the pool's scale-down delay", async () => {
    const sc = testScenario({ pool: { scaleDownDelaySeconds: 200 } });
    const r = await simulate(steady, sc, stepPolicy(300, 1), { warmReplicas: 3, timelineSeconds: 10 });
    const at = (t: number) => r.timeline.find((p) => p.t === t)!;
    expect(at(310)).toMatchObject({ desired: 1, ready: 1, nodes: 3 });
    expect(at(490).nodes).toBe(3);
    expect(at(560).nodes).toBe(1);
    expect(r.unserved).toBe(0); // drained replicas finished their requests
    // Two nodes were billed until about 300 + drain + 200 s.
    expect(r.gpuHours * 3600).toBeGreaterThan(900 + 2 * 500);
    expect(r.gpuHours * 3600).toBeLessThan(900 + 2 * 560);
  });

  it("scales nodes as the operator does: a plan's nodes are the pool's target, whatever its pods need", async () => {
    const sc = testScenario({ pool: { provisioningSeconds: 60, scaleDownDelaySeconds: 100 } });
    /** From t = 100: `replicas` replicas and `nodes` nodes, as inferops' Plan gives both. */
    const planned = (replicas: number, nodes: number): Policy => ({
      name: "planned",
      family: "static",
      params: {},
      intervalSeconds: 10,
      decide: (v) =>
        v.t < 100
          ? { replicas: {} }
          : { replicas: { [v.primaryPool]: replicas }, nodes: { [v.primaryPool]: nodes } },
    });
    const timeline = async (policy: Policy) => {
      const r = await simulate(steady, sc, policy, { warmReplicas: 1, timelineSeconds: 10 });
      return (t: number) => r.timeline.find((p) => p.t === t)!;
    };
    // Three replicas on the two nodes planned: the GPUNodePool controller adds no node for the third pod, which
    // stays pending (one GPU a node).
    const short = await timeline(planned(3, 2));
    expect(short(400)).toMatchObject({ desired: 3, ready: 2, nodes: 2 });
    // Four nodes planned for one replica: the provider adds them, and none goes while the plan wants them.
    const spare = await timeline(planned(1, 4));
    expect(spare(400)).toMatchObject({ desired: 1, ready: 1, nodes: 4 });
    expect(spare(890).nodes).toBe(4);
    // A policy that plans no nodes (a baseline): the nodes follow the pods.
    const follow = await timeline(stepPolicy(100, 3));
    expect(follow(400)).toMatchObject({ desired: 3, ready: 3, nodes: 3 });
  });

  it("decides again sooner when the policy asks (inferops' Plan.replanAfterMs), then at its interval from there", async () => {
    const at: number[] = [];
    const policy: Policy = {
      name: "again",
      family: "static",
      params: {},
      intervalSeconds: 10,
      decide: (v) => {
        at.push(v.t);
        return { replicas: {}, ...(at.length === 2 ? { againInSeconds: 2 } : {}) };
      },
    };
    await simulate(steady, testScenario(), policy, { warmReplicas: 2, drainSeconds: 0 });
    expect(at.slice(0, 5)).toEqual([10, 20, 22, 32, 42]);
  });

  it("meters busy and idle power and the seconds over a budget", async () => {
    const sc = testScenario({
      budgets: [{ name: "cap", spec: { limits: { powerWatts: 150 } } }],
    });
    const r = await simulate(steady, sc, createPolicy({ family: "static", replicas: 3 }, sc), {
      warmReplicas: 3,
    });
    expect(r.peakPowerW).toBe(3 * 72);
    expect(r.energyKWh).toBeGreaterThan((3 * 16 * 900) / 3.6e6);
    expect(r.energyKWh).toBeLessThanOrEqual((3 * 72 * 900) / 3.6e6 + 1e-9);
    // Three replicas request 3 x 72 W against a 150 W cap, the whole run.
    expect(r.budgetViolationSeconds).toBe(900);
    const within = await simulate(steady, sc, createPolicy({ family: "static", replicas: 2 }, sc), {
      warmReplicas: 2,
    });
    expect(within.budgetViolationSeconds).toBe(0);
  });

  it("inferops respects a budget that the baselines ignore", async () => {
    const sc = testScenario({
      budgets: [{ name: "cap", spec: { limits: { gpus: [{ type: "nvidia-l4", max: 2 }] } } }],
    });
    const hot = syntheticTrace(900, () => 14, { seed: 2 });
    const inf = await simulate(hot, sc, createPolicy({ family: "inferops" }, sc), { warmReplicas: 2 });
    expect(inf.budgetViolationSeconds).toBe(0);
    const big = await simulate(hot, sc, createPolicy({ family: "static", replicas: 4 }, sc), {
      warmReplicas: 4,
    });
    expect(big.budgetViolationSeconds).toBe(900);
  });

  it("starts warm: the pre-roll leaves the fleet serving, so a static fleet's first minute is like the rest", async () => {
    const sc = testScenario();
    const r = await simulate(steady, sc, createPolicy({ family: "static", replicas: 3 }, sc), {
      warmReplicas: 3,
    });
    expect(r.sloAttainment).toBeGreaterThan(0.99);
    expect(r.timeline[0]).toMatchObject({ t: 0, ready: 3, desired: 3 });
    expect(r.requests).toBe(steady.arrivals.length); // pre-roll requests are not scored
  });

  it("refuses requests longer than the servers' context, as vLLM answers 400, and scores them apart", async () => {
    const sc = testScenario();
    // Every 10th request is 40,000 tokens, beyond the profile's 32,768.
    const long = {
      ...steady,
      prompt: Int32Array.from(steady.prompt, (p, i) => (i % 10 === 0 ? 40_000 : p)),
    };
    const refusedBefore = Math.ceil(steady.arrivals.length / 10);
    const r = await simulate(long, sc, createPolicy({ family: "static", replicas: 3 }, sc), {
      warmReplicas: 3,
    });
    expect(r.refused).toBe(refusedBefore);
    expect(r.requests).toBe(steady.arrivals.length - refusedBefore);
    expect(r.unserved).toBe(0);
    // Not SLO misses: the accepted requests meet the SLO as they do without the long ones.
    expect(r.sloAttainment).toBeGreaterThan(0.99);
    expect(r.ttftP99).toBeLessThan(2);
    // The scenario's context decides: at 1,000 tokens, every request of 1,000 or more is refused.
    const short = await simulate(
      steady,
      { ...sc, contextTokens: 1000 },
      createPolicy({ family: "static", replicas: 3 }, sc),
      { warmReplicas: 3 },
    );
    const over = [...steady.prompt].filter((p, i) => p + steady.output[i]! > 1000).length;
    expect(over).toBeGreaterThan(0);
    expect(short.refused).toBe(over);
    expect(short.requests).toBe(steady.arrivals.length - over);
  });

  it("clients give up after the scenario's timeout: the server stops working on their requests", async () => {
    const sc = testScenario();
    // One replica for 6 req/s: the queue grows all run long.
    const starve = (clientTimeoutSeconds: number) =>
      simulate(steady, { ...sc, clientTimeoutSeconds }, createPolicy({ family: "static", replicas: 1 }, sc), {
        warmReplicas: 1,
      });
    const forever = await starve(Number.POSITIVE_INFINITY);
    const patient = await starve(120);
    const impatient = await starve(20);
    expect(forever.abandoned).toBe(0);
    expect(forever.ttftP99).toBeGreaterThan(200);
    for (const r of [patient, impatient]) {
      // Every request is accounted for; the abandoned are scored, as misses, their TTFT the timeout.
      expect(r.requests).toBe(steady.arrivals.length);
      expect(r.unserved).toBe(0);
      expect(r.abandoned).toBeGreaterThan(0);
      expect(r.sloMet).toBeLessThanOrEqual(r.requests - r.abandoned);
    }
    expect(patient.ttftP99).toBeLessThanOrEqual(120 + 1);
    expect(impatient.ttftP99).toBeLessThanOrEqual(20 + 1);
    expect(impatient.abandoned).toBeGreaterThan(patient.abandoned);
  });

  it("holds a warm start within the pool's maxNodes: the pods beyond stay pending", async () => {
    const sc = testScenario({ pool: { maxNodes: 2 } });
    const r = await simulate(steady, sc, createPolicy({ family: "static", replicas: 5 }, sc), {
      warmReplicas: 5,
      timelineSeconds: 10,
    });
    expect(r.timeline[0]).toMatchObject({ desired: 5, ready: 2, nodes: 2 });
    expect(Math.max(...r.timeline.map((p) => p.nodes))).toBe(2);
    expect(r.gpuHours).toBeCloseTo((2 * 900) / 3600, 6);
  });
});

describe("several services on one fleet", async () => {
  const hiTrace = syntheticTrace(900, () => 6, { seed: 1 });
  const loTrace = syntheticTrace(900, () => 6, { seed: 2 });
  /** "hi" (priority 900) and "lo" (priority 100), each on an L4 pool of its own, sharing `budget` if given. */
  function pair(budget?: Record<string, unknown>): Scenario {
    const one = testScenario({ budgets: budget ? [{ name: "shared", spec: budget }] : [] });
    const service = (name: string, priority: number) => ({
      namespace: name,
      name,
      spec: {
        ...one.service.spec,
        priority,
        accelerators: one.service.spec.accelerators.map((a) => ({ ...a, pool: `l4-${name}` })),
      },
    });
    const pool = one.pools[0]!;
    return {
      ...one,
      service: service("hi", 900),
      otherServices: [service("lo", 100)],
      pools: [
        { name: "l4-hi", spec: pool.spec },
        { name: "l4-lo", spec: pool.spec },
      ],
      profiles: { "l4-hi": one.profiles.l4!, "l4-lo": one.profiles.l4! },
    };
  }
  const run = (sc: Scenario, warm: [number, number] = [3, 3]) =>
    simulate(hiTrace, sc, createPolicy({ family: "inferops" }, sc), {
      warmReplicas: warm[0],
      otherTraces: [loTrace],
      otherWarmReplicas: [warm[1]],
    });

  it("scores each service on its own requests, served by its own replicas", async () => {
    const r = await run(pair());
    expect(r.requests).toBe(hiTrace.arrivals.length);
    expect(r.otherServices).toEqual([
      expect.objectContaining({ key: "lo/lo", requests: loTrace.arrivals.length, unserved: 0 }),
    ]);
    expect(r.unserved).toBe(0);
    expect(r.sloAttainment).toBeGreaterThan(0.95);
    expect(r.otherServices![0]!.sloAttainment).toBeGreaterThan(0.95);
    expect(r.gpuHoursByPool!["l4-hi"]).toBeGreaterThan(0);
    expect(r.gpuHoursByPool!["l4-lo"]).toBeGreaterThan(0);
  });

  it("meters a shared budget over both: never over it, the lower priority held back, the higher kept", async () => {
    const free = await run(pair());
    // Four L4 replicas' busy power for both (the pair wants about six), from a warm start within it.
    const held = await run(pair({ limits: { powerWatts: 4 * 72 } }), [3, 1]);
    expect(held.budgetViolationSeconds).toBe(0);
    expect(held.gpuHoursByPool!["l4-lo"]).toBeLessThan(free.gpuHoursByPool!["l4-lo"]! * 0.75);
    expect(held.gpuHoursByPool!["l4-hi"]).toBeGreaterThanOrEqual(free.gpuHoursByPool!["l4-hi"]! * 0.95);
    expect(held.sloAttainment).toBeGreaterThan(0.95);
    expect(held.otherServices![0]!.sloAttainment).toBeLessThan(free.otherServices![0]!.sloAttainment);
  });

  it("refuses two services on one pool and a missing trace", async () => {
    const sc = pair();
    const shared = { ...sc, otherServices: [{ ...sc.otherServices![0]!, spec: sc.service.spec }] };
    // createPolicy refuses it, before any run.
    expect(() => run(shared)).toThrow(/named by two simulated services/);
    await expect(
      simulate(hiTrace, sc, createPolicy({ family: "inferops" }, sc), { warmReplicas: 1 }),
    ).rejects.toThrow(/need as many traces/);
  });
});
