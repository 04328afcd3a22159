// `inferops simulate` end to end on a tiny trace and configuration (in this thread, inferops and the bounds only).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { simulateCommand, UNSERVABLE_EXIT } from "../cli/simulate.ts";
import { traceResultSchema } from "./results.ts";
import { SIMULATE_CONFIG as CONFIG } from "./testing.ts";

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

/** A JSONL trace of `n` requests every `gapMs`, lengths from `size(i)`; returns its path. */
function writeTrace(dir: string, n: number, gapMs: number, size: (i: number) => [number, number]): string {
  const lines = [];
  for (let i = 0; i < n; i++) {
    const [input, output] = size(i);
    lines.push(JSON.stringify({ timestamp: i * gapMs, input_length: input, output_length: output }));
  }
  writeFileSync(join(dir, "traffic.jsonl"), `${lines.join("\n")}\n`);
  return join(dir, "traffic.jsonl");
}

/** Runs the command in this thread (inferops and the bounds only); returns what it printed. */
async function run(
  config: string,
  size: (i: number) => [number, number],
  extra: Partial<Parameters<typeof simulateCommand>[0]> = {},
  load: { n: number; gapMs: number } = { n: 1200, gapMs: 500 },
): Promise<{ dir: string; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), "inferops-simulate-"));
  writeFileSync(join(dir, "config.yaml"), config);
  const trace = writeTrace(dir, load.n, load.gapMs, size);
  const stdout: string[] = [];
  const stderr: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    stderr.push(args.map(String).join(" "));
  });
  await simulateCommand({
    trace,
    config: join(dir, "config.yaml"),
    scale: "1",
    scaleBy: "superpose",
    baselines: "none",
    out: join(dir, "out"),
    workers: "1",
    interval: "10",
    progress: false,
    ...extra,
  });
  return { dir, stdout: stdout.join(""), stderr: stderr.join("\n") };
}

const chat = (i: number): [number, number] => [400 + (i % 13) * 50, 60 + (i % 7) * 20];

describe("inferops simulate", () => {
  it("replays a JSONL trace against the manifests and writes the results, the report and the plots", async () => {
    const dir = mkdtempSync(join(tmpdir(), "inferops-simulate-"));
    writeFileSync(join(dir, "config.yaml"), CONFIG);
    const lines = [];
    for (let i = 0; i < 1200; i++) {
      lines.push(
        JSON.stringify({
          timestamp: i * 500,
          input_length: 400 + (i % 13) * 50,
          output_length: 60 + (i % 7) * 20,
        }),
      );
    }
    writeFileSync(join(dir, "traffic.jsonl"), `${lines.join("\n")}\n`);
    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    await simulateCommand({
      trace: join(dir, "traffic.jsonl"),
      config: join(dir, "config.yaml"),
      scale: "1",
      scaleBy: "superpose",
      baselines: "none",
      out: join(dir, "out"),
      workers: "1",
      interval: "10",
      progress: false,
      leadTime: true,
    });
    const result = traceResultSchema.parse(
      JSON.parse(readFileSync(join(dir, "out", "traffic.json"), "utf8")),
    );
    expect(Object.keys(result.policies).sort()).toEqual(["clairvoyant", "inferops", "instant"]);
    expect(result.policies.inferops!.sloAttainment).toBeGreaterThan(0.9);
    const report = out.join("");
    expect(report).toMatch(/# inferops simulate: team-a\/llm on traffic.jsonl/);
    expect(report).toMatch(/\| \*\*inferops\*\* \| defaults \|/);
    expect(readFileSync(join(dir, "out", "traffic-pareto.svg"), "utf8")).toMatch(/^<svg/);
    expect(report.startsWith(readFileSync(join(dir, "out", "report.md"), "utf8"))).toBe(true);
    expect(report).toMatch(/wrote .*traffic\.json, report\.md and the plots/);
    // --lead-time: how early a policy must act, at the service's attainment target (99% by default).
    expect(report).toMatch(/- Lead time: (to reach 99\.00%|the warm fleet of \d+ alone reaches|even asking)/);
  });

  it("refuses the requests beyond the servers' context, counts them apart, and warns how many", async () => {
    // Every 10th request is 3,000 tokens; the servers are started with a 2,048-token context.
    const { dir, stdout, stderr } = await run(CONFIG, (i) => (i % 10 === 0 ? [2900, 100] : chat(i)), {
      contextTokens: "2048",
    });
    expect(process.exitCode).toBeUndefined();
    expect(stderr).toMatch(
      /warning: 120 requests \(10\.00% of the trace\) are longer than the servers' context of 2,048 tokens/,
    );
    expect(stdout).toMatch(/120 requests \(10\.00% of the trace\) are longer than the servers' context/);
    const result = traceResultSchema.parse(
      JSON.parse(readFileSync(join(dir, "out", "traffic.json"), "utf8")),
    );
    for (const p of Object.values(result.policies)) expect(p.refused).toBe(120);
    // Not SLO misses: the other 1,080 requests are served as without them.
    expect(result.policies.inferops!.sloAttainment).toBeGreaterThan(0.9);
    expect(result.policies.instant!.sloAttainment).toBeGreaterThanOrEqual(0.99);
  });

  it("--scale-by chooses how copies are laid out (jittered in place, or superposed), and refuses others", async () => {
    const size = chat;
    const load = { n: 600, gapMs: 500 };
    const jitter = await run(CONFIG, size, { scale: "3", scaleBy: "jitter" }, load);
    expect(jitter.stdout).toMatch(/scaled by jittered copies x3/);
    const superposed = await run(CONFIG, size, { scale: "3" }, load);
    expect(superposed.stdout).toMatch(/superposed x3/);
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    await expect(run(CONFIG, size, { scale: "3", scaleBy: "spread" })).rejects.toThrow("exit");
    expect(exit).toHaveBeenCalledWith(2);
  });

  it("--client-timeout says how long clients wait, and refuses what is not a number of seconds", async () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    for (const bad of ["-1", "soon", ""]) {
      await expect(run(CONFIG, chat, { clientTimeout: bad }, { n: 50, gapMs: 500 })).rejects.toThrow("exit");
      expect(exit).toHaveBeenLastCalledWith(2);
    }
    exit.mockRestore();
    const patient = await run(CONFIG, chat, { clientTimeout: "0" }, { n: 200, gapMs: 500 });
    expect(patient.stdout).toMatch(/Clients wait for their first token however long it takes/);
    const impatient = await run(CONFIG, chat, { clientTimeout: "30" }, { n: 200, gapMs: 500 });
    expect(impatient.stdout).toMatch(
      /A client gives up on a request that has waited 30 s for its first token/,
    );
  });

  it("rejects a context the servers' KV cache cannot hold", async () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((() => {
      throw new Error("exit");
    }) as never);
    await expect(run(CONFIG, chat, { contextTokens: "100000" })).rejects.toThrow("exit");
    expect(exit).toHaveBeenCalledWith(2);
  });

  it("warns when the spec's profile is more than 20% off the capacity measured on the trace, with the figure to use", async () => {
    const { stderr, stdout } = await run(
      CONFIG.replace("maxTokensPerSecond: 2780", "maxTokensPerSecond: 6000"),
      chat,
    );
    const warning =
      /spec\.accelerators\[l4\]\.profile\.maxTokensPerSecond is 6,000 tokens\/s per replica, (\d+\.\d+)x what this trace's mix measures at the SLO: ([\d,]+) tokens\/s per replica for a fleet of \d+ .*put maxTokensPerSecond: (\d+) in the spec/;
    const m = warning.exec(stderr);
    expect(m, stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(1.2);
    const measured = Number(m![2]!.replaceAll(",", ""));
    expect(Number(m![3])).toBeCloseTo(measured, -2);
    expect(stdout).toMatch(warning);
    // The calibrated profile is within 20% of this mix: no warning.
    const calibrated = await run(CONFIG, chat);
    expect(calibrated.stderr).not.toMatch(/maxTokensPerSecond is/);
  });

  it("ends with a message naming the limit and a non-zero exit when no allowed fleet serves the trace", async () => {
    // 20 requests/s of chat, about 8 L4 replicas' worth, with maxReplicas 2.
    const capped = CONFIG.replace("maxReplicas: 8", "maxReplicas: 2");
    const { dir, stdout, stderr } = await run(capped, chat, {}, { n: 6000, gapMs: 50 });
    expect(process.exitCode).toBe(UNSERVABLE_EXIT);
    expect(stderr).toMatch(
      /no allowed fleet serves this trace at 99\.00%: with 2 replicas \(maxReplicas 2\) in every minute, only \d+\.\d+% of its requests meet the SLO/,
    );
    expect(stdout).toBe("");
    expect(existsSync(join(dir, "out", "traffic.json"))).toBe(false);
    // The pool's maxNodes is the limit when it holds fewer replicas than maxReplicas.
    process.exitCode = undefined;
    const nodes = await run(CONFIG.replace("maxNodes: 8", "maxNodes: 2"), chat, {}, { n: 6000, gapMs: 50 });
    expect(process.exitCode).toBe(UNSERVABLE_EXIT);
    expect(nodes.stderr).toMatch(/with 2 replicas \(maxNodes 2 of GPUNodePool l4 \(1 replica per node\)\)/);
  });

  it("ends with a message, not a capacity of 0 labelled attained, when the requests miss the SLO even alone", async () => {
    // 30,000-token prompts: an L4 takes longer than the 2 s TTFT objective to prefill each.
    const { stdout, stderr } = await run(CONFIG, () => [30_000, 50], {}, { n: 200, gapMs: 3000 });
    expect(process.exitCode).toBe(UNSERVABLE_EXIT);
    expect(stderr).toMatch(
      /no fleet of any size serves this trace at 99\.00% .*only 0\.00% of its requests meet it, so its capacity at the SLO is 0 tokens\/s/,
    );
    expect(stdout).toBe("");
  });
});
