// Capacity probe: learning that a profile is too pessimistic. The saturation rule (recommend.ts learn())
// lowers the capacity scale when replicas prove slower than their profile, but a fleet sized by a profile
// that is too low never saturates, so nothing ever shows that it could serve more: a profile at half the
// true capacity would cost twice the GPUs for ever. A profile is a prior, not a fact; the probe measures the
// capacity at the SLO on the fleet itself, in small steps, and only while the objectives are met with room.
//
// It is off unless spec.scaling.capacityProbe.enabled: latency is its only gauge of room, and some servers
// give none. A prefill-bound service (long prompts) keeps its TTFT flat until its replicas saturate, then
// queues, and a backlog of long prompts lowers what each replica serves. On the long-context family of the
// robustness benchmark a right H100 profile ran at 92% of the true capacity with every p95 under 0.43 of
// its target; the first step (13 replicas to 11) tipped it into a backlog that took ten minutes and 37
// replicas to clear (100% -> 88% of requests within the SLO, 13 -> 23 GPU-h: bench/capacity-probe.ts).
//
// - Start: the fleet is steady (the same ready replicas over a whole rate window, none starting or
//   draining), the token view is what sizes it (each replica serves at least PROBE_LOAD of its planned
//   tokens/s), every latency objective's p95 is under PROBE_START of its target, no SLO headroom is in
//   force, and no probe ended within PROBE_COOLDOWN_SECONDS. A fleet run at the utilisation target of a
//   right profile sits well above PROBE_START when its latency rises with load (about 0.75 of the ITL
//   target for a decode-bound service in the serving model), so such a profile is not probed.
// - Step: the capacity scale is raised by PROBE_STEP (the stabilization window's past recommendations are
//   restated at the new scale, so the window holds demand, not the old belief), the fleet shrinks by about
//   17%, and the next step waits until the fleet is steady and loaded again at the new scale.
// - Edge: when any objective's p95 reaches PROBE_EDGE of its target, misses exceed the objective's budget,
//   or the requests in the servers of a steady fleet grow, the tokens/s each replica serves then is the capacity at the SLO,
//   measured: the scale becomes that over the profile (never below where the probe started, never above
//   the step it reached), and the token view puts the fleet back at the utilisation target of it.
// - A step the fleet never settles on within the scale-down window and PROBE_WAIT_SECONDS (bounds, a budget, falling demand) is
//   taken back: the scale returns to the last one the fleet was seen serving at.
// The probe only raises the scale above where it starts; the saturation rule and the SLO headroom still
// act on what the probe learned when load or the request mix changes later.

/**
 * Each probe step raises the capacity scale by at least this factor (the fleet shrinks by about 17%), and
 * by more when the load is so close to the plan that the behaviour's tolerance would hold the fleet.
 */
export const PROBE_STEP = 1.2;
/** A probe starts only while every objective's p95 is under this share of its target. */
export const PROBE_START = 0.6;
/** A probe's edge: an objective's p95 at this share of its target. */
export const PROBE_EDGE = 0.9;
/** A replica is loaded when it serves at least this share of the tokens/s planned for it. */
export const PROBE_LOAD = 0.85;
/**
 * A step the fleet has not settled on within this time after the scale-down window (which may hold a
 * recommendation made for a spike before the step) is taken back.
 */
export const PROBE_WAIT_SECONDS = 180;
/** No probe starts within this time of the last one's end. */
export const PROBE_COOLDOWN_SECONDS = 3600;
/** The capacity scale a probe may reach (4x the profile). */
export const CAPACITY_SCALE_MAX = 4;

/** A probe in progress. */
export interface ProbeState {
  /** The capacity scale when the probe started. */
  fromScale: number;
  /** The highest scale the fleet was seen steady and loaded at, meeting the objectives. */
  tested: number;
  /** When the last step was taken (epoch ms). */
  stepAtMs: number;
}

export interface ProbeInput {
  /** The capacity scale in force (after the saturation rule). */
  scale: number;
  /** Profiled tokens/s of one replica (before the scale), > 0. */
  profiled: number;
  /** Tokens/s the fleet serves now. */
  served: number;
  /** Replicas that served them (the mean over the rate window). */
  serving: number;
  /** Same ready replicas over a whole rate window, all desired ones ready, none draining. */
  steady: boolean;
  /** The worst p95 over its target among the objectives that have both; undefined when none do. */
  latency?: number;
  /** Misses over the objective's budget in the window. */
  missed: boolean;
  /** The requests in the servers grow beyond noise (the fleet is short now). */
  short: boolean;
  /** targets.tokenUtilization. */
  utilization: number;
  /** behavior.tolerance: a step must take the token view's ratio beyond it. */
  tolerance: number;
  /** The scale-down stabilization window in force (seconds): a step waits for it. */
  downWindowSeconds: number;
  /** SLO headroom in force (>= 1). */
  headroom: number;
  nowMs: number;
  probe?: ProbeState;
  /** When the last probe ended (epoch ms). */
  probedAtMs?: number;
}

export interface ProbeResult {
  scale: number;
  probe?: ProbeState;
  probedAtMs?: number;
  /**
   * Factor by which the scale rose in this evaluation: past recommendations (made at the old scale) are
   * divided by it at the next evaluation, when the new scale is in force.
   */
  raised?: number;
  /** What happened, for the log: started, stepped, measured, taken back. */
  event?: string;
}

/** One evaluation of the capacity probe (rules in the file header). Pure. */
export function probeCapacity(input: ProbeInput): ProbeResult {
  const { scale, probe, nowMs } = input;
  const kept = {
    scale,
    ...(probe ? { probe } : {}),
    ...(input.probedAtMs !== undefined ? { probedAtMs: input.probedAtMs } : {}),
  };
  if (!(input.profiled > 0) || !(input.serving > 0)) return kept;
  const perReplica = input.served / input.serving;
  const planned = (input.profiled * scale * input.utilization) / Math.max(1, input.headroom);
  const loaded = perReplica >= PROBE_LOAD * planned;
  // The token view's ratio after the step (load / step) must leave the tolerance band with some margin.
  const step = Math.max(PROBE_STEP, (1.05 * perReplica) / planned / Math.max(0.05, 1 - input.tolerance));
  // Requests in the servers grow for a minute after the fleet shrinks (each replica runs more at once):
  // only on a steady fleet is that growth a shortage.
  const edge = (input.short && input.steady) || input.missed || (input.latency ?? 0) >= PROBE_EDGE;
  if (probe) {
    if (edge && perReplica > 0) {
      const measured = perReplica / input.profiled;
      const next = Math.min(scale, Math.max(probe.fromScale, measured));
      return {
        scale: next,
        probedAtMs: nowMs,
        event: `probe: ${round(perReplica)} tokens/s per replica at the SLO's edge: capacity scale ${round(scale)} -> ${round(next)}`,
      };
    }
    if (input.steady && loaded) {
      const tested = Math.max(probe.tested, scale);
      const raised = scale * step;
      if (raised > CAPACITY_SCALE_MAX) {
        return {
          scale,
          probedAtMs: nowMs,
          event: `probe: objectives met at capacity scale ${round(scale)}, the most a probe may learn`,
        };
      }
      return {
        scale: raised,
        probe: { fromScale: probe.fromScale, tested, stepAtMs: nowMs },
        ...(input.probedAtMs !== undefined ? { probedAtMs: input.probedAtMs } : {}),
        raised: step,
        event: `probe: objectives met at ${round(perReplica)} tokens/s per replica: capacity scale ${round(scale)} -> ${round(raised)}`,
      };
    }
    const wait = input.downWindowSeconds + PROBE_WAIT_SECONDS;
    if (nowMs - probe.stepAtMs > wait * 1000) {
      return {
        scale: Math.min(scale, probe.tested),
        probedAtMs: nowMs,
        event: `probe: the fleet did not settle within ${round(wait)}s of the last step: capacity scale back to ${round(Math.min(scale, probe.tested))}`,
      };
    }
    return kept;
  }
  const cooled = input.probedAtMs === undefined || nowMs - input.probedAtMs >= PROBE_COOLDOWN_SECONDS * 1000;
  const comfortable = !edge && input.latency !== undefined && input.latency <= PROBE_START;
  if (
    cooled &&
    comfortable &&
    input.steady &&
    loaded &&
    input.headroom <= 1.01 &&
    scale * step <= CAPACITY_SCALE_MAX
  ) {
    const raised = scale * step;
    return {
      scale: raised,
      probe: { fromScale: scale, tested: scale, stepAtMs: nowMs },
      ...(input.probedAtMs !== undefined ? { probedAtMs: input.probedAtMs } : {}),
      raised: step,
      event: `probe: every objective's p95 within ${round((input.latency ?? 0) * 100)}% of its target at ${round(perReplica)} tokens/s per replica: capacity scale ${round(scale)} -> ${round(raised)}`,
    };
  }
  return kept;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
