import { describe, expect, it } from "vitest";
import { gpuNodePool } from "../../../../test/helpers/objects.ts";
import { gpuNodePoolSchema } from "../../apis/gpunodepool.ts";
import { inferenceServiceSchema } from "../../apis/inferenceservice.ts";
import { desiredDeployment, desiredService, hashOf, upToDate } from "./objects.ts";

// biome-ignore lint/suspicious/noExplicitAny: tests read deep into plain JSON objects
type Json = any;

const svc = inferenceServiceSchema.parse({
  apiVersion: "inferops.dev/v1alpha1",
  kind: "InferenceService",
  metadata: { name: "llama", namespace: "ml", uid: "u-1" },
  spec: {
    model: { name: "m", server: "vllm" },
    template: {
      metadata: { labels: { team: "a" } },
      spec: {
        containers: [
          {
            name: "vllm",
            image: "img",
            resources: { limits: { cpu: "4" } },
            ports: [{ name: "http", containerPort: 8000 }],
          },
          { name: "sidecar", image: "side" },
        ],
        tolerations: [{ key: "dedicated", operator: "Exists" }],
        nodeSelector: { zone: "a" },
      },
    },
    accelerators: [{ pool: "h100", gpusPerReplica: 2 }],
  },
});
const pool = gpuNodePoolSchema.parse(
  gpuNodePool("h100", {
    costPerNodeHour: 98,
    nodeTaints: [
      { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" },
      { key: "spot", effect: "NoExecute" },
    ],
  }),
);

describe("desiredDeployment", () => {
  const d = desiredDeployment(svc, svc.spec.accelerators[0]!, pool, 3) as Json;

  it("requests the variant's GPUs on the first container only, keeping its other resources", () => {
    expect(d.spec.template.spec.containers[0].resources).toEqual({
      limits: { cpu: "4", "nvidia.com/gpu": "2" },
      requests: { "nvidia.com/gpu": "2" },
    });
    expect(d.spec.template.spec.containers[1].resources).toBeUndefined();
  });

  it("places pods on the pool: its labels added to the selector, its taints tolerated", () => {
    expect(d.spec.template.spec.nodeSelector).toEqual({ zone: "a", "inferops.dev/pool": "h100" });
    expect(d.spec.template.spec.tolerations).toEqual([
      { key: "dedicated", operator: "Exists" },
      { key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" },
      { key: "spot", operator: "Exists", effect: "NoExecute" },
    ]);
  });

  it("labels pods and selects them by service and variant, with the user's labels kept", () => {
    expect(d.spec.selector.matchLabels).toEqual({
      "inferops.dev/service": "llama",
      "inferops.dev/variant": "h100",
    });
    expect(d.spec.template.metadata.labels).toEqual({
      team: "a",
      "app.kubernetes.io/managed-by": "inferops",
      "inferops.dev/service": "llama",
      "inferops.dev/variant": "h100",
    });
  });

  it("is owned by the InferenceService as controller", () => {
    expect(d.metadata.ownerReferences).toEqual([
      {
        apiVersion: "inferops.dev/v1alpha1",
        kind: "InferenceService",
        name: "llama",
        uid: "u-1",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it("does not change the user's template object", () => {
    expect((svc.spec.template.spec.containers[0] as Json).resources).toEqual({ limits: { cpu: "4" } });
  });
});

describe("upToDate", () => {
  it("is true only when the hash and the replicas match", () => {
    const want = desiredDeployment(svc, svc.spec.accelerators[0]!, pool, 3);
    expect(upToDate(undefined, want)).toBe(false);
    expect(upToDate({ ...want, status: { replicas: 3 } }, want)).toBe(true);
    expect(upToDate({ ...want, spec: { ...(want.spec as object), replicas: 2 } }, want)).toBe(false);
    const changed = desiredDeployment(
      { ...svc, spec: { ...svc.spec, accelerators: [{ pool: "h100", gpusPerReplica: 1 }] } },
      { pool: "h100", gpusPerReplica: 1 },
      pool,
      3,
    );
    expect(upToDate(want, changed)).toBe(false);
  });

  it("ignores replicas in the hash, so a scale alone is one small write", () => {
    const a = desiredDeployment(svc, svc.spec.accelerators[0]!, pool, 3);
    const b = desiredDeployment(svc, svc.spec.accelerators[0]!, pool, 7);
    expect(a.metadata?.annotations).toEqual(b.metadata?.annotations);
  });
});

describe("hashOf", () => {
  it("does not depend on key order", () => {
    expect(hashOf({ a: 1, b: { c: 2, d: 3 } })).toBe(hashOf({ b: { d: 3, c: 2 }, a: 1 }));
    expect(hashOf({ a: 1 })).not.toBe(hashOf({ a: 2 }));
  });
});

describe("desiredService", () => {
  it("selects every variant's pods on the first container's ports", () => {
    const s = desiredService(svc) as Json;
    expect(s.spec).toEqual({
      selector: { "inferops.dev/service": "llama" },
      ports: [{ name: "http", port: 8000, targetPort: 8000, protocol: "TCP" }],
    });
  });

  it("is headless (clusterIP: None) when spec.service.headless says so, and its hash changes with it", () => {
    const headless = { ...svc, spec: { ...svc.spec, service: { headless: true } } };
    const s = desiredService(headless) as Json;
    expect(s.spec.clusterIP).toBe("None");
    expect(s.spec.selector).toEqual({ "inferops.dev/service": "llama" });
    expect(upToDate(desiredService(svc), s)).toBe(false);
    expect((desiredService(svc) as Json).spec.clusterIP).toBeUndefined();
  });
});
