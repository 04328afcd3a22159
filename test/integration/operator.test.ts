// The operator process against the real control plane: the InferenceService lifecycle, convergence after
// failure, restarts without writes, leader election, and configuration errors.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { isNotFound } from "../../operator/src/kube/errors.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { gpuNode, gpuNodePool, inferenceService } from "../helpers/objects.ts";
import { type OperatorProcess, startOperatorProcess } from "../helpers/operator.ts";
import { integrationSuite } from "../helpers/suite.ts";

integrationSuite("operator", () => {
  const NS = "it-operator";
  const POOL = "it-op-h100";
  let admin: KubeClient;
  const admCfg = () => inject("adminKubeconfig");

  type Deployment = KubeObject & {
    spec: {
      replicas: number;
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          nodeSelector?: Record<string, string>;
          tolerations?: unknown[];
          containers: {
            name: string;
            env?: { name: string; value: string }[];
            resources?: { limits?: Record<string, string> };
          }[];
        };
      };
    };
  };
  type Svc = KubeObject & {
    spec: Record<string, unknown>;
    status?: {
      replicas?: number;
      readyReplicas?: number;
      desiredReplicas?: number;
      observedGeneration?: number;
      conditions?: { type: string; status: string; reason: string; observedGeneration?: number }[];
    };
  };

  const pool = (name: string) => gpuNodePool(name);

  function service(name: string, spec: Record<string, unknown> = {}) {
    return inferenceService(name, NS, {
      accelerators: [{ pool: POOL, gpusPerReplica: 1 }],
      scaling: { minReplicas: 2, maxReplicas: 6 },
      ...spec,
    });
  }

  const svcPath = (name: string) => pathFor(R.inferenceServices, { namespace: NS, name });
  const deployPath = (name: string) => pathFor(R.deployments, { namespace: NS, name });
  const getDeploy = (name: string) => admin.get<Deployment>(deployPath(name));
  const getSvc = (name: string) => admin.get<Svc>(svcPath(name));
  const condition = (s: Svc, type: string) => s.status?.conditions?.find((c) => c.type === type);

  async function expectGone(path: string) {
    await eventually(async () => {
      const err = await admin.get(path).then(
        () => new Error(`${path} still exists`),
        (e: unknown) => e,
      );
      if (!isNotFound(err)) throw err;
    });
  }

  let operator: OperatorProcess;

  beforeAll(async () => {
    admin = await KubeClient.create(admCfg());
    kubectl(admCfg(), ["create", "namespace", NS]);
    await admin.apply(pathFor(R.gpuNodePools, { name: POOL }), pool(POOL));
    for (const n of ["it-op-gpu-0", "it-op-gpu-1"])
      await admin.apply(pathFor(R.nodes, { name: n }), gpuNode(n, POOL, 8));
    operator = await startOperatorProcess({ kubeconfig: inject("operatorKubeconfig"), identity: "op-main" });
  });

  afterAll(async () => {
    await operator?.stop();
    await admin?.close();
  });

  describe("InferenceService lifecycle", () => {
    it("creates a Deployment per variant and a Service, and reports Ready once pods run", async () => {
      await admin.apply(svcPath("llama"), service("llama"));
      const d = await eventually(() => getDeploy(`llama-${POOL}`));
      expect(d.spec.replicas).toBe(2);
      expect(d.metadata?.labels).toMatchObject({
        "app.kubernetes.io/managed-by": "inferops",
        "inferops.dev/service": "llama",
        "inferops.dev/variant": POOL,
      });
      expect(d.metadata?.ownerReferences).toEqual([
        expect.objectContaining({ kind: "InferenceService", name: "llama", controller: true }),
      ]);
      const pod = d.spec.template.spec;
      expect(pod.nodeSelector).toEqual({ "inferops.dev/pool": POOL });
      expect(pod.tolerations).toEqual([
        { key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" },
      ]);
      expect(pod.containers[0]?.resources?.limits?.["nvidia.com/gpu"]).toBe("1");
      const k8sSvc = await eventually(() =>
        admin.get<KubeObject & { spec: { selector: object } }>(
          pathFor(R.services, { namespace: NS, name: "llama" }),
        ),
      );
      expect(k8sSvc.spec.selector).toEqual({ "inferops.dev/service": "llama" });

      // `kubectl wait --for=condition=Ready` works, as users will use it.
      kubectl(admCfg(), ["wait", "-n", NS, "--for=condition=Ready", "--timeout=90s", "infsvc/llama"]);
      const s = await getSvc("llama");
      expect(s.status).toMatchObject({
        replicas: 2,
        readyReplicas: 2,
        desiredReplicas: 2,
        observedGeneration: s.metadata?.generation,
      });
      expect(condition(s, "Ready")).toMatchObject({
        status: "True",
        reason: "AllReplicasReady",
        observedGeneration: s.metadata?.generation,
      });
      expect(kubectl(admCfg(), ["get", "infsvc", "-n", NS, "llama"])).toMatch(/llama\s+2\s+2/);
    });

    it("rolls out template changes", async () => {
      const spec = service("llama").spec;
      (spec.template as { spec: { containers: Record<string, unknown>[] } }).spec.containers[0]!.env = [
        { name: "VLLM_LOGGING_LEVEL", value: "DEBUG" },
      ];
      await admin.apply(svcPath("llama"), { ...service("llama"), spec });
      await eventually(async () => {
        const d = await getDeploy(`llama-${POOL}`);
        expect(d.spec.template.spec.containers[0]?.env).toEqual([
          { name: "VLLM_LOGGING_LEVEL", value: "DEBUG" },
        ]);
      });
      await eventually(async () => {
        const s = await getSvc("llama");
        expect(s.status?.observedGeneration).toBe(s.metadata?.generation);
        expect(condition(s, "Ready")?.status).toBe("True");
      });
    });

    it("makes the Service headless, and back, when spec.service.headless changes (its clusterIP cannot)", async () => {
      type K8sSvc = KubeObject & { spec: { clusterIP?: string } };
      const k8sSvc = () => admin.get<K8sSvc>(pathFor(R.services, { namespace: NS, name: "llama" }));
      const before = await k8sSvc();
      expect(before.spec.clusterIP).not.toBe("None");
      await admin.apply(svcPath("llama"), service("llama", { service: { headless: true } }));
      await eventually(async () => {
        const s = await k8sSvc();
        expect(s.spec.clusterIP).toBe("None");
        expect(s.metadata?.ownerReferences?.[0]).toMatchObject({ name: "llama", controller: true });
      });
      await admin.apply(svcPath("llama"), service("llama"));
      await eventually(async () => expect((await k8sSvc()).spec.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/));
      // Both changes are told, and the Deployment stayed as it was.
      await eventually(async () => {
        const evs = await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
          `/apis/events.k8s.io/v1/namespaces/${NS}/events`,
        );
        expect(
          evs.items.filter((e) => e.reason === "ServiceRemade" && e.regarding?.name === "llama").length,
        ).toBeGreaterThanOrEqual(1);
      });
      expect((await getDeploy(`llama-${POOL}`)).spec.replicas).toBe(2);
    });

    it("follows kubectl scale through the scale subresource in Manual mode", async () => {
      await admin.apply(
        svcPath("llama"),
        service("llama", { scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 6 } }),
      );
      kubectl(admCfg(), ["scale", "-n", NS, "infsvc/llama", "--replicas=3"]);
      await eventually(async () => expect((await getDeploy(`llama-${POOL}`)).spec.replicas).toBe(3));
      await eventually(async () => {
        const s = await getSvc("llama");
        expect(s.status).toMatchObject({ replicas: 3, desiredReplicas: 3 });
      });
      // The API server refuses a scale outside the bounds, with the bound named.
      expect(() => kubectl(admCfg(), ["scale", "-n", NS, "infsvc/llama", "--replicas=9"])).toThrow(
        /minReplicas and scaling.maxReplicas/,
      );
    });

    it("ranks pods by pod-deletion-cost before a scale-down, so the pod alone on its node goes", async () => {
      type Pod = KubeObject & {
        spec?: { nodeName?: string };
        metadata: { annotations?: Record<string, string> };
      };
      const list = async () =>
        (
          await admin.list<Pod>(pathFor(R.pods, { namespace: NS }), {
            labelSelector: "inferops.dev/service=rank",
          })
        ).items.filter((p) => !p.metadata.deletionTimestamp);
      await admin.apply(
        svcPath("rank"),
        service("rank", { scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 6 } }),
      );
      kubectl(admCfg(), ["scale", "-n", NS, "infsvc/rank", "--replicas=3"]);
      await eventually(async () => {
        const pods = await list();
        const ready = pods.filter((p) =>
          (p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some(
            (c) => c.type === "Ready" && c.status === "True",
          ),
        );
        expect(ready).toHaveLength(3);
      });
      const before = await list();
      const perNode = new Map<string, number>();
      for (const p of await admin
        .list<Pod>(pathFor(R.pods, {}), { labelSelector: "app.kubernetes.io/managed-by=inferops" })
        .then((l) => l.items)) {
        const n = p.spec?.nodeName;
        if (n && !p.metadata.deletionTimestamp) perNode.set(n, (perNode.get(n) ?? 0) + 1);
      }
      const alone = before.filter((p) => perNode.get(p.spec!.nodeName!) === 1).map((p) => p.metadata.name);
      kubectl(admCfg(), ["scale", "-n", NS, "infsvc/rank", "--replicas=2"]);
      await eventually(async () => expect(await list()).toHaveLength(2));
      const after = await list();
      // Every pod was ranked (the annotation the ReplicaSet reads), by how many of inferops' pods share its node.
      for (const p of after) {
        expect(p.metadata.annotations?.["controller.kubernetes.io/pod-deletion-cost"]).toBe(
          String(100 * (perNode.get(p.spec!.nodeName!) ?? 0)),
        );
      }
      // A pod alone on its node (if the scheduler left one alone) was the one removed.
      if (alone.length === 1) expect(after.map((p) => p.metadata.name)).not.toContain(alone[0]);
    });

    it("removes the Deployment of a variant taken out of the spec", async () => {
      const second = "it-op-l40s";
      await admin.apply(pathFor(R.gpuNodePools, { name: second }), pool(second));
      await admin.apply(pathFor(R.nodes, { name: "it-op-l40s-0" }), gpuNode("it-op-l40s-0", second, 4));
      await admin.apply(
        svcPath("multi"),
        service("multi", { accelerators: [{ pool: POOL }, { pool: second }] }),
      );
      // Both variants exist (the second with 0 replicas until the engine places some there).
      await eventually(() => getDeploy(`multi-${second}`));
      await admin.apply(svcPath("multi"), service("multi"));
      await expectGone(deployPath(`multi-${second}`));
      expect((await getDeploy(`multi-${POOL}`)).spec.replicas).toBe(2);
    });

    it("reports an unknown pool without creating anything for it", async () => {
      await admin.apply(svcPath("orphan"), service("orphan", { accelerators: [{ pool: "no-such-pool" }] }));
      const s = await eventually(async () => {
        const s = await getSvc("orphan");
        expect(condition(s, "Valid")).toMatchObject({ status: "False", reason: "UnknownPool" });
        return s;
      });
      expect(condition(s, "Ready")?.status).toBe("False");
      await expect(getDeploy("orphan-no-such-pool")).rejects.toMatchObject({ code: "NotFound" });
    });

    it("reports a Conflict and leaves replicas alone when an HPA targets its Deployment", async () => {
      await admin.apply(svcPath("contested"), service("contested"));
      await eventually(() => getDeploy(`contested-${POOL}`));
      await admin.apply(pathFor(R.hpas, { namespace: NS, name: "user-hpa" }), {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: "user-hpa", namespace: NS },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `contested-${POOL}` },
          minReplicas: 1,
          maxReplicas: 5,
          metrics: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
            },
          ],
        },
      });
      await eventually(async () => {
        const s = await getSvc("contested");
        expect(condition(s, "Conflict")).toMatchObject({ status: "True", reason: "HPAConflict" });
      });
      // A human (or the HPA) sets 4: the operator does not put it back.
      kubectl(admCfg(), ["scale", "-n", NS, `deployment/contested-${POOL}`, "--replicas=4"]);
      await admin.apply(
        svcPath("contested"),
        service("contested", { scaling: { minReplicas: 1, maxReplicas: 6 } }),
      );
      await eventually(async () => expect((await getSvc("contested")).status?.observedGeneration).toBe(2));
      expect((await getDeploy(`contested-${POOL}`)).spec.replicas).toBe(4);
    });

    it("sets back a person's kubectl scale once, with a warning, and leaves the replicas to a writer that keeps on", async () => {
      await admin.apply(
        svcPath("edited"),
        service("edited", { scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 6 }, replicas: 2 }),
      );
      const name = `edited-${POOL}`;
      await eventually(async () => expect((await getDeploy(name)).spec.replicas).toBe(2));
      const overridden = async () =>
        (
          await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
            pathFor(R.events, { namespace: NS }),
          )
        ).items.filter((e) => e.regarding?.name === "edited" && e.reason === "ReplicasOverridden").length;
      // Two edits by hand: each set back to the spec's 2, each with a warning naming Manual mode.
      for (const [i, to] of [4, 5].entries()) {
        kubectl(admCfg(), ["scale", "-n", NS, `deployment/${name}`, `--replicas=${to}`]);
        await eventually(async () => expect((await getDeploy(name)).spec.replicas).toBe(2));
        await eventually(async () => expect(await overridden()).toBe(i + 1));
      }
      // The third within five minutes: inferops stops writing them, says so, and writes nothing more.
      kubectl(admCfg(), ["scale", "-n", NS, `deployment/${name}`, "--replicas=3"]);
      await eventually(async () =>
        expect(condition(await getSvc("edited"), "Conflict")).toMatchObject({
          status: "True",
          reason: "ReplicasContested",
        }),
      );
      const held = await getDeploy(name);
      expect(held.spec.replicas).toBe(3);
      // Several evaluations (every 2 s here) and a spec change later: neither the replicas nor anything else
      // of the Deployment was written (its resourceVersion moves only with the rollout's status).
      await admin.apply(
        svcPath("edited"),
        service("edited", { scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 6 }, replicas: 1 }),
      );
      await new Promise((r) => setTimeout(r, 5_000));
      const after = await getDeploy(name);
      expect(after.spec.replicas).toBe(3);
      expect(after.metadata?.generation).toBe(held.metadata?.generation);
      expect(await overridden()).toBe(2);
    });

    it("garbage-collects owned objects when the InferenceService is deleted", async () => {
      await admin.delete(svcPath("llama"));
      await expectGone(deployPath(`llama-${POOL}`));
      await expectGone(pathFor(R.services, { namespace: NS, name: "llama" }));
    });
  });

  describe("convergence and restarts", () => {
    it("converges on retry after a reconcile fails half-way", async () => {
      // A quota of zero Services makes the reconcile fail after its Deployment is applied.
      kubectl(admCfg(), ["create", "quota", "no-services", "-n", NS, "--hard=services=0"]);
      await admin.apply(svcPath("retry"), service("retry"));
      await eventually(() => getDeploy(`retry-${POOL}`));
      await eventually(async () =>
        expect(await operator.counter("inferops_reconcile_total", { outcome: "error" })).toBeGreaterThan(0),
      );
      await expect(admin.get(pathFor(R.services, { namespace: NS, name: "retry" }))).rejects.toMatchObject({
        code: "NotFound",
      });
      kubectl(admCfg(), ["delete", "quota", "no-services", "-n", NS]);
      await eventually(() => admin.get(pathFor(R.services, { namespace: NS, name: "retry" })), {
        timeoutMs: 90_000,
      });
      kubectl(admCfg(), ["wait", "-n", NS, "--for=condition=Ready", "--timeout=90s", "infsvc/retry"]);
    });

    it("a restarted operator makes no duplicate objects and no writes", async () => {
      await eventually(async () => expect(condition(await getSvc("retry"), "Ready")?.status).toBe("True"));
      const services = (await admin.list(pathFor(R.inferenceServices, { namespace: NS }))).items.length;
      // The old operator has converged first: a round that reconciled every service wrote nothing (on a
      // loaded machine its last status write can still be due when Ready turns True).
      const success = () => operator.counter("inferops_reconcile_total", { outcome: "success" });
      await eventually(
        async () => {
          const writes = await operator.writes();
          const reconciled = await success();
          await eventually(async () => expect(await success()).toBeGreaterThanOrEqual(reconciled + services));
          expect(await operator.writes()).toBe(writes);
        },
        { timeoutMs: 90_000 },
      );
      expect(await operator.stop()).toBe(0); // SIGTERM: graceful, exit 0
      const before = (await admin.list(pathFor(R.deployments, { namespace: NS }))).items.length;
      operator = await startOperatorProcess({
        kubeconfig: inject("operatorKubeconfig"),
        identity: "op-restarted",
      });
      // Every service reconciled at least twice (a full evaluation interval): then count writes.
      await eventually(async () =>
        expect(
          await operator.counter("inferops_reconcile_total", { outcome: "success" }),
        ).toBeGreaterThanOrEqual(2 * services),
      );
      expect(await operator.writes()).toBe(0);
      expect((await admin.list(pathFor(R.deployments, { namespace: NS }))).items.length).toBe(before);
    });
  });

  describe("leader election", () => {
    it("only the leader writes, and killing it hands over within the lease duration", async () => {
      await operator.stop();
      const a = await startOperatorProcess({
        kubeconfig: inject("operatorKubeconfig"),
        identity: "op-a",
        leaderElect: true,
      });
      await eventually(async () => expect(await a.counter("inferops_leader")).toBe(1));
      const b = await startOperatorProcess({
        kubeconfig: inject("operatorKubeconfig"),
        identity: "op-b",
        leaderElect: true,
      });
      try {
        await admin.apply(svcPath("elected"), service("elected"));
        await eventually(() => getDeploy(`elected-${POOL}`));
        expect(await a.writes()).toBeGreaterThan(0);
        expect(await b.counter("inferops_leader")).toBe(0);
        expect(await b.writes()).toBe(0);
        // /readyz: the standby is ready (caches synced), and says it is standby.
        expect(await (await fetch(`http://127.0.0.1:${b.port}/readyz`)).text()).toContain("standby");

        const killedAt = Date.now();
        await a.stop("SIGKILL");
        await eventually(async () => expect(await b.counter("inferops_leader")).toBe(1), {
          timeoutMs: 40_000,
        });
        const handover = Date.now() - killedAt;
        // Lease duration 15 s plus one retry period (2 s) and scheduling slack: never more.
        expect(handover).toBeLessThan(15_000 + 2_000 + 3_000);
        // The new leader acts.
        await admin.apply(
          svcPath("elected"),
          service("elected", { scaling: { minReplicas: 3, maxReplicas: 6 } }),
        );
        await eventually(async () => expect((await getSvc("elected")).status?.observedGeneration).toBe(2));
      } finally {
        await b.stop();
        await a.stop("SIGKILL");
      }
    });

    it("a leader stopped with SIGTERM releases the lease so the standby takes over at once", async () => {
      const a = await startOperatorProcess({
        kubeconfig: inject("operatorKubeconfig"),
        identity: "op-c",
        leaderElect: true,
      });
      const b = await startOperatorProcess({
        kubeconfig: inject("operatorKubeconfig"),
        identity: "op-d",
        leaderElect: true,
      });
      try {
        // Whoever leads, stop it gracefully: the other takes over before the old lease would have expired.
        await eventually(
          async () =>
            expect((await a.counter("inferops_leader")) + (await b.counter("inferops_leader"))).toBe(1),
          { timeoutMs: 40_000 },
        );
        const [leader, standby] = (await a.counter("inferops_leader")) === 1 ? [a, b] : [b, a];
        const stoppedAt = Date.now();
        expect(await leader.stop()).toBe(0);
        await eventually(async () => expect(await standby.counter("inferops_leader")).toBe(1));
        expect(Date.now() - stoppedAt).toBeLessThan(15_000);
      } finally {
        await a.stop();
        await b.stop();
      }
    });
  });

  describe("configuration", () => {
    it.each([
      [["--interval", "10 seconds"], "--interval: must be a duration"],
      [["--concurrency", "0"], "--concurrency"],
      [["--http-address", "localhost"], "--http-address: must be host:port"],
      [["--prometheus-url", "prometheus:9090"], "--prometheus-url"],
      [["--namespace", "Not_A_Namespace"], "--namespace: must be a namespace name"],
    ])("%j exits 2 with a message naming the flag", async (args, message) => {
      const err = await startOperatorProcess({
        kubeconfig: inject("operatorKubeconfig"),
        identity: "bad",
        extraArgs: args,
      }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toContain("operator exited 2");
      expect(err?.message).toContain(message);
    });
  });
});
