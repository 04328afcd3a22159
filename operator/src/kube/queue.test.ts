import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TerminalError } from "./errors.ts";
import { WorkQueue } from "./queue.ts";

/** A reconciler whose calls resolve when the test says so. */
function controllable() {
  const calls: string[] = [];
  const times: number[] = [];
  const inFlight = new Map<
    string,
    { resolve: (v?: { requeueAfterMs?: number }) => void; reject: (e: unknown) => void }
  >();
  let concurrent = 0;
  let maxConcurrent = 0;
  const reconcile = (key: string) =>
    new Promise<{ requeueAfterMs?: number } | undefined>((resolve, reject) => {
      calls.push(key);
      times.push(Date.now());
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      const done =
        <A extends unknown[]>(f: (...a: A) => void) =>
        (...a: A) => {
          concurrent--;
          inFlight.delete(key);
          f(...a);
        };
      inFlight.set(key, { resolve: done(resolve), reject: done(reject) });
    });
  return { calls, times, inFlight, reconcile, max: () => maxConcurrent };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe("WorkQueue", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("never holds a key twice", async () => {
    const r = controllable();
    const q = new WorkQueue(r.reconcile, { concurrency: 1 });
    q.add("ns/a");
    q.add("ns/b");
    q.add("ns/b");
    q.add("ns/b");
    expect(q.depth).toBe(1);
    r.inFlight.get("ns/a")!.resolve();
    await flush();
    r.inFlight.get("ns/b")!.resolve();
    await flush();
    expect(r.calls).toEqual(["ns/a", "ns/b"]);
  });

  it("runs one reconcile per key at a time, and once more when the key changed meanwhile", async () => {
    const r = controllable();
    const q = new WorkQueue(r.reconcile, { concurrency: 4 });
    q.add("ns/a");
    q.add("ns/a");
    expect(r.calls).toEqual(["ns/a"]);
    q.add("ns/a");
    q.add("ns/a");
    r.inFlight.get("ns/a")!.resolve();
    await flush();
    expect(r.calls).toEqual(["ns/a", "ns/a"]);
    r.inFlight.get("ns/a")!.resolve();
    await flush();
    expect(r.calls).toHaveLength(2);
  });

  it("bounds concurrency", async () => {
    const r = controllable();
    const q = new WorkQueue(r.reconcile, { concurrency: 2 });
    for (const k of ["a", "b", "c", "d", "e"]) q.add(`ns/${k}`);
    expect(r.max()).toBe(2);
    expect(q.depth).toBe(3);
    for (let i = 0; i < 5; i++) {
      for (const f of [...r.inFlight.values()]) f.resolve();
      await flush();
    }
    expect(r.calls).toHaveLength(5);
    expect(r.max()).toBe(2);
  });

  it("backs off exponentially per key on errors and resets on success", async () => {
    const r = controllable();
    const q = new WorkQueue(r.reconcile, { backoff: { baseMs: 100, maxMs: 1_000 } });
    q.add("ns/a");
    for (let i = 0; i < 6; i++) {
      r.inFlight.get("ns/a")!.reject(new Error("boom"));
      await flush();
      await vi.advanceTimersToNextTimerAsync();
    }
    const gaps = r.times.slice(1).map((t, i) => t - r.times[i]!);
    expect(gaps).toEqual([100, 200, 400, 800, 1000, 1000]);
    // A success resets the key's backoff: the next failure waits the base delay again.
    r.inFlight.get("ns/a")!.resolve();
    await flush();
    q.add("ns/a");
    r.inFlight.get("ns/a")!.reject(new Error("boom"));
    await flush();
    await vi.advanceTimersToNextTimerAsync();
    expect(r.times.at(-1)! - r.times.at(-2)!).toBe(100);
  });

  it("does not retry terminal errors", async () => {
    const r = controllable();
    const outcomes: string[] = [];
    const q = new WorkQueue(r.reconcile, { onDone: (_k, o) => outcomes.push(o) });
    q.add("ns/a");
    r.inFlight.get("ns/a")!.reject(new TerminalError("bad spec"));
    await vi.advanceTimersByTimeAsync(600_000);
    expect(r.calls).toEqual(["ns/a"]);
    expect(outcomes).toEqual(["terminal"]);
  });

  it("requeues after the time asked, keeping the earliest timer", async () => {
    const r = controllable();
    const q = new WorkQueue(r.reconcile);
    q.add("ns/a");
    r.inFlight.get("ns/a")!.resolve({ requeueAfterMs: 10_000 });
    await flush();
    q.addAfter("ns/a", 20_000);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(r.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.calls).toHaveLength(2);
  });

  it("shutdown stops taking work and waits for in-flight reconciles", async () => {
    const r = controllable();
    const q = new WorkQueue(r.reconcile, { concurrency: 1 });
    q.add("ns/a");
    q.add("ns/b");
    let done = false;
    const stopped = q.shutdown().then(() => {
      done = true;
    });
    await flush();
    expect(done).toBe(false);
    q.add("ns/c");
    r.inFlight.get("ns/a")!.resolve();
    await stopped;
    expect(r.calls).toEqual(["ns/a"]);
  });
});
