import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { wrap } from "./kube/errors.ts";
import { operatorLogger, REDACTED } from "./log.ts";

/** The operator's logger writing to memory; `text()` is every line written so far. */
function capture() {
  const lines: string[] = [];
  const log = operatorLogger({ logLevel: "trace", identity: "op-0" }, { write: (s) => lines.push(s) });
  return { log, text: () => lines.join("") };
}

/** A kubeconfig user the way the API server's credentials reach the process. */
function kubeconfig(user: Record<string, string>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://10.96.0.1:443", skipTLSVerify: true }],
    users: [{ name: "operator", ...user }],
    contexts: [{ name: "ctx", cluster: "c", user: "operator" }],
    currentContext: "ctx",
  });
  return kc;
}

/** An HTTP client's error that carries the request's options, as got, axios and friends attach them. */
function httpError(message: string, headers: Record<string, string>): Error {
  return Object.assign(new Error(message), {
    code: "ERR_UNAUTHORIZED",
    options: { method: "POST", url: "http://prometheus:9090/api/v1/query", headers },
    response: { status: 401, config: { headers } },
  });
}

describe("operator logger", () => {
  it("logs no header, token, password or Secret value, wherever one sits, and keeps the rest", async () => {
    const { log, text } = capture();
    const secrets = {
      promHeader: "Bearer prom-token-6f1c",
      tenantKey: "tenant-api-key-90ab",
      saToken: "eyJhbGciOiJSUzI1NiJ9.sa-token-77de",
      kubePassword: "kube-pass-31aa",
      secretData: Buffer.from("db-pass-4e2f").toString("base64"),
      secretString: "string-data-c0ff",
    };

    // A source's config, whole, as a debug line or a child logger's bindings might carry it.
    const promConfig = {
      url: "http://prometheus.monitoring:9090",
      headers: { Authorization: secrets.promHeader, "X-API-Key": secrets.tenantKey },
    };
    log.debug({ config: promConfig }, "prometheus source");
    log.child({ source: promConfig }).info("querying");

    // The API server's credentials: the request options KubeConfig makes, and the user themselves.
    const withToken = kubeconfig({ token: secrets.saToken });
    const requestOptions: { headers?: Record<string, string> } = {};
    await withToken.applyToHTTPSOptions(requestOptions as never);
    expect(requestOptions.headers?.Authorization).toBe(`Bearer ${secrets.saToken}`); // what is at stake
    log.debug({ requestOptions, user: withToken.getCurrentUser() }, "kube client");
    const withPassword = kubeconfig({ username: "admin", password: secrets.kubePassword });
    log.debug({ users: withPassword.users }, "kubeconfig users");

    // Errors from HTTP calls, carrying the request's options, bare and under `err` of a reconcile.
    const failed = httpError("querying Prometheus: HTTP 401", { authorization: secrets.promHeader });
    log.warn({ err: failed }, "reading signals failed");
    log.error({ err: wrap("listing pods", failed), key: "team-a/llama" }, "reconcile failed");

    // A Secret, as an event's or an API error's object might carry it.
    log.info(
      {
        object: {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "prometheus-auth", namespace: "monitoring" },
          data: { password: secrets.secretData },
          stringData: { token: secrets.secretString },
        },
      },
      "recording event",
    );

    const out = text();
    for (const [what, value] of Object.entries(secrets)) {
      expect(out, `${what} leaked`).not.toContain(value);
    }
    expect(out).toContain(REDACTED);
    // What an SRE needs to read the lines is still there.
    for (const shown of [
      "http://prometheus.monitoring:9090",
      '"identity":"op-0"',
      '"name":"operator"',
      '"username":"admin"',
      "querying Prometheus: HTTP 401",
      "listing pods: querying Prometheus: HTTP 401",
      '"code":"ERR_UNAUTHORIZED"',
      '"method":"POST"',
      '"status":401',
      '"key":"team-a/llama"',
      '"name":"prometheus-auth"',
      '"kind":"Secret"',
    ]) {
      expect(out).toContain(shown);
    }
  });
});
