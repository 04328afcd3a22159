// The shape of a controller, declared rather than wired by hand (controller-runtime's builder: For, Owns,
// Watches). The manager (manager.ts) turns a list of these into shared informers, event handlers that only
// enqueue keys, one work queue each, metrics and the leader gate.
import type { Logger } from "pino";
import type { Metrics } from "../metrics.ts";
import type { KubeClient } from "./client.ts";
import type { EventRecorder } from "./events.ts";
import type { Informer, Obj } from "./informer.ts";
import type { QueueOptions, Reconciler } from "./queue.ts";
import type { Resource } from "./resources.ts";

/** One cache: a resource, optionally narrowed by a label selector. Equal requests share one informer. */
export interface CacheRequest {
  resource: Resource;
  labelSelector?: string;
}

/** The shared informer caches, by request; asking for one the manager did not build throws. */
export interface Caches {
  informer(req: CacheRequest): Informer<Obj>;
}

/** What a controller's reconciler is built from. */
export interface ControllerContext {
  client: KubeClient;
  caches: Caches;
  events: EventRecorder;
  /** `child({ controller: name })` of the root logger. */
  log: Logger;
  metrics: Metrics;
}

/** An object the controller owns: changes to it reconcile its owner. */
export interface OwnsSpec extends CacheRequest {
  /** Keys to reconcile; default: the controller ownerReference of the For kind, in the object's namespace. */
  map?: (obj: Obj) => string[];
}

/** Any other object whose changes matter: `map` says which keys (read the caches to fan out). */
export interface WatchSpec extends CacheRequest {
  map: (obj: Obj, caches: Caches) => string[];
}

export interface ControllerSpec {
  /** Names its queue, logs and metrics (`controller` label). */
  name: string;
  /** The kind it reconciles: keys are `namespace/name` (or `name` when cluster-scoped). */
  for: CacheRequest;
  owns?: OwnsSpec[];
  watches?: WatchSpec[];
  /** Caches it reads without being woken by them. */
  reads?: CacheRequest[];
  /** Builds the reconcile function once the caches exist. */
  reconciler: (ctx: ControllerContext) => Reconciler;
  /** Reconcile every object of the kind after each new Plan, and nothing before the first Plan. */
  afterPlan?: boolean;
  /**
   * With afterPlan: keys reconciled after each Plan as well, though no object of the For kind has them: an
   * object deleted (perhaps while no operator ran) that left something behind to undo, read from the caches.
   */
  orphanKeys?: (caches: Caches) => string[];
  /** Told when an object of the For kind is deleted (drop its metric series); its queue entry is forgotten. */
  onDelete?: (key: string, ctx: ControllerContext) => void;
  queue?: Pick<QueueOptions, "concurrency" | "backoff">;
}

/** The queue key of an object: `namespace/name`, or `name` for a cluster-scoped one. */
export function keyOf(obj: { metadata?: { name?: string; namespace?: string } }): string {
  const { name = "", namespace } = obj.metadata ?? {};
  return namespace ? `${namespace}/${name}` : name;
}

/** The inverse of keyOf. */
export function parseKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The key of the object's controller owner of the given kind, if it has one (controller-runtime's Owns). */
export function controllerOwnerKeys(obj: Obj, kind: string): string[] {
  const owner = obj.metadata?.ownerReferences?.find((o) => o.controller && o.kind === kind);
  if (!owner) return [];
  return [keyOf({ metadata: { name: owner.name, namespace: obj.metadata?.namespace } })];
}

/** Every object of a cache, as keys: a change that concerns all of them (a pool every service may use). */
export function allKeys(caches: Caches, req: CacheRequest, namespace?: string): string[] {
  return caches
    .informer(req)
    .list(namespace)
    .map((o) => keyOf(o));
}

/** One name per distinct request, for sharing informers. */
export const cacheId = (req: CacheRequest) =>
  `${req.resource.plural}.${req.resource.group}?${req.labelSelector ?? ""}`;
