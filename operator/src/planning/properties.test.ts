// Invariants of the planner, checked with fast-check over generated services, signals, memory and budgets.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variantOptions } from "./allocate.ts";
import { addUsage, countsAgainst, emptyUsage, exceededLimits, limitsInForce } from "./budgets.ts";
import { plan } from "./plan.ts";
import { type CapacityEstimate, recommend } from "./recommend.ts";
import {
  budget,
  gaussian,
  INTERVAL_MS,
  pool,
  prng,
  runFleet,
  scaleEvents,
  service,
  serviceSpec,
  snapshot,
  T0,
} from "./testkit.ts";
import type { BudgetSnapshot, PlannerMemory, ServiceSnapshot, Signals, Snapshot } from "./types.ts";

const roomy = [
  pool("h100", { maxNodes: 2000 }),
  pool("l40s", {
    gpu: { type: "nvidia-l40s", count: 4, memoryGiB: 48 },
    costPerNodeHour: 10.49,
    maxNodes: 4000,
  }),
];

const accelerators = [
  { pool: "h100", gpusPerReplica: 1, profile: { maxTokensPerSecond: 5100, maxConcurrentRequests: 64 } },
  { pool: "l40s", gpusPerReplica: 1, profile: { maxTokensPerSecond: 1200, maxConcurrentRequests: 32 } },
];

const scalingArb = fc
  .record({
    min: fc.integer({ min: 0, max: 5 }),
    span: fc.integer({ min: 0, max: 60 }),
    queue: fc.double({ min: 0.5, max: 20, noNaN: true }),
    util: fc.double({ min: 0.3, max: 1, noNaN: true }),
    ttft: fc.option(fc.double({ min: 0.3, max: 10, noNaN: true }), { nil: undefined }),
    tolerance: fc.double({ min: 0, max: 0.3, noNaN: true }),
    mode: fc.constantFrom("Auto" as const, "Auto" as const, "Recommend" as const, "Manual" as const),
    replicas: fc.option(fc.integer({ min: 0, max: 70 }), { nil: undefined }),
    priority: fc.integer({ min: 0, max: 1000 }),
  })
  .map((s) => {
    const min = s.min;
    const max = Math.max(1, min + s.span);
    return serviceSpec({
      accelerators,
      priority: s.priority,
      ...(s.mode === "Manual" && s.replicas !== undefined
        ? { replicas: Math.min(max, Math.max(min, s.replicas)) }
        : {}),
      scaling: {
        mode: s.mode,
        minReplicas: min,
        maxReplicas: max,
        targets: {
          queueDepthPerReplica: s.queue,
          tokenUtilization: s.util,
          ...(s.ttft ? { ttftSeconds: s.ttft } : {}),
        },
        behavior: { tolerance: s.tolerance },
        ...(min === 0 ? { scaleToZero: { enabled: true, idleSeconds: 60, activationQuery: "q" } } : {}),
      },
    });
  });

const loadArb = fc.record({
  rate: fc.double({ min: 0, max: 200, noNaN: true }),
  prompt: fc.double({ min: 1, max: 4000, noNaN: true }),
  output: fc.double({ min: 1, max: 2000, noNaN: true }),
  served: fc.double({ min: 0.2, max: 1, noNaN: true }),
  queue: fc.double({ min: 0, max: 2000, noNaN: true }),
  kv: fc.double({ min: 0, max: 1, noNaN: true }),
  activation: fc.double({ min: 0, max: 5, noNaN: true }),
});
type Load = typeof loadArb extends fc.Arbitrary<infer T> ? T : never;

function signalsOf(l: Load, k = 1, extraQueue = 0): Partial<Signals> {
  return {
    arrivalRate: l.rate * k,
    promptTokensPerSecond: l.rate * k * l.prompt * l.served,
    generationTokensPerSecond: l.rate * k * l.output * l.served,
    queueDepth: l.queue * k + extraQueue,
    runningRequests: l.rate * k,
    kvCacheUtilization: l.kv,
    activationDemand: l.activation * k,
  };
}

const stateArb = fc.record({
  replicas: fc.integer({ min: 0, max: 80 }),
  readyShare: fc.double({ min: 0, max: 1, noNaN: true }),
  l40s: fc.integer({ min: 0, max: 10 }),
});

function svcAt(
  spec: ReturnType<typeof serviceSpec>,
  st: { replicas: number; readyShare: number; l40s: number },
  signals: Partial<Signals> | null,
  now: number,
  name = "s",
): ServiceSnapshot {
  const ready = Math.floor(st.replicas * st.readyShare);
  const onL = Math.min(st.l40s, st.replicas);
  const readyL = Math.min(onL, ready);
  return service(name, {
    spec,
    variants: [
      { pool: "h100", replicas: st.replicas - onL, readyReplicas: ready - readyL },
      { pool: "l40s", replicas: onL, readyReplicas: readyL },
    ],
    signals,
    now,
  });
}

/** Memory left by a few earlier evaluations of the same service under random loads. */
function historyOf(
  spec: ReturnType<typeof serviceSpec>,
  st: { replicas: number; readyShare: number; l40s: number },
  loads: Load[],
): { memory: PlannerMemory; now: number } {
  let memory: PlannerMemory = { services: {} };
  let now = T0;
  for (const l of loads) {
    memory = plan(snapshot([svcAt(spec, st, signalsOf(l), now)], { pools: roomy, memory }), now).memory;
    now += INTERVAL_MS;
  }
  return { memory, now };
}

describe("properties", () => {
  it("more load never yields fewer replicas (recommend)", () => {
    fc.assert(
      fc.property(
        scalingArb,
        loadArb,
        fc.double({ min: 1, max: 5, noNaN: true }),
        fc.double({ min: 0, max: 500, noNaN: true }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        fc.option(fc.double({ min: 100, max: 10000, noNaN: true }), { nil: undefined }),
        fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined }),
        (spec, l, k, dq, current, readyRaw, tps, planning) => {
          const capacity: CapacityEstimate = { tokensPerSecond: tps, slots: 16, source: "test" };
          const ready = Math.min(current, readyRaw);
          const size = { prompt: l.prompt, output: l.output };
          const run = (kk: number, q: number, p: number | undefined) =>
            recommend({
              scaling: spec.scaling,
              signals: { observedAtMs: T0, replicasReporting: ready, ...signalsOf(l, kk, q) },
              current,
              ready,
              capacity,
              size,
              leadSeconds: 360,
              forecast:
                p === undefined ? undefined : { planningRate: p, trendRate: p, margin: 0, leadSeconds: 360 },
            }).replicas;
          const base = run(1, 0, planning);
          expect(run(k, 0, planning === undefined ? undefined : planning * k)).toBeGreaterThanOrEqual(base);
          expect(run(1, dq, planning)).toBeGreaterThanOrEqual(base);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("more load never yields fewer replicas (plan's recommendation, same memory)", () => {
    fc.assert(
      fc.property(
        scalingArb,
        stateArb,
        fc.array(loadArb, { maxLength: 8 }),
        loadArb,
        fc.double({ min: 1, max: 5, noNaN: true }),
        (spec, st, history, l, k) => {
          const { memory, now } = historyOf(spec, st, history);
          const rec = (kk: number) =>
            plan(snapshot([svcAt(spec, st, signalsOf(l, kk), now)], { pools: roomy, memory }), now)
              .services[0]!.recommended.value;
          expect(rec(k)).toBeGreaterThanOrEqual(rec(1));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("bounds always hold: minReplicas <= replicas <= maxReplicas", () => {
    const step = fc.record({
      load: loadArb,
      signals: fc.constantFrom("fresh", "fresh", "fresh", "stale", "missing"),
      state: stateArb,
    });
    fc.assert(
      fc.property(scalingArb, fc.array(step, { minLength: 1, maxLength: 12 }), (spec, steps) => {
        let memory: PlannerMemory = { services: {} };
        let now = T0;
        for (const s of steps) {
          const signals =
            s.signals === "missing"
              ? null
              : { ...signalsOf(s.load), observedAtMs: s.signals === "stale" ? now - 3 * INTERVAL_MS : now };
          const p = plan(snapshot([svcAt(spec, s.state, signals, now)], { pools: roomy, memory }), now);
          const r = p.services[0]!.replicas.value;
          expect(r).toBeGreaterThanOrEqual(spec.scaling.minReplicas);
          expect(r).toBeLessThanOrEqual(spec.scaling.maxReplicas);
          expect(p.services[0]!.variants.reduce((a, v) => a + v.replicas, 0)).toBe(r);
          memory = p.memory;
          now += INTERVAL_MS;
        }
      }),
      { numRuns: 150 },
    );
  });

  it("stale or missing input never scales down (and never to zero)", () => {
    fc.assert(
      fc.property(
        scalingArb.filter((s) => s.scaling.mode !== "Manual"),
        stateArb,
        fc.array(loadArb, { maxLength: 8 }),
        fc.constantFrom("stale", "missing", "unreported"),
        (spec, st, history, how) => {
          const { memory, now } = historyOf(spec, st, history);
          const signals =
            how === "missing"
              ? null
              : how === "stale"
                ? { queueDepth: 0, observedAtMs: now - 2 * INTERVAL_MS - 1 }
                : { queueDepth: 0, replicasReporting: 0 };
          const s = svcAt(spec, st, signals, now);
          const ready = s.variants.reduce((a, v) => a + v.readyReplicas, 0);
          fc.pre(how !== "unreported" || ready > 0);
          const p = plan(snapshot([s], { pools: roomy, memory }), now).services[0]!;
          const { minReplicas: min, maxReplicas: max } = spec.scaling;
          expect(p.metricsAvailable.ok).toBe(false);
          expect(p.replicas.value).toBe(Math.min(max, Math.max(min, st.replicas)));
          if (st.replicas > 0) expect(p.replicas.value).toBeGreaterThan(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("constant load with noise does not flap", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.double({ min: 1, max: 150, noNaN: true }),
        fc.double({ min: 0, max: 0.1, noNaN: true }),
        fc.boolean(),
        (seed, level, noise, slo) => {
          const rand = prng(seed);
          const spec = serviceSpec({
            scaling: { minReplicas: 1, maxReplicas: 200, ...(slo ? { targets: { ttftSeconds: 2 } } : {}) },
          });
          const steps = runFleet({
            spec,
            steps: 4 * 60 * 8, // 8 hours at 15 s
            arrival: () => level * (1 + noise * gaussian(rand)),
            initialReplicas: Math.max(1, Math.ceil(((level * 700) / 1600) * 1.2)),
          });
          // After a 30-minute warm-up: at most 6 changes and 3 reversals in 7.5 hours.
          const ev = scaleEvents(steps.slice(120));
          expect(ev.changes).toBeLessThanOrEqual(6);
          expect(ev.reversals).toBeLessThanOrEqual(3);
        },
      ),
      {
        numRuns: 12,
        // Found by random seeds: a 2-replica service at 3.7 req/s with 10% noise and a TTFT objective
        // reversed 4 times, one noisy sample at a time, before the latency view had a tolerance; a 36-replica
        // service at 82 req/s with 10% noise reversed 5 times, each a single sample 3.3 sigma high scaling up
        // at once, before scale-up had its 30 s stabilization window.
        examples: [
          [1, 3.666897416642235, 0.09999999999999983, true],
          [9, 81.5666545862728, 0.09999999999999998, false],
        ],
      },
    );
  }, 60_000);

  const fleetArb = fc
    .record({
      specs: fc.array(fc.tuple(scalingArb, stateArb, loadArb, fc.constantFrom("a", "b", "c")), {
        minLength: 1,
        maxLength: 5,
      }),
      cost: fc.option(fc.double({ min: 0, max: 500, noNaN: true }), { nil: undefined }),
      watts: fc.option(fc.double({ min: 0, max: 40000, noNaN: true }), { nil: undefined }),
      h100s: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
      l40s: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
      scoped: fc.boolean(),
      at: fc.integer({ min: 0, max: 7 * 24 * 60 }),
    })
    .map((f): { snap: Snapshot; now: number } => {
      const gpus = [
        ...(f.h100s !== undefined ? [{ type: "nvidia-h100", max: f.h100s }] : []),
        ...(f.l40s !== undefined ? [{ type: "nvidia-l40s", max: f.l40s }] : []),
      ];
      const limits = {
        ...(f.cost !== undefined ? { costPerHour: f.cost } : {}),
        ...(f.watts !== undefined ? { powerWatts: f.watts } : {}),
        ...(gpus.length > 0 ? { gpus } : {}),
      };
      const budgets: BudgetSnapshot[] =
        Object.keys(limits).length === 0
          ? []
          : [
              budget(
                "b",
                {
                  limits,
                  timeZone: "Europe/Paris",
                  windows: [
                    {
                      name: "peak",
                      start: "17:00",
                      end: "21:00",
                      limits: { powerWatts: (f.watts ?? 20000) / 2 },
                    },
                  ],
                },
                f.scoped ? ["a"] : undefined,
              ),
            ];
      const now = T0 + f.at * 60_000;
      const services = f.specs.map(([spec, st, l, ns], i) => ({
        ...svcAt(spec, st, signalsOf(l), now, `s${i}`),
        namespace: ns,
        key: `${ns}/s${i}`,
      }));
      return { snap: snapshot(services, { pools: roomy, budgets }), now };
    });

  it("plan() is deterministic and leaves its input alone", () => {
    fc.assert(
      fc.property(fleetArb, ({ snap, now }) => {
        const before = structuredClone(snap);
        const a = plan(snap, now);
        expect(snap).toEqual(before);
        expect(plan(snap, now)).toEqual(a);
        expect(plan(structuredClone(snap), now)).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });

  it("budget limits are never exceeded unless minimums alone exceed them (and then violated says so)", () => {
    fc.assert(
      fc.property(fleetArb, ({ snap, now }) => {
        const p = plan(snap, now);
        const pools = new Map(snap.pools.map((x) => [x.name, x]));
        for (const b of snap.budgets) {
          const bp = p.budgets.find((x) => x.name === b.name)!;
          const usage = emptyUsage();
          for (const svc of snap.services) {
            if (b.namespaces && !b.namespaces.includes(svc.namespace)) continue;
            const sp = p.services.find((x) => x.key === svc.key)!;
            // What runs: the plan when it is applied, the current replicas when it is advisory.
            const running = sp.apply
              ? sp.variants
              : svc.variants.map((v) => ({ pool: v.pool, replicas: v.replicas }));
            for (const o of variantOptions(svc.spec.accelerators, pools).options) {
              addUsage(usage, o.footprint, running.find((v) => v.pool === o.pool)?.replicas ?? 0);
            }
          }
          expect(bp.used.costPerHour).toBeCloseTo(usage.costPerHour, 6);
          expect(bp.used.powerWatts).toBeCloseTo(usage.powerWatts, 6);
          for (const limit of exceededLimits(usage, limitsInForce(b.spec, now).limits)) {
            expect(bp.violated ?? "", `${limit} exceeded without saying so`).toContain(`${limit}:`);
          }
          // Violated only when minimums alone exceed it: every scaled service in scope that holds replicas
          // counting against a violated limit is at its minimum.
          const violated = (bp.violated ?? "")
            .split("; ")
            .filter(Boolean)
            .map((v) => v.slice(0, v.indexOf(":")));
          for (const limit of violated) {
            for (const svc of snap.services) {
              if (b.namespaces && !b.namespaces.includes(svc.namespace)) continue;
              const sp = p.services.find((x) => x.key === svc.key)!;
              if (!sp.apply) continue;
              const counts = variantOptions(svc.spec.accelerators, pools).options.some(
                (o) =>
                  (sp.variants.find((v) => v.pool === o.pool)?.replicas ?? 0) > 0 &&
                  countsAgainst(o.footprint, limit),
              );
              if (counts)
                expect(sp.replicas.value, `${svc.key} above minimum under violated ${limit}`).toBe(
                  svc.spec.scaling.minReplicas,
                );
            }
          }
        }
        for (const [i, s] of p.services.entries()) {
          expect(s.replicas.value).toBeGreaterThanOrEqual(snap.services[i]!.spec.scaling.minReplicas);
        }
      }),
      { numRuns: 200 },
    );
  });
});
