import { describe, expect, it } from "vitest";
import { ApiError } from "./errors.ts";
import { FakeKube } from "./fake.ts";
import { pathFor, R } from "./resources.ts";
import { applyStatus } from "./status.ts";

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
