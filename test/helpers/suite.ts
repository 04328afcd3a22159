// Integration suites run against the cluster the global setup started; when it could not start one on
// purpose (k3s asked for where no Docker engine runs), they are skipped with its reason.
import { describe, inject } from "vitest";

export function integrationSuite(name: string, fn: () => void): void {
  const reason = inject("skipReason");
  if (reason) describe.skip(`${name} (skipped: ${reason})`, fn);
  else describe(name, fn);
}
