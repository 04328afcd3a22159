// The Snapshot's measured power: a pool with spec.power.measured carries this round's reading, measured when
// it covers every Ready node of the pool, nominal (with the cause) otherwise; other pools carry none.
import { describe, expect, it } from "vitest";
import { testPool } from "../nodepools/testing.ts";
import type { PowerReading } from "../signals/power.ts";
import { buildSnapshot, type World } from "./snapshot.ts";

const kind = { apiVersion: "inferops.dev/v1alpha1", kind: "GPUNodePool" };
const measured = {
  ...kind,
  ...testPool("gpu", { power: { busyWattsPerGPU: 700, idleWattsPerGPU: 90, measured: { source: "DCGM" } } }),
};
const plain = { ...kind, ...testPool("plain") };
const node = (name: string, pool: string, ready: boolean) => ({
  metadata: { name, labels: { "inferops.dev/pool": pool } },
  status: {
    allocatable: { "nvidia.com/gpu": "8" },
    conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
  },
});
const pod = (name: string, nodeName: string, gpus: number) => ({
  metadata: { name, namespace: "default" },
  spec: {
    nodeName,
    containers: [{ name: "c", resources: { requests: { "nvidia.com/gpu": String(gpus) } } }],
  },
  status: { phase: "Running" },
});
const world: World = {
  services: [],
  pools: [measured, plain],
  budgets: [],
  deployments: [],
  nodes: [node("a", "gpu", true), node("b", "gpu", false), node("p", "plain", true)],
  pods: [pod("x", "a", 4)],
  namespaces: [],
};
const snap = (readings?: Map<string, PowerReading>) =>
  buildSnapshot(world, new Map(), { services: {} }, 10_000, readings);
const watts = (w: Record<string, number>): PowerReading => ({ ok: true, watts: new Map(Object.entries(w)) });

describe("buildSnapshot: measured power", () => {
  it("measures a pool from its Ready nodes' samples, and leaves pools without spec.power.measured alone", () => {
    const s = snap(new Map([["gpu", watts({ a: 2000, p: 9999 })]]));
    // Node a: 8 GPUs, 4 in use; 2000 W less 4 idle GPUs at 90 W, over 4 GPUs in use = 410 W each.
    expect(s.pools.find((p) => p.name === "gpu")?.power).toMatchObject({
      source: "DCGM",
      watts: 2000,
      wattsPerGPU: 410,
    });
    expect(s.pools.find((p) => p.name === "plain")?.power).toBeUndefined();
  });

  it("counts nominal watts, saying why, when a Ready node has no sample or no reading was taken", () => {
    expect(snap(new Map([["gpu", watts({ b: 500 })]])).pools[0]?.power).toMatchObject({
      source: "Nominal",
      message: expect.stringContaining("no fresh DCGM sample for every GPU of node(s) a"),
    });
    expect(snap().pools[0]?.power).toMatchObject({ source: "Nominal", configured: "DCGM" });
  });
});
