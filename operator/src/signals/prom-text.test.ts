import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatExposition,
  formatPromFloat,
  formatSample,
  LineErrorCode,
  parsePromFloat,
  parsePromText,
  type Sample,
} from "./prom-text.ts";

const plain = (s: Sample) => ({ name: s.name, labels: { ...s.labels }, value: s.value });

describe("parsePromText: samples", () => {
  const cases: [string, string, Partial<ReturnType<typeof plain>> & { timestampMs?: number }][] = [
    ["a bare sample", "up 1", { name: "up", labels: {}, value: 1 }],
    ["a colon name", "vllm:num_requests_waiting 3", { name: "vllm:num_requests_waiting", value: 3 }],
    ["labels", 'x{a="1",b="two"} 2.5', { labels: { a: "1", b: "two" }, value: 2.5 }],
    ["a trailing comma", 'x{a="1",} 1', { labels: { a: "1" } }],
    ["empty braces", "x{} 1", { labels: {} }],
    ["spaces inside braces", 'x{ a = "1" , b="2" } 1', { labels: { a: "1", b: "2" } }],
    ["a space before the braces", 'x {a="1"} 1', { labels: { a: "1" } }],
    ["escaped quote", 'x{a="say \\"hi\\""} 1', { labels: { a: 'say "hi"' } }],
    ["escaped backslash", 'x{a="C:\\\\dir"} 1', { labels: { a: "C:\\dir" } }],
    ["escaped newline", 'x{a="l1\\nl2"} 1', { labels: { a: "l1\nl2" } }],
    ["an unknown escape kept as written", 'x{a="\\d"} 1', { labels: { a: "\\d" } }],
    ["a brace and comma in a value", 'x{a="}{,"} 1', { labels: { a: "}{," } }],
    ["unicode in a value", 'x{a="naïve ✓"} 1', { labels: { a: "naïve ✓" } }],
    ["NaN", "x NaN", { value: Number.NaN }],
    ["+Inf", "x +Inf", { value: Number.POSITIVE_INFINITY }],
    ["-Inf", "x -Inf", { value: Number.NEGATIVE_INFINITY }],
    ["lower-case nan as C++ prints it", "x -nan", { value: Number.NaN }],
    ["an exponent", "x 1.5e+06", { value: 1.5e6 }],
    ["a negative value", "x -0.25", { value: -0.25 }],
    ["a leading dot", "x .5", { value: 0.5 }],
    ["a timestamp", "x 1 1700000000000", { value: 1, timestampMs: 1700000000000 }],
    ["a negative timestamp", "x 1 -5", { timestampMs: -5 }],
    ["tabs between tokens", "x\t1\t10", { value: 1, timestampMs: 10 }],
    ["leading whitespace", "   x 1", { name: "x" }],
    ["a CRLF line end", "x 7\r", { value: 7 }],
    ["trailing whitespace", "x 7   ", { value: 7 }],
    ["a quoted UTF-8 name", '{"my.metric",a="1"} 4', { name: "my.metric", labels: { a: "1" } }],
    ["a quoted label name", 'x{"my.label"="v"} 1', { labels: { "my.label": "v" } }],
  ];
  it.each(cases)("reads %s", (_name, line, want) => {
    const out = parsePromText(line);
    expect(out.errors).toEqual([]);
    expect(out.samples).toHaveLength(1);
    const s = out.samples[0]!;
    if (want.name !== undefined) expect(s.name).toBe(want.name);
    if (want.labels !== undefined) expect({ ...s.labels }).toEqual(want.labels);
    if (want.value !== undefined) expect(s.value).toBe(want.value);
    if ("timestampMs" in want) expect(s.timestampMs).toBe(want.timestampMs);
  });

  it("keeps a label named __proto__ as data, not as the prototype", () => {
    const s = parsePromText('x{__proto__="p",constructor="c"} 1').samples[0]!;
    expect(Object.keys(s.labels).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(s.labels, "__proto__")?.value).toBe("p");
  });
});

describe("parsePromText: errors", () => {
  const cases: [string, string, LineErrorCode][] = [
    ["no value", "x", LineErrorCode.Syntax],
    ["a value that is not a number", "x abc", LineErrorCode.BadValue],
    ["hex, which Number() would take", "x 0x10", LineErrorCode.BadValue],
    ["an empty-looking value", 'x{a="1"}', LineErrorCode.Syntax],
    ["an unclosed label value", 'x{a="1} 1', LineErrorCode.BadLabel],
    ["an unclosed label block", 'x{a="1" 1', LineErrorCode.BadLabel],
    ["a label without a value", "x{a} 1", LineErrorCode.BadLabel],
    ["an unquoted label value", "x{a=1} 1", LineErrorCode.BadLabel],
    ["a duplicate label", 'x{a="1",a="2"} 1', LineErrorCode.DuplicateLabel],
    ["a label name starting with a digit", 'x{1a="1"} 1', LineErrorCode.BadLabel],
    ["a float timestamp in Prometheus text", "x 1 1.5", LineErrorCode.BadTimestamp],
    ["text after the timestamp", "x 1 2 3", LineErrorCode.Syntax],
    ["a name with a dash", "foo-bar 1", LineErrorCode.Syntax],
    ["a metric name that is only labels", '{a="1"} 1', LineErrorCode.Syntax],
    ["an unknown type", "# TYPE x widget", LineErrorCode.BadType],
    ["a TYPE without a type", "# TYPE x", LineErrorCode.BadType],
    ["a second TYPE", "# TYPE x gauge\n# TYPE x counter", LineErrorCode.DuplicateType],
    ["a TYPE after its samples", "x 1\n# TYPE x gauge", LineErrorCode.TypeAfterSamples],
    ["a bucket without le", "# TYPE h histogram\nh_bucket 1", LineErrorCode.MissingLe],
    ["a bucket with a bad le", '# TYPE h histogram\nh_bucket{le="big"} 1', LineErrorCode.BadLe],
    ["a summary value without quantile", "# TYPE s summary\ns 1", LineErrorCode.BadQuantile],
    ["text after # EOF", "x 1\n# EOF\ny 2", LineErrorCode.AfterEOF],
  ];
  it.each(cases)("reports %s and goes on", (_name, text, code) => {
    const out = parsePromText(`${text}\nafter 1`);
    expect(out.errors.map((e) => e.code)).toContain(code);
    const bad = out.errors.find((e) => e.code === code)!;
    expect(bad.line).toBeGreaterThanOrEqual(1);
    expect(bad.message.length).toBeGreaterThan(0);
    if (code !== LineErrorCode.AfterEOF) expect(out.samples.map((s) => s.name)).toContain("after");
  });

  it("keeps the first maxErrors errors and counts all", () => {
    const out = parsePromText(Array.from({ length: 50 }, () => "bad bad bad").join("\n"), { maxErrors: 5 });
    expect(out.errors).toHaveLength(5);
    expect(out.errorCount).toBe(50);
  });

  it("cuts the text of a long bad line", () => {
    const out = parsePromText(`x ${"9".repeat(500)}z`);
    expect(out.errors[0]!.text.length).toBeLessThanOrEqual(201);
  });
});

describe("parsePromText: families", () => {
  const vllm = `# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 2.0
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 1234.0
# HELP vllm:prompt_tokens_created Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_created gauge
vllm:prompt_tokens_created{engine="0",model_name="m"} 1.7e9
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 5.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 5.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 1.25
# TYPE rpc summary
rpc{quantile="0.5"} 0.2
rpc_sum 10
rpc_count 40
`;

  it("types samples by their family, suffixes included", () => {
    const out = parsePromText(vllm);
    expect(out.errors).toEqual([]);
    const byName = new Map(out.samples.map((s) => [s.name, s]));
    expect(byName.get("vllm:num_requests_waiting")).toMatchObject({ type: "gauge" });
    expect(byName.get("vllm:prompt_tokens_total")).toMatchObject({
      family: "vllm:prompt_tokens_total",
      type: "counter",
    });
    expect(byName.get("vllm:time_to_first_token_seconds_count")).toMatchObject({
      family: "vllm:time_to_first_token_seconds",
      type: "histogram",
    });
    expect(byName.get("rpc_sum")).toMatchObject({ family: "rpc", type: "summary" });
    expect(out.families.get("vllm:num_requests_waiting")?.help).toBe(
      "Number of requests waiting to be processed.",
    );
  });

  it("reads HELP escapes and UNIT", () => {
    const out = parsePromText("# HELP x line1\\nline2 \\\\ end\n# UNIT x seconds\n# TYPE x gauge\nx 1");
    expect(out.families.get("x")).toEqual({
      name: "x",
      type: "gauge",
      help: "line1\nline2 \\ end",
      unit: "seconds",
    });
  });

  it("leaves untyped samples untyped, and counter _total without TYPE on its own name", () => {
    const out = parsePromText("llamacpp:prompt_tokens_total 512\nfoo_bucket 1");
    expect(out.samples.map((s) => [s.family, s.type])).toEqual([
      ["llamacpp:prompt_tokens_total", "untyped"],
      ["foo_bucket", "untyped"],
    ]);
  });

  it("ignores comments, blank lines and OpenMetrics exemplars", () => {
    const out = parsePromText(
      '# a comment\n\n#no space comment\nx_total{a="1"} 3 # {trace_id="abc"} 1.0 1700000000.5\n',
    );
    expect(out.errors).toEqual([]);
    expect(out.samples.map(plain)).toEqual([{ name: "x_total", labels: { a: "1" }, value: 3 }]);
  });

  it("reads OpenMetrics timestamps as seconds when the text ends with # EOF", () => {
    const out = parsePromText("# TYPE x counter\nx_total 3 1700000000.250\nx_created 1700000000\n# EOF\n");
    expect(out.openMetrics).toBe(true);
    expect(out.samples[0]).toMatchObject({ family: "x", type: "counter", timestampMs: 1700000000250 });
  });

  it("reads the OpenMetrics format when told, without # EOF", () => {
    const out = parsePromText("x 1 12.5", { openMetrics: true });
    expect(out.samples[0]?.timestampMs).toBe(12500);
  });

  it("returns nothing for an empty body", () => {
    expect(parsePromText("")).toMatchObject({ samples: [], errors: [], errorCount: 0 });
  });
});

describe("parsePromFloat / formatPromFloat", () => {
  it.each([
    ["1", 1],
    ["-1.5e3", -1500],
    ["+Inf", Number.POSITIVE_INFINITY],
    ["inf", Number.POSITIVE_INFINITY],
    ["-Inf", Number.NEGATIVE_INFINITY],
    ["NaN", Number.NaN],
    ["", undefined],
    [" 1", undefined],
    ["0x10", undefined],
    ["1e", undefined],
    ["Infinity", Number.POSITIVE_INFINITY],
  ])("parses %j", (text, want) => {
    expect(parsePromFloat(text)).toBe(want);
  });

  it("round-trips every double", () => {
    fc.assert(
      fc.property(fc.double(), (v) => {
        expect(Object.is(parsePromFloat(formatPromFloat(v)), v)).toBe(true);
      }),
    );
  });
});

// Properties.

const legacyName = fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/);
const anyName = fc.oneof(legacyName, fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" }));
const labelName = fc.oneof(
  fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/),
  fc.string({ minLength: 1, maxLength: 8, unit: "grapheme" }),
);
const labelValue = fc.oneof(
  fc.string({ maxLength: 16, unit: "grapheme" }),
  fc.constantFrom('"', "\\", "\n", '\\"', "}", ",", "=", "# {x}", "\\n"),
);
const sampleArb = fc.record({
  name: anyName,
  labels: fc.dictionary(labelName, labelValue, { maxKeys: 4 }),
  value: fc.double(),
  timestampMs: fc.option(fc.integer({ min: -1e12, max: 1e13 }), { nil: undefined }),
});

describe("properties", () => {
  it("the parser never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: "binary" }), (text) => {
        const out = parsePromText(text);
        expect(out.errorCount).toBeGreaterThanOrEqual(out.errors.length);
      }),
      { numRuns: 1000 },
    );
  }, 30_000); // 1,000 property runs: about 1 s alone, several on a loaded 2-core machine

  it("the parser never throws on text built from exposition tokens", () => {
    const token = fc.constantFrom(
      "# TYPE ",
      "# HELP ",
      "# EOF",
      "histogram",
      "counter",
      "x",
      "x_bucket",
      "_total",
      "{",
      "}",
      '"',
      "\\",
      "=",
      ",",
      " ",
      "\t",
      "\n",
      "\r\n",
      "le",
      "quantile",
      "1",
      "NaN",
      "+Inf",
      "-",
      ".",
      "e",
      "#",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), (tokens) => {
        parsePromText(tokens.join(""));
      }),
      { numRuns: 2000 },
    );
  });

  it("valid sample lines round-trip", () => {
    fc.assert(
      fc.property(sampleArb, (sample) => {
        const line = formatSample(sample);
        const out = parsePromText(line);
        expect(out.errors).toEqual([]);
        expect(out.samples).toHaveLength(1);
        const got = out.samples[0]!;
        expect(got.name).toBe(sample.name);
        expect({ ...got.labels }).toEqual(sample.labels);
        expect(Object.is(got.value, sample.value)).toBe(true);
        expect(got.timestampMs).toBe(sample.timestampMs);
      }),
      { numRuns: 1000 },
    );
  });

  it("valid expositions round-trip, and mutations of them never throw", () => {
    const family = fc.record({
      name: legacyName,
      type: fc.constantFrom("gauge", "counter", "untyped" as const),
      help: fc.string({ maxLength: 20, unit: "grapheme" }),
      samples: fc.array(sampleArb, { maxLength: 4 }),
    });
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), ch: fc.string({ maxLength: 3 }) }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("dupline" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("swaplines" as const), at: fc.nat(), to: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(family, { selector: (f) => f.name, maxLength: 4 }),
        fc.array(mutation, { maxLength: 6 }),
        (families, mutations) => {
          // Samples carry their family's name so the exposition is valid.
          const fams = families.map((f) => ({
            ...f,
            samples: f.samples.map((s) => ({ ...s, name: f.name })),
          }));
          const text = formatExposition(fams);
          const out = parsePromText(text);
          expect(out.errors).toEqual([]);
          expect(out.samples.length).toBe(fams.reduce((n, f) => n + f.samples.length, 0));

          let mutated = text;
          for (const m of mutations) {
            const at = mutated.length === 0 ? 0 : m.at % mutated.length;
            const lines = mutated.split("\n");
            const li = lines.length === 0 ? 0 : m.at % lines.length;
            switch (m.kind) {
              case "delete":
                mutated = mutated.slice(0, at) + mutated.slice(at + 1);
                break;
              case "insert":
                mutated = mutated.slice(0, at) + m.ch + mutated.slice(at);
                break;
              case "truncate":
                mutated = mutated.slice(0, at);
                break;
              case "dupline":
                lines.splice(li, 0, lines[li] ?? "");
                mutated = lines.join("\n");
                break;
              case "swaplines": {
                const lj = m.to % lines.length;
                [lines[li], lines[lj]] = [lines[lj] ?? "", lines[li] ?? ""];
                mutated = lines.join("\n");
                break;
              }
            }
          }
          const bad = parsePromText(mutated);
          const lineCount = mutated.split("\n").length;
          for (const e of bad.errors) {
            expect(e.line).toBeGreaterThanOrEqual(1);
            expect(e.line).toBeLessThanOrEqual(lineCount);
          }
          for (const s of bad.samples) expect(typeof s.value).toBe("number");
        },
      ),
      { numRuns: 500 },
    );
  });
});
