import { describe, expect, it } from "vitest";
import { pathFor, R, resourceOfPath } from "./resources.ts";

describe("pathFor", () => {
  it.each([
    [pathFor(R.deployments, { namespace: "a", name: "b" }), "/apis/apps/v1/namespaces/a/deployments/b"],
    [pathFor(R.pods), "/api/v1/pods"],
    [pathFor(R.nodes, { namespace: "ignored", name: "n" }), "/api/v1/nodes/n"],
    [
      pathFor(R.inferenceServices, { namespace: "x", name: "y", subresource: "status" }),
      "/apis/inferops.dev/v1alpha1/namespaces/x/inferenceservices/y/status",
    ],
  ])("%s", (got, want) => expect(got).toBe(want));
});

describe("resourceOfPath", () => {
  it.each([
    ["/apis/apps/v1/namespaces/a/deployments/b", "deployments"],
    ["/apis/apps/v1/namespaces/a/deployments", "deployments"],
    ["/api/v1/pods", "pods"],
    ["/api/v1/namespaces/default", "namespaces"],
    ["/api/v1/nodes/n?x=1", "nodes"],
    ["/apis/inferops.dev/v1alpha1/namespaces/x/inferenceservices/y/status", "inferenceservices/status"],
    ["/apis/coordination.k8s.io/v1/namespaces/ns/leases/l", "leases"],
  ])("%s is %s", (path, want) => expect(resourceOfPath(path)).toBe(want));
});
