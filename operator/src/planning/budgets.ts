// CapacityBudget arithmetic: which limits are in force at a time (windows read in the budget's time zone),
// and what a set of replicas uses against them.
//
// Accounting: a budget counts the GPUs that the replicas of the services in its scope request.
//   cost  = replicas * gpusPerReplica * pool.costPerNodeHour / pool.gpu.count   (the GPUs' share of the node)
//   power = replicas * gpusPerReplica * pool.power.busyWattsPerGPU              (planned replicas serve;
//           the pool's measured watts per GPU in use instead, while spec.power.measured reads fresh)
//   gpus  = replicas * gpusPerReplica, per pool.gpu.type
// Node overhead that no service requests (a pool's minNodes, GPUs left over by packing, idle draw) belongs to
// the pool, is reported per pool, and is not charged to a budget: every replica cut lowers what the budget
// counts, so cutting is always progress.
import type { BudgetWindow, CapacityBudgetSpec, Day, Limits } from "../apis/capacitybudget.ts";
import { DAYS } from "../apis/capacitybudget.ts";
import type { GPUNodePoolSpec } from "../apis/gpunodepool.ts";

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Day of week and wall-clock time HH:MM at `nowMs` in `timeZone` (an IANA name). */
export function localTime(nowMs: number, timeZone: string): { day: Day; time: string } {
  const parts = formatter(timeZone).formatToParts(nowMs);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const weekday = get("weekday");
  const day = (DAYS as readonly string[]).includes(weekday) ? (weekday as Day) : "Mon";
  const hour = get("hour").padStart(2, "0");
  return { day, time: `${hour === "24" ? "00" : hour}:${get("minute").padStart(2, "0")}` };
}

/** The window in force at `nowMs`, if any: its day matches and start <= time < end. */
export function activeWindow(spec: CapacityBudgetSpec, nowMs: number): BudgetWindow | undefined {
  if (!spec.windows || spec.windows.length === 0) return undefined;
  const { day, time } = localTime(nowMs, spec.timeZone);
  return spec.windows.find((w) => w.days.includes(day) && w.start <= time && time < w.end);
}

/** The limits in force: the base limits, each replaced by the active window's (GPU limits per type). */
export function limitsInForce(spec: CapacityBudgetSpec, nowMs: number): { limits: Limits; window?: string } {
  const w = activeWindow(spec, nowMs);
  if (!w) return { limits: spec.limits };
  const gpus = new Map((spec.limits.gpus ?? []).map((g) => [g.type, g.max]));
  for (const g of w.limits.gpus ?? []) gpus.set(g.type, g.max);
  return {
    window: w.name,
    limits: {
      costPerHour: w.limits.costPerHour ?? spec.limits.costPerHour,
      powerWatts: w.limits.powerWatts ?? spec.limits.powerWatts,
      gpus: gpus.size > 0 ? [...gpus].map(([type, max]) => ({ type, max })) : undefined,
    },
  };
}

/**
 * How far ahead the plan keeps to a window: a window starting within this time is planned for already, so the
 * replicas it cuts have drained, through the gentle scale-down, when it comes into force.
 */
export const WINDOW_LEAD_MS = 5 * 60_000;

/**
 * The limits a plan keeps to: those in force now and, where tighter, those of a window that comes into force
 * within `leadMs`. A window ending soon keeps its limits until it ends (now's are the tighter). `window`
 * names the window in force now, else the one planned for ahead of its start.
 */
export function plannedLimits(
  spec: CapacityBudgetSpec,
  nowMs: number,
  leadMs: number = WINDOW_LEAD_MS,
): { limits: Limits; window?: string } {
  const now = limitsInForce(spec, nowMs);
  const soon = limitsInForce(spec, nowMs + leadMs);
  if (soon.window === undefined || soon.window === now.window) return now;
  const least = (a?: number, b?: number) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
  const gpus = new Map((now.limits.gpus ?? []).map((g) => [g.type, g.max]));
  for (const g of soon.limits.gpus ?? []) gpus.set(g.type, least(gpus.get(g.type), g.max) ?? g.max);
  return {
    window: now.window ?? soon.window,
    limits: {
      costPerHour: least(now.limits.costPerHour, soon.limits.costPerHour),
      powerWatts: least(now.limits.powerWatts, soon.limits.powerWatts),
      gpus: gpus.size > 0 ? [...gpus].map(([type, max]) => ({ type, max })) : undefined,
    },
  };
}

/** What one replica of a variant costs against a budget. */
export interface ReplicaFootprint {
  costPerHour: number;
  powerWatts: number;
  gpus: number;
  gpuType: string;
}

/**
 * What one replica of `gpusPerReplica` GPUs on a pool costs and draws: the one place it is computed.
 * `wattsPerGPU`: the pool's measured watts per GPU in use (PoolSnapshot.power) while fresh; else busyWattsPerGPU.
 */
export function replicaFootprint(
  pool: Pick<GPUNodePoolSpec, "gpu" | "power" | "costPerNodeHour">,
  gpusPerReplica: number,
  wattsPerGPU: number = pool.power.busyWattsPerGPU,
): ReplicaFootprint {
  return {
    costPerHour: (pool.costPerNodeHour / pool.gpu.count) * gpusPerReplica,
    powerWatts: wattsPerGPU * gpusPerReplica,
    gpus: gpusPerReplica,
    gpuType: pool.gpu.type,
  };
}

export interface Usage {
  costPerHour: number;
  powerWatts: number;
  gpus: Record<string, number>;
}

export function emptyUsage(): Usage {
  return { costPerHour: 0, powerWatts: 0, gpus: {} };
}

export function addUsage(u: Usage, f: ReplicaFootprint, replicas: number): void {
  u.costPerHour += f.costPerHour * replicas;
  u.powerWatts += f.powerWatts * replicas;
  u.gpus[f.gpuType] = (u.gpus[f.gpuType] ?? 0) + f.gpus * replicas;
}

/** Relative slack for floating-point sums ($/h and watts are sums of fractions). */
const EPS = 1e-9;

/** The limits in force by name, as the status reports them: costPerHour, powerWatts, gpus/<type>. */
export function limitNames(limits: Limits): string[] {
  const out: string[] = [];
  if (limits.costPerHour !== undefined) out.push("costPerHour");
  if (limits.powerWatts !== undefined) out.push("powerWatts");
  for (const g of limits.gpus ?? []) out.push(`gpus/${g.type}`);
  return out;
}

/** What `u` uses of the named limit. */
export function limitUse(u: Usage, limit: string): number {
  if (limit === "costPerHour") return u.costPerHour;
  if (limit === "powerWatts") return u.powerWatts;
  return u.gpus[limit.slice("gpus/".length)] ?? 0;
}

/** Whether `used` of the named limit exceeds it ($/h and watts with EPS slack, GPUs exactly). */
export function exceedsLimit(used: number, limits: Limits, limit: string): boolean {
  if (limit === "costPerHour")
    return limits.costPerHour !== undefined && used > limits.costPerHour * (1 + EPS) + EPS;
  if (limit === "powerWatts")
    return limits.powerWatts !== undefined && used > limits.powerWatts * (1 + EPS) + EPS;
  const max = limits.gpus?.find((g) => `gpus/${g.type}` === limit)?.max;
  return max !== undefined && used > max;
}

/**
 * Whether `used` of the named limit is so near where exceedsLimit turns that a sum of the same replicas in
 * another order could fall on the other side ($/h and watts: within a millionth; GPUs are whole numbers).
 */
export function nearLimit(used: number, limits: Limits, limit: string): boolean {
  const max =
    limit === "costPerHour" ? limits.costPerHour : limit === "powerWatts" ? limits.powerWatts : undefined;
  if (max === undefined) return false;
  const at = max * (1 + EPS) + EPS;
  return Math.abs(used - at) <= 1e-6 * Math.max(1, at);
}

/** What one replica with this footprint uses of the named limit. */
export function footprintUse(f: ReplicaFootprint, limit: string): number {
  if (limit === "costPerHour") return f.costPerHour;
  if (limit === "powerWatts") return f.powerWatts;
  return limit === `gpus/${f.gpuType}` ? f.gpus : 0;
}

/** The limits in force that `u` exceeds, by name. */
export function exceededLimits(u: Usage, limits: Limits): string[] {
  return limitNames(limits).filter((l) => exceedsLimit(limitUse(u, l), limits, l));
}

/** Whether a replica with this footprint counts against the named limit. */
export function countsAgainst(f: ReplicaFootprint, limit: string): boolean {
  if (limit === "costPerHour") return f.costPerHour > 0;
  if (limit === "powerWatts") return f.powerWatts > 0;
  return limit === `gpus/${f.gpuType}`;
}

/** Usage and limit of one named limit, for messages. */
export function describeLimit(u: Usage, limits: Limits, limit: string): string {
  return describeUse(limitUse(u, limit), limits, limit);
}

/** `used` of one named limit and the limit, for messages. */
export function describeUse(used: number, limits: Limits, limit: string): string {
  if (limit === "costPerHour") return `$${round2(used)}/h against $${limits.costPerHour}/h`;
  if (limit === "powerWatts") return `${round2(used)} W against ${limits.powerWatts} W`;
  const type = limit.slice("gpus/".length);
  const max = limits.gpus?.find((g) => g.type === type)?.max;
  return `${used} ${type} GPUs against ${max}`;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Whether a service of this namespace is in the budget's scope (namespaces undefined: all of them). */
export function inScope(budget: { namespaces?: readonly string[] }, namespace: string): boolean {
  return budget.namespaces === undefined || budget.namespaces.includes(namespace);
}
