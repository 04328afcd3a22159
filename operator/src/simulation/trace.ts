// Request traces for the fleet simulator: readers for the shared CSV format (Azure LLM inference trace:
// TIMESTAMP, ContextTokens, GeneratedTokens) and for JSONL (one object per line: a timestamp in ms and the
// input and output lengths, Mooncake-style field names by default), and the ways a trace is made bigger
// without inventing bursts:
//
// - superpose(trace, k): k copies of the trace, copy i shifted by i/k of its span and wrapped around the
//   span. Each copy keeps its own inter-arrival pattern, so the rate is k times higher while the burstiness
//   of the sum is that of k independent-ish streams, not of one stream with every request cloned in place
//   (cloning turns every arrival into a k-request burst that no real service sees). For stationary traces
//   only: it averages the copies' rates over the span, so a trace whose rate changes (a step, a ramp, an
//   idle period) is flattened (a 10x step superposed 3 times has a peak-to-trough ratio of 1.2).
// - jitterScale(trace, k): k copies, each request moved by a seeded random jitter of a few seconds (default
//   up to +-5 s) and clipped to the span. The rate is k times the trace's at every minute (within the
//   jitter's spill across a minute's edges), so a step, a ramp or an idle period keeps its shape. For
//   non-stationary traces; on a stationary one it makes each arrival a small cluster of k, which
//   superposition avoids. A recipe picks one with `scaleBy` (default superpose).
// - diurnalDay(trace, k, ...): 24 hours from a one-hour trace. The hour, superposed k times, is tiled over
//   the day (tile j shifted by frac(j * phi) of the span so tiles differ), then thinned: a request at time
//   t is kept with probability m(t), the diurnal multiplier (see diurnalMultiplier), with a seeded PRNG.
//   The expected rate at t is m(t) times the superposed hour's rate, so the day's shape is m's.
//
// Times are seconds from the trace's start: t = 0 at the first request, at the `start` a reader is given (so
// that idle time before the first request counts), or at midnight for a day; `startMs` is the wall-clock
// (epoch ms) of t = 0, so that budgets' time windows mean something.
import { readFileSync } from "node:fs";
import { mulberry32 } from "../serving/workload.ts";

/** A request trace: arrivals in seconds from the start, sorted, with prompt and output lengths. */
export interface Trace {
  name: string;
  /** Epoch ms of t = 0. */
  startMs: number;
  /** Length of the trace in seconds: requests arrive in [0, durationSeconds]. */
  durationSeconds: number;
  arrivals: Float64Array;
  prompt: Int32Array;
  output: Int32Array;
}

export interface CsvColumns {
  /** Column with the arrival time (default TIMESTAMP). */
  timestamp: string;
  /** Column with the prompt length in tokens (default ContextTokens). */
  input: string;
  /** Column with the output length in tokens (default GeneratedTokens). */
  output: string;
}

export interface JsonlFields {
  /** Field with the arrival time (default timestamp). */
  timestamp: string;
  /** Field with the prompt length (default input_length). */
  input: string;
  /** Field with the output length (default output_length). */
  output: string;
}

export const CSV_COLUMNS: CsvColumns = {
  timestamp: "TIMESTAMP",
  input: "ContextTokens",
  output: "GeneratedTokens",
};
export const JSONL_FIELDS: JsonlFields = {
  timestamp: "timestamp",
  input: "input_length",
  output: "output_length",
};

/** How numeric timestamps are read: seconds, or milliseconds (the JSONL default). */
export type TimeUnit = "s" | "ms";

export interface ReadTraceOptions {
  format?: "csv" | "jsonl";
  /** Column or field names; unset ones keep the format's defaults. */
  columns?: Partial<CsvColumns>;
  /** Unit of numeric timestamps (CSV default s, JSONL default ms). Wall-clock strings are always read as UTC. */
  timeUnit?: TimeUnit;
  /** Trace name (default: the file name without extension). */
  name?: string;
  /**
   * The trace's start, t = 0: epoch seconds, or a wall-clock string as parseTimestamp reads it (UTC unless an
   * offset is given). Arrivals are offsets from it, so idle time before the first request counts. Default:
   * the first request. A request before it is an error.
   */
  start?: number | string;
}

/** A trace file that cannot be read: says which line and why. */
export class TraceError extends Error {
  readonly code = "TraceError";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TraceError";
  }
}

export function isTraceError(err: unknown): err is TraceError {
  return err instanceof TraceError;
}

const WALL_CLOCK = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A timestamp in seconds since the epoch: a wall-clock string ("2023-11-16 18:17:03.9799600", UTC unless an
 * offset is given; every fractional digit kept) or a number in `unit`. NaN when unreadable.
 */
export function parseTimestamp(value: string | number, unit: TimeUnit): number {
  if (typeof value === "number") return unit === "ms" ? value / 1000 : value;
  const v = value.trim();
  const m = WALL_CLOCK.exec(v);
  if (m) {
    const zone = m[6] ?? "Z";
    const whole = Date.parse(
      `${m[1]}T${m[2]}:${m[3]}:${m[4]}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`,
    );
    if (Number.isNaN(whole)) return Number.NaN;
    const fraction = m[5] ? Number(`0.${m[5]}`) : 0;
    return whole / 1000 + fraction;
  }
  if (v === "" || !Number.isFinite(Number(v))) return Number.NaN;
  return unit === "ms" ? Number(v) / 1000 : Number(v);
}

interface Row {
  t: number;
  prompt: number;
  output: number;
}

function tokens(raw: unknown, what: string, where: string): number {
  const n =
    typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n) || n < 0) {
    throw new TraceError(`${where}: ${what} must be a number of tokens >= 0, got ${JSON.stringify(raw)}`);
  }
  // The server always reads at least one token and samples at least one.
  return Math.max(1, Math.round(n));
}

/** Splits one CSV line; quoted fields with "" escapes are supported. */
function splitCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Rows of a CSV trace with a header line. */
export function parseCsv(
  text: string,
  options: { columns?: Partial<CsvColumns>; timeUnit?: TimeUnit; source?: string } = {},
): Row[] {
  const cols = { ...CSV_COLUMNS, ...options.columns };
  const unit = options.timeUnit ?? "s";
  const source = options.source ?? "trace";
  const lines = text.split(/\r?\n/);
  const header = splitCsv(lines[0] ?? "").map((h) => h.trim().replace(/^\uFEFF/, ""));
  const index = (name: string, what: string) => {
    const i = header.indexOf(name);
    if (i < 0) {
      throw new TraceError(
        `${source}: no column "${name}" (${what}) in the header [${header.join(", ")}]; name the column with the ${what} option`,
      );
    }
    return i;
  };
  const it = index(cols.timestamp, "timestamp");
  const ii = index(cols.input, "input");
  const io = index(cols.output, "output");
  const rows: Row[] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === "") continue;
    const f = splitCsv(line);
    const where = `${source} line ${n + 1}`;
    const t = parseTimestamp(f[it] ?? "", unit);
    if (Number.isNaN(t))
      throw new TraceError(`${where}: unreadable timestamp ${JSON.stringify(f[it] ?? "")}`);
    rows.push({
      t,
      prompt: tokens(f[ii], "input length", where),
      output: tokens(f[io], "output length", where),
    });
  }
  return rows;
}

/** Rows of a JSONL trace: one JSON object per line. */
export function parseJsonl(
  text: string,
  options: { columns?: Partial<JsonlFields>; timeUnit?: TimeUnit; source?: string } = {},
): Row[] {
  const fields = { ...JSONL_FIELDS, ...options.columns };
  const unit = options.timeUnit ?? "ms";
  const source = options.source ?? "trace";
  const rows: Row[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === "") continue;
    const where = `${source} line ${n + 1}`;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new TraceError(`${where}: not JSON (${(err as Error).message})`, { cause: err });
    }
    if (typeof obj !== "object" || obj === null) throw new TraceError(`${where}: expected a JSON object`);
    for (const [what, key] of Object.entries(fields)) {
      if (!(key in obj))
        throw new TraceError(`${where}: no field "${key}" (${what}); name it with the ${what} option`);
    }
    const raw = obj[fields.timestamp];
    const t = typeof raw === "number" || typeof raw === "string" ? parseTimestamp(raw, unit) : Number.NaN;
    if (Number.isNaN(t)) throw new TraceError(`${where}: unreadable timestamp ${JSON.stringify(raw)}`);
    rows.push({
      t,
      prompt: tokens(obj[fields.input], "input length", where),
      output: tokens(obj[fields.output], "output length", where),
    });
  }
  return rows;
}

/** Epoch seconds of a start option (number or wall-clock string); throws naming the option when unreadable. */
export function parseStart(start: number | string): number {
  const t = parseTimestamp(start, "s");
  if (!Number.isFinite(t)) {
    throw new TraceError(
      `the trace's start (the start option, --start on the command line) must be epoch seconds or a wall-clock time such as "2023-11-16 18:00:00", got ${JSON.stringify(start)}`,
    );
  }
  return t;
}

const iso = (seconds: number) => new Date(Math.round(seconds * 1000)).toISOString();

/**
 * A trace from rows: sorted by time (stable), arrivals as offsets from `start` (epoch seconds or a
 * wall-clock string) when given, else from the first row.
 */
export function traceFromRows(
  name: string,
  rows: readonly Row[],
  options: { start?: number | string } = {},
): Trace {
  if (rows.length === 0) throw new TraceError(`${name}: the trace holds no requests`);
  const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.t - rows[b]!.t || a - b);
  const first = rows[order[0]!]!.t;
  const t0 = options.start === undefined ? first : parseStart(options.start);
  if (first < t0) {
    throw new TraceError(
      `${name}: a request arrives at ${iso(first)}, before the trace's start ${iso(t0)} (the start option, --start on the command line); set the start at or before the first request`,
    );
  }
  const n = rows.length;
  const arrivals = new Float64Array(n);
  const prompt = new Int32Array(n);
  const output = new Int32Array(n);
  order.forEach((k, i) => {
    const r = rows[k]!;
    arrivals[i] = r.t - t0;
    prompt[i] = r.prompt;
    output[i] = r.output;
  });
  return {
    name,
    startMs: Math.round(t0 * 1000),
    durationSeconds: arrivals[n - 1]!,
    arrivals,
    prompt,
    output,
  };
}

/** Reads a trace file; the format from `options.format` or the extension (.jsonl/.ndjson: JSONL, else CSV). */
export function readTrace(path: string, options: ReadTraceOptions = {}): Trace {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new TraceError(`reading trace ${path}: ${(err as Error).message}`, { cause: err });
  }
  const format = options.format ?? (/\.(jsonl|ndjson)$/i.test(path) ? "jsonl" : "csv");
  const base = path.split("/").pop() ?? path;
  const name = options.name ?? base.replace(/\.(csv|jsonl|ndjson)$/i, "");
  const parseOptions = {
    ...(options.columns ? { columns: options.columns } : {}),
    ...(options.timeUnit ? { timeUnit: options.timeUnit } : {}),
    source: path,
  };
  const rows = format === "jsonl" ? parseJsonl(text, parseOptions) : parseCsv(text, parseOptions);
  return traceFromRows(name, rows, options.start === undefined ? {} : { start: options.start });
}

/** A trace built from plain arrays (tests, synthetic loads). Sorts by arrival. */
export function makeTrace(
  name: string,
  requests: readonly { arrival: number; prompt: number; output: number }[],
  options: { startMs?: number; durationSeconds?: number } = {},
): Trace {
  const t = traceFromRows(
    name,
    requests.map((r) => ({ t: r.arrival, prompt: r.prompt, output: r.output })),
  );
  // Keep the requests' own clock: traceFromRows measured arrivals from the first one.
  const shift = requests.reduce((m, r) => Math.min(m, r.arrival), Number.POSITIVE_INFINITY);
  if (shift !== 0) for (let i = 0; i < t.arrivals.length; i++) t.arrivals[i]! += shift;
  return {
    ...t,
    startMs: options.startMs ?? 0,
    durationSeconds: options.durationSeconds ?? t.arrivals[t.arrivals.length - 1]!,
  };
}

interface Run {
  a: Float64Array;
  p: Int32Array;
  o: Int32Array;
}

/** Merges sorted runs into one sorted trace (k-way, by a binary heap; ties go to the earlier run). */
function merge(name: string, startMs: number, duration: number, runs: readonly Run[]): Trace {
  const live = runs.filter((r) => r.a.length > 0);
  const total = live.reduce((s, x) => s + x.a.length, 0);
  const arrivals = new Float64Array(total);
  const prompt = new Int32Array(total);
  const output = new Int32Array(total);
  const pos = new Int32Array(live.length);
  const heap: number[] = live.map((_, i) => i);
  const less = (x: number, y: number) => {
    const tx = live[x]!.a[pos[x]!]!;
    const ty = live[y]!.a[pos[y]!]!;
    return tx < ty || (tx === ty && x < y);
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = Math.floor(heap.length / 2) - 1; i >= 0; i--) down(i);
  for (let k = 0; k < total; k++) {
    const top = heap[0]!;
    const run = live[top]!;
    const j = pos[top]!;
    arrivals[k] = run.a[j]!;
    prompt[k] = run.p[j]!;
    output[k] = run.o[j]!;
    pos[top] = j + 1;
    if (j + 1 >= run.a.length) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    if (heap.length > 0) down(0);
  }
  return { name, startMs, durationSeconds: duration, arrivals, prompt, output };
}

/**
 * One copy of the trace shifted by `shift` seconds and wrapped around its span (times in [0, span)), as
 * two sorted runs: the requests that wrapped, then the others.
 */
function shifted(trace: Trace, shift: number): Run[] {
  const span = trace.durationSeconds;
  const n = trace.arrivals.length;
  const s = span > 0 ? ((shift % span) + span) % span : 0;
  let w = 0; // first index whose shifted time reaches the span
  while (w < n && trace.arrivals[w]! + s < span) w++;
  const wrapped = new Float64Array(n - w);
  for (let i = w; i < n; i++) wrapped[i - w] = trace.arrivals[i]! + s - span;
  const stay = new Float64Array(w);
  for (let i = 0; i < w; i++) stay[i] = trace.arrivals[i]! + s;
  return [
    { a: wrapped, p: trace.prompt.subarray(w), o: trace.output.subarray(w) },
    { a: stay, p: trace.prompt.subarray(0, w), o: trace.output.subarray(0, w) },
  ];
}

/**
 * k time-shifted copies of the trace superposed: copy i shifted by i/k of the span and wrapped, so every
 * copy keeps its requests (same count) and the result keeps the span. k = 1 returns the trace unchanged
 * (except that an arrival at exactly the span wraps to 0 only when k > 1).
 */
export function superpose(trace: Trace, k: number): Trace {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`superpose: k must be an integer >= 1, got ${k}`);
  if (k === 1) return trace;
  const span = trace.durationSeconds;
  const runs = Array.from({ length: k }, (_, i) => shifted(trace, (i * span) / k)).flat();
  return merge(`${trace.name} x${k}`, trace.startMs, span, runs);
}

/** Default jitter of jitterScale: each copy of a request moves by up to this many seconds either way. */
export const DEFAULT_JITTER_SECONDS = 5;

/**
 * k copies of the trace, each request of each copy moved by a seeded jitter drawn uniformly in
 * [-jitterSeconds, +jitterSeconds] and clipped to [0, span]: the rate is k times the trace's at every
 * minute, up to the jitter's spill across the minute's edges, so a non-stationary trace keeps its shape.
 * k = 1 returns the trace unchanged. Deterministic for a seed.
 */
export function jitterScale(
  trace: Trace,
  k: number,
  options: { jitterSeconds?: number; seed?: number } = {},
): Trace {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`jitterScale: k must be an integer >= 1, got ${k}`);
  const jitter = options.jitterSeconds ?? DEFAULT_JITTER_SECONDS;
  if (!(jitter >= 0)) throw new RangeError(`jitterScale: jitterSeconds must be >= 0, got ${jitter}`);
  if (k === 1) return trace;
  const span = trace.durationSeconds;
  const rand = mulberry32(options.seed ?? 1);
  const n = trace.arrivals.length;
  const times = new Float64Array(k * n);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      const t = trace.arrivals[i]! + (2 * rand() - 1) * jitter;
      times[c * n + i] = Math.min(span, Math.max(0, t));
    }
  }
  // Sorted by time; ties by copy, then by the request's place in the trace (deterministic).
  const order = new Uint32Array(k * n);
  for (let j = 0; j < order.length; j++) order[j] = j;
  order.sort((a, b) => times[a]! - times[b]! || a - b);
  const arrivals = new Float64Array(k * n);
  const prompt = new Int32Array(k * n);
  const output = new Int32Array(k * n);
  order.forEach((j, m) => {
    const i = j % n;
    arrivals[m] = times[j]!;
    prompt[m] = trace.prompt[i]!;
    output[m] = trace.output[i]!;
  });
  return {
    name: `${trace.name} x${k}`,
    startMs: trace.startMs,
    durationSeconds: span,
    arrivals,
    prompt,
    output,
  };
}

/** The diurnal shape of the 24-hour day. */
export interface DiurnalShape {
  /** Hour of the peak (multiplier 1), local to the day's t = 0 (midnight). Default 16. */
  peakHour: number;
  /** Multiplier at the trough, 12 hours from the peak. Default 0.2 (a fifth of the peak). */
  troughRatio: number;
}

export const DEFAULT_DIURNAL: DiurnalShape = { peakHour: 16, troughRatio: 0.2 };
export const DAY_SECONDS = 86_400;

/**
 * m(t) = r + (1 - r) * (1 + cos(2 pi (t - peak) / 24 h)) / 2: 1 at the peak hour (16:00), r at the trough
 * 12 hours away (04:00), a smooth cosine between; mean (1 + r) / 2 (0.6 for r = 0.2).
 */
export function diurnalMultiplier(tSeconds: number, shape: DiurnalShape = DEFAULT_DIURNAL): number {
  const phase = (2 * Math.PI * (tSeconds - shape.peakHour * 3600)) / DAY_SECONDS;
  return shape.troughRatio + ((1 - shape.troughRatio) * (1 + Math.cos(phase))) / 2;
}

const PHI = (Math.sqrt(5) - 1) / 2;

/**
 * A 24-hour day from a one-hour trace: the trace superposed k times, tiled over the day (tile j further
 * shifted by frac(j * 0.618...) of the span), and thinned by the diurnal multiplier with a seeded PRNG.
 * t = 0 is midnight UTC of the trace's first day.
 */
export function diurnalDay(
  trace: Trace,
  k: number,
  options: { shape?: DiurnalShape; seed?: number; days?: number } = {},
): Trace {
  const shape = options.shape ?? DEFAULT_DIURNAL;
  const duration = DAY_SECONDS * (options.days ?? 1);
  const span = trace.durationSeconds;
  if (!(span > 0)) throw new RangeError("diurnalDay: the trace must span more than 0 seconds");
  const rand = mulberry32(options.seed ?? 1);
  const runs: Run[] = [];
  for (let j = 0; j * span < duration; j++) {
    const offset = j * span;
    const tileShift = ((j * PHI) % 1) * span;
    for (let i = 0; i < k; i++) {
      for (const copy of shifted(trace, tileShift + (i * span) / k)) {
        const a: number[] = [];
        const p: number[] = [];
        const o: number[] = [];
        for (let r = 0; r < copy.a.length; r++) {
          const t = offset + copy.a[r]!;
          // Always draw, so that a request's fate does not depend on the ones before it being in range.
          const u = rand();
          if (t >= duration) continue;
          if (u < diurnalMultiplier(t, shape)) {
            a.push(t);
            p.push(copy.p[r]!);
            o.push(copy.o[r]!);
          }
        }
        runs.push({ a: Float64Array.from(a), p: Int32Array.from(p), o: Int32Array.from(o) });
      }
    }
  }
  const day = new Date(trace.startMs);
  const midnight = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate());
  return merge(`${trace.name} day x${k}`, midnight, duration, runs);
}

/** Per-window totals: requests and tokens (prompt + output) arriving in each `windowSeconds` window. */
export interface WindowLoad {
  windowSeconds: number;
  requests: Float64Array;
  tokens: Float64Array;
}

export function windowLoad(trace: Trace, windowSeconds = 60): WindowLoad {
  const n = Math.max(1, Math.ceil(trace.durationSeconds / windowSeconds));
  const requests = new Float64Array(n);
  const tokens = new Float64Array(n);
  for (let i = 0; i < trace.arrivals.length; i++) {
    const w = Math.min(n - 1, Math.floor(trace.arrivals[i]! / windowSeconds));
    requests[w]! += 1;
    tokens[w]! += trace.prompt[i]! + trace.output[i]!;
  }
  return { windowSeconds, requests, tokens };
}

export interface TraceStats {
  requests: number;
  durationSeconds: number;
  meanPrompt: number;
  meanOutput: number;
  requestsPerSecond: number;
  tokensPerSecond: number;
  /** Highest tokens/s over a 60 s window. */
  peakMinuteTokensPerSecond: number;
}

export function traceStats(trace: Trace): TraceStats {
  const n = trace.arrivals.length;
  let p = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    p += trace.prompt[i]!;
    o += trace.output[i]!;
  }
  const load = windowLoad(trace, 60);
  const d = Math.max(trace.durationSeconds, 1e-9);
  return {
    requests: n,
    durationSeconds: trace.durationSeconds,
    meanPrompt: p / n,
    meanOutput: o / n,
    requestsPerSecond: n / d,
    tokensPerSecond: (p + o) / d,
    peakMinuteTokensPerSecond: Math.max(...load.tokens) / 60,
  };
}

/** How a trace's rate is scaled: superposition for stationary traces, jitter for non-stationary ones. */
export type ScaleBy = "superpose" | "jitter";

/**
 * How a trace is built: a file, read with options (`read.start` sets t = 0), then rate-scaled or turned into
 * a day. Plain data.
 */
export interface TraceRecipe {
  /** Name used in results (e.g. "conv", "conv-day"). */
  name: string;
  file: string;
  read?: ReadTraceOptions;
  /** Copies of the trace (default 1): the rate multiplier. */
  scale?: number;
  /**
   * How the copies are laid out (default superpose): `superpose` spreads them across the span, for
   * stationary traces; `jitter` keeps every copy in place within a few seconds (jitterScale), for traces
   * whose rate changes (steps, ramps, idle periods), which superposition would flatten.
   */
  scaleBy?: ScaleBy;
  /** Jitter of `scaleBy: "jitter"`, seconds either way (default 5). */
  jitterSeconds?: number;
  /** Build a 24-hour day from the (one-hour) trace. */
  day?: boolean;
  /** Seed of the day's thinning and of the jitter. */
  seed?: number;
}

const cache = new Map<string, Trace>();

/** Builds (and caches per process) the trace a recipe describes. */
export function buildTrace(recipe: TraceRecipe): Trace {
  const key = JSON.stringify(recipe);
  const hit = cache.get(key);
  if (hit) return hit;
  const base = readTrace(recipe.file, recipe.read ?? {});
  const k = recipe.scale ?? 1;
  const built = recipe.day
    ? diurnalDay(base, k, { seed: recipe.seed ?? 1 })
    : recipe.scaleBy === "jitter"
      ? jitterScale(base, k, {
          seed: recipe.seed ?? 1,
          ...(recipe.jitterSeconds === undefined ? {} : { jitterSeconds: recipe.jitterSeconds }),
        })
      : superpose(base, k);
  const trace = { ...built, name: recipe.name };
  cache.set(key, trace);
  return trace;
}
