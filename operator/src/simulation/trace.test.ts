import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildTrace,
  DAY_SECONDS,
  diurnalDay,
  diurnalMultiplier,
  jitterScale,
  makeTrace,
  parseCsv,
  parseJsonl,
  parseTimestamp,
  readTrace,
  superpose,
  type Trace,
  TraceError,
  traceFromRows,
  windowLoad,
} from "./trace.ts";

const dir = mkdtempSync(join(tmpdir(), "inferops-trace-"));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A trace with requests every `gap` seconds over `span` seconds, lengths by index. */
function uniform(span: number, gap: number) {
  const reqs = [];
  for (let t = 0; t <= span; t += gap)
    reqs.push({ arrival: t, prompt: 100 + (reqs.length % 7), output: 10 + (reqs.length % 3) });
  return makeTrace("uniform", reqs, { durationSeconds: span });
}

describe("readers", () => {
  it("reads the shared CSV format, keeping every fractional digit and measuring from the first row", () => {
    const p = file(
      "azure.csv",
      "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319601,3180,8\n2023-11-16 18:17:03.9799600,0,0\n",
    );
    const t = readTrace(p);
    expect(t.name).toBe("azure");
    expect(t.arrivals.length).toBe(3);
    expect(t.arrivals[0]).toBe(0);
    expect(t.arrivals[2]).toBeCloseTo(0.0520001, 6);
    expect([...t.prompt]).toEqual([4808, 1, 3180]); // stable sort; zero lengths count as one token
    expect(t.startMs).toBe(Date.UTC(2023, 10, 16, 18, 17, 3, 980));
  });

  it("reads JSONL with ms timestamps and renamed fields", () => {
    const p = file("t.jsonl", '{"ts": 1000, "in": 5, "out": 7}\n\n{"ts": 3500, "in": 6, "out": 8}\n');
    const t = readTrace(p, { columns: { timestamp: "ts", input: "in", output: "out" } });
    expect([...t.arrivals]).toEqual([0, 2.5]);
    expect([...t.output]).toEqual([7, 8]);
  });

  it("names the line and the fix when a row cannot be read", () => {
    expect(() =>
      parseCsv("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,2\n", { source: "x.csv" }),
    ).toThrow(/x.csv line 2: unreadable timestamp "yesterday"/);
    expect(() => parseCsv("time,in,out\n1,2,3\n")).toThrow(
      /no column "TIMESTAMP" \(timestamp\).*timestamp option/,
    );
    expect(() => parseJsonl('{"timestamp": 1, "input_length": 3}\n')).toThrow(
      /line 1: no field "output_length"/,
    );
    expect(() => parseJsonl("{nope\n")).toThrow(TraceError);
    expect(() => parseCsv("TIMESTAMP,ContextTokens,GeneratedTokens\n1,-3,2\n")).toThrow(
      /input length must be a number/,
    );
    expect(() => traceFromRows("empty", [])).toThrow(/no requests/);
  });

  it("reads numeric timestamps in seconds or milliseconds and wall-clock offsets", () => {
    expect(parseTimestamp("12.5", "s")).toBe(12.5);
    expect(parseTimestamp(1500, "ms")).toBe(1.5);
    expect(parseTimestamp("2023-11-16T00:00:01.5+01:00", "s")).toBe(
      Date.UTC(2023, 10, 15, 23, 0, 1) / 1000 + 0.5,
    );
    expect(parseTimestamp("soon", "s")).toBeNaN();
  });
});

describe("the trace's start", () => {
  const csv =
    "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:20:00,100,10\n2023-11-16 18:20:30,200,20\n";

  it("counts idle time before the first request from a wall-clock start", () => {
    const t = readTrace(file("idle.csv", csv), { start: "2023-11-16 18:00:00" });
    expect([...t.arrivals]).toEqual([1200, 1230]);
    expect(t.durationSeconds).toBe(1230);
    expect(t.startMs).toBe(Date.UTC(2023, 10, 16, 18, 0, 0));
  });

  it("takes epoch seconds, and a JSONL trace's start in seconds whatever its time unit", () => {
    const epoch = Date.UTC(2023, 10, 16, 18, 19, 0) / 1000;
    expect([...readTrace(file("idle2.csv", csv), { start: epoch }).arrivals]).toEqual([60, 90]);
    const jsonl = file("rel.jsonl", '{"timestamp": 90000, "input_length": 5, "output_length": 7}\n');
    const t = readTrace(jsonl, { start: 0 });
    expect([...t.arrivals]).toEqual([90]);
    expect(t.durationSeconds).toBe(90);
  });

  it("measures from the first request without a start (unchanged)", () => {
    expect([...readTrace(file("first.csv", csv)).arrivals]).toEqual([0, 30]);
  });

  it("rejects a request before the start, and an unreadable start, naming the option", () => {
    expect(() => readTrace(file("late.csv", csv), { start: "2023-11-16 18:20:10" })).toThrow(
      /arrives at 2023-11-16T18:20:00.000Z, before the trace's start 2023-11-16T18:20:10.000Z \(the start option, --start/,
    );
    expect(() => readTrace(file("bad.csv", csv), { start: "tomorrow" })).toThrow(
      /start option, --start.*got "tomorrow"/,
    );
  });

  it("reaches buildTrace through a recipe's read options", () => {
    const t = buildTrace({
      name: "idle",
      file: file("recipe.csv", csv),
      read: { start: "2023-11-16 18:10:00" },
    });
    expect(t.arrivals[0]).toBe(600);
  });
});

describe("superposition", () => {
  const base = makeTrace(
    "b",
    [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 100].map((t, i) => ({ arrival: t, prompt: i + 1, output: 1 })),
    { durationSeconds: 100 },
  );

  it("keeps each copy's requests and the span: k copies, each shifted by i/k of the span and wrapped", () => {
    for (const k of [1, 2, 3, 7]) {
      const s = superpose(base, k);
      expect(s.arrivals.length).toBe(k * base.arrivals.length);
      expect(s.durationSeconds).toBe(base.durationSeconds);
      for (let i = 1; i < s.arrivals.length; i++)
        expect(s.arrivals[i]!).toBeGreaterThanOrEqual(s.arrivals[i - 1]!);
      expect(Math.min(...s.arrivals)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...s.arrivals)).toBeLessThanOrEqual(base.durationSeconds);
      // Every request of the base appears k times (by its prompt length, unique per request here).
      for (let i = 0; i < base.prompt.length; i++) {
        expect([...s.prompt].filter((p) => p === base.prompt[i]).length).toBe(k);
      }
    }
  });

  it("shifts copy i by i/k of the span: never clones a request in place", () => {
    const s = superpose(base, 4);
    const times = [...s.arrivals].filter((_, i) => s.prompt[i] === 6); // the request at t = 8
    expect(times.sort((a, b) => a - b)).toEqual([8, 33, 58, 83]);
    // No instant holds more copies than the base had at any instant.
    const counts = new Map<number, number>();
    for (const t of s.arrivals) counts.set(t, (counts.get(t) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2); // t = 0 and t = 100 wrap onto 0
  });

  it("rejects a scale that is not a whole number of copies", () => {
    expect(() => superpose(base, 1.5)).toThrow(/integer/);
  });
});

describe("the 24-hour day", () => {
  it("has its peak at 16:00, its trough at 04:00 at a fifth, and a mean of 0.6", () => {
    expect(diurnalMultiplier(16 * 3600)).toBeCloseTo(1, 12);
    expect(diurnalMultiplier(4 * 3600)).toBeCloseTo(0.2, 12);
    let sum = 0;
    for (let t = 0; t < DAY_SECONDS; t += 60) sum += diurnalMultiplier(t);
    expect(sum / (DAY_SECONDS / 60)).toBeCloseTo(0.6, 6);
  });

  it("thins the tiled hour so that each hour's rate follows the multiplier", () => {
    const hour = uniform(3600, 0.5); // 2 requests/s
    const day = diurnalDay(hour, 3, { seed: 5 });
    expect(day.durationSeconds).toBe(DAY_SECONDS);
    const perHour = new Array<number>(24).fill(0);
    for (const t of day.arrivals) perHour[Math.floor(t / 3600)]!++;
    const rate = 3 * 2 * 3600; // superposed hour
    for (let h = 0; h < 24; h++) {
      // Mean of the multiplier over the hour, against the count (binomial thinning: within 3%).
      let m = 0;
      for (let s = 0; s < 60; s++) m += diurnalMultiplier(h * 3600 + s * 60 + 30) / 60;
      expect(perHour[h]! / rate).toBeCloseTo(m, 1);
      expect(Math.abs(perHour[h]! / rate - m)).toBeLessThan(0.03);
    }
    expect(perHour[16]! / perHour[4]!).toBeGreaterThan(4.5);
    expect(perHour[16]! / perHour[4]!).toBeLessThan(5.5);
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const hour = uniform(3600, 1);
    const a = diurnalDay(hour, 2, { seed: 9 });
    const b = diurnalDay(hour, 2, { seed: 9 });
    const c = diurnalDay(hour, 2, { seed: 10 });
    expect([...a.arrivals]).toEqual([...b.arrivals]);
    expect(a.arrivals.length === c.arrivals.length && a.arrivals.every((x, i) => x === c.arrivals[i])).toBe(
      false,
    );
  });
});

/** Requests per 60 s window by floor(t / 60). */
function perMinute(t: Trace, windows: number): number[] {
  const out = new Array<number>(windows).fill(0);
  for (const a of t.arrivals) out[Math.min(windows - 1, Math.floor(a / 60))]!++;
  return out;
}

/** A one-hour step: `low` requests/s, then `high` from minute 20 to 40, then `low` again (evenly spaced). */
function step(low: number, high: number) {
  const reqs = [];
  for (let t = 0; t < 3600; ) {
    reqs.push({ arrival: t, prompt: 100 + (reqs.length % 5), output: 10 });
    t += 1 / (t >= 1200 && t < 2400 ? high : low);
  }
  return makeTrace("step", reqs, { durationSeconds: 3600 });
}

describe("jitter scaling", () => {
  it("keeps a 10x step's peak-to-trough ratio, which superposition flattens", () => {
    const base = step(0.5, 5);
    const ratio = (t: Trace) => {
      const m = perMinute(t, 60);
      return Math.max(...m) / Math.min(...m);
    };
    expect(ratio(base)).toBeCloseTo(10, 0);
    expect(ratio(jitterScale(base, 3, { seed: 4 }))).toBeGreaterThan(9);
    expect(ratio(superpose(base, 3))).toBeLessThan(1.3);
  });

  it("keeps k copies of every request, sorted, within the span and the jitter", () => {
    const base = step(0.2, 1);
    const s = jitterScale(base, 4, { jitterSeconds: 3, seed: 2 });
    expect(s.arrivals.length).toBe(4 * base.arrivals.length);
    expect(s.durationSeconds).toBe(base.durationSeconds);
    expect(s.name).toBe("step x4");
    for (let i = 1; i < s.arrivals.length; i++)
      expect(s.arrivals[i]!).toBeGreaterThanOrEqual(s.arrivals[i - 1]!);
    expect(Math.min(...s.arrivals)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...s.arrivals)).toBeLessThanOrEqual(3600);
    const sum = (a: Int32Array) => a.reduce((x, y) => x + y, 0);
    expect(sum(s.prompt)).toBe(4 * sum(base.prompt));
  });

  it("is deterministic for a seed, differs across seeds, and returns the trace itself for k = 1", () => {
    const base = step(0.2, 1);
    expect([...jitterScale(base, 2, { seed: 1 }).arrivals]).toEqual([
      ...jitterScale(base, 2, { seed: 1 }).arrivals,
    ]);
    expect([...jitterScale(base, 2, { seed: 1 }).arrivals]).not.toEqual([
      ...jitterScale(base, 2, { seed: 2 }).arrivals,
    ]);
    expect(jitterScale(base, 1)).toBe(base);
    expect(() => jitterScale(base, 0)).toThrow(/integer >= 1/);
    expect(() => jitterScale(base, 2, { jitterSeconds: -1 })).toThrow(/jitterSeconds/);
  });

  it("keeps the per-minute rate shape: each minute's count is k times the trace's within the jitter's spill", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 600, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        (times, k, jitter, seed) => {
          const base = makeTrace(
            "p",
            times.map((t) => ({ arrival: t, prompt: 1, output: 1 })),
            { durationSeconds: 600 },
          );
          const s = jitterScale(base, k, { jitterSeconds: jitter, seed });
          const got = perMinute(s, 10);
          const within = (lo: number, hi: number, closed: boolean) =>
            times.filter((t) => t >= lo && (closed ? t <= hi : t < hi)).length;
          for (let w = 0; w < 10; w++) {
            const a = 60 * w;
            const b = w === 9 ? Number.POSITIVE_INFINITY : a + 60; // the span's end belongs to the last minute
            // Every request at least `jitter` inside the minute stays in it; none from beyond the spill enters.
            expect(got[w]!).toBeGreaterThanOrEqual(k * within(a + jitter, b - jitter, false));
            expect(got[w]!).toBeLessThanOrEqual(k * within(a - jitter, b + jitter, true));
          }
        },
      ),
    );
  });

  it("is what a recipe's scaleBy: jitter builds, superposition by default", () => {
    const lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"];
    for (let i = 0; i < 100; i++) lines.push(`${i * 6},${100 + i},10`);
    const f = file("jitter.csv", `${lines.join("\n")}\n`);
    const jittered = buildTrace({
      name: "j",
      file: f,
      scale: 3,
      scaleBy: "jitter",
      jitterSeconds: 2,
      seed: 5,
    });
    const base = readTrace(f);
    expect([...jittered.arrivals]).toEqual([...jitterScale(base, 3, { jitterSeconds: 2, seed: 5 }).arrivals]);
    expect(jittered.name).toBe("j");
    const superposed = buildTrace({ name: "s", file: f, scale: 3 });
    expect([...superposed.arrivals]).toEqual([...superpose(base, 3).arrivals]);
    expect(windowLoad(jittered).requests.reduce((x, y) => x + y, 0)).toBe(300);
  });
});
