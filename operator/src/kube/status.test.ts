import { describe, expect, it } from "vitest";
import { CONTEST_LIMIT, CONTEST_WINDOW_MS } from "./contest.ts";
import { ApiError } from "./errors.ts";
import { FakeKube } from "./fake.ts";
import { pathFor, R } from "./resources.ts";
import { applyStatus, type StatusWrite, StatusWrites } from "./status.ts";

const pool = { apiVersion: "inferops.dev/v1alpha1", kind: "GPUNodePool", metadata: { name: "p" } };

describe("applyStatus", () => {
  it("applies only the status to the /status subresource", async () => {
    const kube = new FakeKube();
    kube.seed(pathFor(R.gpuNodePools, { name: "p" }), { ...pool, spec: { a: 1 } });
    await applyStatus(kube, R.gpuNodePools, pool, { nodes: 2 });
    expect(kube.writes).toEqual([
      {
        verb: "apply",
        path: "/apis/inferops.dev/v1alpha1/gpunodepools/p/status",
        body: { ...pool, status: { nodes: 2 } },
      },
    ]);
  });

  it("ignores an object deleted meanwhile, and names the object when another error comes", async () => {
    const kube = new FakeKube();
    kube.fault = () => new ApiError("not found", { code: "NotFound", status: 404 });
    await expect(applyStatus(kube, R.gpuNodePools, pool, {})).resolves.toBeUndefined();
    kube.fault = () => new ApiError("denied", { code: "Forbidden", status: 403 });
    await expect(
      applyStatus(kube, R.inferenceServices, { ...pool, metadata: { name: "s", namespace: "ns" } }, {}),
    ).rejects.toThrow(/writing status of InferenceService ns\/s: denied/);
  });
});

describe("StatusWrites: two writers of one status", () => {
  const path = pathFor(R.gpuNodePools, { name: "p" });
  const live = (kube: FakeKube) => kube.get<typeof pool & { status?: unknown }>(path);

  it("a writer that keeps rewriting it wins after CONTEST_LIMIT rewrites: inferops stops, and says so once", async () => {
    const kube = new FakeKube();
    kube.seed(path, { ...pool, spec: { a: 1 } });
    const a = new StatusWrites();
    const b = new StatusWrites(); // a second instance, with its own idea of the status
    const results: StatusWrite[] = [];
    for (let i = 0; i < CONTEST_LIMIT + 2; i++) {
      results.push(await a.write(kube, R.gpuNodePools, await live(kube), { nodes: 1 }, i * 1_000));
      await b.write(kube, R.gpuNodePools, await live(kube), { nodes: 2 }, i * 1_000 + 500);
    }
    expect(results.map((r) => r.written)).toEqual([true, true, true, false, false]);
    expect(results.filter((r) => r.contestStarted)).toHaveLength(1);
    // b never saw a rewrite after its own: it goes on alone, and a window later a writes again.
    expect((await live(kube)).status).toEqual({ nodes: 2 });
    const later = await a.write(
      kube,
      R.gpuNodePools,
      await live(kube),
      { nodes: 1 },
      CONTEST_WINDOW_MS + 5_000,
    );
    expect(later.written).toBe(true);
  });

  it("recognises its own writes in a cache several writes behind, with a change of labels between them", async () => {
    const kube = new FakeKube();
    kube.seed(path, { ...pool, spec: { a: 1 } });
    const a = new StatusWrites();
    const stale = await live(kube);
    const seen = [];
    for (let i = 0; i < CONTEST_LIMIT + 2; i++) {
      // each write made from the stale cache; the cache then shows each version in turn
      expect((await a.write(kube, R.gpuNodePools, stale, { nodes: i }, i)).written).toBe(true);
      seen.push(await live(kube));
      await kube.patch(path, { metadata: { labels: { n: String(i) } } });
      seen.push(await live(kube));
    }
    for (const [i, cached] of seen.entries())
      expect((await a.write(kube, R.gpuNodePools, cached, { nodes: 100 + i }, 100 + i)).written).toBe(true);
  });

  it("counts neither a cache behind its own write, nor a change of labels, nor a change of spec", async () => {
    const kube = new FakeKube();
    kube.seed(path, { ...pool, spec: { a: 1 } });
    const a = new StatusWrites();
    for (let i = 0; i < CONTEST_LIMIT + 1; i++) {
      const before = await live(kube);
      expect((await a.write(kube, R.gpuNodePools, before, { nodes: i }, i)).written).toBe(true);
      // the cache has not seen the write yet
      expect((await a.write(kube, R.gpuNodePools, before, { nodes: i + 10 }, i)).written).toBe(true);
      await kube.patch(path, { metadata: { labels: { n: String(i) } } });
      await kube.apply(path, { ...pool, spec: { a: i + 2 } });
    }
  });
});
