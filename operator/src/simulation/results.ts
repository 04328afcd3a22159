// The benchmark's results format (one JSON file per trace, committed with the docs that quote it), as a zod
// schema: what `npm run bench` and `inferops simulate` write, and what tests read back.
//   { "trace": "...", "day": true|false, "policies": { "<name>": { "family": ..., "params": {...},
//     "sloAttainment", "gpuHours", "costUsd", "energyKWh", "peakPowerW", "budgetViolationSeconds",
//     "scaleActions", "ttftP50", "ttftP95", "ttftP99", "refused", "abandoned" } } }
// The inferops entry is named "inferops", the bounds "instant" and "clairvoyant". `refused` counts the
// requests longer than the servers' context (vLLM answers them 400): they are not in `sloAttainment`'s
// denominator. `abandoned` counts the scored requests whose clients gave up waiting (SLO misses). The bounds' params say whether their replayed schedule met the attainment they were sized for.
import { z } from "zod";
import { FAMILIES } from "./policy.ts";
import type { RunResult } from "./simulate.ts";

const nonNegative = () => z.number().min(0);

export const policyResultSchema = z.strictObject({
  family: z.enum(FAMILIES),
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  sloAttainment: z.number().min(0).max(1),
  gpuHours: nonNegative(),
  costUsd: nonNegative(),
  energyKWh: nonNegative(),
  peakPowerW: nonNegative(),
  budgetViolationSeconds: nonNegative(),
  scaleActions: z.int().min(0),
  ttftP50: nonNegative(),
  ttftP95: nonNegative(),
  ttftP99: nonNegative(),
  /** Requests refused as longer than the servers' context; absent in results written before it existed. */
  refused: z.int().min(0).default(0),
  /** Scored requests whose clients gave up waiting (SLO misses); absent in results written before it existed. */
  abandoned: z.int().min(0).default(0),
});
export type PolicyResult = z.output<typeof policyResultSchema>;

export const traceResultSchema = z.strictObject({
  trace: z.string().min(1),
  day: z.boolean(),
  policies: z.record(z.string(), policyResultSchema),
});
export type TraceResult = z.output<typeof traceResultSchema>;

/** Rounds to `digits` significant digits (stable, readable JSON). */
export function sig(x: number, digits = 6): number {
  if (!Number.isFinite(x) || x === 0) return Number.isFinite(x) ? x : 0;
  return Number(x.toPrecision(digits));
}

/** A run's entry; the bounds pass their analytic GPU-hours and cost. */
export function toPolicyResult(
  run: RunResult,
  override: { gpuHours?: number; costUsd?: number } = {},
): PolicyResult {
  return {
    family: run.family,
    params: run.params,
    sloAttainment: sig(run.sloAttainment),
    gpuHours: sig(override.gpuHours ?? run.gpuHours),
    costUsd: sig(override.costUsd ?? run.costUsd),
    energyKWh: sig(run.energyKWh),
    peakPowerW: sig(run.peakPowerW),
    budgetViolationSeconds: sig(run.budgetViolationSeconds),
    scaleActions: run.scaleActions,
    ttftP50: sig(run.ttftP50, 4),
    ttftP95: sig(run.ttftP95, 4),
    ttftP99: sig(run.ttftP99, 4),
    refused: run.refused,
    abandoned: run.abandoned,
  };
}

/** Serialises a trace's results (validated) with a trailing newline. */
export function formatTraceResult(result: TraceResult): string {
  return `${JSON.stringify(traceResultSchema.parse(result), null, 2)}\n`;
}
