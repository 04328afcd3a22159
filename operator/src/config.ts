// Operator configuration from flags and environment, validated with zod: one clear error per bad value.
import { hostname } from "node:os";
import { z } from "zod";
import { formatErrors, toFieldErrors } from "./apis/validate.ts";
import { FIELD_MANAGER } from "./kube/field-manager.ts";

const duration = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m)$/, "must be a duration such as 500ms, 10s or 2m")
  .transform((s) => {
    const n = Number.parseFloat(s);
    return s.endsWith("ms") ? n : s.endsWith("m") ? n * 60_000 : n * 1000;
  });

export const operatorConfigSchema = z.strictObject({
  kubeconfig: z
    .string()
    .min(1)
    .optional()
    .describe("Path to a kubeconfig; default: KUBECONFIG, ~/.kube/config, in-cluster."),
  context: z.string().min(1).optional().describe("kubeconfig context to use."),
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a namespace name (a DNS label)")
    .describe(
      "Namespace the operator runs in: its leader-election Lease and events of cluster-scoped objects.",
    ),
  leaderElect: z
    .boolean()
    .describe("Elect a leader by Lease so several replicas can run; only the leader writes."),
  leaseName: z.string().min(1).default("inferops-operator"),
  identity: z.string().min(1).describe("This instance's name in the Lease and in events."),
  // What the API server accepts as a fieldManager (apimachinery's ValidateFieldManager): checked here so that a
  // bad value stops the operator at start, not at its first write. Go counts bytes and takes unicode.IsPrint,
  // which is letters, marks, numbers, punctuation, symbols and the ASCII space.
  fieldManager: z
    .string()
    .min(1, "must not be empty")
    .refine((s) => Buffer.byteLength(s, "utf8") <= 128, "must be at most 128 bytes")
    .regex(/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u, "must be printable characters only")
    .describe("Server-side apply field manager of every write; distinct per release, for a second release."),
  interval: duration.describe("How often services in Auto mode are re-evaluated."),
  httpAddress: z
    .string()
    .regex(/^[^:]*:\d{1,5}$/, "must be host:port, for example :8080 or 127.0.0.1:0")
    .describe("Address of /healthz, /readyz and /metrics."),
  prometheusURL: z
    .string()
    .regex(/^https?:\/\/[^/\s]+/, "must be an http(s) URL such as http://prometheus:9090")
    .optional(),
  promqlOverrides: z.enum(["Allow", "Forbid"], "must be Allow or Forbid"),
  concurrency: z.int().min(1).max(64).describe("Reconciles run at once."),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]),
});
export type OperatorConfig = z.output<typeof operatorConfigSchema>;

/** Raw values as flags give them (strings), with environment fallbacks INFEROPS_*. */
export interface RawConfig {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  leaderElect?: boolean | string;
  identity?: string;
  fieldManager?: string;
  interval?: string;
  httpAddress?: string;
  prometheusUrl?: string;
  promqlOverrides?: string;
  concurrency?: string | number;
  logLevel?: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "InvalidConfig";
}

const FLAG: Record<string, string> = {
  kubeconfig: "--kubeconfig",
  context: "--context",
  namespace: "--namespace",
  leaderElect: "--leader-elect",
  identity: "--identity",
  fieldManager: "--field-manager",
  interval: "--interval",
  httpAddress: "--http-address",
  prometheusURL: "--prometheus-url",
  promqlOverrides: "--promql-overrides",
  concurrency: "--concurrency",
  logLevel: "--log-level",
};

export function parseConfig(raw: RawConfig, env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const concurrency = raw.concurrency ?? env.INFEROPS_CONCURRENCY ?? "4";
  const input = {
    kubeconfig: raw.kubeconfig ?? env.KUBECONFIG ?? undefined,
    context: raw.context,
    namespace: raw.namespace ?? env.INFEROPS_NAMESPACE ?? env.POD_NAMESPACE ?? "inferops-system",
    leaderElect:
      typeof raw.leaderElect === "boolean"
        ? raw.leaderElect
        : (raw.leaderElect ?? env.INFEROPS_LEADER_ELECT) === "true",
    identity: raw.identity ?? env.POD_NAME ?? `${hostname()}-${process.pid}`,
    fieldManager: raw.fieldManager ?? env.INFEROPS_FIELD_MANAGER ?? FIELD_MANAGER,
    interval: raw.interval ?? env.INFEROPS_INTERVAL ?? "10s",
    httpAddress: raw.httpAddress ?? env.INFEROPS_HTTP_ADDRESS ?? ":8080",
    prometheusURL: raw.prometheusUrl ?? env.INFEROPS_PROMETHEUS_URL ?? undefined,
    promqlOverrides: raw.promqlOverrides ?? env.INFEROPS_PROMQL_OVERRIDES ?? "Allow",
    concurrency: typeof concurrency === "number" ? concurrency : Number(concurrency),
    logLevel: raw.logLevel ?? env.INFEROPS_LOG_LEVEL ?? "info",
  };
  const result = operatorConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const errors = toFieldErrors(result.error).map((e) => ({ ...e, path: FLAG[e.path] ?? e.path }));
  throw new ConfigError(`invalid configuration:\n${formatErrors(errors)}`);
}
