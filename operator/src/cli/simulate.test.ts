// `inferops simulate --start`: the trace's own start, so that idle time before the first request counts.
// Through the command line as a user types it (commander's parsing included), on a tiny trace, in this
// thread, inferops and the bounds only.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SIMULATE_CONFIG as CONFIG } from "../simulation/testing.ts";
import { buildProgram } from "./main.ts";

/** A directory with the configuration and a CSV trace: 300 requests 2 s apart from 18:10:00 (10 minutes). */
function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), "inferops-simulate-start-"));
  writeFileSync(join(dir, "config.yaml"), CONFIG);
  const rows = ["TIMESTAMP,ContextTokens,GeneratedTokens"];
  const first = Date.UTC(2023, 10, 16, 18, 10, 0);
  for (let i = 0; i < 300; i++) {
    const at = new Date(first + i * 2000).toISOString().replace("T", " ").replace("Z", "");
    rows.push(`${at},${400 + (i % 13) * 50},${60 + (i % 7) * 20}`);
  }
  writeFileSync(join(dir, "burst.csv"), `${rows.join("\n")}\n`);
  return dir;
}

async function simulate(dir: string, ...extra: string[]): Promise<string> {
  const out: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const args = ["simulate", "--trace", join(dir, "burst.csv"), "--config", join(dir, "config.yaml")];
  args.push("--baselines", "none", "--workers", "1", "--no-progress", "--out", join(dir, "out"), ...extra);
  await buildProgram().exitOverride().parseAsync(args, { from: "user" });
  return out.join("");
}

/** Runs the command expecting it to fail; returns what it printed to stderr. */
async function failing(dir: string, ...extra: string[]): Promise<string> {
  const err: string[] = [];
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => {
    err.push(a.join(" "));
  });
  vi.spyOn(process, "exit").mockImplementation((code?: string | number | null) => {
    throw new Error(`exit ${code}`);
  });
  await expect(simulate(dir, ...extra)).rejects.toThrow("exit 2");
  return err.join("\n");
}

afterEach(() => {
  vi.restoreAllMocks();
});

// Each case replays the trace once or twice: seconds, more on a machine other jobs share.
describe("inferops simulate --start", { timeout: 60_000 }, () => {
  it("counts the idle time between the start and the first request", async () => {
    const dir = fixture();
    const report = await simulate(dir, "--start", "2023-11-16 18:00:00");
    // Ten idle minutes, then ten of requests: the trace spans 0.33 h, not the 0.17 h of its requests.
    expect(report).toMatch(/300 requests over 0\.33 h/);
    const plain = await simulate(dir);
    expect(plain).toMatch(/300 requests over 0\.17 h/);
    expect(readFileSync(join(dir, "out", "burst.json"), "utf8")).toMatch(/"inferops"/);
  });

  it("takes epoch seconds", async () => {
    const dir = fixture();
    const report = await simulate(dir, "--start", String(Date.UTC(2023, 10, 16, 17, 55, 0) / 1000));
    expect(report).toMatch(/300 requests over 0\.42 h/);
  });

  it("fails with exit 2 naming --start when a request precedes it or it cannot be read", async () => {
    const dir = fixture();
    expect(await failing(dir, "--start", "2023-11-16 18:15:00")).toMatch(
      /inferops simulate: .*before the trace's start 2023-11-16T18:15:00.000Z \(the start option, --start/,
    );
    expect(await failing(dir, "--start", "after lunch")).toMatch(
      /inferops simulate: the trace's start .*--start.*got "after lunch"/,
    );
  });
});
