// Windows of samples per target, and what is read from them: counter rates with reset handling, quantiles
// from cumulative histograms (Prometheus's histogram_quantile, over the increase between scrapes), and
// staleness. Pure: every time is passed in.

/** One observation of a target at a time (epoch ms). */
export interface Point<T> {
  tMs: number;
  value: T;
}

/** One cumulative bucket: observations less than or equal to `le`. */
export interface Bucket {
  le: number;
  count: number;
}

/** A cumulative histogram: buckets ascending by `le`, the last normally `+Inf`. */
export interface Histogram {
  buckets: readonly Bucket[];
  sum?: number;
  count?: number;
}

export interface WindowLimits {
  /** Points older than this, relative to the newest, are dropped. */
  maxAgeMs: number;
  /** At most this many points are kept (the newest). Default 64. */
  maxPoints?: number;
}

/**
 * Appends a point to a window (oldest first) and trims it. A point not newer than the last one replaces it
 * when it has the same time and is otherwise ignored: windows only move forward.
 */
export function appendPoint<T>(
  window: readonly Point<T>[],
  point: Point<T>,
  limits: WindowLimits,
): Point<T>[] {
  const last = window[window.length - 1];
  let points: Point<T>[];
  if (last && point.tMs < last.tMs) return [...window];
  if (last && point.tMs === last.tMs) points = [...window.slice(0, -1), point];
  else points = [...window, point];
  const oldest = point.tMs - limits.maxAgeMs;
  const maxPoints = Math.max(1, limits.maxPoints ?? 64);
  let start = 0;
  while (start < points.length - 1 && (points[start]?.tMs ?? 0) < oldest) start++;
  start = Math.max(start, points.length - maxPoints);
  return points.slice(start);
}

/** True when a signal observed at `observedAtMs` is older than two intervals at `nowMs`: missing, not zero. */
export function isStale(observedAtMs: number, nowMs: number, intervalMs: number): boolean {
  return !(nowMs - observedAtMs <= 2 * intervalMs);
}

/** The increase of a counter between two readings. A counter that went down was reset: it counts from 0. */
export function counterIncrease(prev: number, cur: number): number {
  if (!Number.isFinite(prev) || !Number.isFinite(cur)) return 0;
  return Math.max(0, cur >= prev ? cur - prev : cur);
}

/**
 * Per-second rate of a counter over a window of readings (oldest first), summing increases between
 * consecutive readings so resets inside the window are counted. Undefined with fewer than two finite
 * readings or no time between them. Never negative.
 */
export function counterRate(points: readonly Point<number>[]): number | undefined {
  const finite = points.filter((p) => Number.isFinite(p.value) && Number.isFinite(p.tMs));
  const first = finite[0];
  const last = finite[finite.length - 1];
  if (!first || !last || last.tMs <= first.tMs) return undefined;
  let increase = 0;
  for (let i = 1; i < finite.length; i++) {
    increase += counterIncrease(finite[i - 1]?.value ?? 0, finite[i]?.value ?? 0);
  }
  return increase / ((last.tMs - first.tMs) / 1000);
}

/** Buckets with cumulative counts made monotone (as Prometheus does) and NaN counts dropped. */
function cleanBuckets(buckets: readonly Bucket[]): Bucket[] {
  const sorted = buckets
    .filter((b) => !Number.isNaN(b.le) && Number.isFinite(b.count))
    .slice()
    .sort((a, b) => a.le - b.le);
  const out: Bucket[] = [];
  let max = 0;
  for (const b of sorted) {
    max = Math.max(max, b.count);
    const prev = out[out.length - 1];
    if (prev && prev.le === b.le) prev.count = max;
    else out.push({ le: b.le, count: max });
  }
  return out;
}

function sameBounds(a: readonly Bucket[], b: readonly Bucket[]): boolean {
  return a.length === b.length && a.every((x, i) => x.le === b[i]?.le);
}

/**
 * The observations a histogram gained between two readings. When the bounds changed or any count went
 * down, the histogram was reset (the server restarted): the increase is the new reading itself.
 */
export function histogramIncrease(prev: Histogram, cur: Histogram): Histogram {
  const p = cleanBuckets(prev.buckets);
  const c = cleanBuckets(cur.buckets);
  const reset =
    !sameBounds(p, c) ||
    c.some((b, i) => b.count < (p[i]?.count ?? 0)) ||
    (cur.count !== undefined && prev.count !== undefined && cur.count < prev.count);
  if (reset) return { buckets: c, ...numbers(cur.sum, cur.count) };
  const buckets = c.map((b, i) => ({ le: b.le, count: b.count - (p[i]?.count ?? 0) }));
  const sum = cur.sum !== undefined && prev.sum !== undefined ? cur.sum - prev.sum : undefined;
  const count = cur.count !== undefined && prev.count !== undefined ? cur.count - prev.count : undefined;
  return { buckets, ...numbers(sum, count) };
}

function numbers(sum: number | undefined, count: number | undefined): { sum?: number; count?: number } {
  return { ...(sum !== undefined ? { sum } : {}), ...(count !== undefined ? { count } : {}) };
}

/** The observations a histogram gained over a window of readings (oldest first), resets included. */
export function histogramWindowIncrease(points: readonly Point<Histogram>[]): Histogram | undefined {
  if (points.length < 2) return undefined;
  let total: Histogram | undefined;
  for (let i = 1; i < points.length; i++) {
    const prev = points[i - 1];
    const cur = points[i];
    if (!prev || !cur) continue;
    const inc = histogramIncrease(prev.value, cur.value);
    total = total ? mergeHistograms([total, inc]) : inc;
  }
  return total;
}

/** A histogram's cumulative count at `le`: the count of its largest bucket bound not above `le`. */
function countAt(buckets: readonly Bucket[], le: number): number {
  let count = 0;
  for (const b of buckets) {
    if (b.le <= le) count = b.count;
    else break;
  }
  return count;
}

/**
 * Sums histograms (across pods or engines). Bounds are the union of all bounds; a histogram without a
 * bound contributes its count at the next lower bound it has, a lower bound on the truth. Histograms of
 * one server version share their bounds, so this is exact in practice.
 */
export function mergeHistograms(histograms: readonly Histogram[]): Histogram | undefined {
  if (histograms.length === 0) return undefined;
  const cleaned = histograms.map((h) => cleanBuckets(h.buckets));
  const bounds = [...new Set(cleaned.flatMap((bs) => bs.map((b) => b.le)))].sort((a, b) => a - b);
  const buckets = bounds.map((le) => ({ le, count: cleaned.reduce((n, bs) => n + countAt(bs, le), 0) }));
  const allSums = histograms.every((h) => h.sum !== undefined);
  const allCounts = histograms.every((h) => h.count !== undefined);
  return {
    buckets,
    ...numbers(
      allSums ? histograms.reduce((n, h) => n + (h.sum ?? 0), 0) : undefined,
      allCounts ? histograms.reduce((n, h) => n + (h.count ?? 0), 0) : undefined,
    ),
  };
}

/**
 * A histogram's buckets cleaned (ascending, monotone, one per bound) with their total, when there is
 * something to read: at least two buckets, the last one +Inf, and observations. Undefined otherwise.
 */
export function readableBuckets(
  buckets: readonly Bucket[],
): { buckets: Bucket[]; total: number } | undefined {
  const cleaned = cleanBuckets(buckets);
  const top = cleaned[cleaned.length - 1];
  if (cleaned.length < 2 || !top || top.le !== Number.POSITIVE_INFINITY || !(top.count > 0)) return undefined;
  return { buckets: cleaned, total: top.count };
}

/**
 * The q-quantile of a cumulative histogram, as Prometheus's histogram_quantile computes it: linear
 * interpolation inside the bucket that holds the rank, the first bucket starting at 0 (when its bound is
 * positive), and the largest finite bound when the rank falls in the +Inf bucket. Undefined when there is
 * nothing to read: no +Inf bucket, fewer than two buckets, no observations, or q outside [0, 1].
 */
export function histogramQuantile(q: number, histogram: Histogram): number | undefined {
  if (!(q >= 0 && q <= 1)) return undefined;
  const readable = readableBuckets(histogram.buckets);
  if (!readable) return undefined;
  const { buckets, total } = readable;
  const rank = q * total;
  let i = buckets.findIndex((b) => b.count >= rank);
  if (i < 0) i = buckets.length - 1;
  if (i === buckets.length - 1) return buckets[buckets.length - 2]?.le;
  const b = buckets[i];
  if (!b) return undefined;
  if (i === 0 && b.le <= 0) return b.le;
  const prev = i > 0 ? buckets[i - 1] : undefined;
  const start = prev ? prev.le : 0;
  const below = prev ? prev.count : 0;
  const inBucket = b.count - below;
  if (inBucket <= 0) return b.le;
  return start + (b.le - start) * ((rank - below) / inBucket);
}

/**
 * The share of a cumulative histogram's observations above x: the inverse of histogramQuantile, with the
 * same linear interpolation inside the bucket that holds x (the first bucket starting at 0). Everything in
 * the +Inf bucket counts as above when x is past the largest finite bound. Undefined when there is nothing
 * to read (no +Inf bucket, fewer than two buckets, no observations).
 */
export function fractionAbove(x: number, histogram: Histogram): number | undefined {
  const readable = readableBuckets(histogram.buckets);
  if (!readable) return undefined;
  const { buckets, total } = readable;
  let below = 0;
  let start = 0;
  for (const b of buckets) {
    if (x < b.le) {
      if (b.le === Number.POSITIVE_INFINITY) return (total - below) / total;
      const width = b.le - start;
      const share = width > 0 ? Math.min(1, Math.max(0, (x - start) / width)) : 1;
      return (total - (below + share * (b.count - below))) / total;
    }
    below = b.count;
    start = b.le;
  }
  return 0;
}

/** A histogram's buckets as plain data for Signals: cleaned (ascending, monotone), or [] when unreadable. */
export function cumulativeBuckets(histogram: Histogram): { le: number; count: number }[] {
  return cleanBuckets(histogram.buckets).map((b) => ({ le: b.le, count: b.count }));
}
