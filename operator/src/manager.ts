// The operator process: shared informers, one work queue per controller, the planner, leader election and
// the HTTP server, built from the list of controller declarations (controllers/index.ts, kube/controller.ts).
import type { Server } from "node:http";
import type { Logger } from "pino";
import type { OperatorConfig } from "./config.ts";
import { CACHE } from "./controllers/caches.ts";
import { controllers as defaultControllers } from "./controllers/index.ts";
import { Planner } from "./controllers/planner.ts";
import type { World } from "./controllers/snapshot.ts";
import { portOf, startHttpServer } from "./http.ts";
import { KubeClient } from "./kube/client.ts";
import {
  type CacheRequest,
  type Caches,
  type ControllerContext,
  type ControllerSpec,
  cacheId,
  controllerOwnerKeys,
  keyOf,
} from "./kube/controller.ts";
import { EventRecorder } from "./kube/events.ts";
import { Informer, type Obj } from "./kube/informer.ts";
import { LeaderElector } from "./kube/leader.ts";
import { WorkQueue } from "./kube/queue.ts";
import { resourceOfPath } from "./kube/resources.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createPowerReader } from "./signals/power.ts";
import { routeBySource } from "./signals/sources/index.ts";
import { createPodScrapeSource } from "./signals/sources/podscrape.ts";
import { createPrometheusSource } from "./signals/sources/prometheus.ts";
import type { MetricSource } from "./signals/sources/types.ts";

export interface OperatorHandle {
  metrics: Metrics;
  httpPort: number;
  isLeader: () => boolean;
  /** Resolves when the operator stopped acting (shutdown, or the lease was lost). */
  stopped: Promise<string>;
  stop: () => Promise<void>;
}

export interface OperatorOptions {
  /** Where signals come from; default: Prometheus (--prometheus-url) or pod scraping, per service. */
  source?: MetricSource;
  /** The controllers to run; default: controllers/index.ts. */
  controllers?: (planner: Planner) => ControllerSpec[];
}

/** What the planner reads to build its Snapshot, one cache per field of the World. */
const WORLD: { [K in keyof World]: CacheRequest } = {
  services: CACHE.services,
  pools: CACHE.pools,
  budgets: CACHE.budgets,
  deployments: CACHE.deployments,
  nodes: CACHE.nodes,
  pods: CACHE.pods,
  namespaces: CACHE.namespaces,
};

/** One informer per distinct cache request, shared by every controller and the planner. */
function buildCaches(client: KubeClient, log: Logger, requests: CacheRequest[]) {
  const informers = new Map<string, Informer<Obj>>();
  for (const req of requests) {
    const id = cacheId(req);
    if (informers.has(id)) continue;
    informers.set(
      id,
      new Informer<Obj>(client, req.resource, log.child({ informer: req.resource.plural }), {
        labelSelector: req.labelSelector,
      }),
    );
  }
  const caches: Caches = {
    informer(req) {
      const i = informers.get(cacheId(req));
      if (!i)
        throw new Error(
          `no cache for ${cacheId(req)}: declare it in the controller's for, owns, watches or reads`,
        );
      return i;
    },
  };
  return { caches, all: [...informers.values()] };
}

/** Every cache a controller declares. */
const requestsOf = (c: ControllerSpec): CacheRequest[] => [
  c.for,
  ...(c.owns ?? []),
  ...(c.watches ?? []),
  ...(c.reads ?? []),
];

export async function startOperator(
  config: OperatorConfig,
  log: Logger,
  opts: OperatorOptions = {},
): Promise<OperatorHandle> {
  const metrics = createMetrics();
  const client = await KubeClient.create(config.kubeconfig, config.context, {
    fieldManager: config.fieldManager,
  });
  client.onRequest((verb, path, status, seconds) => {
    const resource = resourceOfPath(path);
    metrics.apiRequests.inc({ verb, resource, code: String(status) });
    metrics.apiRequestSeconds.observe({ verb, resource }, seconds);
  });

  const events = new EventRecorder(client, config.identity, log.child({ component: "events" }));
  const source =
    opts.source ??
    routeBySource({
      prometheus: createPrometheusSource({
        ...(config.prometheusURL ? { url: config.prometheusURL } : {}),
        overrides: config.promqlOverrides,
      }),
      podScrape: createPodScrapeSource(),
    });
  // Built before the caches exist; it reads them only when it ticks, after they synced.
  let caches: Caches | undefined;
  const planner = new Planner({
    source,
    power: createPowerReader({ url: config.prometheusURL }),
    intervalMs: config.interval,
    log: log.child({ component: "planner" }),
    world: () => {
      const c = caches!;
      return Object.fromEntries(
        Object.entries(WORLD).map(([k, req]) => [k, c.informer(req).list()]),
      ) as unknown as World;
    },
    onPlan: () => {
      for (const r of running) if (r.spec.afterPlan) r.enqueueAll();
    },
  });
  const specs = (opts.controllers ?? defaultControllers)(planner);
  const built = buildCaches(client, log, [...Object.values(WORLD), ...specs.flatMap(requestsOf)]);
  caches = built.caches;
  const all = built.all;

  // Event handlers only enqueue keys. `acting`: this instance takes work; `mayWrite`: its writes go out.
  // A graceful stop ends taking work first and lets in-flight reconciles write; a lost lease ends both at once.
  let acting = !config.leaderElect;
  let mayWrite = !config.leaderElect;
  const running = specs.map((spec) =>
    runController(
      spec,
      { client, caches: built.caches, events, log, metrics },
      {
        // Controllers driven by the Plan start after the first one, so a restarted operator decides as its
        // predecessor did.
        mayEnqueue: () => acting && (!spec.afterPlan || planner.plan !== undefined),
        concurrency: config.concurrency,
      },
    ),
  );
  const shutdownQueues = () => Promise.all(running.map((r) => r.queue.shutdown()));

  // Caches first: nothing acts before every cache is synced.
  await Promise.all(
    all.map((i) =>
      i.start().catch((err) => log.warn({ err, informer: i.resource.plural }, "informer start failed")),
    ),
  );
  const synced = () => all.every((i) => i.synced());

  let resolveStopped: (why: string) => void = () => {};
  const stopped = new Promise<string>((r) => {
    resolveStopped = r;
  });
  let stopping = false;

  const leader = config.leaderElect
    ? new LeaderElector(
        client,
        { namespace: config.namespace, name: config.leaseName, identity: config.identity },
        log.child({ component: "leader" }),
        {
          onStartedLeading: () => {
            log.info({ identity: config.identity }, "became leader");
            metrics.isLeader.set(1);
            mayWrite = true;
            acting = true;
            planner.start();
          },
          onStoppedLeading: () => {
            metrics.isLeader.set(0);
            mayWrite = false;
            if (!acting) return;
            acting = false;
            planner.stop();
            if (!stopping) log.error("lost the lease: stopping at once");
            void shutdownQueues().then(() => resolveStopped(stopping ? "shutdown" : "lost the lease"));
          },
        },
      )
    : undefined;
  if (leader) {
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${config.namespace}/leases`;
    client.setWriteGate((path) => mayWrite || path.startsWith(leasePath));
  } else {
    metrics.isLeader.set(1);
  }

  const server: Server = await startHttpServer(config.httpAddress, metrics.registry, {
    ready: () => {
      if (!synced()) return { ok: false, reason: "caches not synced" };
      if (leader?.isLeader() && !acting) return { ok: false, reason: "leader, but the loop is not running" };
      return { ok: true, reason: leader ? (leader.isLeader() ? "leader" : "standby") : "ok" };
    },
  });

  // Wait for sync (informers restart themselves), then act.
  const waitSynced = async () => {
    while (!synced() && !stopping) await new Promise((r) => setTimeout(r, 100));
  };
  await waitSynced();
  if (leader) leader.start();
  else planner.start();
  log.info({ httpPort: portOf(server), leaderElect: config.leaderElect }, "operator started");

  return {
    metrics,
    httpPort: portOf(server),
    isLeader: () => (leader ? leader.isLeader() : true),
    stopped,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      acting = false;
      planner.stop();
      await shutdownQueues(); // finish in-flight reconciles
      // Their events go out too, unless the API server keeps them waiting.
      await Promise.race([events.flush(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      if (leader) await leader.stop(); // release the lease for a fast hand-over
      await Promise.all(all.map((i) => i.stop()));
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await client.close();
      resolveStopped("shutdown");
    },
  };
}

/** One controller's queue and event handlers, from its declaration. */
function runController(
  spec: ControllerSpec,
  base: Omit<ControllerContext, "log"> & { log: Logger },
  gate: { mayEnqueue: () => boolean; concurrency: number },
) {
  const ctx: ControllerContext = { ...base, log: base.log.child({ controller: spec.name }) };
  const { metrics } = ctx;
  const queue = new WorkQueue(spec.reconciler(ctx), {
    concurrency: gate.concurrency,
    ...spec.queue,
    onDone: (key, outcome, seconds, err) => {
      metrics.reconcileTotal.inc({ controller: spec.name, outcome });
      metrics.reconcileSeconds.observe({ controller: spec.name }, seconds);
      if (err) ctx.log.error({ err, key, outcome }, "reconcile failed");
    },
  });
  metrics.queueDepths.set(spec.name, () => queue.depth);

  const enqueue = (key: string) => {
    if (gate.mayEnqueue()) queue.add(key);
  };
  const primary = ctx.caches.informer(spec.for);
  const enqueueAll = () => {
    for (const o of primary.list()) enqueue(keyOf(o));
    for (const key of spec.orphanKeys?.(ctx.caches) ?? []) enqueue(key);
  };
  // Changes of an object's own status wake nothing (controller-runtime's GenerationChangedPredicate, with the
  // metadata a reconcile reads): the controller wrote it, and another writer of it must not start a loop.
  const seen = new Map<string, string>();
  primary.on((o, kind) => {
    const key = keyOf(o);
    if (kind === "delete") {
      seen.delete(key);
      queue.forget(key);
      spec.onDelete?.(key, ctx);
      return;
    }
    const print = fingerprint(o);
    if (kind === "update" && seen.get(key) === print) return;
    seen.set(key, print);
    enqueue(key);
  });
  for (const owns of spec.owns ?? []) {
    const map = owns.map ?? ((o: Obj) => controllerOwnerKeys(o, spec.for.resource.kind));
    ctx.caches.informer(owns).on((o) => {
      for (const key of map(o)) enqueue(key);
    });
  }
  for (const w of spec.watches ?? []) {
    ctx.caches.informer(w).on((o) => {
      for (const key of w.map(o, ctx.caches)) enqueue(key);
    });
  }
  return { spec, queue, enqueueAll };
}

/** What of an object, beyond its status, a reconcile acts on: spec (generation) and metadata. */
export function fingerprint(o: Obj): string {
  const m = o.metadata ?? {};
  return JSON.stringify([
    m.generation,
    m.labels,
    m.annotations,
    m.deletionTimestamp,
    m.finalizers,
    m.ownerReferences,
    m.generation === undefined ? (o as { spec?: unknown }).spec : undefined,
  ]);
}
