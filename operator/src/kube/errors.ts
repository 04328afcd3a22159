// Typed errors with stable codes. Kubernetes' own Status reasons become ApiError codes.

/** A Kubernetes API error, from the server's Status object. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  /** The Status reason (NotFound, Conflict, Invalid, Forbidden, AlreadyExists...) or a transport code. */
  readonly code: string;
  /** HTTP status; 0 when the request never got an answer. */
  readonly status: number;
  /** Field causes for Invalid errors. */
  readonly causes: { field?: string; message?: string; reason?: string }[];

  constructor(
    message: string,
    opts: { code: string; status: number; causes?: ApiError["causes"]; cause?: unknown },
  ) {
    super(message, { cause: opts.cause });
    this.code = opts.code;
    this.status = opts.status;
    this.causes = opts.causes ?? [];
  }
}

/** An error retrying cannot fix (a spec that can never be applied): logged and reported, not retried. */
export class TerminalError extends Error {
  override readonly name = "TerminalError";
  readonly code = "Terminal";
}

const hasCode = (err: unknown, code: string) => err instanceof ApiError && err.code === code;
export const isNotFound = (err: unknown): boolean => hasCode(err, "NotFound");
export const isConflict = (err: unknown): boolean => hasCode(err, "Conflict");
export const isAlreadyExists = (err: unknown): boolean => hasCode(err, "AlreadyExists");
export const isForbidden = (err: unknown): boolean => hasCode(err, "Forbidden");
export const isInvalid = (err: unknown): boolean => hasCode(err, "Invalid");
export const isGone = (err: unknown): boolean => hasCode(err, "Expired") || hasCode(err, "Gone");
export const isTerminal = (err: unknown): err is TerminalError => err instanceof TerminalError;

/** A namespace being deleted takes no new objects (403): its objects go with it, nothing to retry. */
export function isNamespaceTerminating(err: unknown): boolean {
  return (
    err instanceof ApiError && err.status === 403 && err.message.includes("because it is being terminated")
  );
}

/**
 * The API server refused the object itself, as it would again: invalid (422), malformed (400), or, for a
 * server-side apply, a field its schema does not have, which it answers with 500 "failed to create typed
 * patch object".
 */
export function isRefusedObject(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  return (
    err.status === 422 ||
    err.status === 400 ||
    (err.status === 500 && err.message.includes("failed to create typed patch object"))
  );
}

/** "doing X: cause" — keeps the cause chain for logs. */
export function wrap(doing: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError) {
    return new ApiError(`${doing}: ${message}`, {
      code: err.code,
      status: err.status,
      causes: err.causes,
      cause: err,
    });
  }
  return new Error(`${doing}: ${message}`, { cause: err });
}
