// The node providers on the real API server, as the operator's identity (so the chart's ClusterRole, which the
// global setup binds to it, is proved too):
// kwok nodes created in a cloud's shape and registering after provisioningSeconds, scale-down deleting the
// chosen node; clusterAPI and karpenter steered through minimal structural CRDs of the real kinds
// (test/fixtures/crds/), with the tests playing the part of Cluster API's and Karpenter's controllers.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { gpuNodePoolSchema } from "../../operator/src/apis/gpunodepool.ts";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { DELETE_MACHINE_ANNOTATION, DEPLOYMENT_NAME_LABEL } from "../../operator/src/nodepools/clusterapi.ts";
import { type NodeObject, nodeProviders, type Pool } from "../../operator/src/nodepools/index.ts";
import { NODEPOOL_LABEL } from "../../operator/src/nodepools/karpenter.ts";
import { ANNOTATION_PROVISIONING, KWOK_ANNOTATION } from "../../operator/src/nodepools/kwok.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { ROOT } from "../helpers/fixtures.ts";
import { gpuNode, gpuNodePool } from "../helpers/objects.ts";
import { integrationSuite } from "../helpers/suite.ts";

integrationSuite("node providers", () => {
  let admin: KubeClient;
  let operator: KubeClient;
  let providers: ReturnType<typeof nodeProviders>;

  /** Applies a GPUNodePool and reads it back as the operator sees it (defaults, generation). */
  const made = new Set<string>();
  async function pool(name: string, spec: Record<string, unknown>): Promise<Pool> {
    made.add(name);
    const applied = await admin.apply(pathFor(R.gpuNodePools, { name }), gpuNodePool(name, spec));
    return gpuNodePoolSchema.parse(applied);
  }
  const plan = (p: Pool) => ({ generation: p.metadata.generation ?? 0, madeAt: Date.now() });

  beforeAll(async () => {
    const kubeconfig = inject("adminKubeconfig");
    for (const f of ["cluster-api.yaml", "karpenter.yaml"])
      kubectl(kubeconfig, ["apply", "-f", join(ROOT, "test", "fixtures", "crds", f)]);
    kubectl(kubeconfig, [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      ...["machinedeployments", "machines"].map((r) => `crd/${r}.cluster.x-k8s.io`),
      ...["nodepools", "nodeclaims"].map((r) => `crd/${r}.karpenter.sh`),
    ]);
    admin = await KubeClient.create(kubeconfig);
    operator = await KubeClient.create(inject("operatorKubeconfig"));
    providers = nodeProviders({ client: operator });
  });
  afterAll(async () => {
    // Cluster-scoped: an operator of a later suite would find them (and one names a MachineDeployment that
    // does not exist, a provider failing for ever).
    if (made.size > 0)
      kubectl(inject("adminKubeconfig"), ["delete", "gpunodepools", ...made, "--ignore-not-found"]);
    await admin?.close();
    await operator?.close();
  });

  describe("kwok", () => {
    it("creates cloud-shaped GPU nodes that register after provisioningSeconds, and deletes the one chosen", async () => {
      const p = await pool("it-kwok", {
        gpu: { type: "nvidia-l4", count: 1, memoryGiB: 24 },
        provisioningSeconds: 2,
        nodeLabels: { "inferops.dev/pool": "it-kwok", "cloud.example/accelerator": "l4" },
      });
      const kwok = providers.kwok;
      const first = await kwok.scale(p, { target: 2, removable: [], plan: plan(p) });
      expect(first).toMatchObject({ outcome: "acted", added: 2 });
      expect(first.requeueAfterMs).toBeGreaterThan(0);

      const nodes = async () =>
        (await admin.list<NodeObject>(pathFor(R.nodes), { labelSelector: "inferops.dev/pool=it-kwok" }))
          .items;
      // Booting: the intent is on the GPUNodePool, no Node yet.
      expect(await nodes()).toEqual([]);
      const intent = async () =>
        JSON.parse(
          (await admin.get(pathFor(R.gpuNodePools, { name: "it-kwok" }))).metadata?.annotations?.[
            ANNOTATION_PROVISIONING
          ] ?? "{}",
        );
      const asked = Object.keys(await intent());
      expect(asked).toHaveLength(2);
      expect((await kwok.observe(p)).map((n) => n.state)).toEqual(["registering", "registering"]);
      // An operator restarted now asks for nothing more.
      expect(
        (await nodeProviders({ client: operator }).kwok.scale(p, { target: 2, removable: [], plan: plan(p) }))
          .added,
      ).toBe(0);

      // A pod for the pool waits while the nodes boot...
      kubectl(inject("adminKubeconfig"), ["create", "namespace", "it-kwok"]);
      await admin.apply(pathFor(R.pods, { namespace: "it-kwok", name: "gpu" }), {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "gpu", namespace: "it-kwok" },
        spec: {
          nodeSelector: { "inferops.dev/pool": "it-kwok" },
          tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
          containers: [{ name: "c", image: "fake", resources: { limits: { "nvidia.com/gpu": "1" } } }],
        },
      });
      const pod = () =>
        admin.get<KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string } }>(
          pathFor(R.pods, { namespace: "it-kwok", name: "gpu" }),
        );
      expect((await pod()).spec?.nodeName).toBeUndefined();

      // ...and the nodes register once 2 s have passed (the controller calls scale() again when due), in a
      // cloud's shape, and kwok makes them Ready.
      await eventually(async () => {
        await kwok.scale(p, { target: 2, removable: [], plan: plan(p) });
        expect((await kwok.observe(p)).map((n) => n.state)).toEqual(["ready", "ready"]);
      });
      expect(await intent()).toEqual({});
      const registered = await nodes();
      expect(registered.map((n) => n.metadata?.name).sort()).toEqual(asked.sort());
      for (const n of registered) {
        expect(n.metadata?.labels).toMatchObject({
          "cloud.example/accelerator": "l4",
          "inferops.dev/pool": "it-kwok",
          "app.kubernetes.io/managed-by": "inferops",
          "nvidia.com/gpu.product": "NVIDIA-L4",
        });
        expect(n.metadata?.annotations?.[KWOK_ANNOTATION]).toBe("fake");
        expect(n.spec?.providerID).toBe(`kwok://it-kwok/${n.metadata?.name}`);
        expect(n.spec?.taints).toContainEqual({ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" });
        expect(n.status?.allocatable?.["nvidia.com/gpu"]).toBe("1");
        expect(n.status?.capacity?.["nvidia.com/gpu"]).toBe("1");
      }
      const busy = await eventually(async () => {
        const got = await pod();
        expect(got.status?.phase).toBe("Running");
        return got.spec?.nodeName as string;
      });
      expect((await kwok.scale(p, { target: 2, removable: [], plan: plan(p) })).outcome).toBe("unchanged");

      // Scale-down: both offered, the busy one is kept, the empty one deleted.
      const empty = (await nodes()).map((n) => n.metadata?.name).find((n) => n !== busy) as string;
      const down = await kwok.scale(p, { target: 1, removable: [busy, empty], plan: plan(p) });
      expect(down.removed).toEqual([empty]);
      expect(down.kept).toEqual([{ name: busy, reason: "runs pod it-kwok/gpu" }]);
      await eventually(async () => expect((await nodes()).map((n) => n.metadata?.name)).toEqual([busy]));
    });

    it("does not act on a plan made for an older generation of the pool", async () => {
      const p = await pool("it-kwok-stale", { provisioningSeconds: 2 });
      const changed = await pool("it-kwok-stale", { provisioningSeconds: 3 });
      expect(changed.metadata.generation).toBe((p.metadata.generation ?? 0) + 1);
      const result = await providers.kwok.scale(changed, { target: 1, removable: [], plan: plan(p) });
      expect(result.outcome).toBe("stale");
      expect(await providers.kwok.observe(changed)).toEqual([]);
      expect(
        (await admin.get(pathFor(R.gpuNodePools, { name: "it-kwok-stale" }))).metadata?.annotations,
      ).toBeUndefined();
    });
  });

  describe("clusterAPI", () => {
    const NS = "it-capi";
    const md = pathFor(R.machineDeployments, { namespace: NS, name: "gpu" });
    const machine = (name: string) => pathFor(R.machines, { namespace: NS, name });

    it("marks the drained node's Machine, then scales the MachineDeployment through its scale subresource", async () => {
      const kubeconfig = inject("adminKubeconfig");
      kubectl(kubeconfig, ["create", "namespace", NS]);
      await admin.apply(md, {
        apiVersion: "cluster.x-k8s.io/v1beta1",
        kind: "MachineDeployment",
        metadata: { name: "gpu", namespace: NS },
        spec: { clusterName: "c", replicas: 2 },
      });
      for (const [m, node] of [
        ["gpu-m1", "it-capi-n1"],
        ["gpu-m2", "it-capi-n2"],
      ] as const) {
        await admin.apply(machine(m), {
          apiVersion: "cluster.x-k8s.io/v1beta1",
          kind: "Machine",
          metadata: { name: m, namespace: NS, labels: { [DEPLOYMENT_NAME_LABEL]: "gpu" } },
          spec: { clusterName: "c" },
        });
        await admin.apply(`${machine(m)}/status`, {
          apiVersion: "cluster.x-k8s.io/v1beta1",
          kind: "Machine",
          metadata: { name: m, namespace: NS },
          status: { phase: "Running", nodeRef: { name: node } },
        });
        await admin.apply(pathFor(R.nodes, { name: node }), gpuNode(node, "it-capi", 8));
      }
      const p = await pool("it-capi", {
        provider: { type: "clusterAPI", clusterAPI: { machineDeployment: { namespace: NS, name: "gpu" } } },
      });
      const capi = providers.clusterAPI;
      await eventually(async () =>
        expect((await capi.observe(p)).map((n) => [n.name, n.state])).toEqual([
          ["it-capi-n1", "ready"],
          ["it-capi-n2", "ready"],
        ]),
      );
      const replicas = async () =>
        (await admin.get<KubeObject & { spec: { replicas: number } }>(md)).spec.replicas;

      const down = await capi.scale(p, { target: 1, removable: ["it-capi-n2"], plan: plan(p) });
      expect(down.removed).toEqual(["it-capi-n2"]);
      expect((await admin.get(machine("gpu-m2"))).metadata?.annotations?.[DELETE_MACHINE_ANNOTATION]).toBe(
        "true",
      );
      expect(
        (await admin.get(machine("gpu-m1"))).metadata?.annotations?.[DELETE_MACHINE_ANNOTATION],
      ).toBeUndefined();
      expect(await replicas()).toBe(1);

      // The plan wants three after all (Cluster API has not deleted gpu-m2 yet): unmarked, three replicas.
      const up = await capi.scale(p, { target: 3, removable: [], plan: plan(p) });
      expect(up).toMatchObject({ outcome: "acted", added: 1 });
      expect(
        (await admin.get(machine("gpu-m2"))).metadata?.annotations?.[DELETE_MACHINE_ANNOTATION],
      ).toBeUndefined();
      expect(await replicas()).toBe(3);
      expect((await capi.scale(p, { target: 3, removable: [], plan: plan(p) })).outcome).toBe("unchanged");
    });

    it("answers NotFound when the MachineDeployment does not exist", async () => {
      const p = await pool("it-capi-missing", {
        provider: {
          type: "clusterAPI",
          clusterAPI: { machineDeployment: { namespace: NS, name: "absent" } },
        },
      });
      await expect(providers.clusterAPI.observe(p)).rejects.toMatchObject({
        name: "ProviderError",
        code: "NotFound",
      });
    });
  });

  describe("karpenter", () => {
    const np = pathFor(R.karpenterNodePools, { name: "it-gpu" });

    it("sets the NodePool's GPU limit and disruption, keeps the user's fields, and deletes the chosen NodeClaim", async () => {
      await admin.create(pathFor(R.karpenterNodePools), {
        apiVersion: "karpenter.sh/v1",
        kind: "NodePool",
        metadata: { name: "it-gpu" },
        spec: {
          limits: { cpu: "1000" },
          disruption: { consolidateAfter: "30s", budgets: [{ nodes: "10%" }] },
        },
      });
      await admin.apply(pathFor(R.nodeClaims, { name: "it-gpu-a" }), {
        apiVersion: "karpenter.sh/v1",
        kind: "NodeClaim",
        metadata: { name: "it-gpu-a", labels: { [NODEPOOL_LABEL]: "it-gpu" } },
        spec: {},
      });
      await admin.apply(pathFor(R.nodeClaims, { name: "it-gpu-a", subresource: "status" }), {
        apiVersion: "karpenter.sh/v1",
        kind: "NodeClaim",
        metadata: { name: "it-gpu-a" },
        status: { nodeName: "it-karpenter-a" },
      });
      const node = gpuNode("it-karpenter-a", "it-karpenter", 8);
      await admin.apply(pathFor(R.nodes, { name: "it-karpenter-a" }), {
        ...node,
        metadata: { ...node.metadata, labels: { ...node.metadata.labels, [NODEPOOL_LABEL]: "it-gpu" } },
      });
      const p = await pool("it-karpenter", {
        provider: { type: "karpenter", karpenter: { nodePool: "it-gpu" } },
      });
      const karpenter = providers.karpenter;
      expect((await karpenter.observe(p)).map((n) => [n.name, n.holder])).toEqual([
        ["it-karpenter-a", "it-gpu-a"],
      ]);

      expect(await karpenter.scale(p, { target: 3, removable: [], plan: plan(p) })).toMatchObject({
        outcome: "acted",
        added: 2,
      });
      const spec = async () => (await admin.get<KubeObject & { spec: Record<string, unknown> }>(np)).spec;
      expect(await spec()).toEqual({
        limits: { cpu: "1000", "nvidia.com/gpu": "24" },
        disruption: {
          consolidationPolicy: "WhenEmpty",
          consolidateAfter: "Never",
          budgets: [{ nodes: "10%" }],
        },
      });
      expect((await karpenter.scale(p, { target: 3, removable: [], plan: plan(p) })).outcome).toBe(
        "unchanged",
      );

      const down = await karpenter.scale(p, { target: 0, removable: ["it-karpenter-a"], plan: plan(p) });
      expect(down.removed).toEqual(["it-karpenter-a"]);
      await eventually(async () =>
        expect(
          (await admin.list(pathFor(R.nodeClaims), { labelSelector: `${NODEPOOL_LABEL}=it-gpu` })).items,
        ).toEqual([]),
      );
      expect((await spec()).limits).toEqual({ cpu: "1000", "nvidia.com/gpu": "0" });
    });
  });
});
