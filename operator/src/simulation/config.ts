// A user's configuration for `inferops simulate --config DIR`: the InferenceService, GPUNodePool and
// CapacityBudget manifests they would apply (YAML or JSON, several documents per file), validated by the same
// zod schemas as the API (defaults applied), and turned into a Scenario. Namespace manifests, when present,
// resolve the budgets' namespace selectors. Errors name the file, the document and the field.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { CapacityBudget } from "../apis/capacitybudget.ts";
import { selectorMatches } from "../apis/common.ts";
import type { GPUNodePool } from "../apis/gpunodepool.ts";
import type { InferenceService } from "../apis/inferenceservice.ts";
import { formatErrors, parseResource } from "../apis/validate.ts";
import { getProfile } from "../serving/profiles.ts";
import type { ServingProfile } from "../serving/types.ts";
import { DEFAULT_SLO, profileFor, type Scenario, ScenarioError } from "./scenario.ts";

/** The configuration cannot be simulated; the message says where and how to fix it. */
export class ConfigError extends Error {
  readonly code = "ConfigError";
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}

interface NamespaceDoc {
  name: string;
  labels: Record<string, string>;
}

export interface LoadedConfig {
  services: InferenceService[];
  pools: GPUNodePool[];
  budgets: CapacityBudget[];
  namespaces: NamespaceDoc[];
}

function files(dir: string): string[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch {
    throw new ConfigError(`--config ${dir}: no such directory`);
  }
  if (st.isFile()) return [dir];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path));
    else if (/\.(ya?ml|json)$/i.test(entry.name)) out.push(path);
  }
  return out;
}

/** Reads and validates every manifest under `dir` (a directory, searched recursively, or one file). */
export function loadConfig(dir: string): LoadedConfig {
  const out: LoadedConfig = { services: [], pools: [], budgets: [], namespaces: [] };
  const problems: string[] = [];
  const list = files(dir);
  if (list.length === 0) throw new ConfigError(`--config ${dir}: no .yaml, .yml or .json files`);
  for (const file of list) {
    const docs = parseAllDocuments(readFileSync(file, "utf8"));
    docs.forEach((doc, i) => {
      const where = `${file}${docs.length > 1 ? ` (document ${i + 1})` : ""}`;
      if (doc.errors.length > 0) {
        problems.push(`${where}: not YAML: ${doc.errors[0]?.message}`);
        return;
      }
      const obj = doc.toJS() as Record<string, unknown> | null;
      if (!obj || typeof obj !== "object") return;
      const meta = (obj.metadata ?? {}) as { name?: string; labels?: Record<string, string> };
      if (obj.apiVersion === "v1" && obj.kind === "Namespace") {
        out.namespaces.push({ name: String(meta.name ?? ""), labels: meta.labels ?? {} });
        return;
      }
      if (!String(obj.apiVersion ?? "").startsWith("inferops.dev/")) return;
      const parsed = parseResource(obj);
      if (!parsed.ok) {
        problems.push(
          `${where}: ${String(obj.kind)} ${meta.name ?? ""} is invalid:\n${formatErrors(parsed.errors)
            .split("\n")
            .map((l) => `  ${l}`)
            .join("\n")}`,
        );
        return;
      }
      const r = parsed.value;
      if (r.kind === "InferenceService") out.services.push(r as InferenceService);
      else if (r.kind === "GPUNodePool") out.pools.push(r as GPUNodePool);
      else if (r.kind === "CapacityBudget") out.budgets.push(r as CapacityBudget);
    });
  }
  if (problems.length > 0) throw new ConfigError(problems.join("\n"));
  return out;
}

export interface ScenarioOptions {
  /** namespace/name or name of the service to simulate, when the configuration holds several. */
  service?: string;
  /** Serving profile per pool, overriding the one matched from the pool's GPU type. */
  profiles?: Record<string, string>;
  intervalSeconds?: number;
  /** The context the servers are started with (vLLM --max-model-len), instead of the profiles' own. */
  contextTokens?: number;
  /** How long clients wait for a first step before giving up (Scenario.clientTimeoutSeconds). */
  clientTimeoutSeconds?: number;
}

/** The Scenario of a loaded configuration, and warnings worth printing. */
export function scenarioFromConfig(
  config: LoadedConfig,
  options: ScenarioOptions = {},
): { scenario: Scenario; warnings: string[] } {
  const warnings: string[] = [];
  const key = (s: InferenceService) => `${s.metadata.namespace ?? "default"}/${s.metadata.name}`;
  let services = config.services;
  if (options.service) {
    services = services.filter((s) => key(s) === options.service || s.metadata.name === options.service);
    if (services.length === 0) {
      throw new ConfigError(
        `--service ${options.service}: no such InferenceService in the configuration (found: ${config.services.map(key).join(", ") || "none"})`,
      );
    }
  }
  if (services.length === 0)
    throw new ConfigError("the configuration holds no InferenceService: add the one to simulate");
  if (services.length > 1) {
    throw new ConfigError(
      `the configuration holds ${services.length} InferenceServices (${services.map(key).join(", ")}): the trace is one service's traffic; choose it with --service`,
    );
  }
  const svc = services[0]!;
  const namespace = svc.metadata.namespace ?? "default";
  const pools = config.pools.map((p) => ({ name: p.metadata.name, spec: p.spec }));
  const profiles: Record<string, ServingProfile> = {};
  for (const acc of svc.spec.accelerators) {
    const pool = pools.find((p) => p.name === acc.pool);
    if (!pool) {
      warnings.push(
        `spec.accelerators names GPUNodePool ${acc.pool}, which is not in the configuration: that variant is not simulated`,
      );
      continue;
    }
    const override = options.profiles?.[acc.pool];
    try {
      profiles[acc.pool] = override ? getProfile(override) : profileFor(svc.spec.model.name, acc, pool.spec);
    } catch (err) {
      if (err instanceof RangeError || err instanceof ScenarioError) throw new ConfigError(err.message);
      throw err;
    }
    if (!acc.profile) {
      warnings.push(
        `spec.accelerators[${acc.pool}] has no profile: inferops scales that variant on the queue alone until it measures saturation (the simulated replica is ${profiles[acc.pool]!.id})`,
      );
    }
  }
  if (Object.keys(profiles).length === 0) {
    throw new ConfigError(
      `InferenceService ${key(svc)}: none of its accelerators (${svc.spec.accelerators.map((a) => a.pool).join(", ")}) names a GPUNodePool of the configuration`,
    );
  }
  const budgets = config.budgets.map((b) => {
    const selector = b.spec.scope.namespaceSelector;
    if (!selector) return { name: b.metadata.name, spec: b.spec };
    if (config.namespaces.length === 0) {
      warnings.push(
        `CapacityBudget ${b.metadata.name} selects namespaces by label, but the configuration holds no Namespace manifest: it is taken to cover ${namespace}`,
      );
      return { name: b.metadata.name, spec: b.spec, namespaces: [namespace] };
    }
    return {
      name: b.metadata.name,
      spec: b.spec,
      namespaces: config.namespaces.filter((n) => selectorMatches(selector, n.labels)).map((n) => n.name),
    };
  });
  const targets = svc.spec.scaling.targets;
  return {
    scenario: {
      service: { namespace, name: svc.metadata.name, spec: svc.spec },
      pools,
      budgets,
      profiles,
      slo: {
        ttftSeconds: targets.ttftSeconds ?? DEFAULT_SLO.ttftSeconds,
        itlSeconds: targets.itlSeconds ?? DEFAULT_SLO.itlSeconds,
      },
      intervalSeconds: options.intervalSeconds ?? 10,
      ...(options.contextTokens === undefined ? {} : { contextTokens: options.contextTokens }),
      ...(options.clientTimeoutSeconds === undefined
        ? {}
        : { clientTimeoutSeconds: options.clientTimeoutSeconds }),
    },
    warnings,
  };
}
