import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, scenarioFromConfig } from "./config.ts";

const POOL = `apiVersion: inferops.dev/v1alpha1
kind: GPUNodePool
metadata: { name: l4 }
spec:
  gpu: { type: nvidia-l4, count: 1, memoryGiB: 24 }
  power: { busyWattsPerGPU: 72, idleWattsPerGPU: 16 }
  costPerNodeHour: 0.8
  maxNodes: 32
  provider: { type: kwok }
`;
const service = (name: string, pool = "l4") => `apiVersion: inferops.dev/v1alpha1
kind: InferenceService
metadata: { name: ${name}, namespace: team-a }
spec:
  model: { name: meta-llama/Llama-3.1-8B-Instruct, server: vllm }
  template: { spec: { containers: [{ name: vllm }] } }
  accelerators:
    - pool: ${pool}
      profile: { maxTokensPerSecond: 2780, maxConcurrentRequests: 62 }
  scaling: { maxReplicas: 20, targets: { ttftSeconds: 1.5 } }
`;
const BUDGET = `apiVersion: inferops.dev/v1alpha1
kind: CapacityBudget
metadata: { name: cap }
spec:
  scope: { namespaceSelector: { matchLabels: { team: a } } }
  limits: { powerWatts: 500 }
`;
const NS = `apiVersion: v1
kind: Namespace
metadata: { name: team-a, labels: { team: a } }
`;

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "inferops-config-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe("simulate --config", () => {
  it("validates the manifests with the API's schemas, applies defaults and builds the scenario", () => {
    const dir = dirWith({
      "pool.yaml": POOL,
      "nested/svc.yaml": `${service("llm")}---\n${BUDGET}---\n${NS}`,
    });
    const { scenario, warnings } = scenarioFromConfig(loadConfig(dir));
    expect(warnings).toEqual([]);
    expect(scenario.service).toMatchObject({ namespace: "team-a", name: "llm" });
    expect(scenario.service.spec.scaling.behavior.scaleDown.stabilizationWindowSeconds).toBe(300); // default
    expect(scenario.pools[0]!.spec.provisioningSeconds).toBe(300); // default
    expect(scenario.profiles.l4!.id).toBe("llama-3.1-8b-fp8/l4");
    expect(scenario.slo).toEqual({ ttftSeconds: 1.5, itlSeconds: 0.1 });
    expect(scenario.budgets).toEqual([expect.objectContaining({ name: "cap", namespaces: ["team-a"] })]);
  });

  it("names the file, the document and the field of an invalid manifest", () => {
    const dir = dirWith({
      "bad.yaml": `${POOL}---\n${service("llm").replace("maxReplicas: 20", "maxReplicas: 0")}`,
    });
    expect(() => loadConfig(dir)).toThrow(ConfigError);
    expect(() => loadConfig(dir)).toThrow(
      /bad\.yaml \(document 2\): InferenceService llm is invalid:\n {2}spec\.scaling\.maxReplicas/,
    );
  });

  it("asks which service when there are several, and says when a pool or a profile is missing", () => {
    const two = loadConfig(dirWith({ "a.yaml": `${POOL}---\n${service("one")}---\n${service("two")}` }));
    expect(() => scenarioFromConfig(two)).toThrow(/2 InferenceServices.*--service/);
    expect(scenarioFromConfig(two, { service: "team-a/two" }).scenario.service.name).toBe("two");
    expect(() => scenarioFromConfig(two, { service: "three" })).toThrow(/no such InferenceService/);
    const orphan = loadConfig(dirWith({ "a.yaml": service("one", "h100") }));
    expect(() => scenarioFromConfig(orphan)).toThrow(/none of its accelerators \(h100\) names a GPUNodePool/);
    const odd = loadConfig(
      dirWith({ "a.yaml": `${POOL.replace("nvidia-l4", "amd-mi300x")}---\n${service("one")}` }),
    );
    expect(() => scenarioFromConfig(odd)).toThrow(/no serving profile for pool l4.*--profile l4=/);
    expect(
      scenarioFromConfig(odd, { profiles: { l4: "llama-3.1-8b-fp8/l40s" } }).scenario.profiles.l4!.gpu,
    ).toBe("L40S");
  });

  it("refuses an empty or missing directory", () => {
    expect(() => loadConfig(join(tmpdir(), "does-not-exist-inferops"))).toThrow(/no such directory/);
    expect(() => loadConfig(dirWith({ "notes.txt": "x" }))).toThrow(/no \.yaml, \.yml or \.json files/);
  });
});
