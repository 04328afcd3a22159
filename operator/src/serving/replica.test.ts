import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { serveAll } from "./capacity.ts";
import { Replica } from "./replica.ts";
import { driveByEvents, isolatedPrefillSeconds, minPrefillSeconds, testProfile } from "./testing.ts";
import type { RequestRecord, RequestSpec, ServingProfile } from "./types.ts";

const req = (id: number, arrival: number, promptTokens: number, outputTokens: number): RequestSpec => ({
  id,
  arrival,
  promptTokens,
  outputTokens,
});

// Arbitrary engine limits and costs, always valid for vLLM (budget >= max_num_seqs, KV >= one full request).
const profileArb: fc.Arbitrary<ServingProfile> = fc
  .record({
    budget: fc.integer({ min: 8, max: 160 }),
    seqs: fc.integer({ min: 1, max: 12 }),
    maxModelLen: fc.integer({ min: 40, max: 300 }),
    extraKv: fc.integer({ min: 0, max: 600 }),
    base: fc.double({ min: 1e-3, max: 0.05, noNaN: true }),
    a: fc.double({ min: 0, max: 1e-3, noNaN: true }),
    b: fc.double({ min: 0, max: 1e-2, noNaN: true }),
    c: fc.double({ min: 0, max: 1e-4, noNaN: true }),
  })
  .map((x) =>
    testProfile({
      maxNumBatchedTokens: Math.max(x.budget, x.seqs),
      maxNumSeqs: x.seqs,
      maxModelLen: x.maxModelLen,
      kvCapacityTokens: Math.max(x.maxModelLen, x.budget, x.seqs) + x.extraKv,
      step: {
        baseSeconds: x.base,
        perPrefillTokenSeconds: x.a,
        perDecodeSeqSeconds: x.b,
        perContextTokenSeconds: x.c,
      },
    }),
  );

// Requests that fit a maxModelLen of at least 40: arrivals as cumulative gaps (zero gaps make bursts).
const workloadArb = (maxLen = 40): fc.Arbitrary<RequestSpec[]> =>
  fc
    .array(
      fc.record({
        gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.5, noNaN: true })),
        prompt: fc.integer({ min: 1, max: maxLen - 8 }),
        output: fc.integer({ min: 1, max: 8 }),
      }),
      { minLength: 1, maxLength: 40 },
    )
    .map((xs) => {
      let t = 0;
      return xs.map((x, i) => {
        t += x.gap;
        return req(i, t, x.prompt, x.output);
      });
    });

const byId = (records: RequestRecord[]) => [...records].sort((x, y) => Number(x.id) - Number(y.id));

describe("Replica timing", () => {
  const p = testProfile(); // base 10 ms, 0.1 ms per prompt token, 1 ms per decode, 1 us per context token
  // One request alone: prefill in chunks of 64, then one decode step per further token.
  it.each([
    { name: "short prompt, one token", prompt: 10, output: 1 },
    { name: "short prompt, several tokens", prompt: 10, output: 5 },
    { name: "prompt exactly one budget", prompt: 64, output: 3 },
    { name: "prompt chunked over three steps", prompt: 150, output: 4 },
  ])("$name", ({ prompt, output }) => {
    const [r] = serveAll(p, [req(1, 2, prompt, output)]);
    const ttft = isolatedPrefillSeconds(p, prompt);
    let decode = 0;
    for (let k = 1; k < output; k++) decode += 0.01 + 1e-3 + 1e-6 * (prompt + k);
    expect(r!.ttft).toBeCloseTo(ttft, 12);
    expect(r!.firstToken).toBeCloseTo(2 + ttft, 12);
    expect(r!.finish).toBeCloseTo(2 + ttft + decode, 12);
    expect(r!.meanItl).toBeCloseTo(output > 1 ? decode / (output - 1) : 0, 12);
    expect(r!.queueTime).toBe(0);
    expect(r!.scheduled).toBe(2);
  });

  it("batches a burst into one step and shares the token budget in arrival order", () => {
    // Three prompts of 30 arrive together; the budget of 64 takes the first two whole and 4 tokens of the third.
    const records = byId(serveAll(p, [req(0, 0, 30, 2), req(1, 0, 30, 2), req(2, 0, 30, 2)]));
    const step1 = 0.01 + 1e-4 * 64 + 1e-6 * (30 + 30 + 4);
    expect(records[0]!.firstToken).toBeCloseTo(step1, 12);
    expect(records[1]!.firstToken).toBeCloseTo(step1, 12);
    // Step 2: two decodes and the remaining 26 prompt tokens of the third.
    const step2 = 0.01 + 1e-4 * 26 + 1e-3 * 2 + 1e-6 * (31 + 31 + 30);
    expect(records[2]!.firstToken).toBeCloseTo(step1 + step2, 12);
    expect(records[0]!.finish).toBeCloseTo(step1 + step2, 12);
  });

  it("queues what max_num_seqs does not admit until a running request finishes", () => {
    const one = testProfile({ maxNumSeqs: 1 });
    const records = byId(serveAll(one, [req(0, 0, 10, 3), req(1, 0, 10, 3)]));
    expect(records[1]!.scheduled).toBeCloseTo(records[0]!.finish, 12);
    expect(records[1]!.queueTime).toBeCloseTo(records[0]!.finish, 12);
  });

  it("preempts the newest request when the KV cache is full, and recomputes it later", () => {
    // KV of 100 tokens, two requests of 45 + 20 each: both fit at first, not at the end.
    const small = testProfile({ kvCapacityTokens: 100, maxModelLen: 80 });
    const d = driveByEvents(small, [req(0, 0, 45, 20), req(1, 0, 45, 20)]);
    const records = byId(d.records);
    expect(records[1]!.preemptions).toBeGreaterThan(0);
    expect(records[0]!.preemptions).toBe(0);
    expect(d.maxKv).toBeLessThanOrEqual(100);
    expect(d.replica.metrics().numPreemptionsTotal).toBe(records[1]!.preemptions);
  });
});

describe("Replica protocol", () => {
  it("rejects requests longer than maxModelLen without queueing them", () => {
    const r = new Replica(testProfile(), 0);
    expect(r.add(req(1, 0, 290, 20))).toBe("too-long");
    expect(r.add(req(2, 0, 290, 10))).toBeUndefined();
    expect(r.inFlight).toBe(1);
  });

  it.each([
    { name: "arrival before the replica's time", spec: req(1, 4, 10, 1), error: /before the replica's time/ },
    { name: "zero prompt tokens", spec: req(1, 6, 0, 1), error: /integers >= 1/ },
    { name: "zero output tokens", spec: req(1, 6, 10, 0), error: /integers >= 1/ },
    { name: "fractional tokens", spec: req(1, 6, 1.5, 1), error: /integers >= 1/ },
    { name: "NaN arrival", spec: req(1, Number.NaN, 10, 1), error: /arrival/ },
  ])("refuses $name", ({ spec, error }) => {
    const r = new Replica(testProfile(), 0);
    r.advanceTo(5);
    expect(() => r.add(spec)).toThrow(error);
  });

  it("refuses requests added out of arrival order and time going backwards", () => {
    const r = new Replica(testProfile(), 0);
    r.add(req(1, 3, 10, 1));
    expect(() => r.add(req(2, 2, 10, 1))).toThrow(/out of arrival order/);
    r.advanceTo(10);
    expect(() => r.advanceTo(9)).toThrow(/cannot advance/);
  });

  it("refuses an invalid profile", () => {
    expect(() => new Replica(testProfile({ maxNumBatchedTokens: 4, maxNumSeqs: 8 }), 0)).toThrow(
      /maxNumSeqs/,
    );
    expect(() => new Replica(testProfile({ kvCapacityTokens: 100 }), 0)).toThrow(/kvCapacityTokens/);
    const noBase = testProfile();
    expect(() => new Replica({ ...noBase, step: { ...noBase.step, baseSeconds: 0 } }, 0)).toThrow(
      /baseSeconds/,
    );
  });

  it("reports its next event: arrival, then step ends, then nothing", () => {
    const r = new Replica(testProfile(), 0);
    expect(r.nextEventTime()).toBe(Number.POSITIVE_INFINITY);
    r.add(req(1, 1, 10, 2));
    expect(r.nextEventTime()).toBe(1);
    r.advanceTo(1);
    const firstEnd = r.nextEventTime();
    expect(firstEnd).toBeCloseTo(1 + 0.01 + 1e-3 + 1e-5, 12);
    r.advanceTo(firstEnd);
    expect(r.takeFinished()).toEqual([]);
    r.advanceTo(r.nextEventTime());
    expect(r.takeFinished()).toHaveLength(1);
    expect(r.nextEventTime()).toBe(Number.POSITIVE_INFINITY);
  });

  it("a request added at the instant a step would start joins that step", () => {
    const r = new Replica(testProfile(), 0);
    r.add(req(1, 0, 10, 1));
    r.advanceTo(0); // forms the step at 0 with request 1
    r.add(req(2, 0, 10, 1)); // too late for it: waits one step
    r.runUntilIdle();
    const [a, b] = byId(r.takeFinished());
    expect(b!.firstToken).toBeGreaterThan(a!.firstToken);
    const s = new Replica(testProfile(), 0);
    s.add(req(1, 0, 10, 1));
    s.add(req(2, 0, 10, 1));
    s.runUntilIdle();
    const [c, d] = s.takeFinished();
    expect(c!.firstToken).toBe(d!.firstToken);
  });

  it("keeps no records when asked not to, and still counts", () => {
    const r = new Replica(testProfile(), 0, { records: false });
    r.add(req(1, 0, 10, 3));
    r.runUntilIdle();
    expect(r.takeFinished()).toEqual([]);
    expect(r.metrics().requestSuccessTotal).toBe(1);
  });

  it("gauges and counters follow the work", () => {
    const r = new Replica(testProfile(), 0);
    r.add(req(1, 0, 10, 3));
    r.add(req(2, 5, 10, 3));
    r.advanceTo(0.001);
    let m = r.metrics();
    expect(m.numRequestsRunning).toBe(1);
    expect(m.numRequestsWaiting).toBe(0);
    expect(m.kvCacheUsage).toBeCloseTo(10 / 400, 12);
    r.advanceTo(5);
    m = r.metrics();
    expect(m.numRequestsRunning).toBe(1); // the second one's step has just formed
    expect(m.requestSuccessTotal).toBe(1);
    expect(m.generationTokensTotal).toBe(3);
    expect(m.promptTokensTotal).toBe(10);
    r.runUntilIdle();
    m = r.metrics();
    expect(m).toMatchObject({
      numRequestsRunning: 0,
      numRequestsWaiting: 0,
      kvCacheUsage: 0,
      requestSuccessTotal: 2,
      generationTokensTotal: 6,
      promptTokensTotal: 20,
    });
    expect(m.timeToFirstToken.count).toBe(2);
    expect(m.interTokenLatency.count).toBe(4);
    expect(m.e2eRequestLatency.count).toBe(2);
  });
});

describe("Replica client timeouts", () => {
  it("a request whose client gave up leaves the queue, counted as aborted, and is handed over once", () => {
    // One sequence at a time: request 1 waits behind request 0's 1,000 tokens (about 11 s of decode steps,
    // jumped over in closed form), and its client gives up after 5 s.
    const r = new Replica(testProfile({ maxNumSeqs: 1, maxModelLen: 1200, kvCapacityTokens: 1200 }), 0, {
      abandonAfterSeconds: 5,
    });
    r.add(req(0, 0, 10, 1000));
    r.add(req(1, 0, 10, 3));
    r.advanceTo(4.9);
    expect(r.metrics()).toMatchObject({ numRequestsWaiting: 1, requestAbortedTotal: 0 });
    r.advanceTo(5.1);
    // Gone from the queue within a step of its timeout, though request 0 decodes on alone.
    expect(r.metrics()).toMatchObject({
      numRequestsWaiting: 0,
      numRequestsRunning: 1,
      requestAbortedTotal: 1,
    });
    expect(r.takeAbandoned()).toEqual([1]);
    expect(r.takeAbandoned()).toEqual([]);
    expect(r.renderMetrics()).toMatch(/vllm:request_success_total\{[^}]*finished_reason="abort"\} 1\.0/);
    r.runUntilIdle();
    // Request 0 had started: its client has tokens and waits for the rest, past the 5 s.
    expect(r.takeFinished().map((x) => x.id)).toEqual([0]);
    expect(r.metrics()).toMatchObject({ requestSuccessTotal: 1, requestAbortedTotal: 1 });
    expect(r.metrics().timeToFirstToken.count).toBe(1);
  });

  it("refuses a timeout that is not a positive number of seconds", () => {
    expect(() => new Replica(testProfile(), 0, { abandonAfterSeconds: 0 })).toThrow(/abandonAfterSeconds/);
    expect(() => new Replica(testProfile(), 0, { abandonAfterSeconds: Number.NaN })).toThrow(
      /abandonAfterSeconds/,
    );
  });

  it("every admitted request finishes or is given up, once, and only one that waited its timeout", () => {
    fc.assert(
      fc.property(
        profileArb,
        workloadArb(),
        fc.boolean(),
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        (p, reqs, fastPath, timeout) => {
          const d = driveByEvents(p, reqs, { fastPath, abandonAfterSeconds: timeout });
          const admitted = reqs.filter((r) => !d.rejected.includes(r.id));
          const gaveUp = d.replica.takeAbandoned();
          const finished = d.records.map((r) => r.id);
          expect([...finished, ...gaveUp].sort((a, b) => Number(a) - Number(b))).toEqual(
            admitted.map((r) => r.id),
          );
          for (const r of d.records) expect(r.queueTime).toBeLessThanOrEqual(timeout + 1e-9);
          const m = d.replica.metrics();
          expect(m.requestSuccessTotal + (m.requestAbortedTotal ?? 0)).toBe(admitted.length);
          expect(m.numRequestsRunning + m.numRequestsWaiting).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("Replica properties", () => {
  it("conserves requests and tokens: every admitted request finishes once with what it asked for", () => {
    fc.assert(
      fc.property(profileArb, workloadArb(), fc.boolean(), (p, reqs, fastPath) => {
        const d = driveByEvents(p, reqs, { fastPath });
        const admitted = reqs.filter((r) => !d.rejected.includes(r.id));
        expect(d.rejected).toEqual(
          reqs.filter((r) => r.promptTokens + r.outputTokens > p.maxModelLen).map((r) => r.id),
        );
        const records = byId(d.records);
        expect(records.map((r) => r.id)).toEqual(admitted.map((r) => r.id));
        for (const [k, r] of records.entries()) {
          expect(r.outputTokens).toBe(admitted[k]!.outputTokens);
          expect(r.promptTokens).toBe(admitted[k]!.promptTokens);
          expect(r.arrival <= r.scheduled && r.scheduled < r.firstToken && r.firstToken <= r.finish).toBe(
            true,
          );
        }
        const m = d.replica.metrics();
        const sum = (f: (r: RequestSpec) => number) => admitted.reduce((a, r) => a + f(r), 0);
        expect(m.generationTokensTotal).toBe(sum((r) => r.outputTokens));
        expect(m.promptTokensTotal).toBe(sum((r) => r.promptTokens));
        expect(m.requestSuccessTotal).toBe(admitted.length);
        expect(m.timeToFirstToken.count).toBe(admitted.length);
        expect(m.interTokenLatency.count).toBe(sum((r) => r.outputTokens - 1));
        // One observation per request of 2+ tokens: its mean time per output token, as the SLO scores it.
        const multi = records.filter((r) => r.outputTokens > 1);
        expect(m.requestTimePerOutputToken.count).toBe(multi.length);
        expect(m.requestTimePerOutputToken.sum).toBeCloseTo(
          multi.reduce((a, r) => a + r.meanItl, 0),
          6,
        );
        expect(m.numRequestsRunning + m.numRequestsWaiting).toBe(0);
        expect(d.replica.kvUsedTokens).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("never holds more KV than its capacity", () => {
    fc.assert(
      fc.property(profileArb, workloadArb(), (p, reqs) => {
        const d = driveByEvents(p, reqs, { fastPath: false });
        expect(d.maxKv).toBeLessThanOrEqual(p.kvCapacityTokens);
      }),
      { numRuns: 300 },
    );
  });

  it("gives first tokens in arrival order to requests with equal prompts", () => {
    fc.assert(
      fc.property(profileArb, workloadArb(), fc.integer({ min: 1, max: 32 }), (p, reqs, prompt) => {
        const equal = reqs.map((r) => ({ ...r, promptTokens: prompt }));
        const records = byId(driveByEvents(p, equal).records);
        for (let k = 1; k < records.length; k++) {
          expect(records[k]!.firstToken).toBeGreaterThanOrEqual(records[k - 1]!.firstToken);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never gives a first token sooner than the shortest possible prefill of its prompt", () => {
    fc.assert(
      fc.property(profileArb, workloadArb(), (p, reqs) => {
        for (const r of driveByEvents(p, reqs).records) {
          expect(r.ttft).toBeGreaterThanOrEqual(minPrefillSeconds(p, r.promptTokens) * (1 - 1e-12));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(profileArb, workloadArb(), (p, reqs) => {
        const a = driveByEvents(p, reqs);
        const b = driveByEvents(p, reqs);
        expect(b.records).toEqual(a.records);
        expect(b.replica.renderMetrics()).toBe(a.replica.renderMetrics());
      }),
      { numRuns: 100 },
    );
  });

  it("the fast path changes nothing but the work done", () => {
    fc.assert(
      fc.property(profileArb, workloadArb(), fc.boolean(), (p, reqs, byEvents) => {
        // Event by event (short jumps) and in one advance (long jumps).
        const serve = (fastPath: boolean) => {
          if (byEvents) return driveByEvents(p, reqs, { fastPath });
          const replica = new Replica(p, 0, { fastPath });
          for (const q of reqs) replica.add(q);
          replica.runUntilIdle();
          return { records: replica.takeFinished(), replica };
        };
        const fast = serve(true);
        const slow = serve(false);
        expectSameRecords(fast.records, slow.records);
        const [mf, ms] = [fast.replica.metrics(), slow.replica.metrics()];
        for (const h of ["interTokenLatency", "timeToFirstToken", "e2eRequestLatency"] as const) {
          expect(mf[h].count).toBe(ms[h].count);
          expect(Math.abs(mf[h].sum - ms[h].sum)).toBeLessThanOrEqual(1e-9 * Math.max(1, ms[h].sum));
          // Times summed in another order can land on the other side of a bound they hit exactly (0.3 vs
          // 0.30000000000000004): allow one flip per observation at a bound, nothing more.
          for (const [i, c] of mf[h].cumulative.entries()) {
            expect(Math.abs(c - ms[h].cumulative[i]!)).toBeLessThanOrEqual(
              Math.min(ms[h].count, 2 * reqs.length),
            );
          }
        }
        expect(fast.replica.steps).toBe(slow.replica.steps);
      }),
      { numRuns: 300 },
    );
  });

  it("outcomes do not depend on how often the driver advances the replica", () => {
    fc.assert(
      fc.property(
        profileArb,
        workloadArb(),
        fc.double({ min: 0.001, max: 0.3, noNaN: true }),
        (p, reqs, dt) => {
          const once = serveAll(p, reqs);
          const r = new Replica(p, 0);
          for (const q of reqs) r.add(q);
          for (let t = 0; r.inFlight > 0; t += dt) r.advanceTo(t);
          expectSameRecords(r.takeFinished(), once);
        },
      ),
      { numRuns: 200 },
    );
  });
});

function expectSameRecords(a: RequestRecord[], b: RequestRecord[]): void {
  const x = byId(a);
  const y = byId(b);
  expect(x.map((r) => [r.id, r.preemptions])).toEqual(y.map((r) => [r.id, r.preemptions]));
  for (let k = 0; k < x.length; k++) {
    for (const f of ["scheduled", "firstToken", "finish", "meanItl"] as const) {
      expect(Math.abs(x[k]![f] - y[k]![f])).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(y[k]![f])));
    }
  }
}
