// `make demo` end to end, shortened: its own local control plane, the operator, Prometheus, the serving
// model as the kwok pods' vLLM, and 90 s of traffic that ramps up and holds. The operator must scale the service on
// the signals it reads through Prometheus, and the demo must stop everything it started.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/fixtures.ts";

interface Summary {
  requests: number;
  finished: number;
  maxReady: number;
  maxDesired: number;
  reasons: string[];
  lost: number;
  maxNodes: number;
}

describe("make demo", () => {
  it("scales the service up on the ramp, from the servers' metrics through Prometheus", async () => {
    const proc = spawn(process.execPath, [join(ROOT, "hack", "demo.ts"), "--duration", "90"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: string[] = [];
    const err: string[] = [];
    proc.stdout.on("data", (d) => out.push(String(d)));
    proc.stderr.on("data", (d) => err.push(String(d)));
    const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
    const lines = out.join("").trim().split("\n");
    expect(code, `${lines.slice(-20).join("\n")}\n${err.join("").slice(-2000)}`).toBe(0);
    const summary = JSON.parse(lines.at(-1)!) as Summary;
    expect(summary.requests).toBeGreaterThan(100);
    expect(summary.finished).toBeGreaterThan(0);
    expect(summary.lost).toBe(0);
    // One replica serves the first 9 s at 1 request/s; the ramp to 4.5 requests/s needs three or four.
    expect(summary.maxDesired).toBeGreaterThanOrEqual(2);
    expect(summary.maxReady).toBeGreaterThanOrEqual(2);
    expect(
      summary.reasons.some((r) => ["TokenThroughput", "QueueDepth", "Forecast", "LatencySLO"].includes(r)),
    ).toBe(true);
    // The pool starts with two nodes; batch's three replicas and llama's first need four: the GPUNodePool
    // controller adds them.
    expect(summary.maxNodes).toBeGreaterThan(2);
    // The status table, one row per 10 s.
    expect(lines.filter((l) => /^\s+\d+\s+\d+\.\d\s+\d+\/\d+/.test(l))).toHaveLength(9);
  }, 240_000);
});
