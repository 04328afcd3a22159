import { describe, expect, it } from "vitest";
import { Reason } from "../apis/conditions.ts";
import { growing } from "./arrivals.ts";
import { replicasForTtft } from "./queueing.ts";
import {
  backlogGrowth,
  CAPACITY_SCALE_MIN,
  type CapacityEstimate,
  hasDemand,
  learn,
  type RecommendInput,
  recommend,
  replicaCapacity,
  requestSize,
  SATURATION_KV,
  tokenDemand,
} from "./recommend.ts";
import { serviceSpec, T0 } from "./testkit.ts";
import type { Signals } from "./types.ts";

const cap: CapacityEstimate = {
  tokensPerSecond: 2000,
  profiledTokensPerSecond: 2000,
  slots: 16,
  source: "profiles",
};
const sig = (s: Partial<Signals>): Signals => ({ observedAtMs: T0, replicasReporting: 1, ...s });

function rec(over: Partial<RecommendInput> & { signals: Signals }) {
  return recommend({
    scaling: serviceSpec().scaling,
    current: 4,
    ready: 4,
    capacity: cap,
    ...over,
  });
}

describe("queue view", () => {
  it.each([
    // queue, current, ready, want
    [40, 5, 5, 10],
    [40, 5, 3, 10], // two starting replicas count as capacity on its way: still 10, not 5 * (40/3) / 4 = 17
    [0, 5, 5, 0],
    [21, 5, 5, 5], // 21 / (5 * 4) = 1.05: within tolerance
    [12, 0, 0, 3], // from zero: ceil(12 / 4)
  ])("queue %d with %d replicas (%d ready) asks %d", (queue, current, ready, want) => {
    const r = rec({ signals: sig({ queueDepth: queue }), current, ready });
    expect(r.views[0]!.replicas).toBe(want);
  });

  it("says when starting replicas are counted", () => {
    const r = rec({ signals: sig({ queueDepth: 40 }), current: 5, ready: 3 });
    expect(r.views[0]!.message).toContain("2 starting replicas count as capacity on its way");
    expect(r.reason).toBe(Reason.QueueDepth);
  });

  it("is capped at what new replicas can take when rate and capacity are known", () => {
    // 20 req/s of 700 tokens; 2000 tokens/s per replica: mu = 2.857 req/s. 8 ready replicas serve 22.9 req/s.
    const r = rec({
      signals: sig({ queueDepth: 2000, arrivalRate: 20 }),
      current: 8,
      ready: 8,
      size: { prompt: 500, output: 200 },
      leadSeconds: 360,
    });
    const q = r.views[0]!;
    // uncapped: 2000 / 4 = 500. The backlog keeps min(8, 2000 / (2.857 * 60) = 11.7) = 8 pods busy; the
    // arrivals need 20 / (2.857 * 0.8) = 8.75 -> 9 more: 17.
    expect(q.replicas).toBe(17);
    expect(q.message).toContain("capped at 17");
    expect(q.message).toContain("8 of the 8 holding it stay busy");
  });

  it("a backlog stranded on a few pods asks for a few, and the ask falls with arrivals", () => {
    // After a burst: 3000 requests wait on 2 ready pods (of 2), while 14 more start. New replicas cannot
    // take that backlog; they take arrivals.
    const size = { prompt: 1000, output: 150 };
    const burst = rec({
      signals: sig({ queueDepth: 3000, arrivalRate: 10 }),
      current: 16,
      ready: 2,
      size,
      leadSeconds: 360,
    }).views[0]!;
    // mu = 2000 / 1150 = 1.74 req/s; arrivals need 10 / (1.74 * 0.8) = 7.2 -> 8; busy 2.
    expect(burst.replicas).toBe(10);
    const after = rec({
      signals: sig({ queueDepth: 3000, arrivalRate: 1 }),
      current: 16,
      ready: 16,
      size,
      leadSeconds: 360,
    }).views[0]!;
    // Arrivals fell to 1 req/s: 1 replica for them, and the backlog keeps at most 3000 / (1.74 * 60) = 28
    // pods busy, capped at the 16 ready ones (no pod count from the signals): 17 at most.
    expect(after.replicas).toBeLessThanOrEqual(16 + 1);
    const calm = rec({
      signals: sig({ queueDepth: 40, arrivalRate: 1 }),
      current: 16,
      ready: 16,
      size,
      leadSeconds: 360,
    }).views[0]!;
    expect(calm.replicas).toBe(1);
  });

  it("counts as busy only the pods whose own queue outlasts the drain time, when each pod's queue is known", () => {
    // A 10x step: 4 old pods hold 13,000 requests; 13 pods just ready queue a few each as they fill; 15 more
    // serve. mu = 2000 / 1150 = 1.74 req/s, so a pod drains 104 requests in 60 s.
    const size = { prompt: 1000, output: 150 };
    const podQueues = [3300, 3250, 3230, 3200, ...Array.from({ length: 13 }, () => 12)];
    const queueDepth = podQueues.reduce((a, b) => a + b, 0);
    const signals = sig({ queueDepth, queuedReplicas: podQueues.length, arrivalRate: 50 });
    const known = rec({ signals: { ...signals, podQueues }, current: 32, ready: 32, size, leadSeconds: 360 });
    // 4 busy, and 50 / (1.74 * 0.8) = 35.9 -> 36 for the arrivals.
    expect(known.views[0]!.replicas).toBe(40);
    expect(known.views[0]!.message).toContain("4 of the 17 holding it stay busy");
    // Without the per-pod queues the backlog is taken as packed onto as few pods as it fills: all 17.
    const packed = rec({ signals, current: 32, ready: 32, size, leadSeconds: 360 });
    expect(packed.views[0]!.replicas).toBe(53);
  });

  it("spreads what piles up during the lead time over every ready pod", () => {
    // 4 ready pods with 100 waiting each (less than the 104 each drains in 60 s), 30 req/s against 7 req/s
    // served: 23 req/s x 360 s = 8,280 requests pile up until capacity on its way is ready, 2,070 a pod:
    // all 4 stay busy, and 30 / (1.74 * 0.8) = 21.6 -> 22 more serve the arrivals.
    const size = { prompt: 1000, output: 150 };
    const signals = sig({
      queueDepth: 400,
      queuedReplicas: 4,
      podQueues: [100, 100, 100, 100],
      arrivalRate: 30,
    });
    expect(rec({ signals, current: 4, ready: 4, size, leadSeconds: 360 }).views[0]!.replicas).toBe(4 + 22);
    // Capacity that is ready now: nothing piles up, and the 4 queues clear within the drain time.
    expect(rec({ signals, current: 4, ready: 4, size, leadSeconds: 0 }).views[0]!.replicas).toBe(22);
  });

  it("counts the backlog that grows only until the replicas on their way serve the arrivals", () => {
    // A 10x step as new pods come ready: 4 old pods hold 13,000 requests, 12 just ready queue 40 each, and 17
    // more were asked for 330 s ago (lead time 360 s: they serve in about 30 s). 50 req/s arrive; 16 ready
    // serve 16 x 1.74 = 27.8. Over a whole lead time 22 req/s would pile 7,900 requests onto the 16, 490 a
    // pod: all 16 busy. Until the 17 serve, 660, 41 a pod: only the 4 old pods stay busy.
    const size = { prompt: 1000, output: 150 };
    const podQueues = [3300, 3250, 3230, 3200, ...Array.from({ length: 12 }, () => 40)];
    const queueDepth = podQueues.reduce((a, b) => a + b, 0);
    const signals = sig({ queueDepth, queuedReplicas: 16, podQueues, arrivalRate: 50 });
    const at = { signals, current: 33, ready: 16, size, leadSeconds: 360 };
    const soon = rec({ ...at, starting: [[30, 17]] }).views[0]!;
    // 4 busy, and 50 / (1.74 * 0.8) = 35.9 -> 36 for the arrivals.
    expect(soon.replicas).toBe(40);
    expect(soon.message).toContain("4 of the 16 holding it stay busy");
    const unknown = rec(at).views[0]!;
    expect(unknown.replicas).toBe(52);
    expect(unknown.message).toContain("16 of the 16 holding it stay busy");
  });

  it("on a rising trend, counts the backlog that grows for the whole lead time, whatever is on its way", () => {
    // The same fleet as above, arrivals forecast to reach 70 req/s at the lead time: the 17 replicas
    // starting were asked for a lower rate, and the replicas the ramp needs after them serve a lead time
    // after they are asked for.
    const size = { prompt: 1000, output: 150 };
    const podQueues = [3300, 3250, 3230, 3200, ...Array.from({ length: 12 }, () => 40)];
    const queueDepth = podQueues.reduce((a, b) => a + b, 0);
    const signals = sig({ queueDepth, queuedReplicas: 16, podQueues, arrivalRate: 50 });
    const at = {
      signals,
      current: 33,
      ready: 16,
      size,
      leadSeconds: 360,
      starting: [[30, 17]] as [number, number][],
    };
    const forecast = (trendRate: number) => ({
      planningRate: trendRate,
      trendRate,
      margin: 0,
      leadSeconds: 360,
    });
    expect(rec({ ...at, forecast: forecast(70) }).views[0]!.message).toContain(
      "16 of the 16 holding it stay busy",
    );
    // Level (within the tolerance): the replicas on their way serve it.
    expect(rec({ ...at, forecast: forecast(52) }).views[0]!.message).toContain(
      "4 of the 16 holding it stay busy",
    );
  });

  it("backlogGrowth integrates the arrivals beyond the serving replicas as those on their way join", () => {
    // mu 1 req/s a replica, 10 req/s arriving, 4 serving: 6 req/s short.
    expect(backlogGrowth(10, 1, 4, 360)).toBe(6 * 360);
    // 6 more serve in 60 s: short for 60 s only.
    expect(backlogGrowth(10, 1, 4, 360, [[60, 6]])).toBe(6 * 60);
    // 3 in 60 s, 3 more in 120 s: 6 req/s for 60 s, 3 for 60 s.
    expect(
      backlogGrowth(10, 1, 4, 360, [
        [60, 3],
        [120, 3],
      ]),
    ).toBe(6 * 60 + 3 * 60);
    // Still short after they all serve: the rest of the lead time at 2 req/s.
    expect(backlogGrowth(10, 1, 4, 360, [[60, 4]])).toBe(6 * 60 + 2 * 300);
    // Arrivals rising from 10 to 16 req/s over the lead time: 6 -> 12 req/s short, 9 on average.
    expect(backlogGrowth(10, 1, 4, 360, [], 16)).toBeCloseTo(9 * 360, 9);
    // Rising from 2 to 8 against 4 served: short from 120 s on, 4 req/s at the end: 240 s at 2 on average.
    expect(backlogGrowth(2, 1, 4, 360, [], 8)).toBeCloseTo(480, 9);
    // A falling trend holds today's rate.
    expect(backlogGrowth(10, 1, 4, 360, [], 5)).toBe(6 * 360);
    // Times beyond the lead time count up to it; never negative.
    expect(backlogGrowth(10, 1, 4, 360, [[900, 6]])).toBe(6 * 360);
    expect(backlogGrowth(2, 1, 4, 360, [[60, 6]])).toBe(0);
  });

  it("the cap counts the backlog that grows until capacity on its way is ready", () => {
    const base = { signals: sig({ queueDepth: 400, arrivalRate: 30 }), size: { prompt: 500, output: 200 } };
    const shortLead = rec({ ...base, current: 5, ready: 5, leadSeconds: 0 }).views[0]!.replicas;
    const longLead = rec({ ...base, current: 5, ready: 5, leadSeconds: 600 }).views[0]!.replicas;
    expect(longLead).toBeGreaterThan(shortLead);
  });
});

describe("token view", () => {
  it("sizes token demand at the utilisation target", () => {
    // 14000 tokens/s over 2000 * 0.8 per replica = 8.75 -> 9
    const r = rec({
      signals: sig({ promptTokensPerSecond: 10000, generationTokensPerSecond: 4000 }),
      current: 4,
    });
    expect(r).toMatchObject({ replicas: 9, reason: Reason.TokenThroughput });
  });

  it("keeps the current count within tolerance", () => {
    const r = rec({
      signals: sig({ promptTokensPerSecond: 5000, generationTokensPerSecond: 1600 }),
      current: 4,
    });
    // 6600 / (4 * 1600) = 1.03
    expect(r).toMatchObject({ replicas: 4, reason: Reason.WithinTolerance });
  });

  it("does not hold a scale-up within tolerance while a growing backlog confirms it", () => {
    const signals = sig({ promptTokensPerSecond: 5000, generationTokensPerSecond: 1600 });
    // 6600 / (4 * 1600) = 1.03: within tolerance, unless the fleet is short now; a scale-down is still held.
    expect(rec({ signals, current: 4, backlogGrowing: true })).toMatchObject({
      replicas: 5,
      reason: Reason.TokenThroughput,
    });
    expect(rec({ signals, current: 5, backlogGrowing: true }).replicas).toBe(5);
    expect(growing(0.5, 4)).toBe(true);
    expect(growing(0.1, 4)).toBe(false); // under 5% of the arrival rate: noise
    expect(growing(-1, 4)).toBe(false);
  });

  it("uses arrivals times request size when served tokens are capped by saturation", () => {
    const s = sig({
      arrivalRate: 40,
      promptTokensPerSecond: 5000,
      generationTokensPerSecond: 2000,
      queueDepth: 3,
    });
    expect(tokenDemand(s, { prompt: 500, output: 200 })).toBe(28000);
    expect(tokenDemand(s, undefined)).toBe(7000);
    expect(rec({ signals: s, size: { prompt: 500, output: 200 } }).views[1]!.replicas).toBe(18);
  });

  it("takes arrivals times request size, not the tokens served, while requests wait", () => {
    // Replicas just ready prefill a full batch of waiting prompts at once, and pods holding a backlog serve
    // it at their full rate: 106,000 tokens/s served where 40 req/s of 1,300 tokens arrive.
    const size = { prompt: 1100, output: 200 };
    const waiting = sig({
      arrivalRate: 40,
      promptTokensPerSecond: 90000,
      generationTokensPerSecond: 16000,
      queueDepth: 13000,
    });
    expect(tokenDemand(waiting, size)).toBe(52000);
    // Nothing waits: the tokens served are what arrives, and more of them than the size learned says is a
    // mix grown longer.
    const { queueDepth: _, ...calm } = waiting;
    expect(tokenDemand(calm, size)).toBe(106000);
    expect(tokenDemand({ ...calm, queueDepth: 0 }, size)).toBe(106000);
  });

  it("is skipped without a capacity model", () => {
    const r = rec({
      signals: sig({ promptTokensPerSecond: 10000, generationTokensPerSecond: 4000 }),
      capacity: { slots: 1, source: "none" },
    });
    expect(r.views).toHaveLength(0);
    expect(r).toMatchObject({ replicas: 0, reason: Reason.NoDemand });
  });
});

describe("SLO view", () => {
  const scaling = serviceSpec({ scaling: { targets: { ttftSeconds: 0.5 } } }).scaling;

  it("asks for the fewest replicas whose predicted p95 TTFT meets the target", () => {
    const signals = sig({ arrivalRate: 20, promptTokensPerSecond: 10000, generationTokensPerSecond: 4000 });
    const r = rec({ scaling, signals, size: { prompt: 500, output: 200 } });
    const want = replicasForTtft(
      0.5,
      20,
      { tokensPerSecond: 2000, slots: 16, promptTokens: 500, outputTokens: 200 },
      20,
    );
    const v = r.views.find((x) => x.reason === Reason.LatencySLO)!;
    expect(v.replicas).toBe(want.replicas);
    expect(v.message).toContain("predicted p95 TTFT");
  });

  it("keeps the current replicas when they suffice for a rate within the tolerance", () => {
    const model = { tokensPerSecond: 2000, slots: 16, promptTokens: 500, outputTokens: 200 };
    // The lowest rate that needs one more replica than `n`, and rates 5% above and 20% above it.
    const n = replicasForTtft(0.5, 20, model, 20).replicas;
    let edge = 20;
    while (replicasForTtft(0.5, edge, model, 20).replicas <= n) edge *= 1.001;
    const at = (rate: number) =>
      rec({
        scaling,
        current: n,
        ready: n,
        signals: sig({ arrivalRate: rate }),
        size: { prompt: 500, output: 200 },
      }).views.find((v) => v.message.includes("TTFT"))!;
    expect(at(edge * 1.05)).toMatchObject({ replicas: n, reason: Reason.WithinTolerance });
    expect(at(edge * 1.2).replicas).toBeGreaterThan(n);
  });

  it("ignores an unattainable target and says why", () => {
    const tight = serviceSpec({ scaling: { targets: { ttftSeconds: 0.1 } } }).scaling;
    const r = rec({ scaling: tight, signals: sig({ arrivalRate: 1 }), size: { prompt: 500, output: 200 } });
    const v = r.views.find((x) => x.reason === Reason.LatencySLO)!;
    expect(v.replicas).toBe(0);
    expect(v.message).toContain("cannot meet it");
  });

  it("is skipped without a TTFT target", () => {
    const r = rec({ signals: sig({ arrivalRate: 20 }), size: { prompt: 500, output: 200 } });
    expect(r.views.some((v) => v.reason === Reason.LatencySLO)).toBe(false);
  });
});

describe("forecast view", () => {
  it("wins when the demand expected over the lead time is higher, with reason Forecast", () => {
    const signals = sig({ arrivalRate: 10, promptTokensPerSecond: 5000, generationTokensPerSecond: 2000 });
    const r = rec({
      signals,
      current: 3,
      ready: 3,
      size: { prompt: 500, output: 200 },
      forecast: { planningRate: 20, trendRate: 18, margin: 2, leadSeconds: 360 },
    });
    // reactive: 7000 / 1600 -> 5; forecast: 14000 / 1600 -> 9
    expect(r).toMatchObject({ replicas: 9, reason: Reason.Forecast, reactive: 5 });
    expect(r.message).toContain("lead time");
  });

  it("never goes below what reactive scaling asks", () => {
    const signals = sig({ arrivalRate: 20, promptTokensPerSecond: 10000, generationTokensPerSecond: 4000 });
    const r = rec({
      signals,
      size: { prompt: 500, output: 200 },
      forecast: { planningRate: 1, trendRate: 1, margin: 0, leadSeconds: 360 },
    });
    expect(r).toMatchObject({ replicas: 9, reason: Reason.TokenThroughput });
  });
});

describe("capacity model", () => {
  const variants = [
    { pool: "h100", tokensPerSecond: 5000, slots: 256, replicas: 0 },
    { pool: "l40s", tokensPerSecond: 1000, slots: 64, replicas: 0 },
    { pool: "x", replicas: 0 },
  ];

  it("uses the first (preferred) variant when nothing runs", () => {
    expect(replicaCapacity(variants)).toMatchObject({ tokensPerSecond: 5000, slots: 256 });
  });

  it("weights profiles by where replicas run", () => {
    const c = replicaCapacity([
      { ...variants[0]!, replicas: 1 },
      { ...variants[1]!, replicas: 3 },
    ]);
    expect(c.tokensPerSecond).toBe(2000);
    expect(c.slots).toBe(112);
  });

  it("scales profiles by the learned capacity scale", () => {
    expect(replicaCapacity(variants, { capacityScale: 0.5 }).tokensPerSecond).toBe(2500);
  });

  it("counts unprofiled variants with the measured capacity, or not at all", () => {
    const only = [{ pool: "x", replicas: 2 }];
    expect(replicaCapacity(only).tokensPerSecond).toBeUndefined();
    expect(replicaCapacity(only, { capacityTokensPerSecond: 900 })).toMatchObject({
      tokensPerSecond: 900,
      slots: 1,
    });
  });
});

describe("learning", () => {
  it("measures request size from token rates only while nothing queues", () => {
    const calm = learn(
      undefined,
      sig({ arrivalRate: 10, promptTokensPerSecond: 5000, generationTokensPerSecond: 2000, queueDepth: 0 }),
      2000,
      T0,
    );
    expect(calm).toMatchObject({ promptTokens: 500, outputTokens: 200 });
    const queued = learn(
      calm,
      sig({ arrivalRate: 20, promptTokensPerSecond: 5000, generationTokensPerSecond: 2000, queueDepth: 9 }),
      2000,
      T0,
    );
    expect(queued).toMatchObject({ promptTokens: 500, outputTokens: 200 });
    expect(requestSize(queued, sig({ arrivalRate: 99 }))).toEqual({ prompt: 500, output: 200 });
  });

  it("falls back to the current ratio before anything is learned", () => {
    expect(
      requestSize(
        undefined,
        sig({ arrivalRate: 4, promptTokensPerSecond: 400, generationTokensPerSecond: 40 }),
      ),
    ).toEqual({
      prompt: 100,
      output: 10,
    });
    expect(requestSize(undefined, sig({ arrivalRate: 0 }))).toBeUndefined();
  });

  it("takes the size of the requests that finished, not token rates over a completion rate, at a burst's onset", () => {
    // 20 s into a burst after idle time: one replica prefills 2,700 prompt tokens/s for the 60 requests it
    // admitted while 0.33 req/s have finished (vLLM counts requests as they end): token rates over the
    // request rate read 8,300 tokens a request. The per-request histograms say 1,150 and 210.
    const onset = sig({
      arrivalRate: 0.33,
      promptTokensPerSecond: 2_700,
      generationTokensPerSecond: 80,
      finishedRequestsPerSecond: 0.33,
      finishedPromptTokensPerSecond: 0.33 * 1150,
      finishedGenerationTokensPerSecond: 0.33 * 210,
    });
    const size = requestSize(undefined, onset)!;
    expect(size.prompt).toBeCloseTo(1150, 9);
    expect(size.output).toBeCloseTo(210, 9);
    // Without the histograms (SGLang, llama.cpp), the ratio is all there is.
    const ratio = requestSize(undefined, { ...onset, finishedRequestsPerSecond: undefined })!;
    expect(ratio.prompt).toBeGreaterThan(8000);
  });

  it("learns the size of finished requests while requests queue, and needs enough of them", () => {
    const queued = sig({
      arrivalRate: 20,
      queueDepth: 400,
      promptTokensPerSecond: 40_000,
      generationTokensPerSecond: 4_000,
      finishedRequestsPerSecond: 20,
      finishedPromptTokensPerSecond: 20 * 1150,
      finishedGenerationTokensPerSecond: 20 * 210,
    });
    expect(learn(undefined, queued, 2000, T0)).toMatchObject({ promptTokens: 1150, outputTokens: 210 });
    // 0.2 finished a second is 12 in the window: too few to learn from (SIZE_MIN_REQUESTS).
    const few = { ...queued, finishedRequestsPerSecond: 0.2, finishedPromptTokensPerSecond: 230 };
    expect(learn(undefined, few, 2000, T0).promptTokens).toBeUndefined();
  });

  it("learns no capacity when fewer than half the replicas queue: the backlog is a few pods', not the fleet's", () => {
    // idle-bursts: one pod still holds 3,900 requests of an earlier burst while 23 replicas serve a burst
    // that needs 16; p95 TTFT is the old backlog's. Per replica the fleet serves 0.6 of the profile.
    const s = sig({
      queueDepth: 3_900,
      queuedReplicas: 1,
      ttftSeconds: 1_600,
      kvCacheUtilization: 0.95,
      replicasReporting: 23,
      promptTokensPerSecond: 23 * 1_400,
      generationTokensPerSecond: 23 * 270,
    });
    const objectives = { ttftSeconds: 2, attainment: 0.99 };
    expect(learn(undefined, s, 2780, T0, objectives).capacityScale).toBeUndefined();
    // Most of them queueing: the fleet is short, and that is a measurement.
    expect(learn(undefined, { ...s, queuedReplicas: 20 }, 2780, T0, objectives).capacityScale).toBeLessThan(
      1,
    );
  });

  it("learns capacity from prefill-bound replicas that queue and miss the TTFT objective with KV mostly empty", () => {
    // 20 replicas serving 2,000 tokens/s each, p95 TTFT 3.5 s against a 2 s objective, KV at 10%.
    const s = sig({
      queueDepth: 30,
      kvCacheUtilization: 0.1,
      ttftSeconds: 3.5,
      replicasReporting: 20,
      promptTokensPerSecond: 38_000,
      generationTokensPerSecond: 2_000,
    });
    const l = learn(undefined, s, 2780, T0, { ttftSeconds: 2, attainment: 0.99 });
    expect(l.capacityTokensPerSecond).toBe(2000);
    expect(l.capacityScale).toBeLessThan(1);
    // Without an objective, or while TTFT meets it, the same readings teach nothing.
    expect(learn(undefined, s, 2780, T0).capacityScale).toBeUndefined();
    expect(
      learn(undefined, { ...s, ttftSeconds: 1.5 }, 2780, T0, { ttftSeconds: 2, attainment: 0.99 })
        .capacityScale,
    ).toBeUndefined();
  });

  it.each([
    // queue, kv, measured per replica, learns?
    [5, 0.95, 1000, true],
    [0, 0.95, 1000, false], // no queue: replicas are not saturated
    [5, 0.5, 1000, false], // KV cache not high: the bottleneck is elsewhere
  ])("queue %d, kv %f: saturation learned = %s", (queue, kv, perReplica, learns) => {
    const s = sig({
      queueDepth: queue,
      kvCacheUtilization: kv,
      replicasReporting: 4,
      promptTokensPerSecond: perReplica * 4,
      generationTokensPerSecond: 0,
    });
    const l = learn(undefined, s, 2000, T0);
    if (learns) {
      // measured scale 0.5, EWMA from 1 with weight 0.3: 0.85
      expect(l.capacityScale).toBeCloseTo(0.85, 9);
      expect(l.capacityTokensPerSecond).toBe(1000);
    } else {
      expect(l.capacityScale).toBeUndefined();
    }
  });

  it("measures per replica that served over the window, not per replica ready now", () => {
    // Four replicas report, but over the 60 s window 2.5 served on average (two became ready within it):
    // 4000 tokens/s is 1600 per serving replica, not 1000.
    const s = sig({
      queueDepth: 5,
      kvCacheUtilization: 0.95,
      replicasReporting: 4,
      promptTokensPerSecond: 4000,
      generationTokensPerSecond: 0,
    });
    const l = learn(undefined, s, 2000, T0, { attainment: 0.99 }, { servingReplicas: 2.5 });
    expect(l.capacityTokensPerSecond).toBeCloseTo(1600, 9);
    expect(l.capacityScale).toBeCloseTo(0.7 + 0.3 * 0.8, 9);
    expect(learn(undefined, s, 2000, T0, { attainment: 0.99 }).capacityScale).toBeCloseTo(0.85, 9);
  });

  it("learns nothing from a backlog stranded on a few pods while it drains", () => {
    // After a burst, 2 of 40 replicas still hold a long queue; the other 38 serve what arrives. The
    // fleet serves 13 req/s of 1150-token requests: 374 tokens/s per replica, far below capacity.
    const s = sig({
      queueDepth: 1200,
      ttftSeconds: 400,
      kvCacheUtilization: 0.3,
      replicasReporting: 40,
      arrivalRate: 13,
      promptTokensPerSecond: 13_000,
      generationTokensPerSecond: 1_950,
    });
    const objectives = { ttftSeconds: 2, attainment: 0.99 };
    const stranded = learn(undefined, s, 2780, T0, objectives, { backlogTrend: -4 });
    expect(stranded.capacityScale).toBeUndefined();
    expect(stranded.capacityTokensPerSecond).toBeUndefined();
    // The same signals with the backlog growing: the whole fleet is short, and that is a measurement.
    const short = learn(undefined, s, 2780, T0, objectives, { backlogTrend: 2 });
    expect(short.capacityScale).toBeLessThan(1);
  });

  it("saturation never raises capacity above the profile, nor below the floor", () => {
    const fast = sig({
      queueDepth: 5,
      kvCacheUtilization: SATURATION_KV,
      replicasReporting: 1,
      promptTokensPerSecond: 9000,
    });
    expect(learn(undefined, fast, 2000, T0).capacityScale).toBe(1);
    let l = learn(
      undefined,
      sig({ queueDepth: 5, kvCacheUtilization: 1, replicasReporting: 1, promptTokensPerSecond: 1 }),
      2000,
      T0,
    );
    for (let i = 0; i < 50; i++) {
      l = learn(
        l,
        sig({ queueDepth: 5, kvCacheUtilization: 1, replicasReporting: 1, promptTokensPerSecond: 1 }),
        2000,
        T0,
      );
    }
    expect(l.capacityScale).toBeCloseTo(CAPACITY_SCALE_MIN, 6);
  });

  it("raises capacity to what each replica served with every objective met with room, and no further", () => {
    // 4 replicas served 12,000 tokens/s (3,000 each, 1.5x a 2,000 profile) with the TTFT p95 at half its
    // target over a window of 1,200 requests, nothing waiting, the same 4 ready all along.
    const objectives = { ttftSeconds: 2, attainment: 0.99 };
    const window = sig({
      arrivalRate: 20,
      promptTokensPerSecond: 8000,
      generationTokensPerSecond: 4000,
      queueDepth: 2,
      replicasReporting: 4,
      ttftSeconds: 1,
    });
    const ctx = { servingReplicas: 4, sameServing: true };
    const l = learn(undefined, window, 2000, T0, objectives, ctx);
    expect(l).toMatchObject({ capacityScale: 1.5, servedAtSlo: 1.5, raised: 1.5 });
    // Less served later does not lower it; saturation does.
    const later = learn(l, { ...window, promptTokensPerSecond: 4000 }, 2000, T0 + 60_000, objectives, ctx);
    expect(later).toMatchObject({ capacityScale: 1.5, servedAtSlo: 1.5 });
    expect(later.raised).toBeUndefined();
    const full = { ...window, queueDepth: 40, kvCacheUtilization: 0.95, queuedReplicas: 4 };
    const saturated = learn(later, full, 2000, T0 + 120_000, objectives, ctx);
    expect(saturated.servedAtSlo).toBeUndefined();
    expect(saturated.capacityScale).toBeLessThan(1.5);
    // Not evidence: the p95 near its target, requests waiting, the fleet changing during the window, or
    // no latency objective to say.
    for (const [s, o, c] of [
      [{ ...window, ttftSeconds: 1.9 }, objectives, ctx],
      [{ ...window, queueDepth: 9 }, objectives, ctx],
      [window, objectives, { servingReplicas: 4, sameServing: false }],
      [window, { attainment: 0.99 }, ctx],
    ] as const) {
      expect(learn(undefined, s, 2000, T0, o, c).capacityScale).toBeUndefined();
    }
    // With the probe off, the bound is what was served: a scale above it (an old probe's) comes down to it.
    expect(
      learn({ capacityScale: 3, servedAtSlo: 1.5 }, window, 2000, T0, objectives, ctx).capacityScale,
    ).toBe(1.5);
  });

  it("relaxes back to the profile when saturation is no longer seen", () => {
    const l = learn({ capacityScale: 0.5, atMs: T0 }, sig({ queueDepth: 0 }), 2000, T0 + 3600_000);
    expect(l.capacityScale).toBeCloseTo(1 - 0.5 * Math.exp(-1), 9);
  });
});

describe("demand", () => {
  it.each([
    [{}, false],
    [{ arrivalRate: 0, queueDepth: 0, runningRequests: 0, activationDemand: 0 }, false],
    [{ arrivalRate: 0.1 }, true],
    [{ queueDepth: 1 }, true],
    [{ runningRequests: 1 }, true],
    [{ activationDemand: 2 }, true],
    [{ generationTokensPerSecond: 3 }, true],
  ])("%j -> %s", (s, want) => {
    expect(hasDemand(sig(s))).toBe(want);
  });
});

describe("demandLevel", () => {
  const size = { prompt: 500, output: 200 };
  it("is what the arrivals need at the SLO, not what a backlog asks", () => {
    // 20 req/s of 700 tokens on 2000 tokens/s replicas: 7 at full capacity; a backlog of 2000 requests on 8
    // short replicas makes the queue view ask for 17, the level stays what the arrivals need.
    const r = rec({
      signals: sig({ queueDepth: 2000, arrivalRate: 20 }),
      current: 8,
      ready: 8,
      size,
      leadSeconds: 360,
    });
    expect(r.replicas).toBe(17);
    const { targets, maxReplicas } = serviceSpec().scaling;
    const slo =
      targets.ttftSeconds === undefined
        ? 0
        : replicasForTtft(
            targets.ttftSeconds,
            20,
            { tokensPerSecond: 2000, slots: 16, promptTokens: 500, outputTokens: 200 },
            maxReplicas,
          ).replicas;
    expect(r.demandLevel).toBe(Math.max(7, slo));
    expect(r.demandLevel).toBeLessThan(r.replicas);
  });

  it("grows with the learned SLO headroom, and is unknown without an arrival rate or a size", () => {
    const plain = rec({ signals: sig({ arrivalRate: 40 }), size });
    const raised = rec({ signals: sig({ arrivalRate: 40 }), size, headroom: 2 });
    expect(raised.demandLevel).toBeGreaterThanOrEqual(Math.ceil((40 * 700 * 2) / 2000));
    expect(raised.demandLevel).toBeGreaterThan(plain.demandLevel!);
    expect(rec({ signals: sig({ queueDepth: 10 }), size }).demandLevel).toBeUndefined();
    expect(rec({ signals: sig({ arrivalRate: 10 }) }).demandLevel).toBeUndefined();
    expect(rec({ signals: sig({ arrivalRate: 0 }), size }).demandLevel).toBe(0);
  });
});
