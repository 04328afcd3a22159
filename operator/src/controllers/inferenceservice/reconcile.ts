// The InferenceService reconcile: read the world from the caches, converge the owned Deployments and the
// Service, write status once and only when it changed. Level-triggered: nothing depends on the event.
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { ConditionType, Reason } from "../../apis/conditions.ts";
import { type GPUNodePool, gpuNodePoolSchema } from "../../apis/gpunodepool.ts";
import { type InferenceService, inferenceServiceSchema } from "../../apis/inferenceservice.ts";
import {
  ANNOTATION_DRAINING,
  LABEL_MANAGED_BY,
  LABEL_SERVICE,
  LABEL_VARIANT,
  owningServiceKey,
} from "../../apis/labels.ts";
import { formatErrors, parseSpec, toFieldErrors } from "../../apis/validate.ts";
import type { KubeApi, KubeObject } from "../../kube/client.ts";
import {
  isNamespaceTerminating,
  isNotFound,
  isRefusedObject,
  TerminalError,
  wrap,
} from "../../kube/errors.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { Informer } from "../../kube/informer.ts";
import type { ReconcileResult } from "../../kube/queue.ts";
import { pathFor, R } from "../../kube/resources.ts";
import { StatusWrites, statusContested } from "../../kube/status.ts";
import type { Metrics } from "../../metrics.ts";
import { mergeConditions } from "../conditions.ts";
import { CONTEST_LIMIT, CONTEST_WINDOW_MS, ReplicaWriters } from "./contest.ts";
import { deletionCosts, POD_DELETION_COST } from "./deletion.ts";
import * as events from "./events.ts";
import { deploymentName, desiredDeployment, desiredService, upToDate } from "./objects.ts";
import {
  computeStatus,
  type Decision,
  type DeploymentView,
  namesDeployment,
  type ReplicasConflict,
  viewDeployment,
} from "./status.ts";

/**
 * How long a scale-down waits after setting pod-deletion-costs, so that the ReplicaSet controller, which
 * chooses from its own cache, sees them before the replicas are lowered.
 */
export const DELETION_COST_SETTLE_MS = 1_000;

/**
 * A Deployment the API server refused as the spec makes it is not applied again for the same generation of
 * the spec until this long has passed (something else, a webhook or a newer API server, may have changed).
 */
export const REFUSED_RETRY_MS = 5 * 60_000;

export interface Caches {
  services: Informer;
  pools: Informer;
  deployments: Informer;
  k8sServices: Informer;
  hpas: Informer;
  /** inferops' pods and the pools' nodes: to rank which pods a scale-down removes (deletion.ts). */
  pods?: Informer;
  nodes?: Informer;
}

/** Decides replicas per variant for one service; the decision engine plugs in here. */
export type Decider = (
  svc: InferenceService,
  ctx: { deployments: DeploymentView[]; pools: Map<string, GPUNodePool> },
) => Decision;

export interface ReconcilerDeps {
  client: Pick<KubeApi, "apply" | "delete" | "patch">;
  caches: Caches;
  events: Pick<EventRecorder, "record">;
  log: Logger;
  decide: Decider;
  metrics?: Metrics;
  now?: () => number;
}

/** Pools by name, parsed; a pool whose spec no longer parses is treated as unknown. */
export function knownPools(cache: Caches["pools"]): Map<string, GPUNodePool> {
  const out = new Map<string, GPUNodePool>();
  for (const raw of cache.list()) {
    const parsed = parseSpec(gpuNodePoolSchema, raw);
    if (parsed.success) out.set(parsed.data.metadata.name, parsed.data);
  }
  return out;
}

/** HPAs (KEDA makes them too) that target a Deployment we would manage: we leave those replicas alone. */
function conflictsFor(svc: InferenceService, hpas: Caches["hpas"]): ReplicasConflict[] {
  const names = new Set(svc.spec.accelerators.map((a) => deploymentName(svc.metadata.name, a.pool)));
  return hpas.list(svc.metadata.namespace).flatMap((h) => {
    const ref = (h.spec as { scaleTargetRef?: { kind?: string; name?: string } } | undefined)?.scaleTargetRef;
    if (ref?.kind !== "Deployment" || !ref.name || !names.has(ref.name)) return [];
    const keda =
      h.metadata?.labels?.[LABEL_MANAGED_BY] === "keda-operator" || h.metadata?.name?.startsWith("keda-hpa-");
    return [
      {
        deployment: ref.name,
        by: `${keda ? "KEDA ScaledObject (via HPA" : "HorizontalPodAutoscaler"} ${h.metadata?.name}${keda ? ")" : ""}`,
        reason: keda ? Reason.ScaledObjectConflict : Reason.HPAConflict,
      },
    ];
  });
}

/** The Deployments cache's index: the InferenceService each of inferops' Deployments belongs to. */
const BY_SERVICE = "inferops-service";

export function makeReconciler(deps: ReconcilerDeps) {
  const now = deps.now ?? Date.now;
  deps.caches.deployments.addIndex(BY_SERVICE, owningServiceKey);
  const writers = new ReplicaWriters();
  const statusWrites = new StatusWrites();
  /** `service key|Deployment name` -> the spec generation the API server refused it for, when, and why. */
  const refusals = new Map<string, { generation: number; atMs: number; message: string }>();
  return async function reconcile(key: string): Promise<ReconcileResult | undefined> {
    const [namespace, name] = key.split("/") as [string, string];
    const raw = deps.caches.services.get(name, namespace);
    if (!raw || raw.metadata?.deletionTimestamp) {
      writers.forget(key);
      statusWrites.forget(R.inferenceServices, namespace, name);
      for (const k of refusals.keys()) if (k.startsWith(`${key}|`)) refusals.delete(k);
      return undefined; // owned objects go with it (ownerReferences)
    }
    const log = deps.log.child({ namespace, name });

    // Status is ours and read as is; only the user's part is validated (and defaulted).
    const parsed = parseSpec(inferenceServiceSchema, raw);
    if (!parsed.success) {
      // The API server admitted it, so the CRD and this build disagree (an older CRD installed?).
      // Said once, when the status changes: the next reconciles (every Plan wakes it) write and record nothing.
      const message = formatErrors(toFieldErrors(parsed.error));
      if (await writeInvalidStatus(deps, raw, message, now))
        await deps.events.record(events.regarding(raw), events.invalid(key, message));
      throw new TerminalError(`InferenceService ${key} does not validate: ${message}`);
    }
    const svc: InferenceService = { ...parsed.data, status: raw.status as InferenceService["status"] };
    const pools = knownPools(deps.caches.pools);
    const owned = deps.caches.deployments.byIndex(BY_SERVICE, key);
    const views = owned.map((d) => viewDeployment(d.metadata?.labels?.[LABEL_VARIANT] ?? "", d));
    const decision = deps.decide(svc, { deployments: views, pools });
    const conflicts = conflictsFor(svc, deps.caches.hpas);
    // Replicas another writer changed (not an HPA): set back once with a warning; left alone when it keeps on.
    let contestedUntilMs: number | undefined;
    const minutes = CONTEST_WINDOW_MS / 60_000;
    const conflictBefore = svc.status?.conditions?.find((c) => c.type === ConditionType.Conflict);
    for (const d of owned) {
      const dname = d.metadata?.name ?? "";
      const liveReplicas = (d.spec as { replicas?: number } | undefined)?.replicas;
      if (liveReplicas === undefined || conflicts.some((c) => c.deployment === dname)) continue;
      const live = { replicas: liveReplicas, generation: d.metadata?.generation ?? 0 };
      const nowMs = now();
      if (
        !writers.knows(key, dname) &&
        conflictBefore?.status === "True" &&
        namesDeployment(conflictBefore.message, dname) &&
        conflictBefore.message.includes("another writer")
      )
        writers.inherit(key, dname, live, nowMs);
      const ours = decision.perVariant.get(d.metadata?.labels?.[LABEL_VARIANT] ?? "") ?? 0;
      const changed = writers.observe(key, dname, live, ours, nowMs);
      const contest = writers.contested(key, dname, nowMs);
      if (contest) {
        // No count or time in the words: they stay the same from one evaluation, and one leader, to the next.
        conflicts.push({
          deployment: dname,
          by: `another writer (it changed the replicas ${CONTEST_LIMIT} times or more within ${minutes} minutes, the last time to ${contest.lastTo})`,
          reason: Reason.ReplicasContested,
          until: `${minutes} minutes pass without another change`,
        });
        contestedUntilMs = Math.min(contestedUntilMs ?? contest.untilMs, contest.untilMs);
      } else if (changed) {
        await deps.events.record(events.regarding(svc), events.replicasOverridden(dname, liveReplicas, ours));
      }
    }
    const unknownPools = svc.spec.accelerators.filter((a) => !pools.has(a.pool)).map((a) => a.pool);

    // The Deployments (one per variant on a known pool) and the Service over all variants, side by side: a
    // new service's first reconcile waits for one round trip, not two.
    let settleMs: number | undefined;
    const refused: { deployment: string; message: string }[] = [];
    const generation = svc.metadata.generation ?? 0;
    const deployments = async () => {
      for (const accel of svc.spec.accelerators) {
        const pool = pools.get(accel.pool);
        if (!pool) continue; // keep what runs; the Valid condition says why nothing new is made
        const dname = deploymentName(name, accel.pool);
        const live = owned.find((d) => d.metadata?.name === dname);
        const conflicted = conflicts.some((c) => c.deployment === dname);
        if (conflicted && live) continue; // another autoscaler owns its replicas
        const liveReplicas = (live?.spec as { replicas?: number } | undefined)?.replicas;
        const replicas = conflicted ? (liveReplicas ?? 0) : (decision.perVariant.get(accel.pool) ?? 0);
        const desired = desiredDeployment(svc, accel, pool, replicas);
        if (upToDate(live, desired)) continue;
        const refusal = refusals.get(`${key}|${dname}`);
        if (refusal && refusal.generation === generation && now() - refusal.atMs < REFUSED_RETRY_MS) {
          refused.push({ deployment: dname, message: refusal.message });
          continue;
        }
        if (live && liveReplicas !== undefined && replicas < liveReplicas) {
          // The ReplicaSet picks the pods to remove from its own cache: lower the replicas once it has seen
          // the costs just set, at the next pass, not in the same breath.
          if ((await rankForRemoval(deps, namespace, name, accel.pool, log)) > 0) {
            settleMs = DELETION_COST_SETTLE_MS;
            continue;
          }
        }
        let unchanged = false;
        try {
          const applied = await deps.client.apply<KubeObject>(
            pathFor(R.deployments, { namespace, name: dname }),
            desired,
          );
          const before = writers.lastWrite(key, dname);
          const appliedGeneration = applied.metadata?.generation ?? 0;
          // The server had it already from inferops' own last write (the cache was behind): nothing scaled.
          unchanged = before?.replicas === replicas && before.generation === appliedGeneration;
          writers.wrote(key, dname, { replicas, generation: appliedGeneration });
          refusals.delete(`${key}|${dname}`);
        } catch (err) {
          if (isRefusedObject(err)) {
            // As the spec makes it, the server will refuse it again: say why in status, keep what runs, and
            // try again only when the spec changes (or after a while), not at every evaluation.
            const full = (err as Error).message;
            const message =
              full.length > 1_000 ? `${full.slice(0, 1_000)}... (${full.length} characters)` : full;
            if (refusal?.message !== message)
              await deps.events.record(events.regarding(svc), events.applyFailed(`Deployment ${dname}`, err));
            refusals.set(`${key}|${dname}`, { generation, atMs: now(), message });
            refused.push({ deployment: dname, message });
            log.warn({ err, deployment: dname }, "the API server refuses the Deployment the spec makes");
            continue;
          }
          if (!isNamespaceTerminating(err))
            await deps.events.record(events.regarding(svc), events.applyFailed(`Deployment ${dname}`, err));
          throw wrap(`applying Deployment ${namespace}/${dname}`, err);
        }
        if (!live) log.info({ deployment: dname, replicas }, "created Deployment");
        else if (liveReplicas !== replicas && !unchanged) {
          log.info(
            { deployment: dname, from: liveReplicas, to: replicas, reason: decision.reason },
            "scaled Deployment",
          );
          deps.metrics?.decisions.inc({
            direction: replicas > (liveReplicas ?? 0) ? "up" : "down",
            reason: decision.reason,
          });
          if (decision.evaluatedAtMs !== undefined)
            deps.metrics?.actuationSeconds.observe(Math.max(0, now() - decision.evaluatedAtMs) / 1000);
          await deps.events.record(
            events.regarding(svc),
            events.scaled(dname, liveReplicas ?? 0, replicas, decision),
          );
        }
      }

      // Variants removed from the spec: their Deployments go (only ours, only this service's).
      const variants = new Set(svc.spec.accelerators.map((a) => a.pool));
      for (const d of owned) {
        const variant = d.metadata?.labels?.[LABEL_VARIANT] ?? "";
        if (variants.has(variant) || !ownedBy(d, svc)) continue;
        try {
          await deps.client.delete(pathFor(R.deployments, { namespace, name: d.metadata?.name }));
          log.info({ deployment: d.metadata?.name }, "deleted Deployment of a removed variant");
        } catch (err) {
          if (!isNotFound(err)) throw wrap(`deleting Deployment ${namespace}/${d.metadata?.name}`, err);
        }
      }
    };
    const service = async () => {
      const desiredSvc = desiredService(svc);
      const live = deps.caches.k8sServices.get(name, namespace);
      if (!upToDate(live, desiredSvc)) {
        // A Service's clusterIP cannot change: one made headless, or no longer headless, is made again.
        if (live && isHeadless(live) !== svc.spec.service.headless && ownedBy(live, svc)) {
          try {
            await deps.client.delete(pathFor(R.services, { namespace, name }));
          } catch (err) {
            if (!isNotFound(err)) throw wrap(`deleting Service ${namespace}/${name} to remake it`, err);
          }
          log.info(
            { headless: svc.spec.service.headless },
            "remade the Service (spec.service.headless changed)",
          );
          await deps.events.record(events.regarding(svc), events.serviceRemade(svc.spec.service.headless));
        }
        try {
          await deps.client.apply(pathFor(R.services, { namespace, name }), desiredSvc);
        } catch (err) {
          throw wrap(`applying Service ${namespace}/${name}`, err);
        }
      }
    };
    const [deployed, served] = await Promise.allSettled([deployments(), service()]);
    // Its namespace is being deleted, and the service with it: nothing to make, nothing to retry.
    if ([deployed, served].some((r) => r.status === "rejected" && isNamespaceTerminating(r.reason))) {
      log.debug("the namespace is being deleted; nothing to do");
      return undefined;
    }
    if (deployed.status === "rejected") throw deployed.reason;
    if (served.status === "rejected") throw served.reason;

    deps.metrics?.desiredReplicas.set({ namespace, service: name }, decision.total);
    if (decision.recommendation)
      deps.metrics?.recommendedReplicas.set({ namespace, service: name }, decision.recommendation.replicas);

    // Status, once, only if it changed.
    const nowIso = new Date(now()).toISOString();
    const status = computeStatus({
      svc,
      pools,
      deployments: views,
      decision,
      unknownPools,
      conflicts,
      refused,
      nowIso,
    });
    if (!isDeepStrictEqual(normalise(status), normalise(svc.status ?? {}))) {
      const write = await statusWrites.write(deps.client, R.inferenceServices, raw, status, now());
      if (write.contestStarted) {
        log.warn("another writer keeps rewriting this status; not writing it for a while");
        await deps.events.record(events.regarding(svc), statusContested("InferenceService"));
      }
      if (write.written)
        for (const e of events.transitions(svc, svc.status, status))
          await deps.events.record(events.regarding(svc), e);
    }
    // No timer: every Plan (each evaluation interval) wakes every service; a scale-down waiting for its
    // pod-deletion-costs to be seen comes back sooner, and a contest's end is not missed in Manual mode.
    const waits = [settleMs, contestedUntilMs === undefined ? undefined : contestedUntilMs - now() + 1_000];
    const requeueAfterMs = Math.min(...waits.filter((w): w is number => w !== undefined));
    return Number.isFinite(requeueAfterMs) ? { requeueAfterMs: Math.max(requeueAfterMs, 0) } : undefined;
  };
}

const isHeadless = (o: KubeObject) => (o.spec as { clusterIP?: string } | undefined)?.clusterIP === "None";

/** The object's controller is this InferenceService (its uid): inferops deletes nothing it does not own. */
const ownedBy = (o: KubeObject, svc: InferenceService) =>
  o.metadata?.ownerReferences?.some((r) => r.uid === svc.metadata.uid && r.controller) ?? false;

/** JSON round-trip, so undefined fields and key order do not count as changes. */
const normalise = (o: unknown) => JSON.parse(JSON.stringify(o));

/** Valid=False and Ready=False naming the field; true when it wrote them, false when status said so already. */
async function writeInvalidStatus(
  deps: ReconcilerDeps,
  raw: KubeObject,
  message: string,
  now: () => number,
): Promise<boolean> {
  const status = (raw.status ?? {}) as { conditions?: never[] };
  const generation = raw.metadata?.generation ?? 0;
  const conditions = mergeConditions(
    status.conditions,
    [
      { type: "Valid", status: "False", reason: Reason.InvalidSpec, message },
      { type: "Ready", status: "False", reason: Reason.InvalidSpec, message: "the spec does not validate" },
    ],
    generation,
    new Date(now()).toISOString(),
  );
  if (isDeepStrictEqual(conditions, status.conditions)) return false;
  await deps.client.apply(
    pathFor(R.inferenceServices, {
      namespace: raw.metadata?.namespace,
      name: raw.metadata?.name,
      subresource: "status",
    }),
    {
      apiVersion: raw.apiVersion,
      kind: raw.kind,
      metadata: { name: raw.metadata?.name, namespace: raw.metadata?.namespace },
      status: { observedGeneration: generation, conditions },
    },
  );
  return true;
}

/**
 * Before a scale-down: sets each of the variant's pods' pod-deletion-cost (deletion.ts) so that the
 * ReplicaSet removes the pods whose nodes empty first. A pod that cannot be annotated is logged and left:
 * the scale-down goes on with the ReplicaSet's own order.
 */
async function rankForRemoval(
  deps: ReconcilerDeps,
  namespace: string,
  service: string,
  variant: string,
  log: Logger,
): Promise<number> {
  const { pods, nodes } = deps.caches;
  if (!pods || !nodes) return 0;
  const all = pods.list();
  const mine = all.filter(
    (p) =>
      p.metadata?.namespace === namespace &&
      p.metadata?.labels?.[LABEL_SERVICE] === service &&
      p.metadata?.labels?.[LABEL_VARIANT] === variant,
  );
  const draining = new Set(
    nodes
      .list()
      .filter((n) => n.metadata?.annotations?.[ANNOTATION_DRAINING] !== undefined)
      .map((n) => n.metadata?.name ?? ""),
  );
  let set = 0;
  for (const [pod, cost] of deletionCosts(mine, all, draining)) {
    const current = mine.find((p) => p.metadata?.name === pod)?.metadata?.annotations?.[POD_DELETION_COST];
    if (current === String(cost)) continue;
    try {
      await deps.client.patch(pathFor(R.pods, { namespace, name: pod }), {
        metadata: { annotations: { [POD_DELETION_COST]: String(cost) } },
      });
      set++;
    } catch (err) {
      log.warn({ err, pod }, "could not set pod-deletion-cost; the ReplicaSet chooses which pod goes");
    }
  }
  return set;
}
