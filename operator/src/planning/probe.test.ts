import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CAPACITY_SCALE_MAX,
  PROBE_COOLDOWN_SECONDS,
  PROBE_STEP,
  PROBE_WAIT_SECONDS,
  type ProbeInput,
  probeCapacity,
} from "./probe.ts";
import { learn } from "./recommend.ts";
import { runFleet, serviceSpec, T0 } from "./testkit.ts";

/** A fleet at its planned load (profile 1000 tokens/s at utilisation 0.8), meeting its objectives with room. */
function input(over: Partial<ProbeInput> = {}): ProbeInput {
  return {
    scale: 1,
    profiled: 1000,
    served: 20 * 800,
    serving: 20,
    steady: true,
    latency: 0.5,
    missed: false,
    short: false,
    utilization: 0.8,
    tolerance: 0.1,
    downWindowSeconds: 360,
    headroom: 1,
    nowMs: T0,
    ...over,
  };
}

describe("capacity probe", () => {
  it("starts on a steady, loaded fleet that meets every objective with room, by more than the tolerance", () => {
    const r = probeCapacity(input());
    // At the planned load, a step of PROBE_STEP leaves the token view at 1 / 1.2 = 0.83 of its target: outside
    // the 10% tolerance, so the fleet shrinks.
    expect(r.scale).toBeCloseTo(PROBE_STEP);
    expect(r.raised).toBeCloseTo(PROBE_STEP);
    expect(r.probe).toEqual({ fromScale: 1, tested: 1, stepAtMs: T0 });
    // Load above the plan (the tolerance held the fleet): the step grows so that the fleet still shrinks.
    const over = probeCapacity(input({ served: 20 * 800 * 1.2 }));
    expect(over.scale).toBeGreaterThan(PROBE_STEP);
    expect((20 * 800 * 1.2) / 20 / (1000 * over.scale * 0.8)).toBeLessThan(0.9);
  });

  it("does not start on a right profile, an unsteady or underloaded fleet, under headroom, or soon after a probe", () => {
    // A fleet at the utilisation target of a right profile runs its ITL at about 0.75 of the target.
    expect(probeCapacity(input({ latency: 0.75 })).probe).toBeUndefined();
    expect(probeCapacity(input({ latency: undefined })).probe).toBeUndefined();
    expect(probeCapacity(input({ steady: false })).probe).toBeUndefined();
    // minReplicas or a spike's window holds more replicas than the load needs: nothing to learn from.
    expect(probeCapacity(input({ served: 20 * 500 })).probe).toBeUndefined();
    expect(probeCapacity(input({ headroom: 1.2 })).probe).toBeUndefined();
    expect(probeCapacity(input({ missed: true })).probe).toBeUndefined();
    const recent = probeCapacity(input({ probedAtMs: T0 - (PROBE_COOLDOWN_SECONDS - 60) * 1000 }));
    expect(recent.probe).toBeUndefined();
    expect(recent.scale).toBe(1);
    expect(probeCapacity(input({ probedAtMs: T0 - PROBE_COOLDOWN_SECONDS * 1000 })).probe).toBeDefined();
  });

  it("steps again once the fleet is steady and loaded at the new scale", () => {
    const probe = { fromScale: 1, tested: 1, stepAtMs: T0 - 120_000 };
    // Not yet shrunk: 20 replicas at 800 tokens/s each are under PROBE_LOAD of what scale 1.2 plans.
    const waiting = probeCapacity(input({ scale: 1.2, probe }));
    expect(waiting.scale).toBe(1.2);
    expect(waiting.probe).toEqual(probe);
    // Shrunk to 17: each serves 941 tokens/s, the objectives still met: the next step.
    const next = probeCapacity(input({ scale: 1.2, probe, served: 16_000, serving: 17 }));
    expect(next.scale).toBeGreaterThan(1.2 * PROBE_STEP - 1e-9);
    expect(next.probe?.tested).toBe(1.2);
    expect(next.probe?.fromScale).toBe(1);
  });

  it("at the SLO's edge, takes the tokens/s each replica serves as the capacity, within where the probe started and reached", () => {
    const probe = { fromScale: 1, tested: 1.44, stepAtMs: T0 - 120_000 };
    const edge = probeCapacity(input({ scale: 1.728, probe, served: 16_000, serving: 10, latency: 0.92 }));
    expect(edge.scale).toBeCloseTo(1.6);
    expect(edge.probe).toBeUndefined();
    expect(edge.probedAtMs).toBe(T0);
    // Misses over budget are an edge; so is a steady fleet whose servers fill up.
    expect(probeCapacity(input({ scale: 1.728, probe, missed: true })).probe).toBeUndefined();
    expect(probeCapacity(input({ scale: 1.728, probe, short: true })).probe).toBeUndefined();
    // Right after a step the servers fill up as each replica takes more at once: not an edge.
    expect(probeCapacity(input({ scale: 1.728, probe, short: true, steady: false })).probe).toBeDefined();
    // An edge reached at less than where the probe started does not lower the scale below it.
    expect(probeCapacity(input({ scale: 1.2, probe, served: 5_000, serving: 10, latency: 1.2 })).scale).toBe(
      1,
    );
  });

  it("takes back a step the fleet did not settle on", () => {
    const probe = { fromScale: 1, tested: 1.2, stepAtMs: T0 };
    const late = T0 + (360 + PROBE_WAIT_SECONDS + 10) * 1000;
    const r = probeCapacity(input({ scale: 1.44, probe, steady: false, nowMs: late }));
    expect(r.scale).toBe(1.2);
    expect(r.probe).toBeUndefined();
    expect(r.probedAtMs).toBe(late);
  });

  it("properties: never raises the scale at or past the edge, never lowers it below where it started, never above the maximum", () => {
    fc.assert(
      fc.property(
        fc.record({
          scale: fc.double({ min: 0.25, max: CAPACITY_SCALE_MAX, noNaN: true }),
          perReplica: fc.double({ min: 0, max: 5000, noNaN: true }),
          serving: fc.integer({ min: 1, max: 50 }),
          steady: fc.boolean(),
          latency: fc.option(fc.double({ min: 0, max: 3, noNaN: true }), { nil: undefined }),
          missed: fc.boolean(),
          short: fc.boolean(),
          headroom: fc.double({ min: 1, max: 3, noNaN: true }),
          probing: fc.boolean(),
          fromShare: fc.double({ min: 0.25, max: 1, noNaN: true }),
          ageSeconds: fc.integer({ min: 0, max: 7200 }),
        }),
        (c) => {
          const fromScale = c.scale * c.fromShare;
          const r = probeCapacity(
            input({
              scale: c.scale,
              served: c.perReplica * c.serving,
              serving: c.serving,
              steady: c.steady,
              latency: c.latency,
              missed: c.missed,
              short: c.short,
              headroom: c.headroom,
              nowMs: T0 + c.ageSeconds * 1000,
              ...(c.probing ? { probe: { fromScale, tested: fromScale, stepAtMs: T0 } } : {}),
            }),
          );
          const edge = c.missed || (c.short && c.steady) || (c.latency ?? 0) >= 0.9;
          if (edge) expect(r.scale).toBeLessThanOrEqual(c.scale);
          if (r.scale > c.scale) expect(c.latency).toBeDefined();
          expect(r.scale).toBeLessThanOrEqual(CAPACITY_SCALE_MAX + 1e-9);
          if (c.probing) expect(r.scale).toBeGreaterThanOrEqual(Math.min(c.scale, fromScale) - 1e-9);
          else expect(r.scale).toBeGreaterThanOrEqual(c.scale);
        },
      ),
    );
  });
});

describe("capacity probe in learn()", () => {
  it("turned off, a scale a probe raised goes back to the profile and an open probe is dropped", () => {
    const prev = {
      capacityScale: 1.44,
      atMs: T0 - 60_000,
      probe: { fromScale: 1.2, tested: 1.2, stepAtMs: T0 },
    };
    const signals = {
      arrivalRate: 10,
      queueDepth: 0,
      replicasReporting: 10,
      promptTokensPerSecond: 5000,
      generationTokensPerSecond: 2000,
      observedAtMs: T0 + 15_000,
    };
    const off = learn(prev, signals, 1000, T0 + 15_000);
    expect(off.capacityScale).toBe(1);
    expect(off.probe).toBeUndefined();
    // On, the same evaluation keeps both (the step waits for the fleet to settle).
    const on = learn(prev, signals, 1000, T0 + 15_000, undefined, { probe: true });
    expect(on.capacityScale).toBe(1.44);
    expect(on.probe).toEqual(prev.probe);
  });
});

describe("capacity probe in plan(), closed loop", () => {
  // A replica really serves 2,000 tokens/s at the SLO; its ITL stays flat and rises to the 100 ms target
  // as it nears that (a knee, as vLLM's decode batches grow).
  const latency = (u: number) => ({ ttftSeconds: 0.4 + 0.2 * u, requestItlSeconds: 0.05 + 0.05 * u ** 4 });
  const demand = 20 * 700; // tokens/s: 20 req/s of 500 + 200 tokens
  const run = (profile: number, probe = true) =>
    runFleet({
      spec: serviceSpec({
        accelerators: [{ pool: "h100", gpusPerReplica: 1, profile: { maxTokensPerSecond: profile } }],
        scaling: {
          minReplicas: 1,
          maxReplicas: 40,
          targets: { ttftSeconds: 2, itlSeconds: 0.1, tokenUtilization: 0.8 },
          capacityProbe: { enabled: probe },
        },
      }),
      steps: 240, // an hour at 15 s
      arrival: () => 20,
      capacity: 2000,
      readyAfterMs: 60_000,
      initialReplicas: Math.ceil(demand / (profile * 0.8)),
      latency,
    });

  it("a profile at half the real capacity: the fleet learns it within the hour, and never runs below the capacity at the SLO", () => {
    const steps = run(1000);
    expect(steps[0]!.replicas).toBe(18);
    const end = steps[steps.length - 1]!;
    // demand / (2000 x 0.8) = 8.75: the fleet ends near the utilisation target of the real capacity.
    expect(end.replicas).toBeLessThanOrEqual(12);
    expect(end.replicas).toBeGreaterThanOrEqual(9);
    // What one replica serves at the SLO is 2000 tokens/s: the probe touches the edge (7 replicas, each at
    // its capacity at the SLO) for one step, never goes past it, and is back above it within two minutes.
    for (const s of steps) expect(s.replicas).toBeGreaterThanOrEqual(7);
    expect(steps.filter((s) => s.ready < 8).length * 15).toBeLessThanOrEqual(120);
    const learned = end.plan.memory.services["default/svc"]!.learned!;
    expect(learned.capacityScale).toBeGreaterThan(1.5);
    expect(learned.probe).toBeUndefined();
  });

  it("a right profile is not probed: the fleet stays where the profile puts it", () => {
    const steps = run(2000);
    const first = steps[0]!.replicas;
    expect(first).toBe(9);
    for (const s of steps) expect(s.replicas).toBeGreaterThanOrEqual(first);
    expect(steps[steps.length - 1]!.plan.memory.services["default/svc"]!.learned?.capacityScale ?? 1).toBe(1);
  });

  it("without capacityProbe.enabled (the default) the profile is an upper bound: a half profile keeps its fleet", () => {
    const steps = run(1000, false);
    for (const s of steps) expect(s.replicas).toBe(18);
    const learned = steps[steps.length - 1]!.plan.memory.services["default/svc"]!.learned;
    expect(learned?.capacityScale ?? 1).toBe(1);
    expect(learned?.probe).toBeUndefined();
  });
});
