// The baselines, swept as a careful user would tune them for GPUs, and the Pareto frontier.
//
// Targets are set around the fleet's operating point at its measured capacity (capacity.ts: requests
// running, waiting, in flight and KV-cache use per replica when the fleet just meets the SLO), so that the
// same grid means the same thing on every trace and runs from over-provisioned (targets at about half the
// operating point) to under-provisioned (targets above it):
//
// - static: replicas at 0.8, 1, 1.2, 1.45 and 1.75 times the peak need (1 x the peak need is "provisioned
//   for the peak", the family's default);
// - HPA (Pods metric, AverageValue): running, running+waiting and KV-cache use at 0.55, 0.75, 0.9 and 1.1
//   times the operating point, waiting at 0.1, 0.5 and 2 requests per pod (its operating point is near 0),
//   each with the scale-down window at 300 (HPA's default), 900 and 1800 s;
// - KEDA (Prometheus scaler on sum(vllm:num_requests_waiting), minReplicaCount 1): threshold 0.25, 1 and 4
//   waiting requests per replica, each with the scale-down window at 300, 900 and 1800 s (KEDA's
//   cooldownPeriod only acts on 1 -> 0, so with minReplicaCount 1 a user's cooldown is the HPA's window),
//   plus KEDA's own defaults (minReplicaCount 0, cooldownPeriod 300 s, threshold 1);
// - KPA (concurrency): the per-pod target at 0.55, 0.75, 0.9 and 1.1 times the in-flight operating point
//   over 0.7 (Knative uses 70% of the target), scale-down delay 0 (the default), 300 and 900 s, plus
//   Knative's defaults (target 100, no delay).
// On a 24-hour trace (24 times the cost of an hour per run) the grids drop their most over-provisioned
// point: multipliers 0.75, 0.9 and 1.1, and waiting targets 0.5 and 2. Quick mode keeps a few points of
// each family.
import type { CapacityCurve, CapacityPoint } from "./capacity.ts";
import type { PolicySpec } from "./policies/index.ts";
import { KPA_DEFAULTS } from "./policies/kpa.ts";
import type { Family } from "./policy.ts";

export interface SweepContext {
  curve: CapacityCurve;
  /** Highest per-window need over the trace. */
  peakNeed: number;
  minReplicas: number;
  /** Most replicas of any configuration: the service's maxReplicas, or what the pool's maxNodes hold. */
  maxReplicas: number;
  quick: boolean;
  /** A 24-hour trace: a run costs 24 times an hour's, so the grids drop their most over-provisioned points. */
  day?: boolean;
}

export const SCALE_DOWN_WINDOWS = [300, 900, 1800] as const;
export const KPA_DELAYS = [0, 300, 900] as const;

/** Two significant digits: targets as a user writes them. */
export function roundTarget(x: number): number {
  if (x <= 0) return 0;
  return Number(x.toPrecision(2));
}

/** The operating point used for targets: the measured fleet closest below the peak need (or the smallest). */
export function operatingPoint(curve: CapacityCurve, peakNeed: number): CapacityPoint {
  const pts = [...curve.points].sort((a, b) => a.replicas - b.replicas);
  let best = pts[0]!;
  for (const p of pts) if (p.replicas <= Math.max(peakNeed, pts[0]!.replicas)) best = p;
  return best;
}

export function baselineSpecs(ctx: SweepContext): PolicySpec[] {
  const op = operatingPoint(ctx.curve, ctx.peakNeed);
  const bounds = { minReplicas: ctx.minReplicas, maxReplicas: ctx.maxReplicas };
  const out: PolicySpec[] = [];
  const seen = new Set<string>();
  const push = (s: PolicySpec) => {
    const key = JSON.stringify(s);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(s);
    }
  };
  const quick = ctx.quick;
  const mult = quick ? [0.75, 1] : ctx.day ? [0.75, 0.9, 1.1] : [0.55, 0.75, 0.9, 1.1];
  const windows = quick ? [300] : [...SCALE_DOWN_WINDOWS];

  for (const m of quick ? [1, 1.45] : [0.8, 1, 1.2, 1.45, 1.75]) {
    push({
      family: "static",
      replicas: Math.min(ctx.maxReplicas, Math.max(ctx.minReplicas, Math.round(ctx.peakNeed * m))),
    });
  }

  const hpaGrid: ["running" | "running+waiting" | "kv" | "waiting", number[]][] = [
    ["running", mult.map((m) => op.running * m)],
    ["running+waiting", quick ? [] : mult.map((m) => op.inFlight * m)],
    ["kv", (quick ? [0.75] : mult).map((m) => Math.min(0.95, op.kv * m))],
    ["waiting", quick ? [] : ctx.day ? [0.5, 2] : [0.1, 0.5, 2]],
  ];
  for (const [metric, targets] of hpaGrid) {
    for (const target of targets) {
      for (const w of windows) {
        const t = roundTarget(target);
        if (t <= 0) continue;
        push({ family: "hpa", metric, target: t, scaleDownWindowSeconds: w, ...bounds });
      }
    }
  }

  for (const threshold of quick ? [1] : [0.25, 1, 4]) {
    for (const w of windows) {
      push({
        family: "keda",
        threshold,
        minReplicaCount: Math.max(1, ctx.minReplicas),
        maxReplicaCount: ctx.maxReplicas,
        cooldownPeriodSeconds: w,
        scaleDownWindowSeconds: w,
      });
    }
  }
  if (!quick) {
    push({
      family: "keda",
      threshold: 1,
      minReplicaCount: 0,
      maxReplicaCount: ctx.maxReplicas,
      cooldownPeriodSeconds: 300,
      scaleDownWindowSeconds: 300,
    });
  }

  for (const m of mult) {
    for (const d of quick ? [0] : [...KPA_DELAYS]) {
      push({
        family: "kpa",
        target: roundTarget((op.inFlight * m) / KPA_DEFAULTS.targetUtilization),
        scaleDownDelaySeconds: d,
        minScale: Math.max(1, ctx.minReplicas),
        maxScale: ctx.maxReplicas,
      });
    }
  }
  if (!quick) {
    push({
      family: "kpa",
      target: KPA_DEFAULTS.target,
      scaleDownDelaySeconds: 0,
      minScale: Math.max(1, ctx.minReplicas),
      maxScale: ctx.maxReplicas,
    });
  }
  return out;
}

/** A point of a family's sweep. */
export interface SweepPoint {
  name: string;
  family: Family;
  gpuHours: number;
  sloAttainment: number;
}

/** The Pareto frontier (fewer GPU-hours, higher attainment), ordered by GPU-hours. */
export function paretoFrontier<T extends { gpuHours: number; sloAttainment: number }>(
  points: readonly T[],
): T[] {
  const sorted = [...points].sort((a, b) => a.gpuHours - b.gpuHours || b.sloAttainment - a.sloAttainment);
  const out: T[] = [];
  let best = Number.NEGATIVE_INFINITY;
  for (const p of sorted) {
    if (p.sloAttainment > best) {
      out.push(p);
      best = p.sloAttainment;
    }
  }
  return out;
}

/** The cheapest point reaching `attainment`; undefined when none does. */
export function cheapestReaching<T extends { gpuHours: number; sloAttainment: number }>(
  points: readonly T[],
  attainment: number,
): T | undefined {
  let best: T | undefined;
  for (const p of points) {
    if (p.sloAttainment + 1e-12 < attainment) continue;
    if (!best || p.gpuHours < best.gpuHours) best = p;
  }
  return best;
}

/** The best-attaining point (ties: fewer GPU-hours). */
export function bestAttaining<T extends { gpuHours: number; sloAttainment: number }>(
  points: readonly T[],
): T | undefined {
  let best: T | undefined;
  for (const p of points) {
    if (
      !best ||
      p.sloAttainment > best.sloAttainment ||
      (p.sloAttainment === best.sloAttainment && p.gpuHours < best.gpuHours)
    )
      best = p;
  }
  return best;
}
