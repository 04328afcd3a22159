// Measured GPU power: what NVIDIA's DCGM exporter or Kepler report, read through the operator's Prometheus
// for the pools that ask for it (GPUNodePool spec.power.measured), and the pure rule that turns a pool's
// reading into the watts budgets count. A reading that is stale, partial or failed falls back to the pool's
// nominal watts, never to zero.
//
// Default queries (one per exporter, asked once per plan for every pool that uses it):
//   DCGM:   sum by (Hostname) (max_over_time(DCGM_FI_DEV_POWER_USAGE[5m])
//             and time() - timestamp(DCGM_FI_DEV_POWER_USAGE) < 60)
//   Kepler: sum by (node_name) (max_over_time(kepler_node_gpu_watts[5m])
//             and time() - timestamp(kepler_node_gpu_watts) < 60)
// (60: the pool's maxAgeSeconds). Each answers the watts of every node's GPUs, labelled with the node's name:
// each GPU's peak of the last 5 minutes (a cap holds at peak, and the figure does not waver with every
// sample), kept only while the GPU's latest sample is fresh (a series Prometheus marked stale has none).
// With each, `count by` over the same filter counts every node's fresh GPU series: a node with fewer than
// its GPUs is not measured (one GPU gone stale must not read as the others' watts).
import type { MeasuredPower, PowerMeasurement } from "../apis/gpunodepool.ts";
import { instantQuery, type PrometheusConfig } from "./sources/prometheus.ts";

/** The exporters' metrics and the label that carries the node's name (dcgm-exporter: Hostname; Kepler: node_name). */
export const POWER_METRIC: Record<PowerMeasurement, { metric: string; nodeLabel: string }> = {
  DCGM: { metric: "DCGM_FI_DEV_POWER_USAGE", nodeLabel: "Hostname" },
  Kepler: { metric: "kepler_node_gpu_watts", nodeLabel: "node_name" },
};
export const DEFAULT_POWER_MAX_AGE_SECONDS = 60;
/** The default queries take each GPU's peak over this window. */
export const POWER_WINDOW = "5m";

/**
 * A measured figure for status: the previous one while the new one is within 2% (or 5 W) of it, so a draw that
 * wavers does not rewrite status at every evaluation (no writes in a steady state).
 */
export function steadyWatts(previous: number | undefined, next: number): number {
  if (previous === undefined) return next;
  return Math.abs(next - previous) <= Math.max(5, 0.02 * Math.abs(previous)) ? previous : next;
}

/**
 * The query a pool's measurement runs, and the label naming the node in its answer. The default queries
 * come with a second one that counts each node's fresh GPU series (both exporters report one per GPU), so a
 * node with a GPU gone stale is not read as the watts of the others; an override is trusted as it is.
 */
export function powerQuery(m: MeasuredPower): { query: string; nodeLabel: string; countQuery?: string } {
  const { metric, nodeLabel: label } = POWER_METRIC[m.source];
  const nodeLabel = m.nodeLabel ?? label;
  if (m.query !== undefined) return { query: m.query, nodeLabel };
  const maxAge = m.maxAgeSeconds ?? DEFAULT_POWER_MAX_AGE_SECONDS;
  const fresh = `max_over_time(${metric}[${POWER_WINDOW}]) and time() - timestamp(${metric}) < ${maxAge}`;
  return {
    query: `sum by (${nodeLabel}) (${fresh})`,
    nodeLabel,
    countQuery: `count by (${nodeLabel}) (${fresh})`,
  };
}

/** Watts per node name (and, for the default queries, fresh GPU series per node), or why there are none. */
export type PowerReading =
  | { ok: true; watts: ReadonlyMap<string, number>; gpus?: ReadonlyMap<string, number> }
  | { ok: false; error: string };

export interface PowerRequest {
  pool: string;
  measured: MeasuredPower;
}

export interface PowerReader {
  /** One reading per pool asked; never rejects (a failed query is each of its pools' error). */
  read(requests: readonly PowerRequest[], nowMs: number): Promise<Map<string, PowerReading>>;
}

export type PowerReaderConfig = Partial<
  Pick<PrometheusConfig, "timeoutMs" | "headers" | "maxResponseBytes">
> & {
  /** The operator's Prometheus (--prometheus-url); without it every measurement is missing. */
  url?: string;
};

/** Reads measured power through Prometheus' instant query API, each distinct query once. */
export function createPowerReader(config: PowerReaderConfig): PowerReader {
  const http = {
    timeoutMs: config.timeoutMs ?? 5000,
    headers: config.headers ?? {},
    maxResponseBytes: config.maxResponseBytes ?? 8 * 1024 * 1024,
  };
  return {
    async read(requests, nowMs) {
      const out = new Map<string, PowerReading>();
      const url = config.url;
      if (url === undefined) {
        for (const r of requests)
          out.set(r.pool, {
            ok: false,
            error: "the operator has no --prometheus-url to read measured power from",
          });
        return out;
      }
      const byQuery = new Map<string, { nodeLabel: string; countQuery?: string; pools: string[] }>();
      for (const r of requests) {
        const q = powerQuery(r.measured);
        const key = `${q.nodeLabel}\u0000${q.query}`;
        const entry = byQuery.get(key) ?? {
          nodeLabel: q.nodeLabel,
          ...(q.countQuery ? { countQuery: q.countQuery } : {}),
          pools: [],
        };
        entry.pools.push(r.pool);
        byQuery.set(key, entry);
      }
      await Promise.all(
        [...byQuery].map(async ([key, { nodeLabel, countQuery, pools }]) => {
          const query = key.slice(key.indexOf("\u0000") + 1);
          let reading: PowerReading;
          try {
            const [result, counted] = await Promise.all([
              instantQuery(url, query, nowMs, http),
              countQuery ? instantQuery(url, countQuery, nowMs, http) : undefined,
            ]);
            reading = {
              ok: true,
              watts: wattsByNode(result.samples, nodeLabel),
              ...(counted ? { gpus: wattsByNode(counted.samples, nodeLabel) } : {}),
            };
          } catch (err) {
            reading = { ok: false, error: err instanceof Error ? err.message : String(err) };
          }
          for (const pool of pools) out.set(pool, reading);
        }),
      );
      return out;
    },
  };
}

/** Sums an answer's finite, non-negative samples per value of `nodeLabel`; others are not measurements. */
export function wattsByNode(
  samples: readonly { labels: Readonly<Record<string, string>>; value: number }[],
  nodeLabel: string,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    const node = s.labels[nodeLabel];
    if (!node || !Number.isFinite(s.value) || s.value < 0) continue;
    out.set(node, (out.get(node) ?? 0) + s.value);
  }
  return out;
}

/** A pool's power, as the Snapshot carries it and the status reports it. */
export interface PoolPower {
  /** Where the pool's watts come from now: its exporter while fresh, else Nominal. */
  source: "Nominal" | PowerMeasurement;
  /** The exporter spec.power.measured names, if any. */
  configured?: PowerMeasurement;
  /** Measured draw of the pool's GPUs now, watts (source measured only). */
  watts?: number;
  /**
   * Measured watts per GPU that a replica requests: the draw less the idle watts of the GPUs nobody requests,
   * over the requested ones (at least idleWattsPerGPU). Undefined: replicas count busyWattsPerGPU.
   */
  wattsPerGPU?: number;
  /** What was measured, or why the pool counts nominal watts. */
  message: string;
}

export interface PoolPowerInput {
  power: { busyWattsPerGPU: number; idleWattsPerGPU: number; measured?: MeasuredPower };
  /** The pool's Ready nodes and their GPUs: the nodes a measurement must cover. */
  nodes: readonly { name: string; gpus: number }[];
  /** GPUs requested by pods on the pool's nodes. */
  usedGPUs: number;
  /** The pool's reading this round; undefined when none was taken. */
  reading?: PowerReading;
}

/** Measured when configured, fresh and complete; nominal otherwise, with the reason. Never zero for stale. */
export function poolPower(input: PoolPowerInput): PoolPower {
  const { power, nodes, reading } = input;
  const measured = power.measured;
  if (!measured) return { source: "Nominal", message: "nominal: spec.power.measured is not set" };
  const configured = measured.source;
  const nominal = (why: string): PoolPower => ({
    source: "Nominal",
    configured,
    message: `${why}; the pool counts nominal watts`,
  });
  if (!reading) return nominal(`no ${configured} reading taken yet`);
  if (!reading.ok) return nominal(`reading ${configured} power failed: ${reading.error}`);
  if (nodes.length === 0) return nominal("no Ready node to measure");
  // A node counts only with a positive figure and, where series are counted, a fresh one for each GPU.
  const missing = nodes
    .filter(
      (n) =>
        !((reading.watts.get(n.name) ?? 0) > 0) ||
        (reading.gpus !== undefined && (reading.gpus.get(n.name) ?? 0) < n.gpus),
    )
    .map((n) => n.name);
  if (missing.length > 0)
    return nominal(
      `no fresh ${configured} sample for every GPU of node(s) ${missing.join(", ")} (stale, zero, or not reported)`,
    );
  const watts = nodes.reduce((s, n) => s + (reading.watts.get(n.name) ?? 0), 0);
  if (!(watts > 0)) return nominal(`${configured} reports 0 W for the pool's nodes, which is no measurement`);
  const gpus = nodes.reduce((s, n) => s + n.gpus, 0);
  const used = Math.min(Math.max(0, input.usedGPUs), gpus);
  // No figures in the message: they are in status, and a message that changed with them would rewrite it.
  const what = `${configured} measures the GPUs of ${nodes.length} node(s)`;
  if (used === 0)
    return {
      source: configured,
      configured,
      watts,
      message: `${what}; no GPU in use, so a replica counts busyWattsPerGPU`,
    };
  const wattsPerGPU = Math.max(power.idleWattsPerGPU, (watts - power.idleWattsPerGPU * (gpus - used)) / used);
  return {
    source: configured,
    configured,
    watts,
    wattsPerGPU,
    message: `${what}; a replica counts their measured watts per GPU in use`,
  };
}
