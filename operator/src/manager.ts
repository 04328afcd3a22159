// The operator process: informers, the work queue, controllers, leader election, the HTTP server.
import type { Server } from "node:http";
import type { Logger } from "pino";
import { Reason } from "./apis/conditions.ts";
import type { OperatorConfig } from "./config.ts";
import { holdDecision, manualDecision, planDecision } from "./controllers/inferenceservice/decide.ts";
import {
  LABEL_MANAGED_BY,
  LABEL_POOL,
  LABEL_SERVICE,
  MANAGED_BY,
} from "./controllers/inferenceservice/objects.ts";
import { type Caches, type Decider, makeReconciler } from "./controllers/inferenceservice/reconcile.ts";
import { Planner } from "./controllers/planner.ts";
import { portOf, startHttpServer } from "./http.ts";
import { KubeClient } from "./kube/client.ts";
import { EventRecorder } from "./kube/events.ts";
import { Informer, type Obj } from "./kube/informer.ts";
import { LeaderElector } from "./kube/leader.ts";
import { WorkQueue } from "./kube/queue.ts";
import { R, resourceOfPath } from "./kube/resources.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { routeBySource } from "./signals/sources/index.ts";
import { createPodScrapeSource } from "./signals/sources/podscrape.ts";
import { createPrometheusSource } from "./signals/sources/prometheus.ts";
import type { MetricSource } from "./signals/sources/types.ts";

const CONTROLLER = "inferenceservice";

/** Manual follows spec.replicas; Auto and Recommend follow the latest Plan, and hold until there is one. */
export function planDecider(planner: Pick<Planner, "planFor" | "signalsFor">): Decider {
  return (svc, { deployments, pools }) => {
    if (svc.spec.scaling.mode === "Manual") return manualDecision(svc, deployments, pools);
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const plan = planner.planFor(key);
    const signals = planner.signalsFor(key);
    if (plan) return { ...planDecision(svc, plan, deployments, pools), ...(signals ? { signals } : {}) };
    return holdDecision(svc, deployments, pools, {
      reason: Reason.HoldingOnStaleMetrics,
      message: "not evaluated yet: replicas hold",
    });
  };
}

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
}

export async function startOperator(
  config: OperatorConfig,
  log: Logger,
  opts: OperatorOptions = {},
): Promise<OperatorHandle> {
  const metrics = createMetrics();
  const client = await KubeClient.create(config.kubeconfig, config.context);
  client.onRequest((verb, path, status) =>
    metrics.apiRequests.inc({ verb, resource: resourceOfPath(path), code: String(status) }),
  );

  const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const informer = (res: (typeof R)[keyof typeof R], labelSelector?: string) =>
    new Informer<Obj>(client, res, log.child({ informer: res.plural }), { labelSelector });
  const caches: Caches = {
    services: informer(R.inferenceServices),
    pools: informer(R.gpuNodePools),
    deployments: informer(R.deployments, managed),
    k8sServices: informer(R.services, managed),
    hpas: informer(R.hpas),
  };
  const extra = {
    budgets: informer(R.capacityBudgets),
    pods: informer(R.pods, managed),
    nodes: informer(R.nodes, LABEL_POOL),
    namespaces: informer(R.namespaces),
  };
  const all: Informer<Obj>[] = [...Object.values(caches), ...Object.values(extra)];

  const events = new EventRecorder(client, config.identity, log.child({ component: "events" }));
  const source =
    opts.source ??
    routeBySource({
      prometheus: createPrometheusSource(config.prometheusURL ? { url: config.prometheusURL } : {}),
      podScrape: createPodScrapeSource(),
    });
  const planner = new Planner({
    source,
    intervalMs: config.interval,
    log: log.child({ component: "planner" }),
    world: () => ({
      services: caches.services.list(),
      pools: caches.pools.list(),
      budgets: extra.budgets.list(),
      deployments: caches.deployments.list(),
      nodes: extra.nodes.list(),
      pods: extra.pods.list(),
      namespaces: extra.namespaces.list(),
    }),
    onPlan: () => enqueueAll(),
  });
  const decide = planDecider(planner);
  const reconcile = makeReconciler({
    client,
    caches,
    events,
    log: log.child({ controller: CONTROLLER }),
    decide,
    metrics,
  });
  const queue = new WorkQueue(reconcile, {
    concurrency: config.concurrency,
    onDone: (key, outcome, seconds, err) => {
      metrics.reconcileTotal.inc({ controller: CONTROLLER, outcome });
      metrics.reconcileSeconds.observe({ controller: CONTROLLER }, seconds);
      if (err) log.child({ controller: CONTROLLER }).error({ err, key, outcome }, "reconcile failed");
    },
  });
  metrics.queueDepths.set(CONTROLLER, () => queue.depth);

  // Event handlers only enqueue keys. `acting`: this instance takes work; `mayWrite`: its writes go out.
  // A graceful stop ends taking work first and lets in-flight reconciles write; a lost lease ends both at once.
  let acting = !config.leaderElect;
  let mayWrite = !config.leaderElect;
  // Reconciles start after the first Plan, so a restarted operator decides as its predecessor did.
  const enqueue = (key: string) => {
    if (acting && planner.plan) queue.add(key);
  };
  const enqueueAll = () => {
    for (const s of caches.services.list()) enqueue(`${s.metadata?.namespace}/${s.metadata?.name}`);
  };
  caches.services.on((o, kind) => {
    const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
    if (kind === "delete") {
      queue.forget(key);
      metrics.desiredReplicas.remove({
        namespace: o.metadata?.namespace ?? "",
        service: o.metadata?.name ?? "",
      });
    } else enqueue(key);
  });
  const byOwnerLabel = (o: Obj) => {
    const svc = o.metadata?.labels?.[LABEL_SERVICE];
    if (svc) enqueue(`${o.metadata?.namespace}/${svc}`);
  };
  caches.deployments.on(byOwnerLabel);
  caches.k8sServices.on(byOwnerLabel);
  caches.pools.on(() => enqueueAll());
  caches.hpas.on((o) => {
    for (const s of caches.services.list(o.metadata?.namespace))
      enqueue(`${s.metadata?.namespace}/${s.metadata?.name}`);
  });

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
            void queue.shutdown().then(() => resolveStopped(stopping ? "shutdown" : "lost the lease"));
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
      await queue.shutdown(); // finish in-flight reconciles
      if (leader) await leader.stop(); // release the lease for a fast hand-over
      await Promise.all(all.map((i) => i.stop()));
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await client.close();
      resolveStopped("shutdown");
    },
  };
}
