// Prints the closing line CI reads, `N passed, N failed`, over one or more vitest JSON reports (`make test`
// runs its groups as separate vitest processes, one report each), after each test file's duration, slowest
// first. A report that is missing or unreadable counts as one failed test: its group did not finish.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; startTime: number; endTime: number; status: string }[];
}

const files = process.argv.length > 2 ? process.argv.slice(2) : [".tmp/vitest.json"];
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = false;
const durations: { seconds: number; file: string; report: string; status: string }[] = [];
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
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
if (missing) process.exitCode = 1;
