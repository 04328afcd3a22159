import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { measuredPowerSchema } from "../apis/gpunodepool.ts";
import {
  createPowerReader,
  type PoolPowerInput,
  poolPower,
  powerQuery,
  steadyWatts,
  wattsByNode,
} from "./power.ts";

const DCGM = measuredPowerSchema.parse({ source: "DCGM" });
const power = { busyWattsPerGPU: 700, idleWattsPerGPU: 90, measured: DCGM };
const nodes = [
  { name: "n0", gpus: 8 },
  { name: "n1", gpus: 8 },
];
const fresh = (watts: Record<string, number>) => ({
  ok: true as const,
  watts: new Map(Object.entries(watts)),
});
const input = (over: Partial<PoolPowerInput>): PoolPowerInput => ({ power, nodes, usedGPUs: 4, ...over });

describe("powerQuery", () => {
  it("reads DCGM's DCGM_FI_DEV_POWER_USAGE and Kepler's kepler_node_gpu_watts per node: each GPU's 5-minute peak, while its latest sample is fresh", () => {
    expect(powerQuery(DCGM)).toEqual({
      query:
        "sum by (Hostname) (max_over_time(DCGM_FI_DEV_POWER_USAGE[5m]) and time() - timestamp(DCGM_FI_DEV_POWER_USAGE) < 60)",
      nodeLabel: "Hostname",
      countQuery:
        "count by (Hostname) (max_over_time(DCGM_FI_DEV_POWER_USAGE[5m]) and time() - timestamp(DCGM_FI_DEV_POWER_USAGE) < 60)",
    });
    expect(powerQuery({ source: "Kepler", maxAgeSeconds: 30 })).toEqual({
      query:
        "sum by (node_name) (max_over_time(kepler_node_gpu_watts[5m]) and time() - timestamp(kepler_node_gpu_watts) < 30)",
      nodeLabel: "node_name",
      countQuery:
        "count by (node_name) (max_over_time(kepler_node_gpu_watts[5m]) and time() - timestamp(kepler_node_gpu_watts) < 30)",
    });
  });

  it("runs an override as written, with the node label given or the exporter's", () => {
    expect(powerQuery({ source: "DCGM", query: "sum by (node) (gpu_watts)", nodeLabel: "node" })).toEqual({
      query: "sum by (node) (gpu_watts)",
      nodeLabel: "node",
    });
    expect(powerQuery({ source: "Kepler", query: "x" }).nodeLabel).toBe("node_name");
  });
});

describe("measuredPowerSchema", () => {
  it("refuses maxAgeSeconds beside an override query, naming the field", () => {
    const r = measuredPowerSchema.safeParse({ source: "DCGM", query: "up", maxAgeSeconds: 30 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ["maxAgeSeconds"] });
    expect(measuredPowerSchema.safeParse({ source: "DCGM", nodeLabel: "bad-label" }).success).toBe(false);
  });
});

describe("wattsByNode", () => {
  it("sums series per node and drops those without the label or with no finite, non-negative value", () => {
    const w = wattsByNode(
      [
        { labels: { Hostname: "n0" }, value: 300 },
        { labels: { Hostname: "n0" }, value: 200 },
        { labels: { Hostname: "n1" }, value: Number.NaN },
        { labels: { Hostname: "n2" }, value: -1 },
        { labels: {}, value: 100 },
      ],
      "Hostname",
    );
    expect([...w]).toEqual([["n0", 500]]);
  });
});

describe("poolPower", () => {
  it("is nominal, without a condition's cause, when spec.power.measured is not set", () => {
    const { measured: _, ...nominal } = power;
    expect(poolPower(input({ power: nominal, reading: fresh({ n0: 1 }) }))).toEqual({
      source: "Nominal",
      message: "nominal: spec.power.measured is not set",
    });
  });

  it("measures: the pool's watts, and per GPU in use its draw less the idle GPUs' idle watts", () => {
    // 16 GPUs, 4 in use: 3000 W measured, 12 idle at 90 W = 1080 W, so 1920 W over 4 GPUs = 480 W each.
    const p = poolPower(input({ reading: fresh({ n0: 2000, n1: 1000, other: 5000 }) }));
    expect(p).toEqual({
      source: "DCGM",
      configured: "DCGM",
      watts: 3000,
      wattsPerGPU: 480,
      message: "DCGM measures the GPUs of 2 node(s); a replica counts their measured watts per GPU in use",
    });
  });

  it("never counts a GPU in use below an idle one", () => {
    expect(poolPower(input({ reading: fresh({ n0: 500, n1: 500 }) })).wattsPerGPU).toBe(90);
  });

  it("measures the pool but leaves replicas at busyWattsPerGPU when no GPU is in use", () => {
    const p = poolPower(input({ usedGPUs: 0, reading: fresh({ n0: 700, n1: 700 }) }));
    expect(p).toMatchObject({ source: "DCGM", watts: 1400 });
    expect(p.wattsPerGPU).toBeUndefined();
  });

  it.each([
    ["no reading yet", undefined, nodes, "no DCGM reading taken yet"],
    [
      "the query failed",
      { ok: false as const, error: "HTTP 503" },
      nodes,
      "reading DCGM power failed: HTTP 503",
    ],
    [
      "a node has no fresh sample",
      fresh({ n0: 900 }),
      nodes,
      "no fresh DCGM sample for every GPU of node(s) n1",
    ],
    [
      "a GPU of a node has no fresh sample",
      {
        ...fresh({ n0: 900, n1: 700 }),
        gpus: new Map([
          ["n0", 8],
          ["n1", 7],
        ]),
      },
      nodes,
      "no fresh DCGM sample for every GPU of node(s) n1",
    ],
    [
      "a node reads 0 W",
      fresh({ n0: 900, n1: 0 }),
      nodes,
      "no fresh DCGM sample for every GPU of node(s) n1",
    ],
    ["no Ready node", fresh({ n0: 900 }), [], "no Ready node to measure"],
    ["zero watts", fresh({ n0: 0, n1: 0 }), nodes, "node(s) n0, n1 (stale, zero, or not reported)"],
  ])("falls back to nominal, never zero, when %s", (_, reading, ns, why) => {
    const p = poolPower(input({ nodes: ns, ...(reading ? { reading } : {}) }));
    expect(p.source).toBe("Nominal");
    expect(p.configured).toBe("DCGM");
    expect(p.watts).toBeUndefined();
    expect(p.wattsPerGPU).toBeUndefined();
    expect(p.message).toContain(why);
    expect(p.message).toContain("the pool counts nominal watts");
  });

  it("property: a replica's watts per GPU are never zero and never below idle, whatever is read", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.array(fc.tuple(fc.constantFrom("n0", "n1", "x"), fc.double({ min: -10, max: 1e5, noNaN: true }))),
        fc.boolean(),
        fc.integer({ min: 0, max: 40 }),
        (busy, idleRaw, samples, failed, usedGPUs) => {
          const idle = Math.min(idleRaw, busy);
          const reading = failed
            ? { ok: false as const, error: "down" }
            : {
                ok: true as const,
                watts: wattsByNode(
                  samples.map(([n, v]) => ({ labels: { Hostname: n }, value: v })),
                  "Hostname",
                ),
              };
          const p = poolPower({
            power: { busyWattsPerGPU: busy, idleWattsPerGPU: idle, measured: DCGM },
            nodes,
            usedGPUs,
            reading,
          });
          const perGPU = p.wattsPerGPU ?? busy;
          expect(perGPU).toBeGreaterThan(0);
          expect(perGPU).toBeGreaterThanOrEqual(idle);
          if (p.source === "Nominal") expect(p.wattsPerGPU).toBeUndefined();
          else expect(p.watts).toBeGreaterThan(0);
        },
      ),
    );
  });
});

describe("steadyWatts", () => {
  it("keeps the figure status has while the new one is within 2% or 5 W of it, and takes a real change", () => {
    expect(steadyWatts(undefined, 1000)).toBe(1000);
    expect(steadyWatts(1000, 1019)).toBe(1000);
    expect(steadyWatts(1000, 981)).toBe(1000);
    expect(steadyWatts(1000, 1021)).toBe(1021);
    expect(steadyWatts(100, 104)).toBe(100);
    expect(steadyWatts(100, 106)).toBe(106);
  });
});

describe("createPowerReader", () => {
  it("without a Prometheus URL, every pool's reading is missing and says why", async () => {
    const r = await createPowerReader({}).read([{ pool: "a", measured: DCGM }], 0);
    expect(r.get("a")).toEqual({
      ok: false,
      error: "the operator has no --prometheus-url to read measured power from",
    });
  });

  it("an unreachable Prometheus is each pool's error, not a rejection", async () => {
    const r = await createPowerReader({ url: "http://127.0.0.1:1", timeoutMs: 500 }).read(
      [
        { pool: "a", measured: DCGM },
        { pool: "b", measured: DCGM },
      ],
      0,
    );
    expect(r.get("a")?.ok).toBe(false);
    expect(r.get("b")).toEqual(r.get("a"));
  });
});
