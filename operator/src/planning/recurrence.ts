// Recurring bursts: when demand bursts again and again within the time a scale-down and a scale-up take,
// the scale-down window lets each burst go and the next one finds the fleet at its base level, a lead time
// short. The fleet then swings between the two levels all day, paying for the way up and missing the start
// of every burst.
//
// The planner keeps, for each minute of the last hour, the highest level the arrivals needed at the SLO
// (recommend.ts demandLevel: not the queue view, which during a burst the fleet was short for asks for the
// backlog too, and would be held at that for every burst after; the recommendation itself only when the
// servers report no arrival rate or request size), and finds bursts in it:
// minutes at or above half-way between the hour's lowest and highest minute, grouped into episodes; an
// episode ends only when the level falls below a quarter of the way (a step's plateau just under half-way,
// with the backlog's spike at its start and another later, is one episode). With
// at least two episodes it knows the period P (the mean gap between starts) and the burst length B, and
// compares the two ways of serving them at the SLO:
//
// - hold the burst level all the time: (peak - base) x P per period;
// - follow the base on purpose: to meet the SLO the fleet must be at the burst level from a lead time
//   before each burst until the scale-down window after it: (peak - base) x (lead + B + window).
//
// Following is cheaper only when P - B exceeds lead + window. Otherwise the planner holds the burst level
// (the highest minute of the last period), and says so. When following is cheaper, it follows on purpose:
// from a lead time (and AHEAD_SLACK_SECONDS, for a burst that comes early or is seen late) before the next
// burst is due (the last one's start plus P) until it is due to be over (plus a minute), it asks for the
// last burst's level, so that the capacity is there when the burst comes instead of a lead time after
// it; once the burst comes (an episode of its own) it holds through it until it is due to be over. Between
// bursts, the fleet follows the base as the other views ask. When the bursts stop (none for two periods),
// the hold and the following end. Pure: the per-minute peaks are kept in the planner's memory.

/** How far back bursts are looked for. */
export const RECURRENCE_HORIZON_SECONDS = 3600;
/** Bursts are told apart from noise only when the highest minute is at least this much above the lowest. */
export const BURST_MIN_RATIO = 1.3;
/** ... and at least this many replicas above it. */
export const BURST_MIN_REPLICAS = 2;
/** Episodes seen before a period is trusted. */
export const MIN_EPISODES = 2;
/** Following on purpose asks for the burst level this much earlier than a lead time before it is due. */
export const AHEAD_SLACK_SECONDS = 120;

const MINUTE_MS = 60_000;

/** Highest recommendation per minute: [minute start, epoch ms; replicas], oldest first. */
export type MinutePeaks = [number, number][];

/** Adds this evaluation's recommendation to its minute, and drops minutes older than the horizon. */
export function recordPeak(
  prev: readonly [number, number][] | undefined,
  nowMs: number,
  value: number,
): MinutePeaks {
  const minute = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  const cutoff = nowMs - RECURRENCE_HORIZON_SECONDS * 1000;
  const out: MinutePeaks = (prev ?? []).filter(([t]) => t >= cutoff && t <= minute).map(([t, v]) => [t, v]);
  const last = out[out.length - 1];
  if (last && last[0] === minute) last[1] = Math.max(last[1], value);
  else out.push([minute, value]);
  return out;
}

export interface RecurrenceHold {
  /**
   * hold: the burst level all the time (bursts too close to follow); ahead: the burst level from a lead
   * time before the next burst is due until it is over (following on purpose).
   */
  kind: "hold" | "ahead";
  /** Replicas to hold: the highest minute of the last period (hold), or of the last burst (ahead). */
  level: number;
  /** Mean gap between burst starts, seconds. */
  periodSeconds: number;
  /** Mean burst length, seconds. */
  burstSeconds: number;
  episodes: number;
  /** A minute at or above this level (replicas) is in a burst: half-way between the hour's lowest and highest. */
  threshold: number;
  message: string;
}

/**
 * The level to hold when bursts recur (see the header): all the time when they recur too often to follow,
 * ahead of the next one when following is cheaper; or undefined: no recurring bursts, or none due soon.
 */
export function recurrenceHold(
  peaks: readonly [number, number][],
  nowMs: number,
  leadSeconds: number,
  windowSeconds: number,
): RecurrenceHold | undefined {
  const followSeconds = leadSeconds + windowSeconds;
  if (peaks.length < 3) return undefined;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const [, v] of peaks) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (hi < lo * BURST_MIN_RATIO || hi - lo < BURST_MIN_REPLICAS) return undefined;
  const threshold = lo + (hi - lo) / 2;
  const fallen = lo + (hi - lo) / 4;
  const episodes: { start: number; end: number }[] = [];
  // An episode ends only when the level falls below a quarter of the way: a step's plateau with a spike
  // at each end is one episode, not two bursts.
  let fell = true;
  for (const [t, v] of peaks) {
    const open = episodes[episodes.length - 1];
    if (v >= threshold) {
      if (open && !fell) open.end = t;
      else episodes.push({ start: t, end: t });
      fell = false;
    } else if (v < fallen) fell = true;
  }
  if (episodes.length < MIN_EPISODES) return undefined;
  const first = episodes[0]!;
  const last = episodes[episodes.length - 1]!;
  const periodSeconds = (last.start - first.start) / 1000 / (episodes.length - 1);
  const burstSeconds =
    episodes.reduce((s, e) => s + (e.end - e.start) / 1000 + MINUTE_MS / 1000, 0) / episodes.length;
  // The next burst is overdue by a whole period: the bursts have stopped.
  if ((nowMs - last.end) / 1000 > 2 * periodSeconds) return undefined;
  if (periodSeconds - burstSeconds > followSeconds) {
    return ahead(peaks, nowMs, episodes, { periodSeconds, burstSeconds, leadSeconds, threshold });
  }
  const level = highest(peaks, nowMs - periodSeconds * 1000 - MINUTE_MS);
  const round = (x: number) => Math.round(x);
  return {
    kind: "hold",
    level,
    periodSeconds,
    burstSeconds,
    episodes: episodes.length,
    threshold,
    message: `bursts recur every ${round(periodSeconds)}s (${episodes.length} in the last hour, ${round(burstSeconds)}s long): holding their level ${level}, cheaper than following the base (that needs the burst level from a lead time before each burst until the ${round(followSeconds)}s lead time + scale-down window after it)`,
  };
}

/** The highest minute from `from` to `to` (epoch ms, both included); 0 when none. */
function highest(peaks: readonly [number, number][], from: number, to = Number.POSITIVE_INFINITY): number {
  let level = 0;
  for (const [t, v] of peaks) if (t >= from && t <= to) level = Math.max(level, v);
  return level;
}

/**
 * Following on purpose: the last burst's level from a lead time before the next is due until it is over. The
 * burst that was due, once it comes, is an episode of its own: the fleet holds through it (at the higher of
 * its level so far and the one before's) until it is due to be over, instead of taking it for the last burst
 * and waiting for the one after.
 */
function ahead(
  peaks: readonly [number, number][],
  nowMs: number,
  episodes: readonly { start: number; end: number }[],
  o: { periodSeconds: number; burstSeconds: number; leadSeconds: number; threshold: number },
): RecurrenceHold | undefined {
  const period = o.periodSeconds * 1000;
  const last = episodes[episodes.length - 1]!;
  const levelOf = (e: { start: number; end: number }) => highest(peaks, e.start, e.end);
  const following = (level: number, what: string): RecurrenceHold => ({
    kind: "ahead",
    level,
    periodSeconds: o.periodSeconds,
    burstSeconds: o.burstSeconds,
    episodes: episodes.length,
    threshold: o.threshold,
    message: `bursts recur every ${Math.round(o.periodSeconds)}s (${episodes.length} in the last hour, ${Math.round(o.burstSeconds)}s long), too far apart to hold: ${what}`,
  });
  const thisMinute = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  const overAt = (start: number) => start + o.burstSeconds * 1000 + MINUTE_MS;
  // The burst going on now (its episode reaches this minute or the one before). recurrenceHold calls this
  // with at least MIN_EPISODES (2) episodes, so there is one before it.
  if (last.end >= thisMinute - MINUTE_MS && nowMs <= overAt(last.start)) {
    const level = Math.max(levelOf(last), levelOf(episodes[episodes.length - 2]!));
    return following(
      level,
      `holding ${level} through the one that came at ${new Date(last.start).toISOString()} until it is due to be over`,
    );
  }
  // The next burst due: the first whose expected end has not passed.
  let due = last.start + period;
  while (overAt(due) < nowMs) due += period;
  const from = due - (o.leadSeconds + AHEAD_SLACK_SECONDS) * 1000;
  if (nowMs < from || nowMs > overAt(due)) return undefined;
  const level = levelOf(last);
  return following(
    level,
    `following the base, and raising to the last burst's level ${level} a lead time ahead of the next, due at ${new Date(due).toISOString()}`,
  );
}
