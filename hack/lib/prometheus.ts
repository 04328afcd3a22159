// A real Prometheus (Debian's package) with its own config, storage and port; stopped afterwards.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { eventually } from "./eventually.ts";
import { freePort } from "./ports.ts";

export interface ScrapeTarget {
  address: string;
  labels: Record<string, string>;
}

export interface PrometheusProcess {
  url: string;
  proc: ChildProcess;
  /** An instant query's vector result. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Kills the server (SIGKILL, as a crash or an evicted pod would) and keeps its storage: `url` refuses. */
  crash(): Promise<void>;
  /** Starts it again on the same port, with the same config and storage; resolves once it is ready. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `targets`, and with `fileSd` also the targets listed in that file (Prometheus'
 * file_sd format: `[{ targets: [...], labels: {...} }]`, re-read whenever it changes).
 */
export async function startPrometheus(
  targets: ScrapeTarget[],
  opts: { scrapeIntervalSeconds?: number; fileSd?: string } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "inferops-prom-"));
  const port = await freePort();
  const interval = `${opts.scrapeIntervalSeconds ?? 1}s`;
  writeFileSync(
    join(dir, "prometheus.yml"),
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      scrape_configs: [
        {
          job_name: "model-servers",
          scrape_timeout: interval,
          static_configs: targets.map((t) => ({ targets: [t.address], labels: t.labels })),
          ...(opts.fileSd ? { file_sd_configs: [{ files: [opts.fileSd] }] } : {}),
        },
      ],
    }),
  );
  const args = [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ];
  const stderr: string[] = [];
  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    const p = spawn("prometheus", args, { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr?.on("data", (d) => stderr.push(String(d)));
    await eventually(async () => {
      if (p.exitCode !== null) throw new Error(`prometheus exited: ${stderr.join("")}`);
      const res = await fetch(`${url}/-/ready`);
      if (!res.ok) throw new Error(`prometheus not ready: ${res.status}`);
    }).catch(async (err) => {
      await kill(p, "SIGTERM");
      throw err;
    });
    return p;
  };
  const kill = async (p: ChildProcess, signal: NodeJS.Signals) => {
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once("exit", r));
      p.kill(signal);
      await exited;
    }
  };
  let proc: ChildProcess;
  try {
    proc = await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = async () => {
    await kill(proc, "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    url,
    get proc() {
      return proc;
    },
    stop,
    crash: () => kill(proc, "SIGKILL"),
    restart: async () => {
      await kill(proc, "SIGKILL");
      proc = await launch();
    },
    query: async (promql: string) => {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return body.data.result;
    },
  } satisfies PrometheusProcess;
}
