// Typed errors of the signals layer: a stable `code` for callers and conditions, a message that says what
// failed while doing what, and the underlying error as `cause`.

export const SignalsErrorCode = {
  /** A source's configuration does not validate. */
  InvalidConfig: "InvalidConfig",
  /** The service's server runtime has no adapter (custom) and the source cannot use PromQL overrides. */
  NoAdapter: "NoAdapter",
  /** No source is configured for the kind the service asks for (spec.metrics.source). */
  SourceNotConfigured: "SourceNotConfigured",
  /** The endpoint could not be reached (connection refused, DNS, reset). */
  Unreachable: "Unreachable",
  /** The endpoint did not answer within the timeout. */
  Timeout: "Timeout",
  /** The endpoint answered with a non-2xx status. */
  HTTPStatus: "HTTPStatus",
  /** The answer could not be understood (not JSON, not the Prometheus API shape, body too large). */
  BadResponse: "BadResponse",
  /** Prometheus refused or failed the query (status "error"). */
  QueryFailed: "QueryFailed",
  /** A PromQL override from spec.metrics.queries returned something other than one sample. */
  InvalidOverride: "InvalidOverride",
  /**
   * The service asks the operator to run its own PromQL or read its own Prometheus, and the operator forbids
   * that (--promql-overrides=Forbid).
   */
  OverridesForbidden: "OverridesForbidden",
  /** Every pod of the service failed to scrape. */
  ScrapeFailed: "ScrapeFailed",
} as const;
export type SignalsErrorCode = (typeof SignalsErrorCode)[keyof typeof SignalsErrorCode];

export class SignalsError extends Error {
  override readonly name = "SignalsError";
  readonly code: SignalsErrorCode;

  constructor(code: SignalsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isSignalsError(err: unknown, code?: SignalsErrorCode): err is SignalsError {
  return err instanceof SignalsError && (code === undefined || err.code === code);
}

/** Classifies a failed fetch (network error, abort by timeout) as a SignalsError. */
export function fetchError(err: unknown, doing: string, timeoutMs: number): SignalsError {
  if (isSignalsError(err)) return err;
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError" || name === "AbortError") {
    return new SignalsError(SignalsErrorCode.Timeout, `${doing}: no answer within ${timeoutMs} ms`, {
      cause: err,
    });
  }
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
  const msg = err instanceof Error ? err.message : String(err);
  return new SignalsError(SignalsErrorCode.Unreachable, `${doing}: ${msg}${cause}`, { cause: err });
}
