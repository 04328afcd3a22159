// A parser of the Prometheus text exposition format (0.0.4) and of the OpenMetrics subset model servers emit:
// metric families with TYPE, HELP and UNIT, labels with escapes, counters, gauges, histograms, summaries,
// NaN and infinities, timestamps, exemplars (skipped), comments, `# EOF`, and the quoted UTF-8 metric and label
// names of Prometheus 3. It never throws: a line it cannot read becomes a LineError and parsing goes on, so
// one bad line from a model server costs that line, not the scrape.

export type MetricType =
  | "counter"
  | "gauge"
  | "histogram"
  | "summary"
  | "untyped"
  | "unknown"
  | "gaugehistogram"
  | "stateset"
  | "info";

const METRIC_TYPES: ReadonlySet<string> = new Set<MetricType>([
  "counter",
  "gauge",
  "histogram",
  "summary",
  "untyped",
  "unknown",
  "gaugehistogram",
  "stateset",
  "info",
]);

export type Labels = Readonly<Record<string, string>>;

export interface MetricFamily {
  name: string;
  /** From the TYPE line; "untyped" when none was given. */
  type: MetricType;
  help?: string;
  unit?: string;
}

export interface Sample {
  /** The sample's own name, as exposed: `vllm:prompt_tokens_total`, `x_bucket`. */
  name: string;
  /** Label names to values, unescaped. A null-prototype object: any label name is safe as a key. */
  labels: Labels;
  value: number;
  /** Milliseconds since the epoch, when the line carries a timestamp. */
  timestampMs?: number;
  /** The metric family the sample belongs to (`x` for `x_bucket` of histogram `x`), else its own name. */
  family: string;
  type: MetricType;
  /** 1-based line number. */
  line: number;
}

export const LineErrorCode = {
  Syntax: "Syntax",
  BadValue: "BadValue",
  BadTimestamp: "BadTimestamp",
  BadLabel: "BadLabel",
  DuplicateLabel: "DuplicateLabel",
  BadType: "BadType",
  DuplicateType: "DuplicateType",
  TypeAfterSamples: "TypeAfterSamples",
  MissingLe: "MissingLe",
  BadLe: "BadLe",
  BadQuantile: "BadQuantile",
  AfterEOF: "AfterEOF",
} as const;
export type LineErrorCode = (typeof LineErrorCode)[keyof typeof LineErrorCode];

export interface LineError {
  /** 1-based line number. */
  line: number;
  code: LineErrorCode;
  message: string;
  /** The offending line, cut to 200 characters. */
  text: string;
}

export interface Exposition {
  samples: Sample[];
  families: ReadonlyMap<string, MetricFamily>;
  /** The first `maxErrors` line errors. */
  errors: LineError[];
  /** All line errors, including those beyond `maxErrors`. */
  errorCount: number;
  /** Whether timestamps were read as OpenMetrics seconds (option, or a `# EOF` line). */
  openMetrics: boolean;
}

export interface ParseOptions {
  /**
   * Read as OpenMetrics (timestamps in seconds, nothing after `# EOF`), or as the text format 0.0.4
   * (timestamps in milliseconds, `# EOF` a plain comment). The content type decides (`formatOf`); only
   * when there is none does the body: OpenMetrics when it has a `# EOF` line.
   */
  openMetrics?: boolean;
  /** Errors kept in `errors` (all are counted in `errorCount`). Default 100. */
  maxErrors?: number;
}

const LEGACY_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LEGACY_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME_AT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME_AT = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const EOF_LINE = /(?:^|\n)# EOF\r?(?:\n|$)/;

/** Suffixes a family of each type gives its samples. */
const SUFFIXES: Readonly<Record<string, readonly MetricType[]>> = {
  _bucket: ["histogram", "gaugehistogram"],
  _count: ["histogram", "summary"],
  _sum: ["histogram", "summary"],
  _created: ["counter", "histogram", "summary"],
  _total: ["counter"],
  _gcount: ["gaugehistogram"],
  _gsum: ["gaugehistogram"],
  _info: ["info"],
};

/**
 * Parses a float as Prometheus writes it (Go's ParseFloat, decimal): `1`, `-1.5e3`, `NaN`, `+Inf`, `-Inf`,
 * case-insensitive, and `-nan` as C++ servers print it. Undefined for anything else, including the empty
 * string and hex, which `Number()` would accept.
 */
export function parsePromFloat(text: string): number | undefined {
  if (DECIMAL.test(text)) return Number(text);
  switch (text.toLowerCase()) {
    case "nan":
    case "+nan":
    case "-nan":
      return Number.NaN;
    case "inf":
    case "+inf":
    case "infinity":
    case "+infinity":
      return Number.POSITIVE_INFINITY;
    case "-inf":
    case "-infinity":
      return Number.NEGATIVE_INFINITY;
    default:
      return undefined;
  }
}

/** Writes a float so that parsePromFloat reads back the same number (NaN, ±Inf and -0 included). */
export function formatPromFloat(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Object.is(value, -0)) return "-0";
  return String(value);
}

class LineFailure {
  readonly code: LineErrorCode;
  readonly message: string;
  constructor(code: LineErrorCode, message: string) {
    this.code = code;
    this.message = message;
  }
}

function fail(code: LineErrorCode, message: string): never {
  throw new LineFailure(code, message);
}

/** A cursor over one line. */
interface Cursor {
  s: string;
  i: number;
}

function skipSpace(c: Cursor): void {
  while (c.i < c.s.length && (c.s[c.i] === " " || c.s[c.i] === "\t")) c.i++;
}

/** Reads a double-quoted string at the cursor, unescaping \\, \" and \n; other escapes stay as written. */
function readQuoted(c: Cursor, what: string): string {
  if (c.s[c.i] !== '"') fail(LineErrorCode.BadLabel, `expected '"' to open ${what} at column ${c.i + 1}`);
  c.i++;
  let out = "";
  let start = c.i;
  while (c.i < c.s.length) {
    const ch = c.s[c.i];
    if (ch === '"') {
      out += c.s.slice(start, c.i);
      c.i++;
      return out;
    }
    if (ch === "\\") {
      out += c.s.slice(start, c.i);
      const next = c.s[c.i + 1];
      if (next === undefined) break;
      out += next === "n" ? "\n" : next === "\\" ? "\\" : next === '"' ? '"' : `\\${next}`;
      c.i += 2;
      start = c.i;
      continue;
    }
    c.i++;
  }
  return fail(LineErrorCode.BadLabel, `${what} is not closed by '"'`);
}

function readMatch(c: Cursor, re: RegExp): string | undefined {
  re.lastIndex = c.i;
  const m = re.exec(c.s);
  if (!m) return undefined;
  c.i += m[0].length;
  return m[0];
}

/** Reads `{...}` at the cursor: labels, and (Prometheus 3) a quoted metric name as a bare first item. */
function readLabelBlock(c: Cursor, hasName: boolean): { labels: Record<string, string>; name?: string } {
  c.i++; // past '{'
  const labels: Record<string, string> = Object.create(null);
  let name: string | undefined;
  let first = true;
  for (;;) {
    skipSpace(c);
    if (c.s[c.i] === "}") {
      c.i++;
      return name === undefined ? { labels } : { labels, name };
    }
    let key: string | undefined;
    let quotedKey = false;
    if (c.s[c.i] === '"') {
      key = readQuoted(c, "quoted name");
      quotedKey = true;
    } else {
      key = readMatch(c, LABEL_NAME_AT);
      if (key === undefined) {
        fail(LineErrorCode.BadLabel, `expected a label name at column ${c.i + 1}`);
      }
    }
    skipSpace(c);
    if (c.s[c.i] === "=") {
      c.i++;
      skipSpace(c);
      const value = readQuoted(c, `the value of label "${key}"`);
      if (key in labels) fail(LineErrorCode.DuplicateLabel, `label "${key}" is given twice`);
      labels[key] = value;
    } else if (quotedKey && first && !hasName) {
      name = key;
    } else {
      fail(LineErrorCode.BadLabel, `expected '=' after label "${key}" at column ${c.i + 1}`);
    }
    first = false;
    skipSpace(c);
    if (c.s[c.i] === ",") {
      c.i++;
      continue;
    }
    if (c.s[c.i] === "}") continue;
    fail(LineErrorCode.BadLabel, `expected ',' or '}' at column ${c.i + 1}`);
  }
}

function readToken(c: Cursor): string {
  const start = c.i;
  while (c.i < c.s.length && c.s[c.i] !== " " && c.s[c.i] !== "\t") c.i++;
  return c.s.slice(start, c.i);
}

interface RawSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

function parseSampleLine(line: string, openMetrics: boolean): RawSample {
  const c: Cursor = { s: line, i: 0 };
  skipSpace(c);
  let name = readMatch(c, METRIC_NAME_AT);
  let labels: Record<string, string> = Object.create(null);
  if (name !== undefined) {
    // Some writers put a space between the name and the labels; a value never starts with '{'.
    const afterName = c.i;
    skipSpace(c);
    if (c.s[c.i] !== "{") c.i = afterName;
  }
  if (c.s[c.i] === "{") {
    const block = readLabelBlock(c, name !== undefined);
    labels = block.labels;
    name ??= block.name;
  }
  if (name === undefined) fail(LineErrorCode.Syntax, "expected a metric name");
  if (c.s[c.i] !== " " && c.s[c.i] !== "\t") {
    fail(
      LineErrorCode.Syntax,
      c.i >= c.s.length ? `no value after "${name}"` : `unexpected character at column ${c.i + 1}`,
    );
  }
  skipSpace(c);
  const valueText = readToken(c);
  const value = parsePromFloat(valueText);
  if (value === undefined) fail(LineErrorCode.BadValue, `"${valueText}" is not a number`);
  skipSpace(c);
  let timestampMs: number | undefined;
  if (c.i < c.s.length && c.s[c.i] !== "#") {
    const tsText = readToken(c);
    timestampMs = parseTimestamp(tsText, openMetrics);
    skipSpace(c);
  }
  // An OpenMetrics exemplar (` # {trace_id="..."} 1.0`) may follow; it says nothing about the sample.
  if (c.i < c.s.length && c.s[c.i] !== "#") {
    fail(LineErrorCode.Syntax, `unexpected text after the value at column ${c.i + 1}`);
  }
  return timestampMs === undefined ? { name, labels, value } : { name, labels, value, timestampMs };
}

function parseTimestamp(text: string, openMetrics: boolean): number {
  if (openMetrics) {
    const seconds = parsePromFloat(text);
    if (seconds !== undefined && Number.isFinite(seconds)) {
      const ms = Math.round(seconds * 1000);
      if (Number.isSafeInteger(ms)) return ms;
    }
  } else if (INTEGER.test(text)) {
    const ms = Number(text);
    if (Number.isSafeInteger(ms)) return ms;
  }
  return fail(
    LineErrorCode.BadTimestamp,
    `"${text}" is not a timestamp (${openMetrics ? "seconds" : "integer milliseconds"})`,
  );
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(.)/g, (whole, ch: string) => (ch === "n" ? "\n" : ch === "\\" ? "\\" : whole));
}

interface State {
  families: Map<string, MetricFamily & { typed: boolean }>;
  /** Names of samples seen before any TYPE for them. */
  untypedSeen: Set<string>;
  openMetrics: boolean;
}

function parseCommentLine(line: string, st: State): "eof" | undefined {
  const m = /^#[ \t]+(HELP|TYPE|UNIT)[ \t]+/.exec(line);
  if (!m) return /^#[ \t]*EOF[ \t]*$/.test(line) ? "eof" : undefined; // a plain comment
  const keyword = m[1] as "HELP" | "TYPE" | "UNIT";
  const c: Cursor = { s: line, i: m[0].length };
  const name = c.s[c.i] === '"' ? readQuoted(c, "quoted metric name") : readMatch(c, METRIC_NAME_AT);
  if (name === undefined) fail(LineErrorCode.Syntax, `# ${keyword} needs a metric name`);
  if (c.i < c.s.length && c.s[c.i] !== " " && c.s[c.i] !== "\t") {
    fail(LineErrorCode.Syntax, `unexpected character in the metric name at column ${c.i + 1}`);
  }
  skipSpace(c);
  const rest = c.s.slice(c.i);
  let family = st.families.get(name);
  if (keyword === "TYPE") {
    const type = rest.trim().toLowerCase();
    if (!METRIC_TYPES.has(type)) fail(LineErrorCode.BadType, `unknown metric type "${rest.trim()}"`);
    if (family?.typed) fail(LineErrorCode.DuplicateType, `second TYPE line for "${name}"`);
    if (st.untypedSeen.has(name)) {
      fail(LineErrorCode.TypeAfterSamples, `TYPE line for "${name}" after its samples`);
    }
    if (family) {
      family.type = type as MetricType;
      family.typed = true;
    } else st.families.set(name, { name, type: type as MetricType, typed: true });
    return undefined;
  }
  if (!family) {
    family = { name, type: "untyped", typed: false };
    st.families.set(name, family);
  }
  if (keyword === "HELP") family.help = unescapeHelp(rest);
  else family.unit = rest.trim();
  return undefined;
}

function resolveFamily(name: string, st: State): { family: string; type: MetricType } {
  const exact = st.families.get(name);
  if (exact) return { family: name, type: exact.type };
  for (const [suffix, types] of Object.entries(SUFFIXES)) {
    if (name.length > suffix.length && name.endsWith(suffix)) {
      const base = st.families.get(name.slice(0, -suffix.length));
      if (base && types.includes(base.type)) return { family: base.name, type: base.type };
    }
  }
  st.untypedSeen.add(name);
  return { family: name, type: "untyped" };
}

/** Checks what the family's type asks of the sample: `le` on buckets, `quantile` on summary values. */
function checkSample(raw: RawSample, family: string, type: MetricType): void {
  if ((type === "histogram" || type === "gaugehistogram") && raw.name === `${family}_bucket`) {
    const le = raw.labels.le;
    if (le === undefined) fail(LineErrorCode.MissingLe, `histogram bucket "${raw.name}" has no "le" label`);
    const bound = parsePromFloat(le);
    if (bound === undefined || Number.isNaN(bound)) {
      fail(LineErrorCode.BadLe, `histogram bucket "${raw.name}" has le="${le}", not a number`);
    }
  }
  if (type === "summary" && raw.name === family) {
    const q = raw.labels.quantile;
    if (q === undefined) fail(LineErrorCode.BadQuantile, `summary "${raw.name}" has no "quantile" label`);
    const quantile = parsePromFloat(q);
    if (quantile === undefined || Number.isNaN(quantile)) {
      fail(LineErrorCode.BadQuantile, `summary "${raw.name}" has quantile="${q}", not a number`);
    }
  }
}

/** Parses an exposition. Never throws: unreadable lines are reported in `errors` and skipped. */
export function parsePromText(text: string, options: ParseOptions = {}): Exposition {
  const maxErrors = options.maxErrors ?? 100;
  const input = typeof text === "string" ? text : String(text);
  const st: State = {
    families: new Map(),
    untypedSeen: new Set(),
    openMetrics: options.openMetrics ?? EOF_LINE.test(input),
  };
  const samples: Sample[] = [];
  const errors: LineError[] = [];
  let errorCount = 0;
  let eofAt = 0;
  const lines = input.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n] ?? "";
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    try {
      if (eofAt > 0) fail(LineErrorCode.AfterEOF, `text after "# EOF" on line ${eofAt}`);
      if (line.trimStart().startsWith("#")) {
        if (parseCommentLine(line.trimStart(), st) === "eof" && st.openMetrics) eofAt = n + 1;
        continue;
      }
      const sample = parseSampleLine(line, st.openMetrics);
      const { family, type } = resolveFamily(sample.name, st);
      checkSample(sample, family, type);
      samples.push({ ...sample, family, type, line: n + 1 });
    } catch (err) {
      errorCount++;
      if (errors.length < maxErrors) {
        const failure =
          err instanceof LineFailure
            ? err
            : new LineFailure(LineErrorCode.Syntax, `unreadable line (${String(err)})`);
        errors.push({
          line: n + 1,
          code: failure.code,
          message: failure.message,
          text: line.length > 200 ? `${line.slice(0, 200)}…` : line,
        });
      }
    }
  }
  const families = new Map<string, MetricFamily>();
  for (const [name, f] of st.families) {
    families.set(name, {
      name: f.name,
      type: f.type,
      ...(f.help !== undefined ? { help: f.help } : {}),
      ...(f.unit !== undefined ? { unit: f.unit } : {}),
    });
  }
  return { samples, families, errors, errorCount, openMetrics: st.openMetrics };
}

function escapeQuoted(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export interface SampleInput {
  name: string;
  labels?: Labels;
  value: number;
  timestampMs?: number;
}

/** Writes one sample line of the Prometheus text format; names that are not legacy names are quoted. */
export function formatSample(sample: SampleInput): string {
  const parts: string[] = [];
  const legacyName = LEGACY_METRIC_NAME.test(sample.name);
  if (!legacyName) parts.push(`"${escapeQuoted(sample.name)}"`);
  for (const [key, value] of Object.entries(sample.labels ?? {})) {
    const k = LEGACY_LABEL_NAME.test(key) ? key : `"${escapeQuoted(key)}"`;
    parts.push(`${k}="${escapeQuoted(value)}"`);
  }
  const head = legacyName ? sample.name : "";
  const block = parts.length > 0 ? `{${parts.join(",")}}` : "";
  const ts = sample.timestampMs !== undefined ? ` ${sample.timestampMs}` : "";
  return `${head}${block} ${formatPromFloat(sample.value)}${ts}`;
}

export interface FamilyInput {
  name: string;
  type?: MetricType;
  help?: string;
  samples: SampleInput[];
}

/** Writes families as Prometheus text (HELP, TYPE, then samples), ending with a newline. */
export function formatExposition(families: readonly FamilyInput[]): string {
  const out: string[] = [];
  for (const f of families) {
    const name = LEGACY_METRIC_NAME.test(f.name) ? f.name : `"${escapeQuoted(f.name)}"`;
    if (f.help !== undefined) {
      out.push(`# HELP ${name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    }
    if (f.type !== undefined) out.push(`# TYPE ${name} ${f.type}`);
    for (const s of f.samples) out.push(formatSample(s));
  }
  return `${out.join("\n")}\n`;
}

/**
 * The format a scrape's Content-Type names: OpenMetrics for `application/openmetrics-text`, the text format
 * for `text/plain` (whatever its body says), undefined (decide by the body) when there is none or another.
 */
export function formatOf(contentType: string | undefined): { openMetrics: boolean } | undefined {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/openmetrics-text") return { openMetrics: true };
  if (type === "text/plain") return { openMetrics: false };
  return undefined;
}
