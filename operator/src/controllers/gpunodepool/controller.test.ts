import { describe, expect, it } from "vitest";
import { LABEL_DRAINING_POOL } from "../../apis/labels.ts";
import { type CacheRequest, type Caches, cacheId } from "../../kube/controller.ts";
import type { Informer, Obj } from "../../kube/informer.ts";
import { CACHE } from "../caches.ts";
import { gpuNodePoolController, orphanedPools } from "./controller.ts";

const node = (name: string, pool?: string) =>
  ({ metadata: { name, labels: pool ? { [LABEL_DRAINING_POOL]: pool } : {} } }) as Obj;
const pool = (name: string) => ({ metadata: { name } }) as Obj;

/** Caches holding `objects` per request. */
function cachesOf(objects: [CacheRequest, Obj[]][]): Caches {
  const byId = new Map(objects.map(([req, objs]) => [cacheId(req), objs]));
  return {
    informer: (req) => {
      const objs = byId.get(cacheId(req)) ?? [];
      return {
        list: () => objs,
        get: (name: string) => objs.find((o) => o.metadata?.name === name),
      } as unknown as Informer<Obj>;
    },
  };
}

describe("GPUNodePool controller declaration", () => {
  it("names each deleted pool that nodes still drain for once, and no pool that exists", () => {
    const draining = [node("a", "gone"), node("b", "gone"), node("c", "here"), node("d")];
    const pools = { get: (name: string) => (name === "here" ? pool("here") : undefined) };
    expect(orphanedPools(draining, pools)).toEqual(["gone"]);
    expect(orphanedPools([], pools)).toEqual([]);
  });

  it("reconciles those pools after each plan, from the cache of draining nodes", () => {
    const spec = gpuNodePoolController({ latest: () => undefined });
    expect(spec.afterPlan).toBe(true);
    expect(spec.reads).toContainEqual(CACHE.drainingNodes);
    const caches = cachesOf([
      [CACHE.drainingNodes, [node("a", "gone"), node("c", "here")]],
      [CACHE.pools, [pool("here")]],
    ]);
    expect(spec.orphanKeys?.(caches)).toEqual(["gone"]);
  });
});
