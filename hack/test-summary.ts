// Prints the closing line CI reads, `N passed, N failed`, from vitest's JSON report.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? ".tmp/vitest.json";
try {
  const report = JSON.parse(readFileSync(file, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
  };
  const skipped = report.numPendingTests + report.numTodoTests;
  console.log(
    `${report.numPassedTests} passed, ${report.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}`,
  );
} catch (err) {
  console.error(`no test report at ${file}: ${(err as Error).message}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
