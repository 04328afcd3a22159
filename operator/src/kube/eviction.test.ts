import { describe, expect, it } from "vitest";
import { ApiError } from "./errors.ts";
import { evictPod } from "./eviction.ts";
import { FakeKube } from "./fake.ts";
import { pathFor, R } from "./resources.ts";

const pod = (name: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "ns" } });

describe("evictPod", () => {
  it("posts an Eviction for the pod, which then goes", async () => {
    const kube = new FakeKube();
    kube.seed(pathFor(R.pods, { namespace: "ns", name: "p" }), pod("p"));
    expect(await evictPod(kube, { namespace: "ns", name: "p" })).toBe("evicted");
    expect(kube.writes).toEqual([{ verb: "create", path: "/api/v1/namespaces/ns/pods/p/eviction" }]);
    expect(kube.peek(pathFor(R.pods, { namespace: "ns", name: "p" }))).toBeUndefined();
  });

  it("answers blocked when a PodDisruptionBudget holds the pod (429), and gone for a pod already gone", async () => {
    const kube = new FakeKube();
    kube.seed(pathFor(R.pods, { namespace: "ns", name: "p" }), pod("p"));
    kube.fault = (verb, path) =>
      verb === "POST" && path.endsWith("/eviction")
        ? new ApiError("Cannot evict pod as it would violate the pod's disruption budget.", {
            code: "TooManyRequests",
            status: 429,
          })
        : undefined;
    expect(await evictPod(kube, { namespace: "ns", name: "p" })).toBe("blocked");
    kube.fault = undefined;
    expect(await evictPod(kube, { namespace: "ns", name: "q" })).toBe("gone");
  });

  it("wraps other errors, naming the pod", async () => {
    const kube = new FakeKube();
    kube.fault = () => new ApiError("forbidden", { code: "Forbidden", status: 403 });
    await expect(evictPod(kube, { namespace: "ns", name: "p" })).rejects.toThrow(/evicting pod ns\/p/);
  });
});
