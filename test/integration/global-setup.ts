// One cluster per integration run: started, CRDs and RBAC applied, torn down at the end (also when tests
// fail or the run is interrupted). INFEROPS_TEST_CLUSTER selects it: `local` (default), the control plane
// built by hack/controlplane; or `k3s`, through @testcontainers/k3s where a Docker engine runs (elsewhere the
// suites are skipped, saying why).
import type { TestProject } from "vitest/node";
import { clusterDown, clusterUp, installInferops } from "../helpers/cluster.ts";
import { dockerUnavailable, startK3s } from "../helpers/k3s.ts";

declare module "vitest" {
  export interface ProvidedContext {
    adminKubeconfig: string;
    operatorKubeconfig: string;
    clusterDir: string;
    /** Set when the suites must be skipped, with the reason. */
    skipReason: string;
  }
}

function onExit(teardown: () => void) {
  process.once("exit", teardown);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      teardown();
      process.exit(130);
    });
  }
}

export default async function setup(project: TestProject) {
  const target = process.env.INFEROPS_TEST_CLUSTER ?? "local";
  project.provide("skipReason", "");
  if (target === "k3s") {
    const why = dockerUnavailable();
    if (why) {
      const reason = `INFEROPS_TEST_CLUSTER=k3s needs a Docker engine: ${why}`;
      console.warn(`integration suites skipped: ${reason}`);
      project.provide("skipReason", reason);
      return;
    }
    const k3s = await startK3s();
    let stopped = false;
    const teardown = async () => {
      if (stopped) return;
      stopped = true;
      await k3s.stop();
    };
    installInferops(k3s.adminKubeconfig);
    project.provide("adminKubeconfig", k3s.adminKubeconfig);
    project.provide("operatorKubeconfig", k3s.operatorKubeconfig);
    project.provide("clusterDir", k3s.dir);
    return teardown;
  }
  if (target !== "local") throw new Error(`INFEROPS_TEST_CLUSTER must be local or k3s, got ${target}`);

  const cluster = clusterUp();
  let down = false;
  const teardown = () => {
    if (down) return;
    down = true;
    clusterDown(cluster.dir);
  };
  onExit(teardown);
  try {
    installInferops(cluster.adminKubeconfig);
  } catch (err) {
    teardown();
    throw err;
  }
  project.provide("adminKubeconfig", cluster.adminKubeconfig);
  project.provide("operatorKubeconfig", cluster.operatorKubeconfig);
  project.provide("clusterDir", cluster.dir);
  return teardown;
}
