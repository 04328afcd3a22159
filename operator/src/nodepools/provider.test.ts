import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ApiError } from "../kube/errors.ts";
import { FakeCloud } from "./fake.ts";
import {
  isInsufficientCapacity,
  isProviderConflict,
  isProviderNotFound,
  liveNodes,
  PLAN_TTL_MS,
  providerError,
  staleness,
} from "./provider.ts";
import { planFor, T0, testPool } from "./testing.ts";

function cloud(capacity?: number) {
  let now = T0;
  const fake = new FakeCloud({ now: () => now, capacity });
  return { fake, provider: fake.provider(), advance: (ms: number) => (now += ms), now: () => now };
}

describe("nodeProvider: the checks every provider shares", () => {
  it("adds the missing nodes once: registering ones count, so a repeated request adds nothing", async () => {
    const { fake, provider, now } = cloud();
    const pool = testPool("a");
    const first = await provider.scale(pool, { target: 3, removable: [], plan: planFor(pool, now()) });
    expect(first).toMatchObject({ outcome: "acted", added: 3 });
    expect(first.requeueAfterMs).toBe(120_000);
    const again = await provider.scale(pool, { target: 3, removable: [], plan: planFor(pool, now()) });
    expect(again).toMatchObject({ outcome: "unchanged", added: 0 });
    expect(fake.nodes("a").map((n) => n.state)).toEqual(["registering", "registering", "registering"]);
  });

  it("removes a node lost for good though pods are bound to it and the pool has no surplus, and adds its replacement", async () => {
    const { fake, provider, now } = cloud();
    const pool = testPool("a", { maxNodes: 2 });
    const lost = fake.add(pool, "notReady", 2); // its pods are stuck Terminating: nobody can reach them
    const other = fake.add(pool, "ready", 1);
    const result = await provider.scale(pool, {
      target: 2,
      removable: [lost],
      lost: [lost],
      plan: planFor(pool, now()),
    });
    expect(result).toMatchObject({ outcome: "acted", removed: [lost], added: 1 });
    // The lost node is gone (or going); the other stays, and its replacement registers.
    const left = fake.nodes("a");
    expect(left.some((n) => n.name === lost && n.state !== "deleting")).toBe(false);
    expect(left.filter((n) => n.name !== lost).map((n) => [n.name === other, n.state])).toEqual([
      [true, "ready"],
      [false, "registering"],
    ]);
    // The same node, not lost: kept for its pods, and for the target.
    const { fake: fake2, provider: provider2 } = cloud();
    const busy = fake2.add(pool, "notReady", 2);
    fake2.add(pool, "ready", 1);
    const kept = await provider2.scale(pool, { target: 2, removable: [busy], plan: planFor(pool, now()) });
    expect(kept.removed).toEqual([]);
    expect(kept.kept).toEqual([{ name: busy, reason: "the pool needs it: no more nodes than the target" }]);
  });

  it("registers nodes after the pool's provisioningSeconds", async () => {
    const { provider, advance, now } = cloud();
    const pool = testPool("a");
    await provider.scale(pool, { target: 1, removable: [], plan: planFor(pool, now()) });
    advance(119_000);
    expect((await provider.observe(pool))[0]?.state).toBe("registering");
    advance(1_000);
    expect((await provider.observe(pool))[0]).toMatchObject({ state: "ready", gpus: 8 });
  });

  it("does nothing on a plan made for another generation or too long ago", async () => {
    const { fake, provider, advance, now } = cloud();
    const pool = testPool("a", {}, 2);
    const old = await provider.scale(pool, {
      target: 2,
      removable: [],
      plan: { generation: 1, madeAt: now() },
    });
    expect(old).toMatchObject({ outcome: "stale", added: 0 });
    expect(old.message).toContain("generation 1");
    const plan = planFor(pool, now());
    advance(PLAN_TTL_MS + 1);
    expect((await provider.scale(pool, { target: 2, removable: [], plan })).outcome).toBe("stale");
    expect(fake.nodes("a")).toEqual([]);
    expect(fake.writes).toBe(0);
  });

  it("holds the target within minNodes and maxNodes", async () => {
    const { provider, now } = cloud();
    const pool = testPool("a", { minNodes: 1, maxNodes: 2 });
    expect(
      (await provider.scale(pool, { target: 5, removable: [], plan: planFor(pool, now()) })).target,
    ).toBe(2);
    expect(
      (await provider.scale(pool, { target: 0, removable: [], plan: planFor(pool, now()) })).target,
    ).toBe(1);
  });

  it("removes only offered, empty nodes of the pool, no more than the surplus, in the order offered", async () => {
    const { fake, provider, now } = cloud();
    const pool = testPool("a");
    const [n1, n2, n3, n4] = [fake.add(pool), fake.add(pool), fake.add(pool), fake.add(pool)] as string[];
    fake.setPods(n2!, 2);
    const other = fake.add(testPool("b"));
    const result = await provider.scale(pool, {
      target: 2,
      removable: [n2!, other, n3!, n1!, n4!],
      plan: planFor(pool, now()),
    });
    expect(result.removed).toEqual([n3, n1]);
    expect(result.kept).toEqual([
      { name: n2, reason: "runs 2 pod(s)" },
      { name: other, reason: "not a node of the pool" },
      { name: n4, reason: "the pool needs it: no more nodes than the target" },
    ]);
    expect(fake.nodes("a").map((n) => n.name)).toEqual([n2, n4]);
  });

  it("removes nothing that was not offered, even above the target", async () => {
    const { fake, provider, now } = cloud();
    const pool = testPool("a");
    fake.add(pool);
    fake.add(pool);
    const result = await provider.scale(pool, { target: 0, removable: [], plan: planFor(pool, now()) });
    expect(result).toMatchObject({ outcome: "unchanged", removed: [] });
    expect(result.message).toContain("2 more to remove once drained");
    expect(fake.nodes("a")).toHaveLength(2);
  });

  it("answers InsufficientCapacity when the cloud runs out, after taking what it has", async () => {
    const { fake, provider, now } = cloud(2);
    const pool = testPool("a");
    const err = await provider
      .scale(pool, { target: 3, removable: [], plan: planFor(pool, now()) })
      .catch((e: unknown) => e);
    expect(isInsufficientCapacity(err)).toBe(true);
    expect(fake.nodes("a")).toHaveLength(2);
  });

  it("passes a provider's failure on", async () => {
    const { fake, provider, now } = cloud();
    const pool = testPool("a");
    fake.failNext(new Error("cloud API down"));
    await expect(
      provider.scale(pool, { target: 1, removable: [], plan: planFor(pool, now()) }),
    ).rejects.toThrow("cloud API down");
  });

  it("converges on any target from any pool when every empty node is offered", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 5 }),
        async (start, target, minNodes) => {
          const { fake, provider, now } = cloud();
          const pool = testPool("a", { minNodes: Math.min(minNodes, 10) });
          for (let i = 0; i < start; i++) fake.add(pool);
          const removable = fake.nodes("a").map((n) => n.name);
          await provider.scale(pool, { target, removable, plan: planFor(pool, now()) });
          const want = Math.min(10, Math.max(pool.spec.minNodes, target));
          expect(liveNodes(fake.nodes("a"))).toHaveLength(want);
          const second = await provider.scale(pool, { target, removable, plan: planFor(pool, now()) });
          expect(second.outcome).toBe("unchanged");
        },
      ),
    );
  });
});

describe("staleness", () => {
  const pool = testPool("a", {}, 3);
  it.each([
    [{ generation: 3, madeAt: T0 }, T0 + PLAN_TTL_MS, undefined],
    [{ generation: 2, madeAt: T0 }, T0, "generation 2"],
    [{ generation: 3, madeAt: T0 }, T0 + PLAN_TTL_MS + 1000, "61 s old"],
  ])("%o at %d: %s", (plan, now, want) => {
    const got = staleness(pool, plan, now);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe("providerError", () => {
  it("turns the API's NotFound and Conflict into provider errors and wraps the rest", () => {
    const api = (code: string, status: number) => new ApiError("x", { code, status });
    expect(isProviderNotFound(providerError("reading", api("NotFound", 404)))).toBe(true);
    expect(isProviderConflict(providerError("writing", api("Conflict", 409)))).toBe(true);
    const other = providerError("reading MachineDeployment a/b", api("Forbidden", 403));
    expect(other).toBeInstanceOf(ApiError);
    expect(other.message).toBe("reading MachineDeployment a/b: x");
  });
});
