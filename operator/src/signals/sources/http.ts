// The HTTP plumbing shared by the sources: a request with a timeout and a cap on the body it reads, and a
// concurrency limit. Failures come back as SignalsErrors that say what was being fetched.
import { fetchError, SignalsError, SignalsErrorCode } from "../errors.ts";

export interface TextRequest {
  url: string;
  method?: "GET" | "POST";
  headers?: Readonly<Record<string, string>>;
  body?: string;
  timeoutMs: number;
  /** The body is refused past this many bytes. */
  maxBytes: number;
  /** What the request is for, to start error messages: "querying Prometheus at http://...". */
  doing: string;
}

export interface TextResponse {
  status: number;
  contentType: string;
  text: string;
}

/**
 * A URL's user and password (`http://user:password@prometheus:9090`) as a Basic Authorization header, and the
 * URL without them: what requests are sent to and what messages, logs and conditions may show.
 */
export function splitCredentials(url: string): { url: string; authorization?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  if (!u.username && !u.password) return { url };
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = "";
  u.password = "";
  return {
    url: u.toString(),
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
  };
}

/** The URL as a message may show it: without a user or password. */
export const shownURL = (url: string): string => splitCredentials(url).url;

/**
 * Fetches a text body. Rejects with a SignalsError (Unreachable, Timeout, BadResponse). Credentials in the URL
 * are sent as a Basic Authorization header unless the request has one.
 */
export async function fetchText(req: TextRequest): Promise<TextResponse> {
  const { url, authorization } = splitCredentials(req.url);
  const hasAuthorization = Object.keys(req.headers ?? {}).some((h) => h.toLowerCase() === "authorization");
  try {
    const res = await fetch(url, {
      method: req.method ?? "GET",
      headers: requestHeaders(req, {
        ...(authorization && !hasAuthorization ? { authorization } : {}),
        ...req.headers,
      }),
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal: AbortSignal.timeout(req.timeoutMs),
      redirect: "follow",
    });
    const text = await readCapped(res, req);
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", text };
  } catch (err) {
    throw fetchError(err, req.doing, req.timeoutMs);
  }
}

/**
 * The request's headers, a value HTTP does not allow (a line break, say from a token file) refused by name:
 * fetch's own message quotes the value, which for an Authorization header is the credential, and the message
 * goes on to a condition, an event and the logs.
 */
function requestHeaders(req: TextRequest, headers: Record<string, string>): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    try {
      out.set(name, value);
    } catch {
      throw new SignalsError(
        SignalsErrorCode.InvalidConfig,
        `${req.doing}: header ${JSON.stringify(name)} has a name or value HTTP does not allow (a line break or control character); the value is not shown`,
      );
    }
  }
  return out;
}

async function readCapped(res: Response, req: TextRequest): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > req.maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(req);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder("utf-8");
  let bytes = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read().catch((err: unknown) => {
      throw bodyError(err, req, bytes);
    });
    if (done) break;
    bytes += value.byteLength;
    if (bytes > req.maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(req);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * A body cut off midway. The timeout covers the whole read, so a server that answers at once and then
 * trickles its body forever is stopped too; the message says it answered, which "no answer" would hide.
 */
function bodyError(err: unknown, req: TextRequest, bytes: number): SignalsError {
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError" || name === "AbortError") {
    return new SignalsError(
      SignalsErrorCode.Timeout,
      `${req.doing}: the answer did not end within ${req.timeoutMs} ms (${bytes} bytes read)`,
      { cause: err },
    );
  }
  return fetchError(err, req.doing, req.timeoutMs);
}

function tooLarge(req: TextRequest): SignalsError {
  return new SignalsError(
    SignalsErrorCode.BadResponse,
    `${req.doing}: the answer is larger than ${req.maxBytes} bytes`,
  );
}

/** Maps items through an async function, at most `limit` at a time, keeping order. `fn` must not reject. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
