import { describe, expect, it } from "vitest";
import type { KubeObject } from "../kube/client.ts";
import { FakeKube } from "../kube/fake.ts";
import { pathFor, R } from "../kube/resources.ts";
import {
  ClusterAPIProvider,
  DELETE_MACHINE_ANNOTATION,
  DEPLOYMENT_NAME_LABEL,
  MISSING_MACHINE_INFIX,
} from "./clusterapi.ts";
import { isInsufficientCapacity, isProviderNotFound, kubeOccupant, nodeProvider } from "./provider.ts";
import { planFor, T0, testPool } from "./testing.ts";

const NS = "capi";
const MD = "gpu-md";
const pool = testPool("capi", {
  provider: { type: "clusterAPI", clusterAPI: { machineDeployment: { namespace: NS, name: MD } } },
});
const mdPath = pathFor(R.machineDeployments, { namespace: NS, name: MD });
const machinePath = (name: string) => pathFor(R.machines, { namespace: NS, name });

function setup(
  machines: { name: string; node?: string; phase?: string; failureReason?: string }[],
  clock = { now: T0 },
) {
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
  const provider = nodeProvider(new ClusterAPIProvider({ client: kube, now: () => clock.now }), {
    now: () => clock.now,
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

  it("counts replicas Cluster API has not made a Machine for as registering since first seen, until it does", async () => {
    const clock = { now: T0 };
    const { kube, provider } = setup([{ name: "m1", node: "n1" }], clock);
    await provider.scale(pool, { target: 3, removable: [], plan });
    clock.now = T0 + 10_000;
    const missing = (await provider.observe(pool)).filter((n) => n.state === "registering");
    expect(missing.map((n) => [n.name, n.createdAt, n.gpus, n.holder])).toEqual([
      [`${MD}${MISSING_MACHINE_INFIX}0`, T0 + 10_000, 8, undefined],
      [`${MD}${MISSING_MACHINE_INFIX}1`, T0 + 10_000, 8, undefined],
    ]);
    // Still missing later: the same age, so a stall shows (GPUNodePool ProvisioningStalled).
    clock.now = T0 + 300_000;
    expect((await provider.observe(pool)).filter((n) => n.state === "registering")[0]?.createdAt).toBe(
      T0 + 10_000,
    );
    // Cluster API makes the Machines: nothing is missing, and a later shortfall starts a new clock.
    for (const m of ["m2", "m3"])
      kube.seed(machinePath(m), {
        metadata: { name: m, namespace: NS, labels: { [DEPLOYMENT_NAME_LABEL]: MD } },
        status: { phase: "Provisioning" },
      });
    expect((await provider.observe(pool)).map((n) => n.name)).toEqual(["n1", "m2", "m3"]);
    await kube.patch(mdPath, { spec: { replicas: 4 } });
    clock.now = T0 + 400_000;
    expect((await provider.observe(pool)).at(-1)).toMatchObject({
      name: `${MD}${MISSING_MACHINE_INFIX}0`,
      createdAt: T0 + 400_000,
    });
  });

  it("lowers replicas when the plan removes a replica that has no Machine, marking nothing", async () => {
    const { kube, provider, replicas } = setup([{ name: "m1", node: "n1" }]);
    await provider.scale(pool, { target: 2, removable: [], plan });
    expect(replicas()).toBe(2);
    const result = await provider.scale(pool, {
      target: 1,
      removable: [`${MD}${MISSING_MACHINE_INFIX}0`],
      plan,
    });
    expect(result.removed).toEqual([`${MD}${MISSING_MACHINE_INFIX}0`]);
    expect(replicas()).toBe(1);
    expect(kube.peek(machinePath("m1"))?.metadata?.annotations?.[DELETE_MACHINE_ANNOTATION]).toBeUndefined();
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
