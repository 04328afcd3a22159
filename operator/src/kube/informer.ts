// Informers: a list-watch cache per resource that restarts itself with backoff and reports synced().
import { type KubernetesListObject, type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { KubeClient, KubeObject } from "./client.ts";
import { pathFor, type Resource } from "./resources.ts";

export type Handler<T> = (obj: T, kind: "add" | "update" | "delete") => void;

export interface InformerOptions {
  labelSelector?: string;
  /** Restart delays after errors: first, doubling up to max. */
  backoff?: { initialMs: number; maxMs: number };
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

export class Informer<T extends Obj = Obj> {
  readonly resource: Resource;
  private readonly indexes = new Map<string, CacheIndex<T>>();
  private readonly log: Logger;
  private readonly lw: ListWatch<T>;
  private readonly handlers: Handler<T>[] = [];
  private listed = false;
  private isSynced = false;
  private stopped = false;
  private restartDelayMs: number;
  private restartTimer?: NodeJS.Timeout;
  private readonly backoff: { initialMs: number; maxMs: number };

  constructor(client: KubeClient, resource: Resource, log: Logger, opts: InformerOptions = {}) {
    this.resource = resource;
    this.log = log;
    this.backoff = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    this.restartDelayMs = this.backoff.initialMs;
    const path = pathFor(resource);
    const listFn = async () => {
      const list = await client.list<T>(path, { labelSelector: opts.labelSelector });
      for (const item of list.items) withoutManagedFields(item);
      this.listed = true;
      return list as KubernetesListObject<T>;
    };
    // The cache keeps objects without metadata.managedFields: nothing reads them, and they are often half
    // of an object's size.
    const real = new Watch(client.config);
    const watch = {
      watch: (
        path: string,
        query: Record<string, string>,
        cb: (phase: string, obj: T, raw?: unknown) => void,
        done: (err: unknown) => void,
      ) => real.watch(path, query, (phase, obj, raw) => cb(phase, withoutManagedFields(obj), raw), done),
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
      this.restartDelayMs = this.backoff.initialMs;
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
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, this.backoff.maxMs);
    this.log.warn({ err, resource: this.resource.plural, retryInMs: delay }, "watch failed; restarting");
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.start().catch((e) => this.onError(e));
    }, delay);
    this.restartTimer.unref();
  }
}
