// The operator's root logger. Credentials live in objects a log call may one day be handed whole: HTTP headers
// (a source's config, the options an HTTP error carries), a kubeconfig user, a Secret. Redaction replaces their
// values wherever such a field sits, so one careless `log.debug({ err })` cannot print a token.
import { type DestinationStream, type Logger, pino } from "pino";
import type { OperatorConfig } from "./config.ts";

/** What a redacted value reads as. */
export const REDACTED = "[redacted]";

/**
 * Fields whose value is or holds a credential. `headers` goes whole: a tenant or API-key header has no fixed
 * name, and no header is worth a leaked token. The rest are the names kubeconfig users, bearer-token options
 * and Secrets give them. `key` is not here: it names reconcile keys throughout the logs.
 */
export const SECRET_FIELDS = [
  "headers",
  "authorization",
  "Authorization",
  "token",
  "bearerToken",
  "accessToken",
  "access-token",
  "id-token",
  "refresh-token",
  "password",
  "keyData",
  "client-key-data",
  "data",
  "stringData",
] as const;

/** How deep a secret field is looked for: `err.response.config.headers` is three levels down. */
const DEPTH = 3;

/** pino redact paths: each secret field at the top and under up to DEPTH levels of any key or index. */
export const REDACT_PATHS: string[] = SECRET_FIELDS.flatMap((field) => {
  const segment = /^[A-Za-z_$][\w$]*$/.test(field) ? `.${field}` : `["${field}"]`;
  return Array.from({ length: DEPTH + 1 }, (_, depth) =>
    `${Array(depth).fill("*").join(".")}${segment}`.replace(/^\./, ""),
  );
});

/** The operator's root logger, as `inferops operator` makes it; `destination` for tests (default stdout). */
export function operatorLogger(
  config: Pick<OperatorConfig, "logLevel" | "identity">,
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.logLevel,
    base: { identity: config.identity },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
  };
  return destination ? pino(options, destination) : pino(options);
}
