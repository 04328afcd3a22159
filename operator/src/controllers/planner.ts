// The decision engine's driver in the operator: every interval, read the signals of all services (batched),
// build the Snapshot from the caches, call plan(), keep the Plan for the reconciles, and wake them.
import type { Logger } from "pino";
import { gpuNodePoolSchema } from "../apis/gpunodepool.ts";
import { inferenceServiceSchema } from "../apis/inferenceservice.ts";
import { LABEL_SERVICE, LABEL_VARIANT } from "../apis/labels.ts";
import { parseSpec } from "../apis/validate.ts";
import type { KubeObject } from "../kube/client.ts";
import { plan as planFn } from "../planning/plan.ts";
import type {
  Plan,
  PlannerMemory,
  ServicePlan,
  ServiceSnapshot,
  Signals,
  Snapshot,
} from "../planning/types.ts";
import type { PowerReader, PowerReading } from "../signals/power.ts";
import {
  type MetricSource,
  type PodTarget,
  serviceRef,
  toSignalsByService,
} from "../signals/sources/types.ts";
import { buildSnapshot, type World } from "./snapshot.ts";

export interface PlannerDeps {
  source: MetricSource;
  /** Reads measured GPU power for the pools that ask for it (spec.power.measured); absent: all nominal. */
  power?: PowerReader;
  world: () => World;
  intervalMs: number;
  log: Logger;
  /** Called after each new Plan (the manager enqueues every service). */
  onPlan: (plan: Plan) => void;
  now?: () => number;
}

const isReady = (p: KubeObject) =>
  ((p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some(
    (c) => c.type === "Ready" && c.status === "True",
  );

/** Ready pods of each service, for sources that scrape pods. */
function readyPods(pods: readonly KubeObject[]): Map<string, PodTarget[]> {
  const out = new Map<string, PodTarget[]>();
  for (const p of pods) {
    const svc = p.metadata?.labels?.[LABEL_SERVICE];
    const ip = (p.status as { podIP?: string } | undefined)?.podIP;
    if (!svc || !ip || !isReady(p) || p.metadata?.deletionTimestamp) continue;
    const key = `${p.metadata?.namespace}/${svc}`;
    const list = out.get(key) ?? [];
    list.push({ name: p.metadata?.name ?? "", ip, variant: p.metadata?.labels?.[LABEL_VARIANT] });
    out.set(key, list);
  }
  return out;
}

export class Planner {
  private memory: PlannerMemory = { services: {} };
  private current?: Plan;
  private input?: { snapshot: Snapshot; nowMs: number };
  private byKey = new Map<string, ServicePlan>();
  private seenByKey = new Map<string, ServiceSnapshot>();
  private signals: ReturnType<typeof toSignalsByService> = new Map();
  private timer?: NodeJS.Timeout;
  private running = false;
  private readonly deps: PlannerDeps;

  constructor(deps: PlannerDeps) {
    this.deps = deps;
  }

  /** The latest plan for one service, if the engine has planned it. */
  planFor(key: string): ServicePlan | undefined {
    return this.byKey.get(key);
  }

  /** The service as the latest plan saw it (its generation, the replicas its variants ran then). */
  seenFor(key: string): ServiceSnapshot | undefined {
    return this.seenByKey.get(key);
  }

  /** The signals the latest plan saw for one service. */
  signalsFor(key: string): Signals | undefined {
    return this.signals.get(key)?.signals;
  }

  get plan(): Plan | undefined {
    return this.current;
  }

  /** The Snapshot and the time the latest plan was made from (the budget controller reports against them). */
  get planned(): { snapshot: Snapshot; nowMs: number } | undefined {
    return this.input;
  }

  /** The latest plan with the Snapshot and time it was made from, for controllers that report against it. */
  latest(): { plan: Plan; snapshot: Snapshot; nowMs: number } | undefined {
    return this.current && this.input ? { plan: this.current, ...this.input } : undefined;
  }

  /** One evaluation: signals, snapshot, plan. Never throws: a failed read means missing signals. */
  async tick(): Promise<Plan> {
    const nowMs = (this.deps.now ?? Date.now)();
    const world = this.deps.world();
    const pods = readyPods(world.pods);
    const refs = world.services.flatMap((raw) => {
      const p = parseSpec(inferenceServiceSchema, raw);
      if (!p.success) return [];
      const ns = p.data.metadata.namespace ?? "default";
      return [
        serviceRef(ns, p.data.metadata.name, p.data.spec, pods.get(`${ns}/${p.data.metadata.name}`) ?? []),
      ];
    });
    // Measured power is read alongside the signals; a failed read leaves those pools nominal, never zero.
    const power = this.readPower(world, nowMs);
    let signals: ReturnType<typeof toSignalsByService>;
    try {
      signals = toSignalsByService(await this.deps.source.fetchSignals(refs, nowMs));
    } catch (err) {
      this.deps.log.warn({ err }, "reading signals failed; every service holds");
      signals = new Map(refs.map((r) => [r.key, { error: String(err) }]));
    }
    this.signals = signals;
    const snapshot = buildSnapshot(world, signals, this.memory, this.deps.intervalMs, await power);
    const plan = planFn(snapshot, nowMs);
    this.memory = plan.memory;
    this.current = plan;
    this.input = { snapshot, nowMs };
    this.byKey = new Map(plan.services.map((s) => [s.key, s]));
    this.seenByKey = new Map(snapshot.services.map((s) => [s.key, s]));
    if (this.deps.log.isLevelEnabled("debug")) this.logDecisions(plan);
    this.deps.onPlan(plan);
    return plan;
  }

  /** At debug level, every service's signals and decision: what an SRE reads to see why it scaled. */
  private logDecisions(plan: Plan): void {
    for (const s of plan.services) {
      const svc = this.seenByKey.get(s.key);
      const mem = plan.memory.services[s.key];
      this.deps.log.debug(
        {
          service: s.key,
          signals: svc?.signals,
          recommended: s.recommended,
          replicas: s.replicas,
          variants: s.variants,
          ...(s.limitedBy ? { limitedBy: s.limitedBy } : {}),
          ...(mem?.forecast ? { forecast: mem.forecast } : {}),
          ...(mem?.learned ? { learned: mem.learned } : {}),
        },
        "planned",
      );
    }
  }

  private async readPower(world: World, nowMs: number): Promise<Map<string, PowerReading>> {
    const requests = world.pools.flatMap((raw) => {
      const p = parseSpec(gpuNodePoolSchema, raw);
      const measured = p.success ? p.data.spec.power.measured : undefined;
      return p.success && measured ? [{ pool: p.data.metadata.name, measured }] : [];
    });
    if (!this.deps.power || requests.length === 0) return new Map();
    try {
      return await this.deps.power.read(requests, nowMs);
    } catch (err) {
      this.deps.log.warn({ err }, "reading measured power failed; pools count nominal watts");
      return new Map();
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = async () => {
      if (!this.running) return;
      let next = this.deps.intervalMs;
      try {
        const plan = await this.tick();
        // Growth waiting for replicas to drain (planning/handover.ts) comes as soon as they are gone.
        if (plan?.replanAfterMs !== undefined) next = Math.min(next, plan.replanAfterMs);
      } catch (err) {
        this.deps.log.error({ err }, "planning failed; services hold");
      }
      if (this.running) {
        this.timer = setTimeout(loop, next);
        this.timer.unref();
      }
    };
    void loop();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }
}
