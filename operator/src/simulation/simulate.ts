// The discrete-event loop: replays a trace through the simulated fleet in virtual time under one policy, and
// scores the run. Deterministic: no clock reads and no unseeded randomness, so the same trace, scenario and
// policy give the same result.
//
// Events, in time order (ties in this order): lifecycle (nodes and pods becoming ready, the node policy's
// next look), the sample tick (every `sampleSeconds`, 1 s: drains checked, finished requests collected, power
// and budgets metered), the policy's observation and decision ticks, then the arrivals at that instant. After
// each lifecycle event, decision, and sample tick with pods draining, the pools' nodes are reconciled as the
// GPUNodePool controller does it (Fleet.reconcileNodes: the node policy, then the provider; asynchronous, as
// the NodeProvider interface is, so simulate() returns a Promise). Decisions stop at
// the end of the trace; the fleet then finishes what it holds (at most `drainSeconds`). Billing and power are
// metered over the trace's duration [0, T] only, the same window for every policy.
//
// Several services (Scenario.otherServices, each with its trace in RunOptions.otherTraces) share one fleet,
// its meters and its budgets; each is scored on its own requests (RunResult: the scenario's service;
// RunResult.otherServices: the others).
import { Fleet, type FleetOverrides, type Pod } from "./fleet.ts";
import type { Family, FleetView, Params, Policy } from "./policy.ts";
import { clientTimeoutOf, primaryPool, type Scenario, ScenarioError } from "./scenario.ts";
import type { Trace } from "./trace.ts";
import { fleetWorld } from "./world.ts";

export interface RunOptions {
  /** Replicas ready at t = 0 (the warm start: the fleet sized for the trace's first minute). */
  warmReplicas: number;
  overrides?: FleetOverrides;
  /** Meter and collect every this many seconds (default 1). */
  sampleSeconds?: number;
  /** A timeline point every this many seconds (default 60). */
  timelineSeconds?: number;
  /** How long after the trace's end requests may still finish (default 3600 s). */
  drainSeconds?: number;
  /** Score only requests arriving at or after this time (a measurement's warm-up). Default 0. */
  scoreFrom?: number;
  /**
   * Seconds of pre-roll (default 60): the warm fleet serves the trace's last `prerollSeconds` (wrapped around,
   * shifted before t = 0) unscored and unbilled, so that at t = 0 it is warm: serving, counters in steady
   * state. 0: the fleet starts empty at t = 0.
   */
  prerollSeconds?: number;
  /** Also average running and waiting requests per ready replica (reads every replica's metrics each sample). */
  detailedMeans?: boolean;
  /** Also count scored requests and SLO misses per window of this many seconds, by arrival (RunResult.windows). */
  windowSeconds?: number;
  /** The trace of each of Scenario.otherServices, in order (same start as the main trace). */
  otherTraces?: Trace[];
  /** Replicas of each of Scenario.otherServices ready at t = 0, on its primary pool (default 1 each). */
  otherWarmReplicas?: number[];
}

/** How one service's requests fared. */
export interface Score {
  /**
   * Requests scored: those arriving from `scoreFrom` on that the servers accepted. A request longer than the
   * servers' context is refused (vLLM answers 400): it is counted in `refused`, not here.
   */
  requests: number;
  /** Requests refused because prompt + output exceed the servers' context (not scored, not SLO misses). */
  refused: number;
  /** Scored requests that met both TTFT and ITL objectives. */
  sloMet: number;
  sloAttainment: number;
  /** Scored requests never served by the end of the run (their TTFT is censored at the run's end). */
  unserved: number;
  /**
   * Scored requests whose clients gave up waiting (Scenario.clientTimeoutSeconds): SLO misses, their TTFT
   * taken as the timeout.
   */
  abandoned: number;
  ttftP50: number;
  ttftP95: number;
  ttftP99: number;
}

/** One of Scenario.otherServices' score. */
export interface ServiceScore extends Score {
  /** namespace/name */
  key: string;
}

export interface TimelinePoint {
  t: number;
  /** Replicas the Deployments ask for. */
  desired: number;
  ready: number;
  nodes: number;
  powerW: number;
  /** The policy's last decision reason for the scenario's service, when it gives one (Decision.reason). */
  reason?: string;
}

/** A run: the scenario's service's score (Score), and the fleet's. */
export interface RunResult extends Score {
  name: string;
  family: Family;
  params: Params;
  gpuHours: number;
  /** With more than one pool: GPU-hours billed per pool. */
  gpuHoursByPool?: Record<string, number>;
  costUsd: number;
  energyKWh: number;
  peakPowerW: number;
  budgetViolationSeconds: number;
  scaleActions: number;
  /** Time-averaged over the trace: ready replicas, and per ready replica in flight, running, waiting, KV use. */
  means: { ready: number; inFlight: number; running: number; waiting: number; kv: number };
  timeline: TimelinePoint[];
  reasons?: Record<string, number>;
  /** With RunOptions.windowSeconds: scored requests and those missing the SLO, per window of arrival. */
  windows?: { seconds: number; requests: number[]; misses: number[] };
  /** With Scenario.otherServices: each other service's own score (the fields above score the main one). */
  otherServices?: ServiceScore[];
}

interface Requests {
  arrivals: Float64Array;
  prompt: Int32Array;
  output: Int32Array;
  /** The service of each request (index in servicesOf), when there are several. */
  service?: Uint8Array;
}

/** The main trace's requests and the other services', merged in arrival order, each tagged with its service. */
function mergeServices(trace: Trace, others: readonly Trace[]): Trace & { service?: Uint8Array } {
  if (others.length === 0) return trace;
  if (others.length > 254) throw new ScenarioError("at most 255 simulated services");
  const all = [trace, ...others];
  const n = all.reduce((s, t) => s + t.arrivals.length, 0);
  const order: [number, number][] = [];
  all.forEach((t, svc) => {
    for (let k = 0; k < t.arrivals.length; k++) order.push([svc, k]);
  });
  order.sort((a, b) => all[a[0]]!.arrivals[a[1]]! - all[b[0]]!.arrivals[b[1]]! || a[0] - b[0] || a[1] - b[1]);
  const arrivals = new Float64Array(n);
  const prompt = new Int32Array(n);
  const output = new Int32Array(n);
  const service = new Uint8Array(n);
  order.forEach(([svc, k], i) => {
    const t = all[svc]!;
    arrivals[i] = t.arrivals[k]!;
    prompt[i] = t.prompt[k]!;
    output[i] = t.output[k]!;
    service[i] = svc;
  });
  const durationSeconds = Math.max(...all.map((t) => t.durationSeconds));
  return { ...trace, durationSeconds, arrivals, prompt, output, service };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

function view(fleet: Fleet, primary: string, clock: { t: number }, startMs: number): FleetView {
  const podView = (p: Pod) => ({ id: p.id, pool: p.pool, state: p.state });
  return {
    get t() {
      return clock.t;
    },
    get nowMs() {
      return startMs + Math.round(clock.t * 1000);
    },
    scenario: fleet.scenario,
    primaryPool: primary,
    pods: () => fleet.pods.map(podView),
    desired: (pool) => fleet.desired(pool),
    ready: (pool) => fleet.readyCount(pool),
    readyMetrics: () =>
      fleet.readyMetrics(clock.t).map(({ pod, metrics }) => ({ pod: podView(pod), metrics })),
    readyInFlight: () => fleet.routable.map((p) => fleet.inFlight(p, clock.t)),
    heldRequests: () => fleet.heldRequests,
    world: () => fleetWorld(fleet),
  };
}

/** The trace's requests preceded by its last `seconds` shifted before t = 0 (indices [0, preroll) are those). */
function withPreroll(
  trace: Trace & { service?: Uint8Array },
  seconds: number,
): Requests & { preroll: number; prerollSeconds: number } {
  const T = trace.durationSeconds;
  const s = Math.min(seconds, T);
  if (!(s > 0))
    return {
      arrivals: trace.arrivals,
      prompt: trace.prompt,
      output: trace.output,
      ...(trace.service ? { service: trace.service } : {}),
      preroll: 0,
      prerollSeconds: 0,
    };
  let first = trace.arrivals.length;
  while (first > 0 && trace.arrivals[first - 1]! > T - s) first--;
  const m = trace.arrivals.length - first;
  const n = trace.arrivals.length + m;
  const arrivals = new Float64Array(n);
  const prompt = new Int32Array(n);
  const output = new Int32Array(n);
  for (let k = 0; k < m; k++) {
    arrivals[k] = trace.arrivals[first + k]! - T;
    prompt[k] = trace.prompt[first + k]!;
    output[k] = trace.output[first + k]!;
  }
  arrivals.set(trace.arrivals, m);
  prompt.set(trace.prompt, m);
  output.set(trace.output, m);
  if (!trace.service) return { arrivals, prompt, output, preroll: m, prerollSeconds: s };
  const service = new Uint8Array(n);
  service.set(trace.service.subarray(first), 0);
  service.set(trace.service, m);
  return { arrivals, prompt, output, service, preroll: m, prerollSeconds: s };
}

/** Replays `trace` (and the other services' traces) through the fleet under `policy`. */
export async function simulate(
  main: Trace,
  scenario: Scenario,
  policy: Policy,
  options: RunOptions,
): Promise<RunResult> {
  const others = scenario.otherServices ?? [];
  if ((options.otherTraces ?? []).length !== others.length) {
    throw new ScenarioError(
      `${others.length} other services need as many traces (RunOptions.otherTraces), got ${(options.otherTraces ?? []).length}`,
    );
  }
  const trace = mergeServices(main, options.otherTraces ?? []);
  const T = trace.durationSeconds;
  const dt = options.sampleSeconds ?? 1;
  const timelineEvery = options.timelineSeconds ?? 60;
  const end = T + (options.drainSeconds ?? 3600);
  const requests = withPreroll(trace, options.prerollSeconds ?? 60);
  const pre = requests.preroll;
  const t0 = pre > 0 ? -requests.prerollSeconds : 0;
  const deletion = options.overrides?.deletion ?? policy.deletion;
  const fleet = new Fleet(scenario, requests, {
    billUntil: T,
    overrides: { ...options.overrides, ...(deletion ? { deletion } : {}) },
  });
  const primary = primaryPool(scenario);
  fleet.warmStart(
    primary,
    policy.initialReplicas?.(options.warmReplicas) ?? options.warmReplicas,
    t0,
    others.map((service, i) => ({
      pool: primaryPool({ ...scenario, service }),
      replicas: options.otherWarmReplicas?.[i] ?? 1,
    })),
  );
  const clock = { t: t0 };
  const v = view(fleet, primary, clock, trace.startMs);
  const totalDesired = () => fleet.poolNames().reduce((s, p) => s + fleet.desired(p), 0);

  const n = requests.arrivals.length;
  const arrivals = requests.arrivals;
  let i = 0;
  let nextDecision = policy.intervalSeconds;
  // The first observation is at t = 0; then every sampleSeconds, or before each decision.
  let nextObserve = 0;
  let nextSample = t0 + dt;
  let nextTimeline = 0;
  let scaleActions = 0;
  let energyJ = 0;
  let power = fleet.powerWatts(t0);
  let peak = 0;
  let lastPowerT = 0;
  let overBudget = 0;
  const sums = { ready: 0, inFlight: 0, running: 0, waiting: 0, kv: 0, samples: 0, weighted: 0 };
  const timeline: TimelinePoint[] = [];
  /** The policy's last decision reason (Decision.reason), for the timeline. */
  let lastReason: string | undefined;

  const sample = async (t: number) => {
    if (fleet.checkDrains(t)) await fleet.reconcileNodes(t);
    fleet.collectAll(t);
    if (t > 0 && lastPowerT < T) {
      energyJ += power * (Math.min(t, T) - lastPowerT);
      lastPowerT = Math.min(t, T);
    }
    if (t > T) return;
    power = fleet.powerWatts(t);
    if (t < 0) return;
    if (power > peak) peak = power;
    // Each sample stands for the dt before it: over budget seconds are counted over (0, T].
    if (t > 0 && fleet.overBudget(trace.startMs + t * 1000)) overBudget += dt;
    const ready = fleet.routable;
    sums.samples++;
    sums.ready += ready.length;
    for (const pod of ready) {
      const s = pod.server!;
      sums.inFlight += s.inFlight;
      sums.weighted++;
      sums.kv += s.kvUsedTokens / s.profile.kvCapacityTokens;
      if (options.detailedMeans) {
        const m = s.metrics();
        sums.running += m.numRequestsRunning;
        sums.waiting += m.numRequestsWaiting;
      }
    }
    while (nextTimeline <= t + 1e-9) {
      timeline.push({
        t: nextTimeline,
        desired: totalDesired(),
        ready: ready.length,
        nodes: fleet.nodeCount(),
        powerW: power,
        ...(lastReason !== undefined ? { reason: lastReason } : {}),
      });
      nextTimeline += timelineEvery;
    }
  };

  for (;;) {
    const ta = i < n ? arrivals[i]! : Number.POSITIVE_INFINITY;
    const tw = fleet.nextWake();
    const td = nextDecision < T ? nextDecision : Number.POSITIVE_INFINITY;
    const to = nextObserve < T ? nextObserve : Number.POSITIVE_INFINITY;
    const t = Math.min(ta, tw, td, to, nextSample);
    if (t > end) break;
    if (i >= n && t > T && fleet.accounted >= n) break;
    clock.t = t;
    if (tw <= t) {
      fleet.wake(t);
      await fleet.reconcileNodes(t);
    }
    if (nextSample <= t) {
      await sample(t);
      nextSample += dt;
    }
    if (to <= t) {
      policy.observe?.(v);
      nextObserve += policy.sampleSeconds ?? Number.POSITIVE_INFINITY;
    }
    if (td <= t) {
      if (policy.sampleSeconds === undefined) policy.observe?.(v);
      const before = totalDesired();
      const d = policy.decide(v);
      if (d.reason !== undefined) lastReason = d.reason;
      for (const [pool, replicas] of Object.entries(d.replicas)) fleet.setReplicas(pool, replicas, t);
      for (const [pool, nodes] of Object.entries(d.nodes ?? {})) fleet.setPolicyNodes(pool, nodes);
      await fleet.reconcileNodes(t);
      if (totalDesired() !== before) scaleActions++;
      nextDecision = t + Math.min(policy.intervalSeconds, d.againInSeconds ?? Number.POSITIVE_INFINITY);
    }
    while (i < n && arrivals[i]! <= t) fleet.route(i++, t);
  }
  fleet.finishAll();
  fleet.closeBilling();
  if (lastPowerT < T) energyJ += power * (T - lastPowerT);

  // Score (pre-roll requests are not scored), each service on its own requests.
  const from = options.scoreFrom ?? 0;
  const { ttft, itl } = fleet.outcomes;
  const slo = scenario.slo;
  const { refused, abandoned } = fleet.outcomes;
  const timeout = clientTimeoutOf(scenario);
  const serviceOf = requests.service;
  const runEnd = Math.max(end, T);
  const scoreOf = (svc: number, ws: number | undefined) => {
    const mine = (k: number) => arrivals[k]! >= from && (serviceOf?.[k] ?? 0) === svc;
    let scored = 0;
    let met = 0;
    let unserved = 0;
    let gaveUp = 0;
    let refusedScored = 0;
    for (let k = pre; k < n; k++) {
      if (!mine(k)) continue;
      if (refused[k] === 1) refusedScored++;
      else scored++;
    }
    const ttfts = new Float64Array(scored);
    let j = 0;
    const windows =
      ws === undefined
        ? undefined
        : (() => {
            const count = Math.max(1, Math.ceil(T / ws));
            return {
              seconds: ws,
              requests: new Array<number>(count).fill(0),
              misses: new Array<number>(count).fill(0),
            };
          })();
    for (let k = pre; k < n; k++) {
      if (!mine(k) || refused[k] === 1) continue;
      const f = ttft[k]!;
      const w = windows
        ? Math.min(windows.requests.length - 1, Math.floor(arrivals[k]! / windows.seconds))
        : 0;
      if (windows) windows.requests[w]!++;
      if (abandoned[k] === 1) {
        gaveUp++;
        ttfts[j++] = timeout;
        if (windows) windows.misses[w]!++;
        continue;
      }
      if (Number.isNaN(f)) {
        unserved++;
        ttfts[j++] = runEnd - arrivals[k]!;
        if (windows) windows.misses[w]!++;
        continue;
      }
      ttfts[j++] = f;
      if (f <= slo.ttftSeconds && itl[k]! <= slo.itlSeconds) met++;
      else if (windows) windows.misses[w]!++;
    }
    ttfts.sort();
    const score: Score = {
      requests: scored,
      refused: refusedScored,
      sloMet: met,
      sloAttainment: scored > 0 ? met / scored : 1,
      unserved,
      abandoned: gaveUp,
      ttftP50: percentile(ttfts, 50),
      ttftP95: percentile(ttfts, 95),
      ttftP99: percentile(ttfts, 99),
    };
    return { score, windows };
  };
  const { score: mainScore, windows } = scoreOf(0, options.windowSeconds);
  const samples = Math.max(1, sums.samples);
  const perReady = Math.max(1, sums.weighted);
  return {
    name: policy.name,
    family: policy.family,
    params: policy.params,
    ...mainScore,
    gpuHours: fleet.gpuSeconds / 3600,
    ...(scenario.pools.length > 1
      ? {
          gpuHoursByPool: Object.fromEntries(
            scenario.pools.map((p) => [p.name, (fleet.gpuSecondsByPool.get(p.name) ?? 0) / 3600]),
          ),
        }
      : {}),
    costUsd: fleet.costUsd,
    energyKWh: energyJ / 3.6e6,
    peakPowerW: peak,
    budgetViolationSeconds: overBudget,
    scaleActions,
    means: {
      ready: sums.ready / samples,
      inFlight: sums.inFlight / perReady,
      running: sums.running / perReady,
      waiting: sums.waiting / perReady,
      kv: sums.kv / perReady,
    },
    timeline,
    ...(policy.reasons ? { reasons: policy.reasons() } : {}),
    ...(windows ? { windows } : {}),
    ...(others.length > 0
      ? {
          otherServices: others.map((o, i) => ({
            key: `${o.namespace}/${o.name}`,
            ...scoreOf(i + 1, undefined).score,
          })),
        }
      : {}),
  };
}
