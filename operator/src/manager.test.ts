import { describe, expect, it } from "vitest";
import type { Obj } from "./kube/informer.ts";
import { fingerprint } from "./manager.ts";

describe("fingerprint: what of an object wakes its controller", () => {
  const svc = {
    apiVersion: "inferops.dev/v1alpha1",
    kind: "InferenceService",
    metadata: { name: "s", namespace: "n", generation: 3, resourceVersion: "10", labels: { a: "b" } },
    spec: { replicas: 2 },
    status: { replicas: 2 },
  };

  it("is the same after a change of status alone (its own write, or another writer's)", () => {
    expect(
      fingerprint({ ...svc, metadata: { ...svc.metadata, resourceVersion: "11" }, status: { replicas: 3 } }),
    ).toBe(fingerprint(svc));
  });

  it("changes with the spec's generation, labels, annotations and deletion", () => {
    const changed: Obj["metadata"][] = [
      { ...svc.metadata, generation: 4 },
      { ...svc.metadata, labels: { a: "c" } },
      { ...svc.metadata, annotations: { x: "y" } },
      { ...svc.metadata, deletionTimestamp: "2026-12-07T00:00:00Z" as never },
    ];
    for (const metadata of changed) expect(fingerprint({ ...svc, metadata })).not.toBe(fingerprint(svc));
  });
});
