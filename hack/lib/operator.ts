// Runs the real operator (`inferops operator`) as a child process, as a user would, and reads its metrics.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { eventually } from "./eventually.ts";
import { ROOT } from "./paths.ts";

export interface OperatorProcess {
  proc: ChildProcess;
  identity: string;
  port: number;
  logs: Record<string, unknown>[];
  stderr: string[];
  metrics(): Promise<string>;
  /** Sum of a counter's samples whose labels match. */
  counter(name: string, labels?: Record<string, string | RegExp>): Promise<number>;
  /** Writes (non-GET requests) to the API server, optionally excluding Lease renewals. */
  writes(opts?: { includeLeases?: boolean }): Promise<number>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startOperatorProcess(opts: {
  kubeconfig: string;
  identity: string;
  leaderElect?: boolean;
  namespace?: string;
  interval?: string;
  /** Its server-side-apply field manager (--field-manager); default: the operator's own (inferops). */
  fieldManager?: string;
  extraArgs?: string[];
  /** Also append the operator's log lines (JSON) to this file. */
  logFile?: string;
  /** Options for Node itself, before the script (`--cpu-prof`, `--max-old-space-size`). */
  nodeArgs?: string[];
}): Promise<OperatorProcess> {
  const args = [
    ...(opts.nodeArgs ?? []),
    join(ROOT, "operator/src/cli/main.ts"),
    "operator",
    "--kubeconfig",
    opts.kubeconfig,
    "--identity",
    opts.identity,
    "--http-address",
    "127.0.0.1:0",
    "--interval",
    opts.interval ?? "2s",
    "--namespace",
    opts.namespace ?? "default",
    "--log-level",
    "debug",
    ...(opts.leaderElect ? ["--leader-elect"] : []),
    ...(opts.fieldManager !== undefined ? ["--field-manager", opts.fieldManager] : []),
    ...(opts.extraArgs ?? []),
  ];
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const file = opts.logFile ? createWriteStream(opts.logFile, { flags: "a" }) : undefined;
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    file?.write(`${line}\n`);
    try {
      logs.push(JSON.parse(line));
    } catch {
      stderr.push(line);
    }
  });
  createInterface({ input: proc.stderr! }).on("line", (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const started = await Promise.race([
    eventually(
      () => {
        const line = logs.find((l) => l.msg === "operator started");
        if (!line) throw new Error("operator not started yet");
        return line;
      },
      { timeoutMs: 60_000 },
    ),
    exited.then((code) => {
      throw new Error(`operator exited ${code}: ${stderr.join("\n")}`);
    }),
  ]).catch((err) => {
    proc.kill("SIGKILL");
    throw err;
  });
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
  });
  const port = started.httpPort as number;
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counter = async (name: string, labels: Record<string, string | RegExp> = {}) => {
    let sum = 0;
    for (const line of (await metrics()).split("\n")) {
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([0-9.e+-]+)$/);
      if (!m || m[1] !== name) continue;
      const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      const ok = Object.entries(labels).every(([k, v]) =>
        typeof v === "string" ? got[k] === v : v.test(got[k] ?? ""),
      );
      if (ok) sum += Number(m[3]);
    }
    return sum;
  };
  return {
    proc,
    identity: opts.identity,
    port,
    logs,
    stderr,
    metrics,
    counter,
    writes: async ({ includeLeases = false } = {}) => {
      return counter("inferops_kube_api_requests_total", {
        verb: /^(POST|PUT|PATCH|DELETE)$/,
        ...(includeLeases ? {} : { resource: /^(?!leases$)/ }),
      });
    },
    exited,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (exitCode === undefined) proc.kill(signal);
      return exited;
    },
  };
}
