// A tiny local HTTP server for the sources' tests: 127.0.0.1, an ephemeral port, a handler per request, and
// a log of what it was asked. Test helper only.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer (to exercise timeouts); the socket is closed when the server stops. */
  hang?: boolean;
  /** Send the status and headers at once, then a body that never ends (`body` is not sent). */
  stream?: Stream;
}

export interface Stream {
  /** Written again and again. */
  chunk: string;
  /** Between writes; 0 writes as fast as the client reads. */
  everyMs: number;
  /** Called when the client goes away, which is the only way the body ends. */
  onClose?: () => void;
}

export interface TestServer {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

export async function startServer(
  handler: (req: Received) => Reply | Promise<Reply>,
  listen: { host?: string; port?: number } = {},
): Promise<TestServer> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      received.push(r);
      Promise.resolve(handler(r)).then(
        (reply) => {
          if (reply.hang) return;
          res.writeHead(reply.status ?? 200, reply.headers ?? {});
          if (reply.stream) streamForever(res, reply.stream);
          else res.end(reply.body ?? "");
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
    });
  });
  const host = listen.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function streamForever(res: ServerResponse, stream: Stream): void {
  let open = true;
  let timer: NodeJS.Timeout | undefined;
  res.on("close", () => {
    open = false;
    clearTimeout(timer);
    stream.onClose?.();
  });
  const next = () => {
    if (!open) return;
    const drained = res.write(stream.chunk);
    if (stream.everyMs > 0) timer = setTimeout(next, stream.everyMs);
    else if (drained) setImmediate(next);
    else res.once("drain", next);
  };
  next();
}

/** A vector answer of the Prometheus API. */
export function vector(
  samples: { labels: Record<string, string>; value: number | string }[],
  tsSec = 0,
): string {
  return JSON.stringify({
    status: "success",
    data: {
      resultType: "vector",
      result: samples.map((s) => ({ metric: s.labels, value: [tsSec, String(s.value)] })),
    },
  });
}
