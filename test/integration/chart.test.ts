// The Helm chart and the operator image, proven together on the local control plane: the chart lints and
// renders (default and full values) into objects the API server accepts; bad values fail naming the value;
// `helm install`, then the image runs through testcontainers as the chart's ServiceAccount (its token, not
// admin) through a scale-up and a scale-down in mode Auto, on a fake model server's queue read through a real
// Prometheus (the containers share the host's network, so both are on the loopback address); SIGTERM hands
// the lease over and the new leader scales; the API server's audit log shows
// that the ServiceAccount used every rule of its roles and nothing else, and a request outside them is refused;
// `helm upgrade` and `helm uninstall` leave no orphan (the CRDs stay).
//
// The three tests that run the image need a Docker engine (hack/docker.sh starts one when none answers);
// where none can run, those are skipped and say why. Containers use the host network only.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StartedTestContainer } from "testcontainers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl, OPERATOR_USER } from "../helpers/cluster.ts";
import { type Emitter, startVllmEmitter } from "../helpers/emitter.ts";
import { eventually } from "../helpers/eventually.ts";
import { ROOT } from "../helpers/fixtures.ts";
import { buildOperatorImage, cachedBinary, type DockerEngine, dockerEngine } from "../helpers/image.ts";
import { gpuNode, gpuNodePool, inferenceService } from "../helpers/objects.ts";
import { freePort } from "../helpers/ports.ts";
import { type PrometheusProcess, startPrometheus } from "../helpers/prometheus.ts";
import { integrationSuite } from "../helpers/suite.ts";

// testcontainers' reaper image cannot be pulled here: the suite removes its containers itself.
process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
// There is no bridge network to find the host through: containers share the host's network.
process.env.TESTCONTAINERS_HOST_OVERRIDE = "127.0.0.1";

const CHART = join(ROOT, "charts", "inferops");
const FULL_VALUES = join(ROOT, "test", "fixtures", "chart", "full-values.yaml");
const ALERT_TESTS = join(ROOT, "test", "fixtures", "chart", "alerts.test.yaml");
const RELEASE = "inferops";
const RELEASE_NS = "inferops-system";
const SA = "inferops"; // the release's full name: the chart's name is in the release's
const NS = "it-chart";
const POOL = "it-chart-h100";
const SECOND_POOL = "it-chart-l40s";
const NODE = "it-chart-gpu-0";

const skip = inject("skipReason");
const engine: DockerEngine | { unavailable: string } | undefined = skip ? undefined : dockerEngine();
const unavailable = engine && "unavailable" in engine ? engine.unavailable : undefined;

/** The tests that run the image: skipped, saying why, only where no Docker engine can run. */
const withImage = it.skipIf(unavailable !== undefined);
const IMAGE_SKIPPED = unavailable ? ` (skipped: no Docker engine can run here: ${unavailable})` : "";

integrationSuite("chart and image", () => {
  const admin = () => inject("adminKubeconfig");
  const helmBin = cachedBinary("helm", "HELM_VERSION");
  let client: KubeClient;
  let image: string;
  let dir: string;
  const containers: StartedTestContainer[] = [];
  // The model server's metrics (a fake vLLM pod) through the real Prometheus the operator reads.
  let emitter: Emitter | undefined;
  let prometheus: PrometheusProcess | undefined;

  function helm(args: string[]): { ok: boolean; out: string } {
    const res = spawnSync(helmBin, ["--kubeconfig", admin(), ...args], { encoding: "utf8" });
    return { ok: res.status === 0, out: `${res.stdout}${res.stderr}` };
  }
  function helmOk(args: string[]): string {
    const res = helm(args);
    if (!res.ok) throw new Error(`helm ${args.join(" ")}: ${res.out}`);
    return res.out;
  }
  const imageValues = () => {
    const [repository, tag] = image.split(":");
    return [
      "--set",
      `image.repository=${repository}`,
      "--set-string", // a tag of digits is still a string
      `image.tag=${tag}`,
      "--set",
      "image.pullPolicy=Never",
    ];
  };

  // Prometheus Operator kinds, schema-less, so the full values' ServiceMonitor and PrometheusRule dry-run.
  const monitoringCrds = ["servicemonitors", "prometheusrules"].map((plural) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: "monitoring.coreos.com",
      scope: "Namespaced",
      names: {
        plural,
        singular: plural.replace(/s$/, ""),
        kind: plural === "servicemonitors" ? "ServiceMonitor" : "PrometheusRule",
      },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        },
      ],
    },
  }));

  beforeAll(async () => {
    image = unavailable ? "inferops:not-built" : buildOperatorImage();
    dir = mkdtempSync(join(tmpdir(), "inferops-chart-"));
    chmodSync(dir, 0o755);
    client = await KubeClient.create(admin());
    kubectl(admin(), ["create", "namespace", RELEASE_NS]);
    kubectl(admin(), ["create", "namespace", NS]);
    kubectl(
      admin(),
      ["apply", "--server-side", "-f", "-"],
      monitoringCrds.map((c) => stringify(c)).join("---\n"),
    );
    kubectl(admin(), [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      ...monitoringCrds.map((c) => `crd/${c.metadata.name}`),
    ]);
  });

  afterAll(async () => {
    for (const c of containers) await c.stop({ timeout: 5_000 }).catch(() => undefined);
    await prometheus?.stop();
    await emitter?.close();
    helm(["uninstall", RELEASE, "-n", RELEASE_NS]);
    // Nothing of this suite stays for the next ones: its service, pools, node and namespaces.
    for (const args of [
      ["delete", "namespace", NS, RELEASE_NS, "--wait=false"],
      ["delete", "gpunodepools", POOL, SECOND_POOL],
      ["delete", "node", NODE],
      ["delete", "capacitybudgets", NS],
    ])
      spawnSync("kubectl", ["--kubeconfig", admin(), ...args, "--ignore-not-found"]);
    for (const c of monitoringCrds)
      spawnSync("kubectl", ["--kubeconfig", admin(), "delete", "crd", c.metadata.name]);
    await client?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (engine && !("unavailable" in engine)) engine.stop();
  });

  describe("renders", () => {
    it("passes helm lint", () => {
      expect(helmOk(["lint", "--strict", CHART])).toContain("0 chart(s) failed");
    });

    it.each([
      ["default values", [] as string[]],
      ["every value set", ["-f", FULL_VALUES]],
    ])("%s: the API server accepts every object (server-side dry run)", (_, args) => {
      const manifest = helmOk(["template", RELEASE, CHART, "-n", RELEASE_NS, ...args]);
      const kinds = parseAllDocuments(manifest)
        .map((d) => d.toJS()?.kind)
        .filter(Boolean);
      expect(kinds).toEqual(expect.arrayContaining(["Deployment", "ClusterRole", "ServiceAccount"]));
      const out = kubectl(
        admin(),
        ["apply", "--server-side", "--dry-run=server", "-n", RELEASE_NS, "-f", "-"],
        manifest,
      );
      expect(out.trim().split("\n")).toHaveLength(kinds.length);
    });

    it("each alert fires on the series it is meant for, after its `for:`, and not on healthy ones (promtool)", () => {
      type Rule = { alert?: string; annotations?: Record<string, string> };
      const rendered = parse(
        helmOk([
          "template",
          RELEASE,
          CHART,
          "-n",
          RELEASE_NS,
          "--set",
          "metrics.prometheusRule.enabled=true",
          "--show-only",
          "templates/prometheusrule.yaml",
        ]),
      ) as { spec: { groups: { rules: Rule[] }[] } };
      const groups = rendered.spec.groups;
      const rulesDir = join(dir, "rules");
      mkdirSync(rulesDir, { recursive: true });
      const promtool = (args: string[]) => {
        const res = spawnSync("promtool", args, { cwd: rulesDir, encoding: "utf8" });
        return { status: res.status, out: `${res.stdout}${res.stderr}` };
      };
      // The rules as Prometheus loads them, annotations' templates included.
      writeFileSync(join(rulesDir, "full.yaml"), stringify({ groups }));
      expect(promtool(["check", "rules", "full.yaml"])).toMatchObject({ status: 0 });
      // The unit tests compare what fires, not the annotations' wording.
      const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...r }) => r) }));
      writeFileSync(join(rulesDir, "rules.yaml"), stringify({ groups: bare }));
      copyFileSync(ALERT_TESTS, join(rulesDir, "alerts.test.yaml"));
      const tested = promtool(["test", "rules", "alerts.test.yaml"]);
      expect(tested.out).toContain("SUCCESS");
      expect(tested.status).toBe(0);
      // Every alert of the chart has a case where it fires.
      const cases = parse(readFileSync(ALERT_TESTS, "utf8")) as {
        tests: { alert_rule_test: { alertname: string; exp_alerts?: unknown[] }[] }[];
      };
      const firing = new Set(
        cases.tests.flatMap((t) =>
          t.alert_rule_test.filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname),
        ),
      );
      const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert)).filter(Boolean);
      expect(alerts).toContain("InferopsBudgetBinding");
      expect(alerts.filter((a) => !firing.has(a!))).toEqual([]);
    });

    it.each([
      ["a wrong type", ["--set", "replicaCount=two"], "/replicaCount"],
      ["a negative replica count", ["--set", "replicaCount=-1"], "/replicaCount"],
      ["an unknown key", ["--set", "operator.logLevl=debug"], "logLevl"],
      ["a bad duration", ["--set", "operator.interval=10 seconds"], "/operator/interval"],
    ])("%s fails helm install naming the value", (_, args, named) => {
      const res = helm(["install", "bad", CHART, "-n", RELEASE_NS, ...args]);
      expect(res.ok).toBe(false);
      expect(res.out).toContain("values don't meet the specifications of the schema");
      expect(res.out).toContain(named);
    });
  });

  describe("installed, with the image running as its ServiceAccount", () => {
    type Lease = KubeObject & {
      spec: {
        holderIdentity?: string;
        acquireTime?: string;
        renewTime?: string;
        leaseDurationSeconds?: number;
      };
    };
    type Deployment = KubeObject & {
      spec: { replicas: number; template: { spec: { containers: { args: string[] }[] } } };
    };
    const leasePath = pathFor(R.leases, { namespace: RELEASE_NS, name: "inferops-operator" });
    const deployPath = (name: string) => pathFor(R.deployments, { namespace: NS, name });
    const replicas = async (name: string) => (await client.get<Deployment>(deployPath(name))).spec.replicas;
    let saKubeconfig: string;

    /** A kubeconfig holding the ServiceAccount's token (not admin's credentials), readable by the image's uid. */
    function writeServiceAccountKubeconfig(): string {
      const token = kubectl(admin(), ["create", "token", SA, "-n", RELEASE_NS, "--duration=2h"]).trim();
      const adminCfg = parse(readFileSync(admin(), "utf8")) as {
        clusters: { cluster: Record<string, unknown> }[];
      };
      const file = join(dir, "kubeconfig");
      writeFileSync(
        file,
        stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "local", cluster: adminCfg.clusters[0]!.cluster }],
          users: [{ name: SA, user: { token } }],
          contexts: [{ name: SA, context: { cluster: "local", user: SA } }],
          "current-context": SA,
        }),
      );
      chmodSync(file, 0o644);
      return file;
    }

    /** The image as the chart runs it: non-root, read-only root filesystem, no capabilities, host network
     * (so it reaches the API server and Prometheus on the loopback address). */
    async function startOperatorContainer(identity: string) {
      const { GenericContainer, Wait } = await import("testcontainers");
      class HardenedContainer extends GenericContainer {
        readOnlyRoot(): this {
          this.hostConfig.ReadonlyRootfs = true;
          return this;
        }
      }
      const port = await freePort();
      const logs: string[] = [];
      const container = await new HardenedContainer(image)
        .readOnlyRoot()
        .withNetworkMode("host")
        .withUser("65532:65532")
        .withTmpFs({ "/tmp": "rw,noexec,size=64m" })
        .withDroppedCapabilities("ALL")
        .withSecurityOpt("no-new-privileges")
        .withBindMounts([{ source: dir, target: "/config", mode: "ro" }])
        // As the chart's Deployment gives them (downward API): the identity and the Lease's namespace.
        .withEnvironment({ POD_NAME: identity, POD_NAMESPACE: RELEASE_NS })
        .withCommand([
          "operator",
          "--kubeconfig=/config/kubeconfig",
          "--leader-elect",
          `--http-address=127.0.0.1:${port}`,
          `--prometheus-url=${prometheus!.url}`,
          "--interval=2s",
        ])
        .withLogConsumer((stream) => stream.on("data", (d) => logs.push(String(d))))
        .withWaitStrategy(Wait.forLogMessage(/"operator started"/))
        .withStartupTimeout(90_000)
        .start();
      containers.push(container);
      const leader = async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return Number(text.match(/^inferops_leader (\d)/m)?.[1]);
      };
      return { container, logs, leader, identity };
    }

    /** The model server's queue: 40 waiting and 30 running asks for 10 replicas at 4 per replica (the
     * bound, 4, wins); none waiting for the floor. */
    const load = (busy: boolean) =>
      emitter!.set(busy ? { waiting: 40, running: 30 } : { waiting: 0, running: 0 });

    it("helm install creates the release's objects", () => {
      helmOk(["install", RELEASE, CHART, "-n", RELEASE_NS, ...imageValues()]);
      const d = JSON.parse(kubectl(admin(), ["get", "deployment", SA, "-n", RELEASE_NS, "-o", "json"]));
      expect(d.spec.replicas).toBe(2);
      const container = d.spec.template.spec.containers[0];
      expect(container.image).toBe(image);
      expect(container.args).toEqual(expect.arrayContaining(["operator", "--leader-elect"]));
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
      expect(d.spec.template.spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      saKubeconfig = writeServiceAccountKubeconfig();
    });

    let first: Awaited<ReturnType<typeof startOperatorContainer>>;

    withImage(
      `the image, as the ServiceAccount, scales an InferenceService up and down on its metrics through Prometheus${IMAGE_SKIPPED}`,
      async () => {
        expect(saKubeconfig).toBeDefined();
        await client.apply(
          pathFor(R.gpuNodePools, { name: POOL }),
          gpuNodePool(POOL, { provider: { type: "static" } }),
        );
        await client.apply(pathFor(R.nodes, { name: NODE }), gpuNode(NODE, POOL, 8));
        const second = SECOND_POOL;
        await client.apply(
          pathFor(R.gpuNodePools, { name: second }),
          gpuNodePool(second, { provider: { type: "static" } }),
        );
        emitter = await startVllmEmitter();
        prometheus = await startPrometheus([
          {
            address: emitter.address,
            labels: { namespace: NS, inferops_service: "llama", pod: `llama-${POOL}-fake-0` },
          },
        ]);
        first = await startOperatorContainer("image-a");
        await eventually(async () => expect(await first.leader()).toBe(1), { timeoutMs: 40_000 });

        // Mode Auto (the default), on the queue alone (no performance profile); no stabilization, so each
        // change shows within a few evaluations.
        const service = (accelerators: Record<string, unknown>[]) =>
          inferenceService("llama", NS, {
            accelerators,
            scaling: {
              minReplicas: 1,
              maxReplicas: 4,
              targets: { queueDepthPerReplica: 4 },
              leadTimeSeconds: 0,
              behavior: {
                scaleUp: { stabilizationWindowSeconds: 0 },
                scaleDown: { stabilizationWindowSeconds: 0 },
              },
            },
          });
        await client.apply(
          pathFor(R.inferenceServices, { namespace: NS, name: "llama" }),
          service([{ pool: POOL }, { pool: second }]),
        );
        await eventually(async () => expect(await replicas(`llama-${POOL}`)).toBe(1));
        await eventually(() => client.get(deployPath(`llama-${second}`)));
        load(true);
        await eventually(async () => expect(await replicas(`llama-${POOL}`)).toBe(4), { timeoutMs: 90_000 });
        // Decided on the queue the operator read from Prometheus (status follows the Deployment).
        await eventually(async () => {
          const svc = await client.get<KubeObject & { status?: { signals?: { queueDepth?: number } } }>(
            pathFor(R.inferenceServices, { namespace: NS, name: "llama" }),
          );
          expect(svc.status?.signals?.queueDepth).toBeGreaterThan(0);
        });
        // Down to the floor once the queue is empty, after panic mode's minute (a burst of twice the ready
        // capacity holds replicas for 60 s); the scale-down ranks the pods first (pods patch).
        load(false);
        await eventually(async () => expect(await replicas(`llama-${POOL}`)).toBe(1), { timeoutMs: 150_000 });
        // A variant taken out of the spec: its Deployment goes.
        await client.apply(
          pathFor(R.inferenceServices, { namespace: NS, name: "llama" }),
          service([{ pool: POOL }]),
        );
        await eventually(async () =>
          expect(
            await client.get(deployPath(`llama-${second}`)).then(
              () => "present",
              (e: { code?: string }) => e.code,
            ),
          ).toBe("NotFound"),
        );
        kubectl(admin(), ["wait", "-n", NS, "--for=condition=Ready", "--timeout=90s", "infsvc/llama"]);
        // A CapacityBudget over this namespace: the operator reports it (capacitybudgets/status).
        await client.apply(pathFor(R.capacityBudgets, { name: NS }), {
          apiVersion: "inferops.dev/v1alpha1",
          kind: "CapacityBudget",
          metadata: { name: NS },
          spec: {
            scope: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": NS } } },
            limits: { gpus: [{ type: "nvidia-h100-80gb", max: 8 }] },
          },
        });
        await eventually(async () => {
          const b = await client.get<{ status?: { used?: { gpus?: unknown[] } } }>(
            pathFor(R.capacityBudgets, { name: NS }),
          );
          expect(b.status?.used?.gpus).toEqual([{ type: "nvidia-h100-80gb", count: 1 }]);
        });
        expect(first.logs.join("")).not.toMatch(/forbidden/i);
      },
      300_000, // a hang guard: panic mode alone holds the scale-down for a minute
    );

    withImage(
      `SIGTERM to the leader's container hands the lease over before it would have expired${IMAGE_SKIPPED}`,
      async () => {
        expect(first).toBeDefined();
        const standby = await startOperatorContainer("image-b");
        expect(await standby.leader()).toBe(0);
        const held = await client.get<Lease>(leasePath);
        expect(held.spec.holderIdentity).toBe("image-a");
        // The old holder may still renew while in-flight reconciles finish: follow its last renewal.
        let lastRenew = Date.parse(held.spec.renewTime!);
        let watching = true;
        const follow = (async () => {
          while (watching) {
            const l = await client.get<Lease>(leasePath).catch(() => undefined);
            if (l?.spec.holderIdentity === "image-a" && l.spec.renewTime)
              lastRenew = Math.max(lastRenew, Date.parse(l.spec.renewTime));
            await new Promise((r) => setTimeout(r, 200));
          }
        })();
        const stopped = await first.container.stop({ timeout: 30_000, remove: false });
        watching = false;
        await follow;
        const state = JSON.parse(
          spawnSync("docker", ["inspect", "--format", "{{json .State}}", stopped.getId()], {
            encoding: "utf8",
          }).stdout,
        ) as { ExitCode: number };
        spawnSync("docker", ["rm", stopped.getId()]);
        expect(state.ExitCode).toBe(0); // graceful: in-flight reconciles finished, the lease released
        expect(first.logs.join("")).toContain("shutting down");
        await eventually(async () => expect(await standby.leader()).toBe(1), { timeoutMs: 40_000 });
        const lease = await client.get<Lease>(leasePath);
        expect(lease.spec.holderIdentity).toBe("image-b");
        // Taken over from a released lease: before the old holder's last renewal plus the lease duration.
        expect(first.logs.join("")).not.toMatch(/releasing the lease failed/);
        const expiry = lastRenew + held.spec.leaseDurationSeconds! * 1000;
        expect(Date.parse(lease.spec.acquireTime!)).toBeLessThan(expiry);
        // The new leader acts on the metrics.
        load(true);
        await eventually(async () => expect(await replicas(`llama-${POOL}`)).toBe(4), { timeoutMs: 90_000 });
      },
    );

    withImage(
      `the ServiceAccount used every rule of its roles and nothing else; a request outside them is refused${IMAGE_SKIPPED}`,
      async () => {
        const user = `system:serviceaccount:${RELEASE_NS}:${SA}`;
        // Outside the role: reading Secrets.
        const refused = spawnSync(
          "kubectl",
          ["--kubeconfig", saKubeconfig, "get", "secrets", "-n", RELEASE_NS],
          {
            encoding: "utf8",
          },
        );
        expect(refused.status).not.toBe(0);
        expect(refused.stderr).toMatch(/forbidden/i);

        type AuditEvent = {
          stage: string;
          verb: string;
          user: { username: string };
          objectRef?: { apiGroup?: string; resource?: string; subresource?: string; namespace?: string };
          responseStatus?: { code?: number };
        };
        const key = (group: string, resource: string, verb: string) =>
          `${group || "core"} ${resource} ${verb}`;
        const events = await eventually(() => {
          const lines = readFileSync(join(inject("clusterDir"), "logs", "audit.log"), "utf8")
            .trim()
            .split("\n");
          const mine = lines
            .map((l) => JSON.parse(l) as AuditEvent)
            .filter(
              (e) => e.user.username === user && e.stage === "ResponseComplete" && e.objectRef?.resource,
            );
          expect(mine.some((e) => e.objectRef?.resource === "secrets")).toBe(true);
          return mine;
        });
        const used = new Set<string>();
        const denied = new Set<string>();
        for (const e of events) {
          const ref = e.objectRef!;
          const resource = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource!;
          const code = e.responseStatus?.code ?? 0;
          if (code === 403) denied.add(key(ref.apiGroup ?? "", resource, e.verb));
          else {
            used.add(key(ref.apiGroup ?? "", resource, e.verb));
            // Server-side apply that creates an object is authorised as create too.
            if (e.verb === "patch" && code === 201) used.add(key(ref.apiGroup ?? "", resource, "create"));
          }
        }
        const granted = new Set<string>();
        const manifest = helmOk(["get", "manifest", RELEASE, "-n", RELEASE_NS]);
        for (const doc of parseAllDocuments(manifest).map((d) => d.toJS())) {
          if (doc?.kind !== "ClusterRole" && doc?.kind !== "Role") continue;
          // The operator's user in the other suites holds the same rules.
          const local = JSON.parse(
            kubectl(admin(), [
              "get",
              "clusterrole",
              doc.metadata.name.replace(SA, OPERATOR_USER),
              "-o",
              "json",
            ]),
          );
          expect(local.rules).toEqual(doc.rules);
          for (const rule of doc.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[])
            for (const g of rule.apiGroups)
              for (const r of rule.resources) for (const v of rule.verbs) granted.add(key(g, r, v));
        }
        expect([...denied]).toEqual([key("", "secrets", "list")]);
        // What the node providers do to grow and shrink a pool (kwok, clusterAPI, karpenter) and to drain a
        // node: this scenario's pools are static, so it never does it. nodepools.test.ts and
        // gpunodepool.test.ts do, as the operator's user, bound to this same ClusterRole (installInferops in
        // hack/lib/cluster.ts renders it from the chart): they run under these rules, not wider ones.
        const providerRules = [
          key("inferops.dev", "gpunodepools", "get"),
          key("inferops.dev", "gpunodepools", "patch"),
          ...["get", "create", "patch", "delete"].map((v) => key("", "nodes", v)),
          key("", "pods/eviction", "create"),
          key("cluster.x-k8s.io", "machinedeployments/scale", "get"),
          key("cluster.x-k8s.io", "machinedeployments/scale", "patch"),
          key("cluster.x-k8s.io", "machines", "list"),
          key("cluster.x-k8s.io", "machines", "patch"),
          key("karpenter.sh", "nodepools", "get"),
          key("karpenter.sh", "nodepools", "patch"),
          key("karpenter.sh", "nodeclaims", "list"),
          key("karpenter.sh", "nodeclaims", "delete"),
          // A Service made again when spec.service.headless changes: operator.test.ts, under the same rules.
          key("", "services", "delete"),
        ];
        expect([...new Set([...used, ...providerRules])].sort()).toEqual([...granted].sort());
      },
    );

    it("helm upgrade with changed values leaves no orphan, and helm uninstall removes all but the CRDs", async () => {
      const objects = () =>
        kubectl(admin(), [
          "get",
          "deployments,services,serviceaccounts,poddisruptionbudgets,roles,rolebindings,configmaps,clusterroles,clusterrolebindings",
          "-A",
          "-l",
          `app.kubernetes.io/instance=${RELEASE}`,
          "-o",
          "name",
        ])
          .trim()
          .split("\n")
          .filter(Boolean)
          .sort();
      const rendered = () =>
        parseAllDocuments(helmOk(["get", "manifest", RELEASE, "-n", RELEASE_NS]))
          .map((d) => d.toJS())
          .filter(Boolean)
          .map((o) =>
            `${o.kind.toLowerCase()}.${groupOf(o.apiVersion)}/${o.metadata.name}`.replace("./", "/"),
          )
          .sort();
      expect(objects()).toEqual(rendered());
      helmOk([
        "upgrade",
        RELEASE,
        CHART,
        "-n",
        RELEASE_NS,
        ...imageValues(),
        "--set",
        "podDisruptionBudget.enabled=false",
        "--set",
        "metrics.service.enabled=false",
        "--set",
        "dashboard.enabled=true",
        "--set",
        "operator.logLevel=debug",
      ]);
      const after = objects();
      expect(after).toEqual(rendered());
      expect(after.some((o) => o.startsWith("poddisruptionbudget"))).toBe(false);
      expect(after.some((o) => o.startsWith("service/"))).toBe(false);
      expect(after).toContain(`configmap/${SA}-dashboard`);
      const d = JSON.parse(kubectl(admin(), ["get", "deployment", SA, "-n", RELEASE_NS, "-o", "json"]));
      expect(d.spec.template.spec.containers[0].args).toContain("--log-level=debug");

      await Promise.all(containers.splice(0).map((c) => c.stop({ timeout: 5_000 })));
      helmOk(["uninstall", RELEASE, "-n", RELEASE_NS, "--wait"]);
      expect(objects()).toEqual([]);
      expect(
        kubectl(admin(), ["get", "crd", "-l", "app.kubernetes.io/part-of=inferops", "-o", "name"])
          .trim()
          .split("\n"),
      ).toHaveLength(3);
    });
  });
});

/** "apps" of apps/v1, "" of v1: the group kubectl prints after the kind. */
function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";
}
