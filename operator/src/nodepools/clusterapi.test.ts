import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/client.ts";
import { FakeKube } from "../kube/fake.ts";
import { pathFor, R } from "../kube/resources.ts";
import { ClusterAPIProvider, DELETE_MACHINE_ANNOTATION, DEPLOYMENT_NAME_LABEL } from "./clusterapi.ts";
import { isInsufficientCapacity, isProviderNotFound, kubeOccupant, nodeProvider } from "./provider.ts";
import { planFor, T0, testPool } from "./testing.ts";

const NS = "capi";
const MD = "gpu-md";
const pool = testPool("capi", {
  provider: { type: "clusterAPI", clusterAPI: { machineDeployment: { namespace: NS, name: MD } } },
});
const mdPath = pathFor(R.machineDeployments, { namespace: NS, name: MD });
const machinePath = (name: string) => pathFor(R.machines, { namespace: NS, name });

function setup(machines: { name: string; node?: string; phase?: string; failureReason?: string }[]) {
  const kube = new FakeKube({ now: () => T0 });
  kube.seed(mdPath, {
    apiVersion: "cluster.x-k8s.io/v1beta1",
    kind: "MachineDeployment",
    metadata: { name: MD, namespace: NS },
    spec: { replicas: machines.length },
  });
  for (const m of machines) {
    kube.seed(machinePath(m.name), {
      metadata: { name: m.name, namespace: NS, labels: { [DEPLOYMENT_NAME_LABEL]: MD } },
      status: {
        phase: m.phase ?? (m.node ? "Running" : "Provisioning"),
        ...(m.node ? { nodeRef: { name: m.node } } : {}),
        ...(m.failureReason ? { failureReason: m.failureReason } : {}),
      },
    });
    if (m.node)
      kube.seed(pathFor(R.nodes, { name: m.node }), {
        metadata: { name: m.node, labels: { "inferops.dev/pool": "capi" } },
        status: { conditions: [{ type: "Ready", status: "True" }], allocatable: { "nvidia.com/gpu": "8" } },
      });
  }
  const provider = nodeProvider(new ClusterAPIProvider({ client: kube }), {
    now: () => T0,
    occupant: kubeOccupant(kube),
  });
  const replicas = () => kube.peek<KubeObject & { spec: { replicas: number } }>(mdPath)?.spec.replicas;
  const annotation = (m: string) =>
    kube.peek(machinePath(m))?.metadata?.annotations?.[DELETE_MACHINE_ANNOTATION];
  return { kube, provider, replicas, annotation };
}

const plan = planFor(pool, T0);

describe("clusterAPI provider", () => {
  it("observes the Machines of the MachineDeployment and their Nodes", async () => {
    const { provider } = setup([{ name: "m1", node: "n1" }, { name: "m2" }]);
    expect((await provider.observe(pool)).map((n) => [n.name, n.state, n.gpus, n.holder])).toEqual([
      ["n1", "ready", 8, "m1"],
      ["m2", "registering", 8, "m2"],
    ]);
  });

  it("scales up through the scale subresource, once", async () => {
    const { kube, provider, replicas } = setup([{ name: "m1", node: "n1" }]);
    expect(await provider.scale(pool, { target: 3, removable: [], plan })).toMatchObject({
      outcome: "acted",
      added: 2,
    });
    expect(replicas()).toBe(3);
    expect(kube.writes.map((w) => [w.verb, w.path])).toEqual([["patch", `${mdPath}/scale`]]);
    // The Machines are not there yet: asking again adds nothing.
    expect(await provider.scale(pool, { target: 3, removable: [], plan })).toMatchObject({
      outcome: "unchanged",
      added: 0,
    });
    expect(kube.writes).toHaveLength(1);
  });

  it("marks the drained node's Machine for deletion before lowering replicas by one", async () => {
    const { kube, provider, replicas, annotation } = setup([
      { name: "m1", node: "n1" },
      { name: "m2", node: "n2" },
      { name: "m3", node: "n3" },
    ]);
    const result = await provider.scale(pool, { target: 1, removable: ["n2"], plan });
    expect(result.removed).toEqual(["n2"]);
    expect(annotation("m2")).toBe("true");
    expect(replicas()).toBe(2);
    expect(kube.writes.map((w) => w.verb)).toEqual(["patch", "patch"]);
    expect(kube.writes[0]?.path).toBe(machinePath("m2"));
  });

  it("unmarks a marked Machine the plan keeps, and never lowers replicas past the marked Machines", async () => {
    const { kube, provider, replicas, annotation } = setup([
      { name: "m1", node: "n1" },
      { name: "m2", node: "n2" },
    ]);
    await kube.patch(machinePath("m2"), {
      metadata: { annotations: { [DELETE_MACHINE_ANNOTATION]: "true" } },
    });
    await provider.scale(pool, { target: 0, removable: [], plan });
    expect(annotation("m2")).toBeUndefined();
    expect(replicas()).toBe(2);
  });

  it("answers InsufficientCapacity instead of asking for more when a Machine failed for want of resources", async () => {
    const { provider, replicas } = setup([
      { name: "m1", phase: "Failed", failureReason: "InsufficientResources" },
    ]);
    const err = await provider.scale(pool, { target: 2, removable: [], plan }).catch((e: unknown) => e);
    expect(isInsufficientCapacity(err)).toBe(true);
    expect(replicas()).toBe(1);
  });

  it("answers NotFound, naming the field to fix, when the MachineDeployment does not exist", async () => {
    const kube = new FakeKube();
    const provider = nodeProvider(new ClusterAPIProvider({ client: kube }), {
      now: () => T0,
      occupant: kubeOccupant(kube),
    });
    const err = await provider.observe(pool).catch((e: unknown) => e);
    expect(isProviderNotFound(err)).toBe(true);
    expect((err as Error).message).toContain("MachineDeployment capi/gpu-md");
    expect((err as Error).message).toContain("provider.clusterAPI.machineDeployment");
  });
});
