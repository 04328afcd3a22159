import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EPISODE_GROWTH,
  type Objectives,
  SLO_HEADROOM_MAX,
  SLO_MIN_REQUESTS,
  sloMisses,
  updateHeadroom,
} from "./headroom.ts";
import { plan } from "./plan.ts";
import { service, serviceSpec, snapshot, T0 } from "./testkit.ts";
import type { LearnedModel, PlannerMemory, Signals } from "./types.ts";

const INF = Number.POSITIVE_INFINITY;
const objectives: Objectives = { ttftSeconds: 2, itlSeconds: 0.1, attainment: 0.99 };

/** A window of `n` requests of which `missed` took longer than every objective (TTFT 5 s, mean ITL 0.2 s). */
function window(n: number, missed: number, at = T0): Signals {
  return {
    observedAtMs: at,
    replicasReporting: 2,
    ttftHistogram: [
      { le: 2, count: n - missed },
      { le: 5, count: n },
      { le: INF, count: n },
    ],
    requestItlHistogram: [
      { le: 0.1, count: n - missed },
      { le: 0.2, count: n },
      { le: INF, count: n },
    ],
  };
}

/** Feeds `steps` evaluations 10 s apart, each seeing `signals(k)`, and returns the learned model. */
function run(
  steps: number,
  signals: (k: number) => Signals,
  settled: (k: number) => boolean = () => true,
  start?: LearnedModel,
): LearnedModel {
  let m: LearnedModel | undefined = start;
  for (let k = 0; k < steps; k++) {
    const at = (start?.sloHeadroomAtMs ?? T0) + (k + 1) * 10_000;
    m = { ...m, ...updateHeadroom(m, { ...signals(k), observedAtMs: at }, objectives, at, settled(k)) };
  }
  return m ?? {};
}

describe("sloMisses", () => {
  it("takes the larger share over the TTFT and the ITL objective", () => {
    const s = window(100, 0);
    s.requestItlHistogram = [
      { le: 0.05, count: 90 },
      { le: 0.2, count: 100 },
      { le: INF, count: 100 },
    ];
    // 0.1 s is a third into (0.05, 0.2]: 90 + 10/3 at or below, so 6.7% above.
    expect(sloMisses(s, objectives)?.share).toBeCloseTo(0.2 / 3, 9);
    expect(sloMisses(window(100, 4), objectives)?.share).toBeCloseTo(0.04, 9);
  });
  it("says nothing from too few requests or without objectives", () => {
    expect(sloMisses(window(SLO_MIN_REQUESTS - 1, 5), objectives)).toBeUndefined();
    expect(sloMisses(window(100, 5), { attainment: 0.99 })).toBeUndefined();
    expect(sloMisses({ observedAtMs: T0, replicasReporting: 1 }, objectives)).toBeUndefined();
  });
});

describe("SLO headroom", () => {
  it("grows while more requests miss than the objective allows", () => {
    const m = run(30, () => window(200, 10));
    expect(m.sloHeadroom).toBeGreaterThan(1.1);
  });
  it("does not grow while capacity is on its way (anti-windup)", () => {
    const m = run(
      30,
      () => window(200, 10),
      () => false,
    );
    expect(m.sloHeadroom ?? 1).toBe(1);
  });
  it("stays at 1 while the objective is met", () => {
    expect(run(60, () => window(200, 1)).sloHeadroom ?? 1).toBe(1);
  });
  it("relaxes back towards 1 when misses stop, and when histograms go missing", () => {
    const grown = run(60, () => window(200, 20));
    const h = grown.sloHeadroom!;
    const met = run(180, () => window(200, 0), undefined, grown);
    expect(met.sloHeadroom!).toBeLessThan(h);
    expect(met.sloHeadroom!).toBeGreaterThanOrEqual(1);
    const silent = run(180, () => ({ observedAtMs: T0, replicasReporting: 2 }), undefined, grown);
    expect(silent.sloHeadroom!).toBeLessThan(h);
  });
  it("does not grow on misses it only remembers: once requests meet the objective, it holds, then relaxes", () => {
    // A backlog made every request miss for a minute; capacity cured it. The averaged miss rate stays over
    // budget for minutes (and falls by 30% again and again), but nothing misses now: found by bench/load.ts,
    // where the headroom went on from 1.3 to 2.4 with no miss in 3.5 minutes and added a replica.
    const hurt = run(6, () => window(200, 200));
    const h = hurt.sloHeadroom!;
    expect(h).toBeGreaterThan(1);
    let m: LearnedModel = hurt;
    for (let k = 0; k < 60; k++) {
      m = run(1, () => window(200, 0), undefined, m);
      expect(m.sloHeadroom!).toBeLessThanOrEqual(h);
    }
    expect(m.sloHeadroom!).toBeLessThan(h);
  });
  it("adds at most 50% for misses that more capacity does not reduce", () => {
    // The same 10% miss for an hour, whatever the headroom: it stops at 1.5, far from the cap of 3.
    const m = run(360, () => window(200, 20));
    expect(m.sloHeadroom!).toBeCloseTo(EPISODE_GROWTH, 6);
  });
  it("keeps growing while the misses fall, and starts over after the objective is met", () => {
    // Misses fall by half every 5 minutes: each fall restarts the episode, so the headroom passes 1.5.
    const falling = run(180, (k) => window(400, Math.max(8, Math.round(160 / 2 ** Math.floor(k / 30)))));
    expect(falling.sloHeadroom!).toBeGreaterThan(EPISODE_GROWTH);
    // After the objective is met the episode ends, so a new one may grow again.
    const met = run(60, () => window(200, 0), undefined, { ...falling });
    expect(met.sloEpisode).toBeUndefined();
  });
  it("is at least 1 and at most SLO_HEADROOM_MAX, whatever the misses", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            n: fc.integer({ min: 0, max: 500 }),
            share: fc.double({ min: 0, max: 1, noNaN: true }),
            settled: fc.boolean(),
          }),
          { maxLength: 120 },
        ),
        (steps) => {
          const m = run(
            steps.length,
            (k) => window(steps[k]!.n, Math.round(steps[k]!.n * steps[k]!.share)),
            (k) => steps[k]!.settled,
          );
          const h = m.sloHeadroom ?? 1;
          expect(h).toBeGreaterThanOrEqual(1);
          expect(h).toBeLessThanOrEqual(SLO_HEADROOM_MAX);
        },
      ),
    );
  });
});

describe("plan() with SLO headroom", () => {
  it("asks for more replicas for the same token demand once requests keep missing the objective", () => {
    const spec = serviceSpec({
      scaling: { minReplicas: 1, maxReplicas: 64, targets: { ttftSeconds: 2, itlSeconds: 0.1 } },
    });
    const signals = (missed: number, at: number): Partial<Signals> => ({
      ...window(600, missed, at),
      arrivalRate: 10,
      promptTokensPerSecond: 7000,
      generationTokensPerSecond: 1000,
    });
    const step = (replicas: number, missed: number, at: number, memory?: PlannerMemory) =>
      plan(
        snapshot([service("a", { spec, replicas, signals: signals(missed, at), now: at })], {
          intervalMs: 10_000,
          ...(memory ? { memory } : {}),
        }),
        at,
      );
    const calm = step(5, 0, T0);
    const before = calm.services[0]!.recommended.value;
    let memory = calm.memory;
    let replicas = calm.services[0]!.replicas.value;
    for (let k = 1; k <= 90; k++) {
      const p = step(replicas, 60, T0 + k * 10_000, memory);
      memory = p.memory;
      replicas = p.services[0]!.replicas.value;
    }
    expect(memory.services["default/a"]?.learned?.sloHeadroom).toBeGreaterThan(1);
    expect(step(replicas, 60, T0 + 91 * 10_000, memory).services[0]!.recommended.value).toBeGreaterThan(
      before,
    );
  });
});
