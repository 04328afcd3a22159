// Starts and stops the local control plane (hack/controlplane/cluster.sh), for tests, the demo and benchmarks.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { cachedBinary } from "./binaries.ts";
import { ROOT } from "./paths.ts";

export const CLUSTER_SH = join(ROOT, "hack", "controlplane", "cluster.sh");

export interface Cluster {
  dir: string;
  adminKubeconfig: string;
  operatorKubeconfig: string;
  server: string;
}

export function clusterUp(dir = mkdtempSync(join(tmpdir(), "inferops-cluster-"))): Cluster {
  const up = () =>
    execFileSync(CLUSTER_SH, ["up", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  let out: string;
  try {
    out = up();
  } catch {
    // Clusters starting at the same moment (make test's groups) can pick the same free port before either binds
    // it. `up` then stops what it started; once more, it keeps the ports still free and picks new ones for the rest.
    console.error(`[cluster] up failed in ${dir}; trying once more`);
    out = up();
  }
  const adminKubeconfig = out.trim().split("\n").at(-1)!;
  const info = JSON.parse(readFileSync(join(dir, "cluster.json"), "utf8")) as { apiserverUrl?: string };
  return {
    dir,
    adminKubeconfig,
    operatorKubeconfig: join(dir, "operator.kubeconfig"),
    server: info.apiserverUrl ?? "",
  };
}

export function clusterDown(dir: string): void {
  spawnSync(CLUSTER_SH, ["down", dir, "--purge"], { stdio: "inherit" });
}

/** kubectl as the cluster admin; throws with kubectl's stderr. */
export function kubectl(kubeconfig: string, args: string[], input?: string): string {
  const res = spawnSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", input });
  if (res.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${res.stderr.trim()}`);
  return res.stdout;
}

/** The user the suites, the demo and the benchmarks run the operator as: the local control plane's client
 * certificate (hack/controlplane/cluster.sh), impersonated on k3s (test/helpers/k3s.ts). */
export const OPERATOR_USER = "inferops-operator";

interface RbacObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  rules?: unknown[];
}

/**
 * The operator's RBAC for OPERATOR_USER, from the Helm chart (charts/inferops/templates/rbac.yaml, the one
 * source of the operator's rules): the chart's ClusterRole as rendered, bound to the user instead of the
 * chart's ServiceAccount; the chart's leader-election Role, whose rules become a ClusterRole, because these
 * runs keep their Lease in whatever namespace they are given (`--namespace`).
 */
export function operatorRbac(): RbacObject[] {
  const args = [
    "template",
    OPERATOR_USER,
    join(ROOT, "charts", "inferops"),
    "--namespace",
    "inferops-system",
  ];
  const res = spawnSync(
    cachedBinary("helm", "HELM_VERSION"),
    [...args, "--show-only", "templates/rbac.yaml"],
    {
      encoding: "utf8",
    },
  );
  if (res.status !== 0)
    throw new Error(
      `helm ${args.join(" ")}: ${(res.stderr || res.error?.message || "").trim()} (make controlplane builds helm)`,
    );
  const rendered = parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as RbacObject | null)
    .filter((o): o is RbacObject => o !== null);
  const role = rendered.find((o) => o.kind === "ClusterRole");
  const leaderElection = rendered.find((o) => o.kind === "Role");
  if (!role || !leaderElection)
    throw new Error("the chart rendered no ClusterRole or no leader-election Role");
  const { namespace: _, ...leaderMeta } = leaderElection.metadata;
  const roles = [role, { ...leaderElection, kind: "ClusterRole", metadata: leaderMeta }];
  return roles.flatMap((r) => [
    r,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: r.metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: r.metadata.name },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: OPERATOR_USER }],
    },
  ]);
}

/** Installs what the operator needs on a cluster: the three CRDs (waited until Established) and its RBAC for
 * OPERATOR_USER (operatorRbac). */
export function installInferops(kubeconfig: string): void {
  kubectl(kubeconfig, ["apply", "--server-side", "-f", join(ROOT, "crds")]);
  kubectl(kubeconfig, [
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    "crd",
    "-l",
    "app.kubernetes.io/part-of=inferops",
  ]);
  kubectl(
    kubeconfig,
    ["apply", "--server-side", "-f", "-"],
    operatorRbac()
      .map((o) => stringify(o))
      .join("---\n"),
  );
}

/** A component of the local control plane (hack/controlplane/cluster.sh) that a test may stop or pause. */
export type Component = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kwok";

/** The pid of a component of the cluster in `dir`, from its pid file, if it runs (undefined on k3s). */
export function componentPid(dir: string, component: Component): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, "pids", `${component}.pid`), "utf8").trim());
    return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Freezes a component (SIGSTOP): its connections stay open and nothing answers, as when a host or its disk
 * hangs. Returns the function that thaws it (SIGCONT).
 */
export function pauseComponent(dir: string, component: Component): () => void {
  const pid = componentPid(dir, component);
  if (pid === undefined) throw new Error(`${component} is not running in ${dir}`);
  process.kill(pid, "SIGSTOP");
  return () => process.kill(pid, "SIGCONT");
}

/**
 * Stops a component (SIGTERM, then SIGKILL after 10 s), leaves it down for `downMs`, and starts it again with
 * the same command line, its output appended to its log and its pid file updated, so that `clusterDown`
 * stops the new process. Resolves once it runs again (the caller waits for readiness).
 */
export async function restartComponent(dir: string, component: Component, downMs: number): Promise<void> {
  const pid = componentPid(dir, component);
  if (pid === undefined) throw new Error(`${component} is not running in ${dir}`);
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, downMs));
  // Through a shell that exits at once, as cluster.sh starts it: the component is nobody's child here, so
  // no zombie of it outlives its stop.
  const pidText = execFileSync(
    "sh",
    [
      "-c",
      'log="$1"; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!',
      "sh",
      join(dir, "logs", `${component}.log`),
      ...argv,
    ],
    { encoding: "utf8" },
  );
  writeFileSync(join(dir, "pids", `${component}.pid`), `${pidText.trim()}\n`);
}
