// A small REST client over the kubeconfig's identity: JSON requests, server-side apply (objects and
// subresources), typed errors. Authentication and TLS come from @kubernetes/client-node's KubeConfig.
import { KubeConfig } from "@kubernetes/client-node";
import { Agent, request } from "undici";
import { ApiError } from "./errors.ts";
import { FIELD_MANAGER } from "./field-manager.ts";

export { FIELD_MANAGER };

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    creationTimestamp?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** Observes every request, for metrics and the write-count benchmark. */
export type RequestObserver = (verb: string, path: string, status: number, seconds: number) => void;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export class KubeClient {
  readonly server: string;
  private readonly dispatcher: Agent;
  private headers: Record<string, string>;
  private headersAtMs = Date.now();
  private readonly observers: RequestObserver[] = [];
  private writeGate?: (path: string) => boolean;

  readonly config: KubeConfig;
  /**
   * The field manager of every write (POST, PUT, PATCH, apply). Two operator releases that each manage the
   * same objects can be told apart in managedFields by giving each its own (--field-manager).
   */
  readonly fieldManager: string;

  private constructor(
    config: KubeConfig,
    server: string,
    dispatcher: Agent,
    headers: Record<string, string>,
    fieldManager: string,
  ) {
    this.config = config;
    this.server = server.replace(/\/$/, "");
    this.dispatcher = dispatcher;
    this.headers = headers;
    this.fieldManager = fieldManager;
  }

  /** From a kubeconfig file, or the default chain (KUBECONFIG, ~/.kube/config, in-cluster). */
  static async create(
    kubeconfig?: string,
    context?: string,
    options: { fieldManager?: string } = {},
  ): Promise<KubeClient> {
    const kc = new KubeConfig();
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
    if (context) kc.setCurrentContext(context);
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster: set --kubeconfig or KUBECONFIG");
    const opts: { headers?: Record<string, string>; [k: string]: unknown } = {};
    await kc.applyToHTTPSOptions(opts as never);
    const { headers = {}, ...tls } = opts;
    const dispatcher = new Agent({ connect: tls as never, keepAliveTimeout: 30_000, connections: 16 });
    return new KubeClient(kc, cluster.server, dispatcher, headers, options.fieldManager ?? FIELD_MANAGER);
  }

  /**
   * Refuses writes the gate does not allow (a follower must not write): the leader elector sets it, so even a
   * reconcile in flight when the lease is lost cannot write after that.
   */
  setWriteGate(gate: (path: string) => boolean): void {
    this.writeGate = gate;
  }

  onRequest(observer: RequestObserver): void {
    this.observers.push(observer);
  }

  /** Credentials such as projected service-account tokens rotate on disk: re-read them every minute. */
  private async authHeaders(): Promise<Record<string, string>> {
    if (Date.now() - this.headersAtMs > 60_000) {
      const opts: { headers?: Record<string, string> } = {};
      await this.config.applyToHTTPSOptions(opts as never);
      this.headers = opts.headers ?? {};
      this.headersAtMs = Date.now();
    }
    return this.headers;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    if (method !== "GET" && this.writeGate && !this.writeGate(path)) {
      throw new ApiError(`${method} ${path}: refused: this operator instance is not the leader`, {
        code: "NotLeader",
        status: 0,
      });
    }
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const started = performance.now();
    let status = 0;
    try {
      const res = await request(url, {
        method: method as "GET",
        dispatcher: this.dispatcher,
        headers: {
          ...(await this.authHeaders()),
          accept: "application/json",
          ...(opts.body !== undefined ? { "content-type": opts.contentType ?? "application/json" } : {}),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
      status = res.statusCode;
      const text = await res.body.text();
      if (status >= 400) throw apiErrorFrom(method, path, status, text);
      return (text ? JSON.parse(text) : {}) as T;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(`${method} ${path}: ${(err as Error).message}`, {
        code: (err as Error).name === "TimeoutError" ? "Timeout" : "Unreachable",
        status: 0,
        cause: err,
      });
    } finally {
      const seconds = (performance.now() - started) / 1000;
      for (const o of this.observers) o(method, path, status, seconds);
    }
  }

  get<T extends KubeObject>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  list<T extends KubeObject>(path: string, query?: RequestOptions["query"]): Promise<KubeList<T>> {
    return this.request<KubeList<T>>("GET", path, { query });
  }

  create<T extends KubeObject>(path: string, body: T): Promise<T> {
    return this.request<T>("POST", path, { body, query: { fieldManager: this.fieldManager } });
  }

  replace<T extends KubeObject>(path: string, body: T): Promise<T> {
    return this.request<T>("PUT", path, { body, query: { fieldManager: this.fieldManager } });
  }

  /**
   * Deletes in the background; with `preconditions`, only the object of that uid (and resourceVersion): a
   * namesake created since, or an object changed since it was read, answers Conflict and stays.
   */
  delete(
    path: string,
    query?: RequestOptions["query"],
    opts: { preconditions?: Preconditions } = {},
  ): Promise<unknown> {
    return this.request("DELETE", path, { query, body: deleteOptions(opts.preconditions) });
  }

  /**
   * JSON merge patch (RFC 7386) as this client's field manager: for fields of objects others apply to, where
   * an apply would take or drop what another applier of ours owns. A list in the body replaces the whole
   * list: send one only with `metadata.resourceVersion`, so that a list changed since it was read answers
   * Conflict instead of being overwritten.
   */
  patch<T extends KubeObject>(path: string, body: KubeObject): Promise<T> {
    return this.request<T>("PATCH", path, {
      body,
      contentType: "application/merge-patch+json",
      query: { fieldManager: this.fieldManager },
    });
  }

  /** Server-side apply as this client's field manager, forcing ownership of exactly the fields sent. */
  apply<T extends KubeObject>(path: string, body: KubeObject, opts: { dryRun?: boolean } = {}): Promise<T> {
    return this.request<T>("PATCH", path, {
      body,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: this.fieldManager, force: true, ...(opts.dryRun ? { dryRun: "All" } : {}) },
    });
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

/** The DeleteOptions body of a delete. */
export function deleteOptions(preconditions?: Preconditions): Record<string, unknown> {
  return {
    propagationPolicy: "Background",
    ...(preconditions?.uid || preconditions?.resourceVersion ? { preconditions } : {}),
  };
}

/**
 * The calls code outside kube/ makes on the API server: what KubeClient does, and what an in-memory fake
 * (kube/fake.ts) does in unit tests.
 */
export type KubeApi = Pick<KubeClient, "get" | "list" | "create" | "replace" | "delete" | "apply" | "patch">;

function apiErrorFrom(method: string, path: string, status: number, text: string): ApiError {
  let parsed: {
    reason?: string;
    message?: string;
    details?: { causes?: ApiError["causes"] };
  } = {};
  try {
    parsed = JSON.parse(text);
  } catch {}
  const code = parsed.reason || (status === 404 ? "NotFound" : status === 409 ? "Conflict" : `HTTP${status}`);
  return new ApiError(`${method} ${path}: ${parsed.message ?? text.slice(0, 500)}`, {
    code,
    status,
    causes: parsed.details?.causes,
  });
}
