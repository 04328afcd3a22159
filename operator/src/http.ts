// /healthz (the process serves), /readyz (caches synced and, for the leader, the loop running), /metrics.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface Probes {
  ready: () => { ok: boolean; reason: string };
}

export async function startHttpServer(address: string, registry: Registry, probes: Probes): Promise<Server> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(":")),
    Number(address.slice(address.lastIndexOf(":") + 1)),
  ];
  const server = createServer(async (req, res) => {
    try {
      if (req.url === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else if (req.url === "/readyz") {
        const r = probes.ready();
        res.writeHead(r.ok ? 200 : 503, { "content-type": "text/plain" }).end(`${r.reason}\n`);
      } else if (req.url === "/metrics") {
        const body = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType }).end(body);
      } else {
        res.writeHead(404).end();
      }
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host || undefined, resolve);
  });
  return server;
}

export const portOf = (server: Server) => (server.address() as AddressInfo).port;
