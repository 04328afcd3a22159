// Informers: a list-watch cache per resource that restarts itself with backoff and reports synced().
import { type KubernetesListObject, type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { KubeClient, KubeObject } from "./client.ts";
import { pathFor, type Resource } from "./resources.ts";

export type Handler<T> = (obj: T, kind: "add" | "update" | "delete") => void;

/** The one call of client-node's Watch an informer makes (a fake stands in for it in unit tests). */
export type WatchFn = (
  path: string,
  query: Record<string, string>,
  cb: (phase: string, obj: unknown, raw?: unknown) => void,
  done: (err: unknown) => void,
) => Promise<unknown>;

export interface InformerOptions {
  labelSelector?: string;
  /** Restart delays after errors: first, doubling up to max. */
  backoff?: { initialMs: number; maxMs: number };
  /** The watch to use; client-node's Watch on the client's config by default. */
  watch?: WatchFn;
}

/** What an informer holds: a Kubernetes object as plain JSON. */
export type Obj = KubernetesObject & KubeObject;

function withoutManagedFields<O>(obj: O): O {
  const meta = (obj as { metadata?: { managedFields?: unknown } } | undefined)?.metadata;
  if (meta) delete meta.managedFields;
  return obj;
}

/**
 * One index of a cache: objects by a key computed from each (client-go's Indexer), kept up to date by the
 * cache's add, update and delete events.
 */
export class CacheIndex<T extends Obj> {
  private readonly keyOf: (obj: T) => string | undefined;
  /** Index key -> (namespace/name -> object). */
  private readonly byKey = new Map<string, Map<string, T>>();
  /** namespace/name -> the index key it is filed under, to move or drop it on update and delete. */
  private readonly filed = new Map<string, string>();

  constructor(keyOf: (obj: T) => string | undefined) {
    this.keyOf = keyOf;
  }

  file(obj: T, kind: "add" | "update" | "delete"): void {
    const id = `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
    const was = this.filed.get(id);
    if (was !== undefined) {
      const bucket = this.byKey.get(was);
      bucket?.delete(id);
      if (bucket?.size === 0) this.byKey.delete(was);
      this.filed.delete(id);
    }
    if (kind === "delete") return;
    const key = this.keyOf(obj);
    if (key === undefined) return;
    let bucket = this.byKey.get(key);
    if (!bucket) {
      bucket = new Map();
      this.byKey.set(key, bucket);
    }
    bucket.set(id, obj);
    this.filed.set(id, key);
  }

  get(key: string): T[] {
    const bucket = this.byKey.get(key);
    return bucket ? [...bucket.values()] : [];
  }
}

/** The HTTP status an informer's error carries: the list's (ApiError) or the watch's; 0 when none answered. */
function httpStatusOf(err: unknown): number {
  const e = err as { status?: unknown; statusCode?: unknown; code?: unknown } | undefined;
  // A DOMException's numeric code (23 for a timeout) is not an HTTP status.
  for (const v of [e?.status, e?.statusCode, e?.code])
    if (typeof v === "number" && v >= 100 && v < 600) return v;
  return 0;
}

/**
 * When an informer starts again after an error. Delays double from the first to the max (client-go's reflector
 * backs off the same way, to at most 30 s) and go back to the first once a list lands. After an outage the
 * longest delays come last, so an informer could stay stale for up to the max once the API server answers
 * again: when the error was that nothing answered (refused, reset, timed out: no HTTP status) and another
 * request of the operator then gets an answer, the wait ends at once. An HTTP error (403, 500) does not end
 * early: the server answered, and restarting on every other request would repeat it.
 */
export class RestartBackoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private nextMs: number;
  private waitingForServer = false;

  constructor(initialMs: number, maxMs: number) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.nextMs = initialMs;
  }

  /** The informer failed with `err`: the delay before it starts again. */
  failed(err: unknown): number {
    const delay = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    this.waitingForServer = httpStatusOf(err) === 0;
    return delay;
  }

  /** It starts (its delay is over, or ended early). */
  starting(): void {
    this.waitingForServer = false;
  }

  /** A full list landed: the next error waits the first delay again. */
  listed(): void {
    this.nextMs = this.initialMs;
  }

  /**
   * Another request got an HTTP answer from the API server: true when the informer should start now instead of
   * waiting out its delay (once per error).
   */
  answered(status: number): boolean {
    if (!this.waitingForServer || status === 0 || status >= 500) return false;
    this.waitingForServer = false;
    return true;
  }
}

export class Informer<T extends Obj = Obj> {
  readonly resource: Resource;
  private readonly indexes = new Map<string, CacheIndex<T>>();
  private readonly log: Logger;
  private readonly lw: ListWatch<T>;
  private readonly handlers: Handler<T>[] = [];
  private listed = false;
  private isSynced = false;
  private stopped = false;
  private restartTimer?: NodeJS.Timeout;
  private readonly restarts: RestartBackoff;

  constructor(client: KubeClient, resource: Resource, log: Logger, opts: InformerOptions = {}) {
    this.resource = resource;
    this.log = log;
    const backoff = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    this.restarts = new RestartBackoff(backoff.initialMs, backoff.maxMs);
    client.onRequest((_verb, _path, status) => {
      if (this.restartTimer && !this.stopped && this.restarts.answered(status)) {
        this.log.info(
          { resource: this.resource.plural },
          "the API server answers again; restarting the watch now",
        );
        this.restartNow();
      }
    });
    const path = pathFor(resource);
    const listFn = async () => {
      const list = await client.list<T>(path, { labelSelector: opts.labelSelector });
      for (const item of list.items) withoutManagedFields(item);
      this.listed = true;
      return list as KubernetesListObject<T>;
    };
    // The cache keeps objects without metadata.managedFields: nothing reads them, and they are often half
    // of an object's size.
    const nodeWatch = new Watch(client.config);
    const real: WatchFn = opts.watch ?? ((p, query, cb, done) => nodeWatch.watch(p, query, cb, done));
    const watch = {
      watch: (
        path: string,
        query: Record<string, string>,
        cb: (phase: string, obj: T, raw?: unknown) => void,
        done: (err: unknown) => void,
      ) =>
        real(
          path,
          query,
          (phase, o, raw) => {
            const obj = o as T;
            // 410 Gone: the resourceVersion a watch resumed from is older than the API server keeps (the
            // server ends every watch after --min-request-timeout, 30 to 60 minutes, and ListWatch resumes
            // from the last version it saw). ListWatch lists again when the stream ends and files what was
            // added, changed and deleted meanwhile; said here so that a relist can be seen. (A watch that
            // fails, as when the API server restarts, is started afresh with a list: onError below.)
            if (phase === "ERROR" && (obj as { code?: number }).code === 410)
              this.log.info({ resource: this.resource.plural }, "watch expired (410 Gone): listing again");
            cb(phase, withoutManagedFields(obj), raw);
          },
          done,
        ),
    } as unknown as Watch;
    this.lw = new ListWatch<T>(path, watch, listFn, false, opts.labelSelector);
    this.lw.on("add", (o) => this.emit(o, "add"));
    this.lw.on("update", (o) => this.emit(o, "update"));
    this.lw.on("delete", (o) => this.emit(o, "delete"));
    this.lw.on("error", (err) => this.onError(err));
  }

  on(handler: Handler<T>): void {
    this.handlers.push(handler);
  }

  /**
   * Files every object under `keyOf(obj)` (none when undefined), kept up to date with the cache, so that
   * `byIndex` finds a service's Deployments among thousands without a scan. Adding an index of the same name
   * again keeps the first.
   */
  addIndex(name: string, keyOf: (obj: T) => string | undefined): void {
    if (this.indexes.has(name)) return;
    const index = new CacheIndex(keyOf);
    this.indexes.set(name, index);
    for (const o of this.list()) index.file(o, "add");
  }

  /** The objects filed under `key` in the index `name` (empty for an index never added). */
  byIndex(name: string, key: string): T[] {
    return this.indexes.get(name)?.get(key) ?? [];
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.listed = false;
    await this.lw.start();
    if (this.listed && !this.stopped) {
      this.isSynced = true;
      this.restarts.listed();
    }
  }

  /** True once a full list has landed in the cache; stays true across restarts (the cache is kept). */
  synced(): boolean {
    return this.isSynced;
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.lw.stop();
  }

  private emit(obj: T, kind: "add" | "update" | "delete"): void {
    for (const index of this.indexes.values()) index.file(obj, kind);
    for (const h of this.handlers) {
      try {
        h(obj, kind);
      } catch (err) {
        this.log.error({ err, resource: this.resource.plural }, "informer handler failed");
      }
    }
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    const delay = this.restarts.failed(err);
    this.log.warn({ err, resource: this.resource.plural, retryInMs: delay }, "watch failed; restarting");
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.restartNow(), delay);
    this.restartTimer.unref();
  }

  private restartNow(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.restarts.starting();
    this.start().catch((e) => this.onError(e));
  }
}
