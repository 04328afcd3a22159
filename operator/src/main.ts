// Wiring for `inferops operator`: config, logger, the operator, signals.
import type { OperatorConfig } from "./config.ts";
import { operatorLogger } from "./log.ts";
import { startOperator } from "./manager.ts";

export async function runOperator(config: OperatorConfig): Promise<number> {
  const log = operatorLogger(config);
  const operator = await startOperator(config, log);
  const onSignal = (signal: string) => {
    log.info({ signal }, "shutting down: finishing in-flight reconciles");
    void operator.stop();
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
  const why = await operator.stopped;
  await operator.stop();
  log.info({ why }, "operator stopped");
  return why === "shutdown" ? 0 : 1;
}
