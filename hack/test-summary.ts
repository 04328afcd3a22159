// Prints the closing line CI reads, `N passed, N failed`, over one or more vitest JSON reports (`make test`
// runs its groups as separate vitest processes, one report each), after each test file's duration, slowest
// first, and each failed test with the start of its failure message (CI keeps only the end of the output, so
// the failures must be there). A report that is missing or unreadable counts as one failed test: its group did
// not finish.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: {
    name: string;
    startTime: number;
    endTime: number;
    status: string;
    message?: string;
    assertionResults?: { fullName: string; status: string; failureMessages?: string[] }[];
  }[];
}

/** The first lines of a failure message, without terminal colours or the test runner's own stack frames. */
const excerpt = (message: string, lines = 12): string =>
  message
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape sequences vitest colours with
    .replace(/\u001b\[[0-9;]*m/g, "")
    .split("\n")
    .filter((l) => !/node_modules|\(<anonymous>\)|node:internal/.test(l))
    .slice(0, lines)
    .map((l) => `      ${l}`)
    .join("\n");

const files = process.argv.length > 2 ? process.argv.slice(2) : [".tmp/vitest.json"];
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = false;
const durations: { seconds: number; file: string; report: string; status: string }[] = [];
const failures: string[] = [];
for (const file of files) {
  try {
    const report = JSON.parse(readFileSync(file, "utf8")) as Report;
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    skipped += report.numPendingTests + report.numTodoTests;
    for (const t of report.testResults) {
      durations.push({
        seconds: (t.endTime - t.startTime) / 1000,
        file: relative(process.cwd(), t.name),
        report: file,
        status: t.status,
      });
      const testFile = relative(process.cwd(), t.name);
      const failedTests = (t.assertionResults ?? []).filter((a) => a.status === "failed");
      for (const a of failedTests) {
        failures.push(`  ${testFile} > ${a.fullName}\n${excerpt((a.failureMessages ?? []).join("\n"))}`);
      }
      if (t.status === "failed" && failedTests.length === 0) {
        failures.push(`  ${testFile} (the file failed outside a test)\n${excerpt(t.message ?? "")}`);
      }
    }
  } catch (err) {
    console.error(`no test report at ${file}: ${(err as Error).message}`);
    failed += 1;
    missing = true;
  }
}
durations.sort((a, b) => b.seconds - a.seconds);
const shown = durations.slice(0, 12);
if (shown.length > 0) {
  console.log(`slowest test files (of ${durations.length}):`);
  for (const d of shown) {
    console.log(`  ${d.seconds.toFixed(1).padStart(7)} s  ${d.file}  (${d.status}, ${d.report})`);
  }
}
if (failures.length > 0) {
  console.log(`failed (${failures.length}):`);
  for (const f of failures) console.log(f);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
if (missing) process.exitCode = 1;
