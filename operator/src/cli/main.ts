#!/usr/bin/env node
// The `inferops` command. User-facing output goes to stdout/stderr here and nowhere else.
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { parseAllDocuments } from "yaml";
import { crdFiles } from "../apis/crd.ts";
import { formatErrors, parseResource } from "../apis/validate.ts";
import { ConfigError, parseConfig, type RawConfig } from "../config.ts";
import { registerSimulateCommand } from "./simulate.ts";

export function buildProgram(): Command {
  const program = new Command()
    .name("inferops")
    .description("Autoscaling for LLM inference on Kubernetes: replicas, GPU variants and GPU node pools.")
    .showHelpAfterError();

  program
    .command("crds")
    .description("Print the CustomResourceDefinitions (pipe to kubectl apply -f -).")
    .action(() => {
      process.stdout.write([...crdFiles().values()].join("---\n"));
    });

  program
    .command("operator")
    .description("Run the operator: watch InferenceService, GPUNodePool and CapacityBudget and act on them.")
    .option("--kubeconfig <path>", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option("--context <name>", "kubeconfig context")
    .option(
      "--namespace <ns>",
      "namespace the operator runs in (its Lease); env INFEROPS_NAMESPACE",
      undefined,
    )
    .option("--leader-elect", "elect a leader by Lease so several replicas can run")
    .option("--identity <name>", "this instance's identity (default: POD_NAME, or host-pid)")
    .option(
      "--field-manager <name>",
      "server-side apply field manager of every write (default inferops); env INFEROPS_FIELD_MANAGER",
    )
    .option("--interval <duration>", "evaluation interval for Auto services (default 10s)")
    .option("--http-address <host:port>", "address of /healthz, /readyz, /metrics (default :8080)")
    .option("--prometheus-url <url>", "Prometheus base URL for signals")
    .option(
      "--promql-overrides <Allow|Forbid>",
      "whether InferenceServices may have the operator run their own PromQL or read their own Prometheus (default Allow); env INFEROPS_PROMQL_OVERRIDES",
    )
    .option("--concurrency <n>", "reconciles at once (default 4)")
    .option("--log-level <level>", "trace, debug, info, warn, error (default info)")
    .action(async (opts: RawConfig) => {
      let config: ReturnType<typeof parseConfig>;
      try {
        config = parseConfig(opts);
      } catch (err) {
        if (err instanceof ConfigError) {
          console.error(`inferops operator: ${err.message}`);
          process.exit(2);
        }
        throw err;
      }
      const { runOperator } = await import("../main.ts");
      process.exitCode = await runOperator(config);
    });

  program
    .command("validate")
    .description("Check InferenceService, GPUNodePool and CapacityBudget manifests before applying them.")
    .argument("<files...>", "YAML files, several documents each allowed")
    .action((files: string[]) => {
      let bad = 0;
      for (const file of files) {
        const docs = parseAllDocuments(readFileSync(file, "utf8"));
        docs.forEach((doc, i) => {
          const where = `${file}${docs.length > 1 ? ` (document ${i + 1})` : ""}`;
          if (doc.errors.length > 0) {
            bad++;
            console.error(`${where}: not YAML: ${doc.errors[0]?.message}`);
            return;
          }
          const object = doc.toJS();
          if (!object || !String(object.apiVersion ?? "").startsWith("inferops.dev/")) return;
          const result = parseResource(object);
          if (result.ok) console.log(`${where}: ${object.kind} ${object.metadata?.name} is valid`);
          else {
            bad++;
            console.error(`${where}: ${object.kind} ${object.metadata?.name ?? ""} is invalid:`);
            console.error(
              formatErrors(result.errors)
                .split("\n")
                .map((l) => `  ${l}`)
                .join("\n"),
            );
          }
        });
      }
      if (bad > 0) process.exitCode = 1;
    });

  registerSimulateCommand(program);
  return program;
}

if (import.meta.main) {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    console.error(`inferops: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
