// The integration suites on k3s (INFEROPS_TEST_CLUSTER=k3s), through @testcontainers/k3s, where a Docker
// engine runs. kwok runs as a process against it (from the same cache as the local control plane), and the
// operator's identity is the admin's, impersonating the user inferops-operator, so RBAC applies to it.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { cachedBinary } from "./image.ts";

export const K3S_IMAGE = process.env.INFEROPS_K3S_IMAGE ?? "rancher/k3s:v1.36.3-k3s1";

/** Why k3s cannot run here, or undefined when a Docker engine answers. */
export function dockerUnavailable(): string | undefined {
  const res = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8" });
  if (res.error) return `no docker client (${res.error.message})`;
  if (res.status !== 0)
    return `no Docker engine answers \`docker info\`: ${res.stderr.trim().split("\n")[0]}`;
  return undefined;
}

export interface K3sCluster {
  adminKubeconfig: string;
  operatorKubeconfig: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startK3s(): Promise<K3sCluster> {
  // Imported only here: the package is needed only where Docker runs.
  const { K3sContainer } = await import("@testcontainers/k3s");
  const container = await new K3sContainer(K3S_IMAGE).start();
  const dir = mkdtempSync(join(tmpdir(), "inferops-k3s-"));
  const admin = container.getKubeConfig();
  const adminKubeconfig = join(dir, "admin.kubeconfig");
  writeFileSync(adminKubeconfig, admin);
  const operator = parse(admin) as { users: { user: Record<string, unknown> }[] };
  for (const u of operator.users) u.user.as = "inferops-operator";
  const operatorKubeconfig = join(dir, "operator.kubeconfig");
  writeFileSync(operatorKubeconfig, stringify(operator));
  const kwok = startKwok(adminKubeconfig, dir);
  return {
    adminKubeconfig,
    operatorKubeconfig,
    dir,
    stop: async () => {
      kwok.kill("SIGTERM");
      await container.stop();
    },
  };
}

function startKwok(kubeconfig: string, dir: string): ChildProcess {
  const kwok = cachedBinary("kwok", "KWOK_VERSION");
  const bin = dirname(kwok);
  return spawn(
    kwok,
    [
      `--kubeconfig=${kubeconfig}`,
      `--config=${join(bin, "stages.yaml")}`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--cidr=10.244.0.0/16",
      "--node-ip=10.255.0.1",
      "--node-lease-duration-seconds=40",
    ],
    { stdio: "ignore", env: { ...process.env, HOME: dir } },
  );
}
