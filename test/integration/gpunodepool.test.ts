// The GPUNodePool controller in the operator process, on the real control plane with kwok nodes: demand
// rises and the pool grows (pods wait for the new nodes and schedule once they register); demand falls and
// the replica alone on its node goes first (pod-deletion-cost), so that node empties and is removed; with two
// busy nodes and demand for one, a node is cordoned, drained through the Eviction API (a PodDisruptionBudget
// holds it) and deleted; an operator killed while a node is cordoned finishes the removal, or undoes it when
// the plan wants the node back, or when the node's pool was deleted meanwhile; a provider that fails backs
// off with a condition. As the operator's identity.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ANNOTATION_DRAINING, LABEL_DRAINING_POOL } from "../../operator/src/apis/labels.ts";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { ROOT } from "../helpers/fixtures.ts";
import { gpuNodePool, inferenceService } from "../helpers/objects.ts";
import { type OperatorProcess, startOperatorProcess } from "../helpers/operator.ts";
import { integrationSuite } from "../helpers/suite.ts";

type Node = KubeObject & { spec?: { unschedulable?: boolean } };
type Pod = KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string } };
type PoolStatus = {
  nodes?: number;
  registeredNodes?: number;
  readyNodes?: number;
  drainingNodes?: number;
  desiredNodes?: number;
  costPerHour?: number;
  conditions?: { type: string; status: string; reason: string; message: string }[];
};

integrationSuite("GPUNodePool controller", () => {
  const NS = "it-gpupool";
  const POOL = "it-grow";
  const ORPHAN = "it-orphan";
  let admin: KubeClient;
  let operator: OperatorProcess;
  const admCfg = () => inject("adminKubeconfig");
  const start = () =>
    startOperatorProcess({ kubeconfig: inject("operatorKubeconfig"), identity: "op-pool", interval: "1s" });

  const nodes = async (pool = POOL) =>
    (await admin.list<Node>(pathFor(R.nodes), { labelSelector: `inferops.dev/pool=${pool}` })).items;
  const pods = async (service = "llama") =>
    (
      await admin.list<Pod>(pathFor(R.pods, { namespace: NS }), {
        labelSelector: `inferops.dev/service=${service}`,
      })
    ).items.filter((p) => !p.metadata?.deletionTimestamp);
  const status = async (pool = POOL) =>
    ((await admin.get(pathFor(R.gpuNodePools, { name: pool }))).status ?? {}) as PoolStatus;
  const condition = async (type: string, pool = POOL) =>
    (await status(pool)).conditions?.find((c) => c.type === type);
  const reasons = async () =>
    (
      await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
        pathFor(R.events, { namespace: "default" }),
      )
    ).items
      .filter((e) => e.regarding?.name === POOL)
      .map((e) => e.reason);
  const scale = (n: number) => kubectl(admCfg(), ["scale", "-n", NS, "infsvc/llama", `--replicas=${n}`]);
  const cordonAsTheOperatorWould = (name: string, pool = POOL) =>
    admin.patch(pathFor(R.nodes, { name }), {
      metadata: {
        annotations: { [ANNOTATION_DRAINING]: new Date().toISOString() },
        labels: { [LABEL_DRAINING_POOL]: pool },
      },
      spec: { unschedulable: true },
    } as KubeObject);

  beforeAll(async () => {
    admin = await KubeClient.create(admCfg());
    kubectl(admCfg(), ["create", "namespace", NS]);
    // Nodes of 2 L4 GPUs that take 3 s to boot; an empty-enough node goes after 3 s of surplus.
    await admin.apply(
      pathFor(R.gpuNodePools, { name: POOL }),
      gpuNodePool(POOL, {
        gpu: { type: "nvidia-l4", count: 2, memoryGiB: 24 },
        costPerNodeHour: 1.6,
        maxNodes: 3,
        provisioningSeconds: 3,
        scaleDownDelaySeconds: 3,
      }),
    );
    operator = await start();
  });

  afterAll(async () => {
    await operator?.stop();
    kubectl(admCfg(), ["delete", "namespace", NS, "--wait=false"]);
    kubectl(admCfg(), ["delete", "gpunodepools", POOL, ORPHAN, "it-broken", "--ignore-not-found"]);
    kubectl(admCfg(), [
      "delete",
      "nodes",
      "-l",
      `inferops.dev/pool in (${POOL},${ORPHAN},it-broken)`,
      "--wait=false",
    ]);
    await admin?.close();
  });

  describe("node lifecycle", () => {
    it("demand rises: the pool grows, and pending pods schedule once the new nodes register", async () => {
      await admin.apply(
        pathFor(R.inferenceServices, { namespace: NS, name: "llama" }),
        inferenceService("llama", NS, {
          accelerators: [{ pool: POOL, gpusPerReplica: 1 }],
          scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 6 },
          replicas: 3,
        }),
      );
      // The plan wants 2 nodes; none exists yet: the pods wait.
      await eventually(async () => {
        expect(await status()).toMatchObject({ desiredNodes: 2, nodes: 2, registeredNodes: 0 });
        expect(await condition("Scaling")).toMatchObject({ status: "True", reason: "ScalingUp" });
        const early = await pods();
        expect(early).toHaveLength(3);
        expect(early.every((p) => !p.spec?.nodeName)).toBe(true);
      });
      // They register after provisioningSeconds, and the pods run on them.
      await eventually(async () => {
        const running = await pods();
        expect(running).toHaveLength(3);
        expect(running.every((p) => p.status?.phase === "Running")).toBe(true);
      });
      expect(await nodes()).toHaveLength(2);
      await eventually(async () => {
        expect(await status()).toMatchObject({
          nodes: 2,
          registeredNodes: 2,
          readyNodes: 2,
          costPerHour: 3.2,
        });
        expect(await condition("Ready")).toMatchObject({ status: "True" });
      });
      expect(await reasons()).toContain("NodesRequested");
      // One NodeRegistered per node asked for (recorded in the background: waited for).
      await eventually(async () =>
        expect((await reasons()).filter((r) => r === "NodeRegistered")).toHaveLength(2),
      );
      // kubectl shows the pool's columns.
      const table = kubectl(admCfg(), ["get", "gpupool", POOL]);
      expect(table).toMatch(/DESIRED/);
    });

    it("demand falls: the replica alone on its node goes first, and the emptied node is removed without evicting anything", async () => {
      // Three pods on two nodes of two GPUs: two share a node, one is alone. The InferenceService controller
      // sets pod-deletion-cost before it lowers replicas, so the ReplicaSet removes the lone pod (its own
      // ranking would take one of the pair, the node with more of its pods, and leave both nodes busy).
      const before = await pods();
      const perNode = new Map<string, number>();
      for (const p of before) perNode.set(p.spec!.nodeName!, (perNode.get(p.spec!.nodeName!) ?? 0) + 1);
      const lone = [...perNode].find(([, n]) => n === 1)?.[0];
      expect(lone).toBeDefined();
      scale(2);
      await eventually(async () => {
        const left = await nodes();
        expect(left.map((n) => n.metadata?.name)).not.toContain(lone);
        expect(left).toHaveLength(1);
      });
      await eventually(async () => {
        const running = await pods();
        expect(running).toHaveLength(2);
        expect(new Set(running.map((p) => p.spec?.nodeName)).size).toBe(1);
        expect(running.every((p) => p.status?.phase === "Running")).toBe(true);
      });
      expect(await reasons()).not.toContain("EvictionBlocked");
      await eventually(async () => expect(await status()).toMatchObject({ nodes: 1, drainingNodes: 0 }));
    });

    it("demand falls on two busy nodes: one is cordoned, drained through the Eviction API (PDB respected) and deleted; an operator killed meanwhile finishes it", async () => {
      // A second service takes a GPU the pair leaves no room for: the pool grows to two busy nodes.
      await admin.apply(
        pathFor(R.inferenceServices, { namespace: NS, name: "mistral" }),
        inferenceService("mistral", NS, {
          accelerators: [{ pool: POOL, gpusPerReplica: 1 }],
          scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 2 },
          replicas: 1,
        }),
      );
      await eventually(async () => {
        const running = await pods("mistral");
        expect(running).toHaveLength(1);
        expect(running[0]?.status?.phase).toBe("Running");
      });
      expect(await nodes()).toHaveLength(2);
      // A PodDisruptionBudget that holds every pod: the drain waits for it.
      kubectl(admCfg(), [
        "create",
        "poddisruptionbudget",
        "llama",
        "-n",
        NS,
        "--selector=inferops.dev/service in (llama,mistral)",
        "--min-available=2",
      ]);
      // llama's pair shares a node, so it loses one of them: one pod per node, and the plan wants one node.
      scale(1);
      await eventually(async () => expect(await status()).toMatchObject({ desiredNodes: 1 }));
      const draining = await eventually(async () => {
        const cordoned = (await nodes()).filter((n) => n.spec?.unschedulable);
        expect(cordoned).toHaveLength(1);
        expect(cordoned[0]?.metadata?.annotations?.[ANNOTATION_DRAINING]).toBeDefined();
        return cordoned[0]!.metadata!.name!;
      });
      await eventually(async () => expect(await reasons()).toContain("EvictionBlocked"));
      expect(await nodes()).toHaveLength(2);

      // Killed while the node is cordoned; restarted, it resumes the drain.
      await operator.stop("SIGKILL");
      operator = await start();
      kubectl(admCfg(), ["delete", "poddisruptionbudget", "llama", "-n", NS]);
      await eventually(async () => {
        const left = await nodes();
        expect(left.map((n) => n.metadata?.name)).not.toContain(draining);
        expect(left).toHaveLength(1);
      });
      // The evicted pod is recreated on the node that stays.
      await eventually(async () => {
        const running = [...(await pods()), ...(await pods("mistral"))];
        expect(running).toHaveLength(2);
        expect(running.every((p) => p.status?.phase === "Running")).toBe(true);
      });
      await eventually(async () =>
        expect(await reasons()).toEqual(expect.arrayContaining(["NodeCordoned", "NodeRemoved"])),
      );
      await eventually(async () => expect(await status()).toMatchObject({ nodes: 1, drainingNodes: 0 }));
      kubectl(admCfg(), ["delete", "-n", NS, "infsvc/mistral"]);
      await eventually(async () => expect(await pods("mistral")).toHaveLength(0));
    });

    it("an operator killed between cordon and delete undoes the cordon when the plan wants the node back", async () => {
      scale(4);
      await eventually(async () => {
        const running = await pods();
        expect(running.filter((p) => p.status?.phase === "Running")).toHaveLength(4);
      });
      await operator.stop("SIGKILL");
      const [victim] = await nodes();
      await cordonAsTheOperatorWould(victim!.metadata!.name!);
      operator = await start();
      await eventually(async () => {
        const node = (await nodes()).find((n) => n.metadata?.name === victim!.metadata!.name);
        expect(node?.spec?.unschedulable).toBeFalsy();
        expect(node?.metadata?.annotations?.[ANNOTATION_DRAINING]).toBeUndefined();
      });
      // Events are recorded after the change they report: wait for it too.
      await eventually(async () => expect(await reasons()).toContain("NodeUncordoned"));
      expect(await nodes()).toHaveLength(2);
    });

    it("a pool deleted while its node drains and no operator runs: the next operator uncordons the node and deletes nothing", async () => {
      await admin.apply(
        pathFor(R.gpuNodePools, { name: ORPHAN }),
        gpuNodePool(ORPHAN, {
          gpu: { type: "nvidia-l4", count: 2, memoryGiB: 24 },
          costPerNodeHour: 1.6,
          minNodes: 1,
          maxNodes: 1,
          provisioningSeconds: 3,
        }),
      );
      const victim = await eventually(async () => {
        const [node] = await nodes(ORPHAN);
        expect(node).toBeDefined();
        return node!.metadata!.name!;
      });
      await operator.stop("SIGKILL");
      await cordonAsTheOperatorWould(victim, ORPHAN);
      // No finalizer: the pool goes at once, though no operator runs.
      kubectl(admCfg(), ["delete", "gpunodepool", ORPHAN, "--timeout=10s"]);
      operator = await start();
      await eventually(async () => {
        const [node, ...more] = await nodes(ORPHAN);
        expect(more).toEqual([]);
        expect(node?.metadata?.name).toBe(victim);
        expect(node?.spec?.unschedulable).toBeFalsy();
        expect(node?.metadata?.annotations?.[ANNOTATION_DRAINING]).toBeUndefined();
        expect(node?.metadata?.labels?.[LABEL_DRAINING_POOL]).toBeUndefined();
      });
      // The event is on the node: its pool is gone.
      await eventually(async () => {
        const onNode = (
          await admin.list<KubeObject & { reason?: string; regarding?: { kind?: string; name?: string } }>(
            pathFor(R.events, { namespace: "default" }),
          )
        ).items.filter((e) => e.regarding?.kind === "Node" && e.regarding?.name === victim);
        expect(onNode.map((e) => e.reason)).toContain("NodeUncordoned");
      });
    });
  });

  describe("a pool that cannot get capacity", () => {
    it("a Karpenter launch refused for capacity marks the pool CapacityUnavailable, and the replicas go to the service's other pool", async () => {
      kubectl(admCfg(), ["apply", "-f", join(ROOT, "test", "fixtures", "crds", "karpenter.yaml")]);
      kubectl(admCfg(), [
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/nodepools.karpenter.sh",
        "crd/nodeclaims.karpenter.sh",
      ]);
      await admin.apply(pathFor(R.karpenterNodePools, { name: "it-kp" }), {
        apiVersion: "karpenter.sh/v1",
        kind: "NodePool",
        metadata: { name: "it-kp" },
        spec: { limits: { cpu: "1000" } },
      });
      // The cheaper pool, steered through Karpenter (the test plays Karpenter), and the kwok pool as the other.
      await admin.apply(
        pathFor(R.gpuNodePools, { name: "it-kp-pool" }),
        gpuNodePool("it-kp-pool", {
          gpu: { type: "nvidia-l4", count: 2, memoryGiB: 24 },
          costPerNodeHour: 0.8,
          maxNodes: 3,
          provisioningSeconds: 3,
          provider: { type: "karpenter", karpenter: { nodePool: "it-kp" } },
        }),
      );
      await admin.apply(
        pathFor(R.inferenceServices, { namespace: NS, name: "qwen" }),
        inferenceService("qwen", NS, {
          accelerators: [
            { pool: "it-kp-pool", gpusPerReplica: 1 },
            { pool: POOL, gpusPerReplica: 1 },
          ],
          scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 4 },
          replicas: 2,
        }),
      );
      const replicasOf = async (variant: string) =>
        (
          await admin
            .get<KubeObject & { spec?: { replicas?: number } }>(
              pathFor(R.deployments, { namespace: NS, name: `qwen-${variant}` }),
            )
            .catch(() => undefined)
        )?.spec?.replicas ?? 0;
      // Placed on the cheaper pool first: the operator raises the Karpenter NodePool's GPU limit for it.
      await eventually(async () => expect(await replicasOf("it-kp-pool")).toBe(2));
      await eventually(async () => {
        const np = await admin.get<KubeObject & { spec?: { limits?: Record<string, string> } }>(
          pathFor(R.karpenterNodePools, { name: "it-kp" }),
        );
        expect(np.spec?.limits?.["nvidia.com/gpu"]).toBe("2");
      });
      // Karpenter tries, and the cloud has no such instance: its NodeClaim says so on Launched.
      const claim = await admin.create(pathFor(R.nodeClaims), {
        apiVersion: "karpenter.sh/v1",
        kind: "NodeClaim",
        metadata: { name: "it-kp-ice", labels: { "karpenter.sh/nodepool": "it-kp" } },
        spec: {},
      });
      await admin.replace(`${pathFor(R.nodeClaims, { name: "it-kp-ice" })}/status`, {
        ...claim,
        status: {
          conditions: [
            {
              type: "Launched",
              status: "Unknown",
              reason: "InsufficientCapacity",
              message: "no g6.xlarge offering in us-east-1a",
              lastTransitionTime: new Date().toISOString(),
            },
          ],
        },
      });
      await eventually(async () =>
        expect(await condition("ProviderFailing", "it-kp-pool")).toMatchObject({
          status: "True",
          reason: "CapacityUnavailable",
          message: expect.stringContaining("InsufficientCapacity: no g6.xlarge offering in us-east-1a"),
        }),
      );
      // Karpenter deletes the claim; the word stands, and the plan moves the replicas to the pool that can grow.
      await admin.delete(pathFor(R.nodeClaims, { name: "it-kp-ice" }));
      await eventually(async () => {
        expect(await replicasOf(POOL)).toBe(2);
        expect(await replicasOf("it-kp-pool")).toBe(0);
      });
      await eventually(async () => {
        const running = await pods("qwen");
        expect(running.filter((p) => p.status?.phase === "Running")).toHaveLength(2);
      });
      const events = (
        await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
          pathFor(R.events, { namespace: "default" }),
        )
      ).items.filter((e) => e.regarding?.name === "it-kp-pool");
      expect(events.map((e) => e.reason)).toContain("CapacityUnavailable");
      kubectl(admCfg(), ["delete", "-n", NS, "infsvc/qwen"]);
      kubectl(admCfg(), ["delete", "gpunodepools", "it-kp-pool"]);
    });
  });

  describe("a failing provider", () => {
    it("backs off with the ProviderFailing condition and an event, and asks for nothing", async () => {
      // A clusterAPI pool whose MachineDeployment does not exist.
      await admin.apply(
        pathFor(R.gpuNodePools, { name: "it-broken" }),
        gpuNodePool("it-broken", {
          minNodes: 1,
          provider: {
            type: "clusterAPI",
            clusterAPI: { machineDeployment: { namespace: NS, name: "missing" } },
          },
        }),
      );
      await eventually(async () => {
        const failing = await condition("ProviderFailing", "it-broken");
        expect(failing).toMatchObject({ status: "True" });
        expect(failing?.message).toMatch(/missing/);
        expect(await condition("Ready", "it-broken")).toMatchObject({ status: "False" });
      });
      // Plans come every second, but the provider is asked again only after a backoff that doubles.
      const failures = async () =>
        (
          await admin.list<KubeObject & { note?: string; eventTime?: string; regarding?: { name?: string } }>(
            pathFor(R.events, { namespace: "default" }),
          )
        ).items.filter((e) => e.regarding?.name === "it-broken" && e.note?.includes("next attempt"));
      const notes = async () => (await failures()).map((e) => e.note ?? "");
      await eventually(
        async () => {
          const seen = await notes();
          expect(seen.some((n) => n.includes("next attempt in 5 s"))).toBe(true);
          expect(seen.some((n) => n.includes("next attempt in 10 s"))).toBe(true);
        },
        { timeoutMs: 30_000 },
      );
      expect((await notes()).filter((n) => n.includes("next attempt in 5 s"))).toHaveLength(1);
      // The second attempt waited out the first backoff (woken every second meanwhile).
      const seen = await failures();
      const at = (text: string) => Date.parse(seen.find((e) => e.note?.includes(text))?.eventTime ?? "");
      expect(at("next attempt in 10 s") - at("next attempt in 5 s")).toBeGreaterThanOrEqual(4000);
      expect(await nodes("it-broken")).toEqual([]);
    });
  });
});
