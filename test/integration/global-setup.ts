// One control plane per integration run: started, CRDs and RBAC applied, torn down at the end (also when
// tests fail or the run is interrupted).
import type { TestProject } from "vitest/node";
import { clusterDown, clusterUp, kubectl } from "../helpers/cluster.ts";
import { ROOT } from "../helpers/fixtures.ts";

declare module "vitest" {
  export interface ProvidedContext {
    adminKubeconfig: string;
    operatorKubeconfig: string;
    clusterDir: string;
  }
}

export default function setup(project: TestProject) {
  if (process.env.INFEROPS_TEST_K3S === "1") {
    throw new Error(
      "INFEROPS_TEST_K3S=1 selects k3s through @testcontainers/k3s, which needs a Docker engine; none runs here. Unset it to use the local control plane.",
    );
  }
  const cluster = clusterUp();
  let down = false;
  const teardown = () => {
    if (down) return;
    down = true;
    clusterDown(cluster.dir);
  };
  process.once("exit", teardown);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      teardown();
      process.exit(130);
    });
  }
  try {
    kubectl(cluster.adminKubeconfig, ["apply", "--server-side", "-f", `${ROOT}/crds/`]);
    kubectl(cluster.adminKubeconfig, [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd",
      "-l",
      "app.kubernetes.io/part-of=inferops",
    ]);
    kubectl(cluster.adminKubeconfig, ["apply", "--server-side", "-f", `${ROOT}/deploy/rbac.yaml`]);
  } catch (err) {
    teardown();
    throw err;
  }
  project.provide("adminKubeconfig", cluster.adminKubeconfig);
  project.provide("operatorKubeconfig", cluster.operatorKubeconfig);
  project.provide("clusterDir", cluster.dir);
  return teardown;
}
