import pino from "pino";
import { describe, expect, it } from "vitest";
import { EventRecorder } from "./events.ts";

const regarding = (name: string) => ({ apiVersion: "v1", kind: "Pod", name, namespace: "ns", uid: name });
const event = (note: string) => ({ type: "Normal" as const, reason: "Scaled", action: "Scale", note });

/** A client whose creates wait until released, counting how many are in flight at once. */
function slowClient(opts: { fail?: boolean } = {}) {
  const written: string[] = [];
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    written,
    get maxInFlight() {
      return maxInFlight;
    },
    releaseAll() {
      for (const r of waiting.splice(0)) r();
    },
    async create<T>(_path: string, body: T): Promise<T> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((r) => waiting.push(r));
      inFlight--;
      if (opts.fail) throw new Error("refused");
      written.push((body as { note: string }).note);
      return body;
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("EventRecorder", () => {
  it("returns before the API server answers and writes in the background, a few at a time", async () => {
    const client = slowClient();
    const rec = new EventRecorder(client, "test", pino({ level: "silent" }), { concurrency: 2 });
    for (let i = 0; i < 5; i++) expect(await rec.record(regarding(`p${i}`), event(`e${i}`))).toBe(true);
    expect(client.written).toEqual([]);
    const flushed = rec.flush();
    for (let i = 0; i < 5; i++) {
      await settle();
      client.releaseAll();
    }
    await flushed;
    expect(client.written).toEqual(["e0", "e1", "e2", "e3", "e4"]);
    expect(client.maxInFlight).toBe(2);
  });

  it("records the same event for the same object once within the window, and again after a failed write", async () => {
    let now = 0;
    const failing = slowClient({ fail: true });
    const rec = new EventRecorder(failing, "test", pino({ level: "silent" }), { now: () => now });
    expect(await rec.record(regarding("a"), event("x"))).toBe(true);
    expect(await rec.record(regarding("a"), event("x"))).toBe(false);
    expect(await rec.record(regarding("b"), event("x"))).toBe(true);
    const flushed = rec.flush();
    await settle();
    failing.releaseAll();
    await flushed;
    // Neither was written: the next occurrence is recorded again.
    expect(await rec.record(regarding("a"), event("x"))).toBe(true);
    now = 11 * 60_000;
    expect(await rec.record(regarding("c"), event("x"))).toBe(true);
    expect(await rec.record(regarding("c"), event("x"))).toBe(false);
  });

  it("drops the oldest waiting event when the queue is full, never blocking the caller", async () => {
    const client = slowClient();
    const rec = new EventRecorder(client, "test", pino({ level: "silent" }), {
      concurrency: 1,
      maxQueued: 2,
    });
    for (let i = 0; i < 5; i++) await rec.record(regarding(`p${i}`), event(`e${i}`));
    // e0 is in flight; e1 and e2 were dropped for e3 and e4.
    expect(rec.dropped).toBe(2);
    const flushed = rec.flush();
    for (let i = 0; i < 4; i++) {
      await settle();
      client.releaseAll();
    }
    await flushed;
    expect(client.written).toEqual(["e0", "e3", "e4"]);
  });

  it("writes a note within the API server's 1024 bytes, its control characters escaped", async () => {
    const client = slowClient();
    const rec = new EventRecorder(client, "test", pino({ level: "silent" }));
    await rec.record(regarding("p"), event(`refused: \u001b[31m${"ü".repeat(900)}`));
    const flushed = rec.flush();
    await settle();
    client.releaseAll();
    await flushed;
    const note = client.written[0]!;
    expect(Buffer.byteLength(note)).toBeLessThanOrEqual(1024);
    expect(note.startsWith("refused: \\x1b[31m")).toBe(true);
  });
});
