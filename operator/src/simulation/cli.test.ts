// `inferops simulate` end to end on a tiny trace and configuration (in this thread, inferops and the bounds only).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { simulateCommand } from "../cli/simulate.ts";
import { traceResultSchema } from "./results.ts";

const CONFIG = `apiVersion: inferops.dev/v1alpha1
kind: GPUNodePool
metadata: { name: l4 }
spec:
  gpu: { type: nvidia-l4, count: 1, memoryGiB: 24 }
  power: { busyWattsPerGPU: 72, idleWattsPerGPU: 16 }
  costPerNodeHour: 0.8
  maxNodes: 8
  provisioningSeconds: 120
  provider: { type: kwok }
---
apiVersion: inferops.dev/v1alpha1
kind: InferenceService
metadata: { name: llm, namespace: team-a }
spec:
  model: { name: meta-llama/Llama-3.1-8B-Instruct, server: vllm }
  template: { spec: { containers: [{ name: vllm }] } }
  accelerators:
    - pool: l4
      profile: { maxTokensPerSecond: 2780, maxConcurrentRequests: 62 }
  scaling: { maxReplicas: 8, targets: { ttftSeconds: 2, itlSeconds: 0.1 } }
`;

afterEach(() => {
  vi.restoreAllMocks();
});

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
});
