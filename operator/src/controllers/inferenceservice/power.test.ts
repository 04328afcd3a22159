// A service's status.powerWatts counts what its budget counts: the measured watts per GPU in use of a pool
// that reads them fresh (spec.power.measured), else the pool's busyWattsPerGPU.
import { describe, expect, it } from "vitest";
import { gpuNodePool } from "../../../../test/helpers/objects.ts";
import { gpuNodePoolSchema } from "../../apis/gpunodepool.ts";
import { inferenceServiceSchema } from "../../apis/inferenceservice.ts";
import { pool } from "../../planning/testkit.ts";
import { withMeasuredPower } from "./controller.ts";
import { computeStatus, type Decision } from "./status.ts";

const svc = inferenceServiceSchema.parse({
  apiVersion: "inferops.dev/v1alpha1",
  kind: "InferenceService",
  metadata: { name: "s", namespace: "n", generation: 1 },
  spec: {
    model: { name: "m", server: "vllm" },
    template: { spec: { containers: [{ name: "c" }] } },
    accelerators: [{ pool: "h100", gpusPerReplica: 2 }],
  },
});
const pools = new Map([["h100", gpuNodePoolSchema.parse(gpuNodePool("h100"))]]); // 700 W busy per GPU
const decision: Decision = { perVariant: new Map([["h100", 3]]), total: 3, reason: "Manual", message: "m" };
const powerOf = (d: Decision) =>
  computeStatus({
    svc,
    pools,
    deployments: [
      { pool: "h100", wanted: 3, replicas: 3, readyReplicas: 3, updatedReplicas: 3, observed: true },
    ],
    decision: d,
    unknownPools: [],
    conflicts: [],
    nowIso: "2026-01-01T00:00:00Z",
  }).powerWatts;

describe("service power with measured pools", () => {
  it("counts the pool's measured watts per GPU in use when the Snapshot has them", () => {
    const measured = pool(
      "h100",
      {},
      {
        power: { source: "DCGM", configured: "DCGM", watts: 3000, wattsPerGPU: 410, message: "" },
      },
    );
    const d = withMeasuredPower(decision, [measured, pool("l40s")]);
    expect([...(d.wattsPerGPU ?? [])]).toEqual([["h100", 410]]);
    expect(powerOf(d)).toBe(3 * 2 * 410);
  });

  it("counts busyWattsPerGPU when the pool is nominal or its measurement is stale", () => {
    const stale = pool("h100", {}, { power: { source: "Nominal", configured: "DCGM", message: "stale" } });
    const d = withMeasuredPower(decision, [stale]);
    expect(d.wattsPerGPU).toBeUndefined();
    expect(powerOf(d)).toBe(3 * 2 * 700);
  });
});
