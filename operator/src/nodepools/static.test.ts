import { describe, expect, it } from "vitest";
import { FakeKube } from "../kube/fake.ts";
import { pathFor, R } from "../kube/resources.ts";
import { isUnsupported, kubeOccupant, nodeProvider } from "./provider.ts";
import { StaticProvider } from "./static.ts";
import { planFor, T0, testPool } from "./testing.ts";

const pool = testPool("fixed", { provider: { type: "static" }, nodeLabels: { rack: "r1" } });

function setup() {
  const kube = new FakeKube();
  for (const [name, labels, unschedulable] of [
    ["n1", { rack: "r1" }, false],
    ["n2", { rack: "r1" }, true],
    ["n3", { rack: "r2" }, false],
  ] as const)
    kube.seed(pathFor(R.nodes, { name }), {
      metadata: { name, labels },
      spec: { unschedulable },
      status: { conditions: [{ type: "Ready", status: "True" }], allocatable: { "nvidia.com/gpu": "4" } },
    });
  return {
    kube,
    provider: nodeProvider(new StaticProvider({ client: kube }), {
      now: () => T0,
      occupant: kubeOccupant(kube),
    }),
  };
}

describe("static provider", () => {
  it("reports the nodes carrying the pool's labels", async () => {
    const { provider } = setup();
    expect((await provider.observe(pool)).map((n) => [n.name, n.state, n.gpus])).toEqual([
      ["n1", "ready", 4],
      ["n2", "cordoned", 4],
    ]);
  });

  it("answers Unsupported to a change and writes nothing; the same count is no change", async () => {
    const { kube, provider } = setup();
    const err = await provider
      .scale(pool, { target: 3, removable: [], plan: planFor(pool, T0) })
      .catch((e: unknown) => e);
    expect(isUnsupported(err)).toBe(true);
    expect((err as Error).message).toContain("pool fixed is static");
    expect((await provider.scale(pool, { target: 2, removable: [], plan: planFor(pool, T0) })).outcome).toBe(
      "unchanged",
    );
    expect(kube.writes).toEqual([]);
  });
});
