import { describe, expect, it } from "vitest";
import { Reason } from "../apis/conditions.ts";
import { variantOptions } from "./allocate.ts";
import { PANIC_WINDOW_SECONDS } from "./behavior.ts";
import { leadTimeSeconds, plan } from "./plan.ts";
import { budget, INTERVAL_MS, load, pool, service, serviceSpec, snapshot, T0 } from "./testkit.ts";
import type { Plan, PlannerMemory, ServiceSnapshot } from "./types.ts";

const one = (p: Plan) => p.services[0]!;
const at = (s: number) => T0 + s * 1000;
const stz = serviceSpec({
  scaling: {
    minReplicas: 0,
    scaleToZero: { enabled: true, idleSeconds: 300, activationQuery: "sum(gateway_queue)" },
  },
});

/** Runs plan() over consecutive intervals for one service whose state `make` gives, carrying memory. */
function sequence(make: (i: number, now: number) => ServiceSnapshot, steps: number, start = T0) {
  let memory: PlannerMemory = { services: {} };
  const plans: Plan[] = [];
  for (let i = 0; i < steps; i++) {
    const now = start + i * INTERVAL_MS;
    const p = plan(snapshot([make(i, now)], { memory }), now);
    memory = p.memory;
    plans.push(p);
  }
  return plans;
}

describe("modes", () => {
  it("Manual: spec.replicas, reason Manual, the recommendation still computed", () => {
    const spec = serviceSpec({ replicas: 5, scaling: { mode: "Manual" } });
    const p = one(plan(snapshot([service("m", { spec, replicas: 2, signals: load(40) })]), T0));
    expect(p.replicas).toMatchObject({ value: 5, reason: Reason.Manual });
    expect(p.recommended.value).toBeGreaterThan(5);
    expect(p.apply).toBe(true);
  });

  it("Manual without spec.replicas: minReplicas", () => {
    const spec = serviceSpec({ scaling: { mode: "Manual", minReplicas: 3 } });
    expect(one(plan(snapshot([service("m", { spec, signals: load(0) })]), T0)).replicas).toMatchObject({
      value: 3,
      reason: Reason.Manual,
    });
  });

  it("Recommend: advisory (apply false), not rate-limited, and pools sized for what runs", () => {
    const spec = serviceSpec({ scaling: { mode: "Recommend", maxReplicas: 40 } });
    const p = plan(snapshot([service("r", { spec, replicas: 2, signals: load(40) })]), T0);
    expect(one(p).apply).toBe(false);
    expect(one(p).replicas.value).toBe(18); // 40 * 700 / 1600 = 17.5; no +4 / x2 rate limit
    expect(one(p).replicas.reason).toBe(Reason.TokenThroughput);
    expect(p.pools.find((x) => x.name === "h100")!.nodes.value).toBe(1); // 2 replicas, not 18
    expect(p.memory.services["default/r"]!.scaleEvents).toEqual([]);
  });

  it("Auto rate-limits the same jump", () => {
    const p = plan(
      snapshot([
        service("a", { spec: serviceSpec({ scaling: { maxReplicas: 40 } }), replicas: 2, signals: load(40) }),
      ]),
      T0,
    );
    expect(one(p).replicas).toMatchObject({ value: 6, reason: Reason.ScaleUpLimit });
    expect(one(p).recommended).toMatchObject({ value: 18, reason: Reason.TokenThroughput });
    expect(p.memory.services["default/a"]!.scaleEvents).toEqual([[T0, 4]]);
  });
});

describe("missing or stale signals", () => {
  it.each([
    {
      name: "no signals",
      svc: service("s", { replicas: 6, signals: null, signalsError: "prometheus: connection refused" }),
      reason: Reason.MetricsMissing,
      message: "connection refused",
    },
    {
      name: "signals older than two intervals",
      svc: service("s", { replicas: 6, signals: load(0), now: T0 - 2 * INTERVAL_MS - 1 }),
      reason: Reason.MetricsStale,
      message: "older than the 30s limit",
    },
    {
      name: "no ready replica reported",
      svc: service("s", { replicas: 6, signals: { ...load(0), replicasReporting: 0 } }),
      reason: Reason.MetricsMissing,
      message: "none of the 6 ready replicas",
    },
    {
      name: "signals carry nothing usable",
      svc: service("s", { replicas: 6, signals: { queueDepth: undefined } }),
      reason: Reason.MetricsMissing,
      message: "carry none of",
    },
  ])("$name: hold, never down, say why", ({ svc, reason, message }) => {
    const p = one(plan(snapshot([svc]), T0));
    expect(p.metricsAvailable).toMatchObject({ ok: false, reason });
    expect(p.metricsAvailable.message).toContain(message);
    expect(p.replicas).toMatchObject({ value: 6, reason: Reason.HoldingOnStaleMetrics });
    expect(p.recommended.reason).toBe(Reason.HoldingOnStaleMetrics);
  });

  it("fresh signals with some missing (a NaN gauge) name what is not reported", () => {
    const signals = { ...load(4), queueDepth: undefined, runningRequests: undefined };
    const p = one(plan(snapshot([service("s", { replicas: 6, signals })]), T0));
    expect(p.metricsAvailable).toMatchObject({ ok: true, reason: Reason.MetricsFresh });
    expect(p.metricsAvailable.message).toContain("not reported: queueDepth, runningRequests");
    const all = one(
      plan(snapshot([service("s", { signals: { ...load(4), queueDepth: 0, runningRequests: 2 } })]), T0),
    );
    expect(all.metricsAvailable.message).not.toContain("not reported");
  });

  it("fresh signals from fewer replicas than are ready say how many did not report", () => {
    const p = one(
      plan(snapshot([service("s", { replicas: 6, signals: { ...load(4), replicasReporting: 5 } })]), T0),
    );
    expect(p.metricsAvailable).toMatchObject({ ok: true, reason: Reason.MetricsFresh });
    expect(p.metricsAvailable.message).toContain("signals from 5 of 6 ready replicas (1 did not report)");
    const all = one(
      plan(snapshot([service("s", { replicas: 6, signals: { ...load(4), replicasReporting: 6 } })]), T0),
    );
    expect(all.metricsAvailable.message).toContain("signals from 6 replicas, fresh");
  });

  it("signals exactly two intervals old are still fresh", () => {
    const p = one(plan(snapshot([service("s", { signals: load(1), now: T0 - 2 * INTERVAL_MS })]), T0));
    expect(p.metricsAvailable).toMatchObject({ ok: true, reason: Reason.MetricsFresh });
  });

  it("holds within bounds", () => {
    const p = one(plan(snapshot([service("s", { replicas: 30, signals: null })]), T0));
    expect(p.replicas.value).toBe(20);
    expect(p.limitedBy?.reason).toBe(Reason.AtMaxReplicas);
  });

  it("never scales to zero, even long idle, and recovers by itself", () => {
    const plans = sequence(
      (i, now) =>
        service("z", {
          spec: stz,
          replicas: 1,
          signals: i >= 40 && i < 80 ? load(0, 500, 200, { observedAtMs: T0 }) : load(0),
          now,
        }),
      120,
    );
    // fresh and idle: 300 s of no demand is 20 intervals, so the service reaches zero before i = 40...
    expect(plans[30]!.services[0]!.replicas.value).toBe(0);
    // ...here its replicas come from the fixture (1), and stale signals hold it there.
    for (let i = 41; i < 80; i++) {
      expect(plans[i]!.services[0]!.replicas).toMatchObject({
        value: 1,
        reason: Reason.HoldingOnStaleMetrics,
      });
    }
    // Fresh again: the idle timer restarted with the stale period, so zero comes idleSeconds later.
    expect(plans[80]!.services[0]!.metricsAvailable.ok).toBe(true);
    expect(plans[80]!.services[0]!.replicas.value).toBe(1);
    expect(plans[119]!.services[0]!.replicas.value).toBe(0);
  });
});

describe("scale to zero", () => {
  it("goes to zero after idleSeconds without demand, and not before", () => {
    const plans = sequence((_, now) => service("z", { spec: stz, replicas: 1, signals: load(0), now }), 25);
    expect(plans[19]!.services[0]!.replicas).toMatchObject({ value: 1, reason: Reason.IdleTimerRunning });
    expect(plans[20]!.services[0]!.replicas).toMatchObject({ value: 0, reason: Reason.ScaledToZero });
  });

  it("goes straight to zero from several replicas once idle (idleSeconds is the stabilization)", () => {
    const plans = sequence(
      (i, now) => service("z", { spec: stz, replicas: 4, signals: load(i < 5 ? 5 : 0), now }),
      30,
    );
    expect(plans.find((p) => p.services[0]!.replicas.value === 0)!.services[0]!.replicas.reason).toBe(
      Reason.ScaledToZero,
    );
  });

  it.each([
    [{ activationDemand: 3 }, 1, Reason.ActivationDemand],
    [{ queueDepth: 40 }, 4, Reason.ScaleUpLimit], // the queue asks 10; from zero the Pods policy allows 4
    [{}, 0, Reason.ScaledToZero], // with no memory (a restarted operator) too: no idle timer to wait for
  ])("at zero, %j -> %d (%s)", (signals, want, reason) => {
    const p = one(
      plan(
        snapshot([
          service("z", {
            spec: stz,
            replicas: 0,
            signals: { queueDepth: 0, ...signals, replicasReporting: 0 },
          }),
        ]),
        T0,
      ),
    );
    expect(p.replicas).toMatchObject({ value: want, reason });
  });

  it("without scale to zero, no demand keeps minReplicas", () => {
    const p = one(plan(snapshot([service("s", { replicas: 3, signals: load(0) })]), at(0)));
    expect(p.recommended).toMatchObject({ value: 0, reason: Reason.NoDemand });
    expect(p.limitedBy).toMatchObject({ reason: Reason.AtMinReplicas });
  });
});

describe("lead time", () => {
  const fastDown = {
    behavior: {
      scaleDown: {
        stabilizationWindowSeconds: 0,
        policies: [{ type: "Percent" as const, value: 100, periodSeconds: 15 }],
      },
    },
  };

  it("holds capacity that would have to come back within the lead time (pool provisioning + 60 s)", () => {
    // Demand falls from 20 to 5 req/s; the scale-down window is 0, but the pool needs 300 s + 60 s: 9 held
    // through the evaluations of the next 345 s (15 s apart).
    const spec = serviceSpec({ scaling: fastDown });
    const plans = sequence(
      (i, now) => service("l", { spec, replicas: 9, signals: load(i < 4 ? 20 : 5), now }),
      4 + 40,
    );
    const held = plans.slice(4, 4 + 23).map((p) => p.services[0]!.replicas);
    expect(held.every((r) => r.value === 9)).toBe(true);
    expect(held.at(-1)!.reason).toBe(Reason.ScaleDownStabilized);
    expect(held.at(-1)!.message).toContain("360s scale-down window");
    expect(plans.at(-1)!.services[0]!.replicas.value).toBeLessThan(9);
  });

  it("leadTimeSeconds shortens it", () => {
    const spec = serviceSpec({ scaling: { ...fastDown, leadTimeSeconds: 30 } });
    const plans = sequence(
      (i, now) => service("l", { spec, replicas: 9, signals: load(i < 4 ? 20 : 5), now }),
      8,
    );
    expect(plans[7]!.services[0]!.replicas.value).toBeLessThan(9);
  });

  it("provisions for the trend over the lead time (reason Forecast)", () => {
    // Arrivals rise 0.02 req/s every second; the planner sizes for about 7 req/s more than now.
    const spec = serviceSpec({ scaling: { maxReplicas: 60 } });
    const plans = sequence(
      (i, now) => service("f", { spec, replicas: 10, signals: load(5 + 0.3 * i), now }),
      120,
    );
    const last = plans.at(-1)!.services[0]!;
    expect(last.recommended.reason).toBe(Reason.Forecast);
    expect(last.recommended.message).toContain("360s lead time");
  });
});

describe("panic mode", () => {
  it("a burst of twice the ready capacity blocks scale-down for the panic window", () => {
    const spec = serviceSpec({
      scaling: { behavior: { scaleDown: { stabilizationWindowSeconds: 0 } }, leadTimeSeconds: 0 },
    });
    const burst = plan(snapshot([service("p", { spec, replicas: 4, signals: { queueDepth: 40 } })]), T0);
    expect(burst.memory.services["default/p"]!.panicUntilMs).toBe(T0 + PANIC_WINDOW_SECONDS * 1000);
    const calm = (now: number) =>
      one(
        plan(
          snapshot([service("p", { spec, replicas: 8, signals: { queueDepth: 0 }, now })], {
            memory: burst.memory,
          }),
          now,
        ),
      );
    expect(calm(T0 + 30_000).replicas).toMatchObject({ value: 8, reason: Reason.PanicMode });
    expect(calm(T0 + (PANIC_WINDOW_SECONDS + 1) * 1000).replicas.value).toBeLessThan(8);
  });
});

describe("a signal that goes missing while the others stay fresh", () => {
  // No scale-down window: what holds the replicas is the rule under test, not the window.
  const spec = serviceSpec({
    scaling: { behavior: { scaleDown: { stabilizationWindowSeconds: 0 } }, leadTimeSeconds: 0 },
  });
  const noQueue = { ...load(2), queueDepth: undefined };

  it("is no reason to scale down: replicas hold until it returns, then the scale-down comes", () => {
    // 2 requests/s needs one replica of 2,000 tokens/s; six run. runningRequests is never reported (load()
    // has none): a signal the server does not expose is not missed.
    const plans = sequence(
      (i, now) => service("a", { spec, replicas: 6, signals: i >= 3 && i < 6 ? noQueue : load(2), now }),
      8,
    );
    const targets = plans.map((p) => one(p).replicas);
    expect(targets[2]!.value).toBeLessThan(6);
    for (const t of targets.slice(3, 6)) {
      expect(t).toMatchObject({ value: 6, reason: Reason.HoldingOnStaleMetrics });
      expect(t.message).toContain("queueDepth not reported since");
    }
    expect(targets[6]!.value).toBeLessThan(6);
  });

  it("is believed gone after an hour without it", () => {
    const steps = Math.ceil(3_600_000 / INTERVAL_MS) + 3;
    const plans = sequence(
      (i, now) => service("a", { spec, replicas: 6, signals: i === 0 ? load(2) : noQueue, now }),
      steps,
    );
    expect(one(plans[5]!).replicas.value).toBe(6);
    expect(one(plans.at(-1)!).replicas.value).toBeLessThan(6);
  });
});

describe("arrivals where the servers count completions", () => {
  /** The last of six plans of one service on `server`, its in-system requests given per step. */
  const lastOn = (
    server: "vllm" | "tgi",
    replicas: number,
    completed: number,
    queueDepth: (i: number) => number,
  ) => {
    const spec = serviceSpec({ model: { name: "meta-llama/Llama-3.1-8B-Instruct", server } });
    const plans = sequence(
      (i, now) =>
        service("a", {
          spec,
          replicas,
          signals: load(completed, 500, 200, { queueDepth: queueDepth(i), runningRequests: 40 }),
          now,
        }),
      6,
    );
    return plans.at(-1)!;
  };

  it("a queue growing on vLLM is demand the completion rate does not show; TGI counts arrivals itself", () => {
    // The replicas finish 8 req/s (4 replicas' worth of tokens at 0.8 utilization) while 2 requests/s more
    // pile up in the servers: 10 req/s arrive.
    const vllm = lastOn("vllm", 4, 8, (i) => 30 * i);
    const tgi = lastOn("tgi", 4, 8, (i) => 30 * i);
    expect(vllm.memory.services["default/a"]!.inSystem).toHaveLength(5);
    expect(one(vllm).recommended.value).toBeGreaterThan(one(tgi).recommended.value);
  });

  it("a backlog draining on vLLM is not demand: the completions it adds are taken off, so the ask falls", () => {
    // After a burst, 12 replicas finish 16 req/s while the requests in the servers fall by 60 every 15 s:
    // 4 of those are the backlog's, 12 req/s arrive. TGI's counter says 12 itself.
    const vllm = lastOn("vllm", 12, 16, (i) => 400 - 60 * i);
    const tgi = lastOn("tgi", 12, 12, (i) => 400 - 60 * i);
    expect(one(vllm).recommended.value).toBe(one(tgi).recommended.value);
  });
});

describe("scale-up stabilization (default 30 s)", () => {
  it("one sample asking for more adds nothing; asked at every evaluation over the window, it scales up", () => {
    // 8 req/s needs 4 replicas; 16 req/s needs 7 or 8. One high sample at step 6, then steady from step 11.
    const rate = (i: number) => (i === 6 || i >= 11 ? 16 : 8);
    const plans = sequence((i, now) => service("a", { replicas: 4, signals: load(rate(i)), now }), 13);
    expect(one(plans[6]!).recommended.value).toBeGreaterThan(4);
    expect(one(plans[6]!).replicas).toMatchObject({ value: 4, reason: Reason.ScaleUpStabilized });
    expect(one(plans[11]!).replicas).toMatchObject({ value: 4, reason: Reason.ScaleUpStabilized });
    expect(one(plans[11]!).replicas.message).toContain("30s scale-up window");
    expect(one(plans[12]!).replicas.value).toBeGreaterThan(4);
  });

  it("does not hold back a scale-up that a growing backlog confirms", () => {
    // A jump to 11 req/s at step 6 (not a burst: no panic), while requests queue and their number grows: the fleet is short
    // now, and a second signal confirms what the rates ask for. The window is for a noisy sample.
    const plans = sequence(
      (i, now) =>
        service("a", {
          replicas: 4,
          signals: load(i >= 6 ? 11 : 8, 500, 200, { queueDepth: i >= 6 ? 40 * (i - 5) : 0 }),
          now,
        }),
      7,
    );
    expect(one(plans[6]!).replicas.value).toBeGreaterThan(4);
    expect(one(plans[6]!).replicas.reason).not.toBe(Reason.ScaleUpStabilized);
  });

  it("a scale-up decided stands until the next interval: a plan 2 s later does not take it back", () => {
    const make = (i: number, now: number, growing: boolean) =>
      service("a", {
        replicas: 4,
        signals: load(i >= 6 ? 11 : 8, 500, 200, { queueDepth: growing && i >= 6 ? 40 * (i - 5) : 0 }),
        now,
      });
    const plans = sequence((i, now) => make(i, now, true), 7);
    const decided = one(plans[6]!).replicas;
    expect(decided.value).toBeGreaterThan(4);
    // 2 s later the replicas are still 4 (the scale-up waits, say, for a budget hand-over) and the queue
    // has stopped growing: on its own that sample would be held by the scale-up window.
    const soon = T0 + 6 * INTERVAL_MS + 2_000;
    const again = plan(snapshot([make(6, soon, false)], { memory: plans[6]!.memory }), soon);
    expect(one(again).replicas).toMatchObject({ value: decided.value, reason: decided.reason });
    // A full interval after the decision, the window decides again.
    const later = T0 + 7 * INTERVAL_MS;
    const next = plan(snapshot([make(6, later, false)], { memory: again.memory }), later);
    expect(one(next).replicas.reason).toBe(Reason.ScaleUpStabilized);
  });

  it("does not hold it back either when the requests grow running, not queued", () => {
    // vLLM runs up to hundreds of requests at once and queues none until its KV cache is full: an overloaded
    // fleet shows it by the requests it runs, which grow beyond noise.
    const plans = sequence(
      (i, now) =>
        service("a", {
          replicas: 4,
          signals: load(i >= 6 ? 11 : 8, 500, 200, { runningRequests: 60 + (i >= 6 ? 40 * (i - 5) : 0) }),
          now,
        }),
      7,
    );
    expect(one(plans[6]!).replicas.value).toBeGreaterThan(4);
    expect(one(plans[6]!).replicas.reason).not.toBe(Reason.ScaleUpStabilized);
  });

  it("does not hold back a new service's first evaluation, nor waking from zero", () => {
    expect(
      one(plan(snapshot([service("a", { replicas: 2, signals: load(16) })]), T0)).replicas.value,
    ).toBeGreaterThan(2);
    // Idle at zero for a minute (the window holds zeros), then demand: one replica at once.
    const plans = sequence(
      (i, now) =>
        service("z", {
          spec: stz,
          replicas: 0,
          signals: { queueDepth: 0, replicasReporting: 0, ...(i === 4 ? { activationDemand: 3 } : {}) },
          now,
        }),
      5,
    );
    expect(one(plans[3]!).replicas.value).toBe(0);
    expect(one(plans[4]!).replicas).toMatchObject({ value: 1, reason: Reason.ActivationDemand });
  });
});

describe("rate policies across evaluations", () => {
  it("remember scale events: a second step within the period starts from the period's start", () => {
    const spec = serviceSpec({ scaling: { maxReplicas: 100 } });
    const first = plan(snapshot([service("r", { spec, replicas: 2, signals: { queueDepth: 400 } })]), T0);
    expect(one(first).replicas.value).toBe(6);
    const second = plan(
      snapshot([service("r", { spec, replicas: 6, ready: 2, signals: { queueDepth: 400 }, now: at(5) })], {
        memory: first.memory,
      }),
      at(5),
    );
    expect(one(second).replicas).toMatchObject({ value: 6, reason: Reason.ScaleUpLimit });
    const third = plan(
      snapshot([service("r", { spec, replicas: 6, ready: 2, signals: { queueDepth: 400 }, now: at(16) })], {
        memory: second.memory,
      }),
      at(16),
    );
    expect(one(third).replicas.value).toBe(12);
  });
});

describe("bounds and reasons", () => {
  it("maxReplicas caps the plan and says so", () => {
    const p = one(plan(snapshot([service("b", { replicas: 20, signals: load(200) })]), T0));
    expect(p.replicas).toMatchObject({ value: 20 });
    expect(p.limitedBy).toMatchObject({ reason: Reason.AtMaxReplicas });
  });

  it("every number carries a reason from the catalog", () => {
    const p = plan(
      snapshot(
        [
          service("a", { replicas: 3, signals: load(12) }),
          service("b", { replicas: 3, signals: null }),
          service("c", { spec: stz, replicas: 0, signals: { activationDemand: 1, replicasReporting: 0 } }),
        ],
        { budgets: [budget("cap", { limits: { costPerHour: 40 } })] },
      ),
      T0,
    );
    const reasons = new Set<string>(Object.values(Reason));
    for (const s of p.services) {
      for (const d of [
        s.replicas,
        s.recommended,
        s.metricsAvailable,
        ...(s.limitedBy ? [s.limitedBy] : []),
      ]) {
        expect(reasons.has(d.reason), `${d.reason} in catalog`).toBe(true);
        expect(d.message.length).toBeGreaterThan(0);
      }
    }
    for (const pl of p.pools) expect(reasons.has(pl.nodes.reason)).toBe(true);
  });

  it("budgets flow through plan(): the lower priority gives way", () => {
    const hi = serviceSpec({ priority: 900 });
    const lo = serviceSpec({ priority: 100 });
    const p = plan(
      snapshot(
        [
          service("hi", { spec: hi, replicas: 6, signals: load(20) }),
          service("lo", { spec: lo, replicas: 6, signals: load(20) }),
        ],
        {
          budgets: [budget("cap", { limits: { gpus: [{ type: "nvidia-h100", max: 12 }] } })],
        },
      ),
      T0,
    );
    const [h, l] = p.services;
    expect(h!.replicas.value).toBeGreaterThan(l!.replicas.value);
    expect(h!.replicas.value + l!.replicas.value).toBeLessThanOrEqual(12);
    expect(l!.replicas.reason).toBe(Reason.BudgetBinding);
    expect(p.budgets[0]!.heldBack[0]!.key).toBe("default/lo");
  });
});

describe("memory", () => {
  it("drops services no longer in the snapshot and never mutates its input", () => {
    const first = plan(
      snapshot([service("a", { signals: load(5) }), service("b", { signals: load(5) })]),
      T0,
    );
    const snap = snapshot([service("a", { signals: load(5), now: at(15) })], { memory: first.memory });
    const before = structuredClone(snap);
    const second = plan(snap, at(15));
    expect(Object.keys(second.memory.services)).toEqual(["default/a"]);
    expect(snap).toEqual(before);
  });

  it("records the raw recommendation for stabilization, and forecast state", () => {
    const p = plan(snapshot([service("a", { replicas: 3, signals: load(12) })]), T0);
    const m = p.memory.services["default/a"]!;
    // The first evaluation seeds the window with the replicas running, then records its own.
    expect(m.recommendations).toEqual([
      [T0, 3],
      [T0, one(p).recommended.value],
    ]);
    expect(m.forecast).toMatchObject({ level: 12, trend: 0, atMs: T0 });
    expect(m.rates).toEqual([[T0, 12]]);
    expect(m.learned).toMatchObject({ promptTokens: 500, outputTokens: 200 });
  });

  it("without history (new service, restarted operator) scales down only after a full scale-down window", () => {
    const spec = serviceSpec({ scaling: { minReplicas: 1, maxReplicas: 20 } });
    const idle = (at: number, memory?: PlannerMemory) =>
      plan(
        snapshot([service("a", { spec, replicas: 10, signals: load(0.5), now: at })], {
          ...(memory ? { memory } : {}),
        }),
        at,
      );
    const first = idle(T0);
    expect(one(first).recommended.value).toBeLessThan(10);
    expect(one(first).replicas.value).toBe(10);
    let memory = first.memory;
    // The planner holds at least the lead time (the testkit's pool: provisioning 300 s + 60 s model load).
    const window = Math.max(spec.scaling.behavior.scaleDown.stabilizationWindowSeconds, 360);
    for (let t = 15; t < window; t += 15) {
      const p = idle(T0 + t * 1000, memory);
      expect(one(p).replicas.value).toBe(10);
      memory = p.memory;
    }
    expect(one(idle(T0 + (window + 15) * 1000, memory)).replicas.value).toBeLessThan(10);
  });

  it("remembers when each replica not yet ready was asked for, and takes the oldest off as replicas become ready", () => {
    const at3 = (t: number, replicas: number, ready: number, memory?: PlannerMemory) =>
      plan(
        snapshot([service("a", { replicas, ready, signals: load(5), now: at(t) })], {
          ...(memory ? { memory } : {}),
        }),
        at(t),
      );
    const first = at3(0, 6, 2); // 4 starting
    expect(first.memory.services["default/a"]!.starting).toEqual([[T0, 4]]);
    const second = at3(15, 10, 2, first.memory); // 4 more asked
    expect(second.memory.services["default/a"]!.starting).toEqual([
      [T0, 4],
      [at(15), 4],
    ]);
    const third = at3(30, 10, 7, second.memory); // the first 4 and one of the next ready
    expect(third.memory.services["default/a"]!.starting).toEqual([[at(15), 3]]);
    expect(at3(45, 10, 10, third.memory).memory.services["default/a"]!.starting).toBeUndefined();
  });

  it("the queue view expects the backlog to grow only until the replicas asked for earlier serve", () => {
    // 4 pods hold a stranded backlog, 12 just ready queue a few each; 17 more were asked for 330 s ago
    // (lead time 360 s: they serve in about 30 s).
    const podQueues = [3300, 3250, 3230, 3200, ...Array.from({ length: 12 }, () => 40)];
    const signals = {
      arrivalRate: 50,
      queueDepth: podQueues.reduce((a, b) => a + b, 0),
      queuedReplicas: 16,
      podQueues,
      promptTokensPerSecond: 50 * 1000,
      generationTokensPerSecond: 50 * 150,
    };
    const evaluate = (memory?: PlannerMemory) =>
      one(plan(snapshot([service("a", { replicas: 33, ready: 16, signals })], memory ? { memory } : {}), T0));
    const remembered = evaluate({
      services: {
        "default/a": { recommendations: [], scaleEvents: [], rates: [], starting: [[at(-330), 17]] },
      },
    });
    const unknown = evaluate();
    expect(remembered.recommended.message).toMatch(/4 of the 16 holding it stay busy/);
    expect(unknown.recommended.message).toMatch(/16 of the 16 holding it stay busy/);
    expect(remembered.recommended.value).toBeLessThan(unknown.recommended.value);
  });

  it("the default lead time is the preferred pool's provisioningSeconds + 60 s", () => {
    const slow = pool("h100", { provisioningSeconds: 1200 });
    const svc = service("a", { replicas: 3, signals: load(12) });
    const pools = new Map([["h100", slow]]);
    expect(leadTimeSeconds(svc, variantOptions(svc.spec.accelerators, pools).options, pools)).toBe(1260);
    const explicit = service("b", { spec: serviceSpec({ scaling: { leadTimeSeconds: 42 } }) });
    expect(leadTimeSeconds(explicit, [], pools)).toBe(42);
  });
});

describe("recurring bursts", () => {
  it("a burst's minute is recorded at what its arrivals need, not at what the backlog of a short fleet asks", () => {
    // 4 ready replicas, 400 requests waiting, 5 req/s of 500 + 200 tokens: the queue view asks for the
    // backlog; the minute's peak (what a hold of recurring bursts would keep) is the arrivals' need.
    const p = plan(
      snapshot([
        service("b", {
          replicas: 4,
          signals: {
            queueDepth: 400,
            arrivalRate: 5,
            promptTokensPerSecond: 2500,
            generationTokensPerSecond: 1000,
          },
        }),
      ]),
      T0,
    );
    const recommended = one(p).recommended.value;
    const peak = p.memory.services["default/b"]!.minutePeaks!.at(-1)![1];
    expect(recommended).toBeGreaterThan(peak);
    expect(peak).toBeGreaterThan(0);
  });
});

describe("a recurring burst that comes as expected", () => {
  // Bursts to 8 replicas' worth every 5 minutes for the last 40 minutes, 3 between them: a hold at 8.
  const minute = (m: number) => T0 + m * 60_000;
  const peaks: [number, number][] = Array.from({ length: 45 }, (_, m) => [
    minute(m),
    m % 5 === 0 && m > 0 ? 8 : 3,
  ]);
  const memory = (): PlannerMemory => ({
    services: { "default/b": { recommendations: [], scaleEvents: [], rates: [], minutePeaks: peaks } },
  });
  const spec = serviceSpec({ scaling: { targets: { ttftSeconds: 2 } } });
  const at45 = (signals: Partial<ReturnType<typeof load>>) =>
    plan(
      snapshot([service("b", { spec, replicas: 8, signals, now: minute(45) })], { memory: memory() }),
      minute(45),
    );

  it("asks for the level held, not the views' margin above it, and remembers that ask", () => {
    // 21 req/s of 700 tokens: 7.35 -> 8 replicas at the SLO (2,000 tokens/s each), 9.2 -> 10 at the 0.8
    // utilisation target.
    const p = at45(load(21));
    expect(one(p).recommended.value).toBe(10);
    expect(one(p).replicas).toMatchObject({ value: 8, reason: Reason.RecurringBursts });
    expect(one(p).replicas.message).toMatch(/this burst's arrivals need 8 at the SLO: asking 8, not the 10/);
    expect(p.memory.services["default/b"]!.recommendations.at(-1)![1]).toBe(8);
  });

  it("a burst above the level held asks for what its arrivals need at the SLO", () => {
    // 25 req/s: 8.75 -> 9 by tokens at the SLO (more with the TTFT objective's queueing), 11 at the
    // utilisation target.
    const p = at45(load(25));
    expect(one(p).recommended.value).toBe(11);
    expect(one(p).replicas.reason).toBe(Reason.RecurringBursts);
    expect(one(p).replicas.value).toBeGreaterThan(8);
    expect(one(p).replicas.value).toBeLessThan(11);
  });

  it("a fleet short for it (requests waiting, or the TTFT objective missed) asks as the views do", () => {
    for (const short of [{ queueDepth: 40 }, { ttftSeconds: 30 }]) {
      const p = one(at45(load(21, 500, 200, short)));
      expect(p.replicas.value).toBeGreaterThanOrEqual(10);
      expect(p.replicas.reason).not.toBe(Reason.RecurringBursts);
    }
  });
});

describe("replicas asked for that nobody needs before they serve", () => {
  // 12 asked for during a burst, 4 ready; the burst is over: every ask of the last two minutes is 4.
  // A planner that has watched the service for half an hour (its minute peaks reach back that far).
  const memory = (asks: [number, number][], watched = true): PlannerMemory => ({
    services: {
      "default/c": {
        recommendations: asks.map(([s, v]) => [at(s), v]),
        scaleEvents: [],
        rates: [],
        ...(watched ? { minutePeaks: [[at(-1800), 4]] } : {}),
      },
    },
  });
  const evaluate = (o: {
    replicas: number;
    ready: number;
    queue?: number;
    asks: [number, number][];
    watched?: boolean;
  }) =>
    one(
      plan(
        snapshot(
          [
            service("c", {
              replicas: o.replicas,
              ready: o.ready,
              signals: load(8, 500, 200, { queueDepth: o.queue ?? 0 }),
            }),
          ],
          { memory: memory(o.asks, o.watched) },
        ),
        T0,
      ),
    );

  it("are cancelled: the ask falls to the replicas ready, which the window goes on holding", () => {
    const p = evaluate({
      replicas: 12,
      ready: 4,
      asks: [
        [-200, 12],
        [-90, 4],
        [-45, 4],
      ],
    });
    expect(p.recommended.value).toBe(4);
    expect(p.replicas).toMatchObject({ value: 4, reason: Reason.StartingCancelled });
    expect(p.replicas.message).toMatch(/8 replicas not ready yet are no longer asked for/);
  });

  it("are kept while requests wait, while an ask of the last minute wanted them, or when they are few", () => {
    const held = (o: Parameters<typeof evaluate>[0]) => evaluate(o).replicas;
    const over: [number, number][] = [
      [-200, 12],
      [-90, 4],
      [-45, 4],
    ];
    // A new leader, which has not watched the service for a scale-down window, does not know why they were
    // asked for.
    expect(held({ replicas: 12, ready: 4, asks: over, watched: false }).value).toBe(12);
    expect(
      held({
        replicas: 12,
        ready: 4,
        queue: 40,
        asks: [
          [-200, 12],
          [-90, 4],
          [-45, 4],
        ],
      }).value,
    ).toBe(12);
    expect(
      held({
        replicas: 12,
        ready: 4,
        asks: [
          [-200, 12],
          [-45, 12],
        ],
      }).value,
    ).toBe(12);
    expect(
      held({
        replicas: 5,
        ready: 4,
        asks: [
          [-200, 5],
          [-90, 4],
          [-45, 4],
        ],
      }),
    ).toMatchObject({
      value: 5,
      reason: Reason.ScaleDownStabilized,
    });
  });
});
