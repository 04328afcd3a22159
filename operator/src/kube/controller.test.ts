import { describe, expect, it } from "vitest";
import { allKeys, type Caches, cacheId, controllerOwnerKeys, keyOf, parseKey } from "./controller.ts";
import type { Informer, Obj } from "./informer.ts";
import { R } from "./resources.ts";

describe("controller keys", () => {
  it("keys namespaced objects by namespace/name and cluster-scoped ones by name, and parses them back", () => {
    expect(keyOf({ metadata: { namespace: "team-a", name: "llama" } })).toBe("team-a/llama");
    expect(keyOf({ metadata: { name: "h100" } })).toBe("h100");
    expect(parseKey("team-a/llama")).toEqual({ namespace: "team-a", name: "llama" });
    expect(parseKey("h100")).toEqual({ name: "h100" });
  });

  it("maps an owned object to its controller owner of the For kind only", () => {
    const owned = (refs: object[]): Obj =>
      ({ metadata: { namespace: "ns", name: "d", ownerReferences: refs } }) as Obj;
    const ref = { apiVersion: "inferops.dev/v1alpha1", name: "llama", uid: "u" };
    expect(
      controllerOwnerKeys(
        owned([{ ...ref, kind: "InferenceService", controller: true }]),
        "InferenceService",
      ),
    ).toEqual(["ns/llama"]);
    expect(controllerOwnerKeys(owned([{ ...ref, kind: "InferenceService" }]), "InferenceService")).toEqual(
      [],
    );
    expect(
      controllerOwnerKeys(owned([{ ...ref, kind: "ReplicaSet", controller: true }]), "InferenceService"),
    ).toEqual([]);
    expect(controllerOwnerKeys({ metadata: { name: "x" } } as Obj, "InferenceService")).toEqual([]);
  });

  it("lists every key of a cache, optionally in one namespace", () => {
    const objs = [
      { metadata: { namespace: "a", name: "x" } },
      { metadata: { namespace: "b", name: "y" } },
    ] as Obj[];
    const informer = { list: (ns?: string) => objs.filter((o) => !ns || o.metadata?.namespace === ns) };
    const caches: Caches = { informer: () => informer as unknown as Informer<Obj> };
    expect(allKeys(caches, { resource: R.inferenceServices })).toEqual(["a/x", "b/y"]);
    expect(allKeys(caches, { resource: R.inferenceServices }, "b")).toEqual(["b/y"]);
  });

  it("shares a cache only between equal requests", () => {
    expect(cacheId({ resource: R.pods })).toBe(cacheId({ resource: R.pods }));
    expect(cacheId({ resource: R.pods, labelSelector: "a=b" })).not.toBe(cacheId({ resource: R.pods }));
    expect(cacheId({ resource: R.deployments })).not.toBe(cacheId({ resource: R.services }));
  });
});
