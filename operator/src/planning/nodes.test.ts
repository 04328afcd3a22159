import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  heldTarget,
  LOST_REMOVE_MS,
  lostForGood,
  NOT_READY_REPLACE_MS,
  type NodePolicyInput,
  nodePolicy,
  nodeTarget,
  type PolicyNode,
  targetWithLost,
} from "./nodes.ts";

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const DELAY = 600_000;
const TIMEOUT = 900_000;

const node = (name: string, over: Partial<PolicyNode> = {}): PolicyNode => ({
  name,
  state: "ready",
  ownedPods: 0,
  otherPods: 0,
  ...over,
});

const input = (over: Partial<NodePolicyInput>): NodePolicyInput => ({
  target: 1,
  nodes: [],
  now: T0,
  scaleDownDelayMs: DELAY,
  drainTimeoutMs: TIMEOUT,
  ...over,
});

/** A pool whose plan has wanted `target` nodes for a whole delay: nothing held above it. */
const settled = (target: number): [number, number][] => [[T0 - DELAY, target]];

describe("nodePolicy", () => {
  it("does nothing when the pool has the nodes the plan wants", () => {
    const out = nodePolicy(input({ target: 2, nodes: [node("a", { ownedPods: 1 }), node("b")] }));
    expect(out).toEqual({ uncordon: [], drain: [], evict: [], remove: [], targets: [[T0, 2]] });
  });

  it("holds every serving node until it has seen a whole delay of targets, and says when that ends", () => {
    const nodes = [node("a", { ownedPods: 1 }), node("b")];
    const first = nodePolicy(input({ nodes }));
    expect(first.drain).toEqual([]);
    expect(first.targets).toEqual([[T0, 1]]);
    expect(first.requeueAfterMs).toBe(DELAY);
    expect(first.waiting).toMatch(/1 node\(s\) more than the plan wants, held.*\(600 s\)/);
    const early = nodePolicy(input({ nodes, now: T0 + DELAY - 1, targets: first.targets }));
    expect(early.drain).toEqual([]);
    const later = nodePolicy(input({ nodes, now: T0 + DELAY, targets: first.targets }));
    expect(later.drain).toEqual(["b"]);
    expect(later.remove).toEqual(["b"]);
    expect(later.waiting).toBeUndefined();
  });

  it("comes down a staircase one delay behind the plan, step by step, not a whole delay per step", () => {
    // Ten nodes wanted for a long time, then 7, 4 and 1, one minute apart.
    const nodes = Array.from({ length: 10 }, (_, k) => node(`n${k}`));
    const plan: [number, number][] = [
      [-2 * DELAY, 10],
      [60_000, 7],
      [120_000, 4],
      [180_000, 1],
    ];
    let targets: [number, number][] = [[T0 - 2 * DELAY, 10]]; // as if the pool had run for a while
    const removedAt: number[] = [];
    let pool = nodes;
    for (let s = 0; s <= 900; s += 10) {
      const now = T0 + s * 1000;
      const target = [...plan].reverse().find(([t]) => t <= s * 1000)![1];
      const out = nodePolicy(input({ target, nodes: pool, now, targets }));
      targets = out.targets;
      for (const _ of out.remove) removedAt.push(s);
      pool = pool.filter((n) => !out.remove.includes(n.name));
    }
    // Each step's nodes go a delay after the plan stopped wanting them.
    expect(removedAt).toEqual([660, 660, 660, 720, 720, 720, 780, 780, 780]);
  });

  it("never removes a node the plan wanted within the delay, though it wants fewer now", () => {
    const nodes = [node("a"), node("b"), node("c")];
    const out = nodePolicy(
      input({
        target: 1,
        nodes,
        targets: [
          [T0 - 2 * DELAY, 1],
          [T0 - 1000, 3],
        ],
      }),
    );
    expect(out.drain).toEqual([]);
    expect(out.requeueAfterMs).toBe(DELAY - 1000);
    // The surplus of an old bump has run out: back to 1, even though it was 3 a delay and a second ago.
    const old = nodePolicy(
      input({
        target: 1,
        nodes,
        targets: [
          [T0 - DELAY - 2000, 3],
          [T0 - DELAY - 1000, 1],
        ],
      }),
    );
    expect(old.remove).toHaveLength(2);
  });

  it("forgets the surplus once the plan wants the nodes again", () => {
    const out = nodePolicy(input({ target: 2, nodes: [node("a"), node("b")], targets: settled(1) }));
    expect(out.waiting).toBeUndefined();
    expect(out.drain).toEqual([]);
  });

  it("chooses never-registered, then not Ready, then empty, then the least busy nodes", () => {
    const nodes = [
      node("busy", { ownedPods: 3 }),
      node("light", { ownedPods: 1 }),
      node("empty"),
      node("sick", { state: "notReady" }),
      node("booting", { state: "registering" }),
    ];
    const order = [1, 2, 3, 4].map(
      (k) => nodePolicy(input({ target: 5 - k, nodes, targets: settled(5 - k) })).drain,
    );
    const removedBooting = nodePolicy(input({ target: 4, nodes, targets: settled(4) })).remove;
    expect(removedBooting).toEqual(["booting"]);
    expect(order[1]).toEqual(["sick"]);
    expect(order[2]).toEqual(["sick", "empty"]);
    expect(order[3]).toEqual(["sick", "empty", "light"]);
  });

  it("never chooses a node running pods inferops does not own, unless the pool allows evicting them", () => {
    const nodes = [node("a", { ownedPods: 2 }), node("foreign", { otherPods: 1 })];
    const kept = nodePolicy(input({ nodes, targets: settled(1) }));
    expect(kept.drain).toEqual(["a"]);
    const allowed = nodePolicy(input({ nodes, targets: settled(1), evictOtherPods: true }));
    expect(allowed.drain).toEqual(["foreign"]);
    expect(allowed.evict).toEqual(["foreign"]);
  });

  it("evicts from a draining node until it is empty, then offers it for removal", () => {
    const draining = node("a", { state: "draining", ownedPods: 2, drainingSince: T0 });
    const busy = nodePolicy(input({ target: 1, nodes: [draining, node("b")], now: T0 + 1000 }));
    expect(busy.evict).toEqual(["a"]);
    expect(busy.remove).toEqual([]);
    const drained = nodePolicy(input({ target: 1, nodes: [{ ...draining, ownedPods: 0 }, node("b")] }));
    expect(drained.remove).toEqual(["a"]);
  });

  it("uncordons draining nodes the plan wants back, the busiest first, before any node is added", () => {
    const nodes = [
      node("a", { state: "draining", ownedPods: 0, drainingSince: T0 }),
      node("b", { state: "draining", ownedPods: 2, drainingSince: T0 }),
      node("c"),
    ];
    const out = nodePolicy(input({ target: 2, nodes }));
    expect(out.uncordon.map((u) => u.name)).toEqual(["b"]);
    expect(out.remove).toEqual(["a"]);
  });

  it("undoes a drain that does not finish within its timeout, and one that finds a foreign pod", () => {
    const stuck = node("a", { state: "draining", ownedPods: 1, drainingSince: T0 - TIMEOUT });
    const foreign = node("b", { state: "draining", otherPods: 1, drainingSince: T0 });
    const out = nodePolicy(input({ target: 0, nodes: [stuck, foreign] }));
    expect(out.uncordon.map((u) => u.name)).toEqual(["a", "b"]);
    expect(out.uncordon[0]?.reason).toMatch(/did not finish/);
    expect(out.uncordon[1]?.reason).toMatch(/does not own/);
  });

  it("leaves alone nodes someone else cordoned, and nodes being deleted", () => {
    const nodes = [node("user", { state: "cordoned" }), node("gone", { state: "deleting" })];
    const out = nodePolicy(input({ target: 0, nodes, targets: settled(0) }));
    expect(out.drain).toEqual([]);
    expect(out.waiting).toMatch(/cordoned by someone else/);
  });
});

describe("nodePolicy properties", () => {
  const arbNode = fc.record({
    state: fc.constantFrom("registering", "ready", "notReady", "cordoned", "draining", "deleting" as const),
    ownedPods: fc.nat(3),
    otherPods: fc.constantFrom(0, 0, 0, 1),
    drainingSince: fc.integer({ min: T0 - 2 * TIMEOUT, max: T0 }),
  });
  const arbInput = fc.record({
    target: fc.nat(8),
    nodes: fc.array(arbNode, { maxLength: 10 }),
    targets: fc.option(
      fc
        .array(fc.tuple(fc.integer({ min: T0 - 2 * DELAY, max: T0 - 1 }), fc.nat(8)), { maxLength: 6 })
        .map((h) => h.sort((a, b) => a[0] - b[0])),
      { nil: undefined },
    ),
    evictOtherPods: fc.boolean(),
  });
  type Arb = typeof arbInput extends fc.Arbitrary<infer T> ? T : never;
  const run = (i: Arb) =>
    nodePolicy(
      input({
        ...i,
        nodes: i.nodes.map((n, k) => ({ ...n, name: `n${k}` }) as PolicyNode),
      }),
    );

  it("removes only nodes that run no pod, and never leaves fewer serving nodes than the target", () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const out = run(i);
        const byName = new Map(i.nodes.map((n, k) => [`n${k}`, n]));
        for (const name of out.remove) {
          const n = byName.get(name)!;
          expect(n.ownedPods + n.otherPods === 0 || n.state === "registering").toBe(true);
        }
        const live = i.nodes.filter((n) => n.state !== "deleting");
        const serving = live.filter((n) => n.state !== "draining").length + out.uncordon.length;
        const leaving =
          out.drain.length + out.remove.filter((r) => byName.get(r)?.state === "registering").length;
        expect(serving - leaving).toBeGreaterThanOrEqual(Math.min(i.target, serving));
      }),
    );
  });

  it("never goes below a target of the delay, and chooses nothing before it has seen a whole delay", () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const out = run(i);
        const live = i.nodes.filter((n) => n.state !== "deleting");
        const serving = live.filter((n) => n.state !== "draining").length;
        const byName = new Map(i.nodes.map((n, k) => [`n${k}`, n]));
        const leaving =
          out.drain.length + out.remove.filter((r) => byName.get(r)?.state === "registering").length;
        const history = i.targets ?? [];
        if (!history.some(([t]) => t <= T0 - DELAY)) expect(leaving).toBe(0);
        const wanted = Math.max(i.target, ...history.filter(([t]) => t >= T0 - DELAY).map(([, v]) => v));
        expect(serving - leaving).toBeGreaterThanOrEqual(Math.min(wanted, serving));
      }),
    );
  });

  it("keeps a history no longer than the changes of one delay, ending with this call's target", () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const out = run(i);
        expect(out.targets.at(-1)?.[1]).toBe(i.target);
        expect(out.targets.filter(([t]) => t <= T0 - DELAY).length).toBeLessThanOrEqual(1);
        const held = heldTarget({
          target: i.target,
          serving: 8,
          now: T0 + DELAY,
          scaleDownDelayMs: DELAY,
          targets: out.targets,
        });
        // A delay later, with the target unchanged, nothing of the past is held.
        expect(held.held).toBe(i.target);
      }),
    );
  });
});

describe("nodeTarget", () => {
  it.each([
    [0, 1],
    [3, 3],
    [9, 5],
  ])("the plan's %i node(s) give a target of %i within minNodes 1..maxNodes 5", (wanted, target) => {
    expect(nodeTarget({ minNodes: 1, maxNodes: 5 }, wanted)).toBe(target);
  });
});

describe("targetWithLost: a lost node is asked for again", () => {
  const now = 10 * 60_000;
  const ready = { state: "ready" };
  it("one more per node whose kubelet stopped reporting, or not Ready for NOT_READY_REPLACE_MS, within maxNodes", () => {
    const unreachable = { state: "notReady", notReady: { since: now - 1_000, unreachable: true } };
    const longNotReady = {
      state: "notReady",
      notReady: { since: now - NOT_READY_REPLACE_MS, unreachable: false },
    };
    expect(targetWithLost(2, [ready, unreachable], now, 8)).toBe(3);
    expect(targetWithLost(2, [ready, unreachable, longNotReady], now, 8)).toBe(4);
    expect(targetWithLost(2, [ready, unreachable, longNotReady], now, 3)).toBe(3);
  });

  it("no longer once it has not been Ready for LOST_REMOVE_MS: it is removed (lostForGood) and its replacement stays", () => {
    const later = 40 * 60_000;
    const lostLong = { state: "notReady", notReady: { since: later - LOST_REMOVE_MS, unreachable: true } };
    const lostNow = { state: "notReady", notReady: { since: later - 60_000, unreachable: true } };
    const falseLong = { state: "notReady", notReady: { since: later - LOST_REMOVE_MS, unreachable: false } };
    expect(targetWithLost(2, [ready, lostLong, lostNow, falseLong], later, 8)).toBe(3);
    expect(lostForGood([ready, lostLong, lostNow, falseLong], later)).toEqual([lostLong, falseLong]);
    expect(
      lostForGood([{ state: "notReady", notReady: { since: later - 30_000, unreachable: false } }], later),
    ).toEqual([]);
  });

  it("not a node still booting (Ready False for less than that), nor one being drained", () => {
    const booting = { state: "notReady", notReady: { since: now - 30_000, unreachable: false } };
    expect(targetWithLost(2, [ready, booting, { state: "draining" }, { state: "registering" }], now, 8)).toBe(
      2,
    );
  });
});
