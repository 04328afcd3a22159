import fc from "fast-check";
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

describe("resourceOfPath bounds the operator's API metrics' labels", () => {
  // Its answer is the `resource` label of inferops_kube_api_requests_total: whatever the names of the objects
  // (chosen by users), it must be one of the resources and subresources the operator addresses, never a name,
  // so the series stay as many as verbs x resources x codes (docs/reliability.md, metric cardinality).
  const subresources = ["status", "scale", "eviction"];
  const known = new Set(
    Object.values(R).flatMap((r) => [r.plural, ...subresources.map((s) => `${r.plural}/${s}`)]),
  );
  // DNS-1123 labels, including the words the paths themselves use.
  const label = fc.oneof(
    fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/),
    fc.constantFrom(
      "namespaces",
      "status",
      "scale",
      "pods",
      "api",
      "apis",
      "v1",
      ...Object.values(R).map((r) => r.plural),
    ),
  );
  it("is a known resource (with a subresource) for any namespace and name", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(R)),
        label,
        fc.option(label, { nil: undefined }),
        fc.option(fc.constantFrom(...subresources), { nil: undefined }),
        (res, namespace, name, subresource) => {
          const path = pathFor(res, {
            namespace,
            ...(name !== undefined ? { name } : {}),
            ...(subresource !== undefined ? { subresource } : {}),
          });
          const got = resourceOfPath(path);
          expect(known.has(got), `${path} -> ${got}`).toBe(true);
          expect(got.split("/")[0]).toBe(res.plural);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
