// Starts and stops the local control plane (hack/controlplane/cluster.sh), for tests, the demo and benchmarks.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** Installs what the operator needs on a cluster: the three CRDs (waited until Established) and its RBAC. */
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
  kubectl(kubeconfig, ["apply", "--server-side", "-f", join(ROOT, "deploy", "rbac.yaml")]);
}
