import { describe, expect, it } from "vitest";
import type { PoolNode } from "../../nodepools/provider.ts";
import { T0 } from "../../nodepools/testing.ts";
import {
  holdFor,
  STALL_HOLD_MAX_MS,
  STALL_HOLD_MS,
  STALL_RESET_MS,
  type StallMemory,
  stall,
  stallFromStatus,
} from "./stall.ts";

const MIN = 60_000;
/** provisioningSeconds 30: a node asked for is late 120 s after it was. */
const PROVISIONING_MS = 30_000;
const asked = (since: number): PoolNode => ({
  name: "np/no-claim-0",
  state: "registering",
  gpus: 8,
  createdAt: since,
});
const ready = (name: string): PoolNode => ({ name, state: "ready", gpus: 8, createdAt: T0 });

/** One reconcile's look at the pool, carrying the memory as the controller does. */
function pool() {
  let memory: StallMemory | undefined;
  return {
    look(nodes: PoolNode[], nowMs: number) {
      const out = stall({
        ...(memory ? { previous: memory } : {}),
        nodes,
        provisioningMs: PROVISIONING_MS,
        nowMs,
      });
      memory = out.memory;
      return out;
    },
    memory: () => memory,
  };
}

describe("stall", () => {
  it.each([
    [1, 5],
    [2, 10],
    [3, 20],
    [4, 30],
    [9, 30],
  ])("holds stall %i in a row %i minutes", (strikes, minutes) => {
    expect(holdFor(strikes)).toBe(Math.min(STALL_HOLD_MAX_MS, minutes * MIN));
  });

  it("is not stalled while the node asked for is within its time, nor with nothing asked", () => {
    const p = pool();
    expect(p.look([asked(T0)], T0 + 120_000)).toEqual({});
    expect(p.look([], T0 + 120_000)).toEqual({});
  });

  it("holds a stall seen again after its hold twice as long, and starts again at 5 minutes once a new node registers", () => {
    const p = pool();
    const first = p.look([asked(T0)], T0 + 121_000);
    expect(first).toMatchObject({ requeueAfterMs: STALL_HOLD_MS, memory: { strikes: 1 } });
    // Gone from the plan: held 5 minutes after it was last seen, then not.
    expect(p.look([], T0 + 121_000 + STALL_HOLD_MS - 1).stalled).toMatch(/until 2026-01-05T12:07:01.000Z/);
    const over = p.look([], T0 + 121_000 + STALL_HOLD_MS);
    expect(over.stalled).toBeUndefined();
    expect(over.resumed).toBe("the 5 min hold after the stall ended: growth is tried again");
    // Asked again, late again: the second in a row holds 10 minutes.
    const again = T0 + 121_000 + STALL_HOLD_MS;
    const second = p.look([asked(again)], again + 121_000);
    expect(second.stalled).toMatch(/until 10 min after they were last seen late \(stall 2 in a row\)/);
    expect(second.memory).toMatchObject({ strikes: 2, untilMs: again + 121_000 + 10 * MIN });
    // A new node registers: the provider works; the streak is forgotten.
    const works = p.look([ready("n1")], again + 200_000);
    expect(works).toEqual({ resumed: "node(s) n1 registered: the provider works again" });
    const later = again + 30 * MIN;
    expect(p.look([ready("n1"), asked(later)], later + 121_000).memory).toMatchObject({ strikes: 1 });
  });

  it("starts again at 5 minutes a stall seen STALL_RESET_MS after the last", () => {
    const p = pool();
    p.look([asked(T0)], T0 + 121_000);
    p.look([], T0 + 130_000);
    const later = T0 + 121_000 + STALL_RESET_MS;
    expect(p.look([asked(later - 121_000)], later).memory).toMatchObject({ strikes: 1 });
    // Within it, the same pool stalling again holds longer.
    const q = pool();
    q.look([asked(T0)], T0 + 121_000);
    const soon = T0 + STALL_RESET_MS;
    expect(q.look([asked(soon - 121_000)], soon).memory).toMatchObject({ strikes: 2 });
  });

  it("keeps the message still while the late nodes are seen, so the status is not rewritten every reconcile", () => {
    const p = pool();
    const a = p.look([asked(T0)], T0 + 121_000).stalled;
    const b = p.look([asked(T0)], T0 + 181_000).stalled;
    expect(a).toBe(b);
    expect(a).toBe(
      "1 node(s) asked for have not registered after 120 s (np/no-claim-0); no more are asked for while they count; the pool counts only the nodes it has until 5 min after they were last seen late, unless a new node registers; then growth is tried again",
    );
    expect(p.memory()).toMatchObject({ seenMs: T0 + 181_000, untilMs: T0 + 181_000 + STALL_HOLD_MS });
  });
});

describe("a stall taken up from the status (a restarted operator, a new leader)", () => {
  const condition = {
    status: "True",
    reason: "ProvisioningStalled",
    lastTransitionTime: new Date(T0 + 5 * MIN).toISOString(),
  };

  it("holds from now for STALL_HOLD_MS, though the late node is gone", () => {
    const now = T0 + 8 * MIN;
    const previous = stallFromStatus({
      condition,
      nodes: [ready("n1")],
      provisioningMs: PROVISIONING_MS,
      nowMs: now,
    });
    expect(previous).toMatchObject({ strikes: 1, registered: ["n1"], untilMs: now + STALL_HOLD_MS });
    const held = stall({
      previous: previous!,
      nodes: [ready("n1")],
      provisioningMs: PROVISIONING_MS,
      nowMs: now,
    });
    expect(held.stalled).toContain("before the operator restarted");
    expect(held.requeueAfterMs).toBe(STALL_HOLD_MS);
    const after = stall({
      previous: previous!,
      nodes: [ready("n1")],
      provisioningMs: PROVISIONING_MS,
      nowMs: now + STALL_HOLD_MS,
    });
    expect(after.stalled).toBeUndefined();
    expect(after.resumed).toContain("hold after the stall ended");
  });

  it("ends at once for a node made after the stall began that has registered", () => {
    const now = T0 + 8 * MIN;
    const late = { ...ready("n2"), createdAt: T0 + 6 * MIN };
    const nodes = [ready("n1"), late];
    const previous = stallFromStatus({ condition, nodes, provisioningMs: PROVISIONING_MS, nowMs: now });
    expect(previous?.registered).toEqual(["n1"]);
    const out = stall({ previous: previous!, nodes, provisioningMs: PROVISIONING_MS, nowMs: now });
    expect(out.stalled).toBeUndefined();
    expect(out.resumed).toContain("n2");
  });

  it("takes up nothing when the status reports no stall", () => {
    for (const c of [
      undefined,
      { status: "False", reason: "ProviderHealthy" },
      { status: "True", reason: "CapacityUnavailable" },
    ]) {
      expect(
        stallFromStatus({ condition: c, nodes: [], provisioningMs: PROVISIONING_MS, nowMs: T0 }),
      ).toBeUndefined();
    }
  });
});
