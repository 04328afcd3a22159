// The local control plane behaves as a cluster: kwok GPU nodes run scheduled pods, RBAC refuses what it
// does not grant.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KubeClient } from "../../operator/src/kube/client.ts";
import { ApiError } from "../../operator/src/kube/errors.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { gpuNode } from "../helpers/objects.ts";
import { integrationSuite } from "../helpers/suite.ts";

integrationSuite("cluster", () => {
  let admin: KubeClient;
  beforeAll(async () => {
    admin = await KubeClient.create(inject("adminKubeconfig"));
  });
  afterAll(() => admin?.close());

  describe("local control plane", () => {
    it("schedules a Deployment requesting nvidia.com/gpu onto a kwok GPU node and its pods reach Running", async () => {
      await admin.apply(pathFor(R.nodes, { name: "it-gpu-0" }), gpuNode("it-gpu-0", "it-pool", 4));
      kubectl(inject("adminKubeconfig"), ["create", "namespace", "it-sched"]);
      await admin.apply(pathFor(R.deployments, { namespace: "it-sched", name: "gpu-app" }), {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "gpu-app", namespace: "it-sched" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "gpu-app" } },
          template: {
            metadata: { labels: { app: "gpu-app" } },
            spec: {
              nodeSelector: { "inferops.dev/pool": "it-pool" },
              tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
              containers: [{ name: "c", image: "fake", resources: { limits: { "nvidia.com/gpu": "2" } } }],
            },
          },
        },
      });
      const pods = await eventually(async () => {
        const list = await admin.list<{ status?: { phase?: string }; spec?: { nodeName?: string } }>(
          pathFor(R.pods, { namespace: "it-sched" }),
          { labelSelector: "app=gpu-app" },
        );
        expect(list.items).toHaveLength(2);
        for (const p of list.items) expect(p.status?.phase).toBe("Running");
        return list.items;
      });
      expect(pods.map((p) => p.spec?.nodeName)).toEqual(["it-gpu-0", "it-gpu-0"]);
    });

    it("refuses an identity what RBAC does not grant it", async () => {
      const operator = await KubeClient.create(inject("operatorKubeconfig"));
      try {
        const err = await operator.list("/api/v1/secrets").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).code).toBe("Forbidden");
        // ...while what it is granted works.
        await expect(operator.list(pathFor(R.inferenceServices))).resolves.toHaveProperty("items");
      } finally {
        await operator.close();
      }
    });
  });
});
