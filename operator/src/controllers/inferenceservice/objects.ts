// Pure: the Deployments and Service an InferenceService asks for, from its spec, the pools and the replicas.
import { createHash } from "node:crypto";
import type { GPUNodePool } from "../../apis/gpunodepool.ts";
import type { Accelerator, InferenceService } from "../../apis/inferenceservice.ts";
import {
  ANNOTATION_HASH,
  ANNOTATION_METRICS_PATH,
  ANNOTATION_METRICS_PORT,
  GPU_RESOURCE,
  LABEL_MANAGED_BY,
  LABEL_SERVICE,
  LABEL_VARIANT,
  MANAGED_BY,
  poolNodeLabels,
  variantLabels,
} from "../../apis/labels.ts";
import type { KubeObject } from "../../kube/client.ts";

export const deploymentName = (svc: string, pool: string) => `${svc}-${pool}`;

export function ownerRef(svc: InferenceService) {
  return {
    apiVersion: svc.apiVersion,
    kind: svc.kind,
    name: svc.metadata.name,
    uid: svc.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Stable hash of what we apply, stored on the object: equal hash, nothing to write. */
export function hashOf(obj: unknown): string {
  return createHash("sha256")
    .update(
      JSON.stringify(obj, (_k, v) => (v && typeof v === "object" && !Array.isArray(v) ? sortKeys(v) : v)),
    )
    .digest("hex")
    .slice(0, 16);
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

type Json = Record<string, unknown>;

/** The pod spec with placement and the GPU request for the variant set by us. */
function podSpecFor(
  template: InferenceService["spec"]["template"],
  accel: Accelerator,
  pool: GPUNodePool,
): Json {
  const spec = structuredClone(template.spec) as Json & { containers: Json[] };
  const gpus = String(accel.gpusPerReplica);
  const [first, ...rest] = spec.containers;
  const resources = (first?.resources ?? {}) as { limits?: Json; requests?: Json };
  spec.containers = [
    {
      ...first,
      resources: {
        ...resources,
        limits: { ...resources.limits, [GPU_RESOURCE]: gpus },
        requests: { ...resources.requests, [GPU_RESOURCE]: gpus },
      },
    },
    ...rest,
  ];
  spec.nodeSelector = { ...(spec.nodeSelector as Json | undefined), ...poolNodeLabels(pool) };
  const tolerations = [...((spec.tolerations as Json[] | undefined) ?? [])];
  for (const taint of pool.spec.nodeTaints ?? []) {
    const t: Json =
      taint.value === undefined
        ? { key: taint.key, operator: "Exists", effect: taint.effect }
        : { key: taint.key, operator: "Equal", value: taint.value, effect: taint.effect };
    if (!tolerations.some((x) => JSON.stringify(x) === JSON.stringify(t))) tolerations.push(t);
  }
  if (tolerations.length > 0) spec.tolerations = tolerations;
  return spec;
}

/** The Deployment of one variant, as applied by server-side apply (only the fields we own). */
export function desiredDeployment(
  svc: InferenceService,
  accel: Accelerator,
  pool: GPUNodePool,
  replicas: number,
): KubeObject {
  const name = svc.metadata.name;
  const labels = variantLabels(name, accel.pool);
  const template = svc.spec.template;
  const body = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: deploymentName(name, accel.pool),
      namespace: svc.metadata.namespace,
      labels: { ...labels, "app.kubernetes.io/name": name, "app.kubernetes.io/component": "model-server" },
      ownerReferences: [ownerRef(svc)],
    },
    spec: {
      replicas,
      selector: { matchLabels: { [LABEL_SERVICE]: name, [LABEL_VARIANT]: accel.pool } },
      template: {
        metadata: {
          labels: { ...template.metadata?.labels, ...labels },
          // Where the server's metrics are, for Prometheus' pod discovery (see docs/signals.md).
          annotations: {
            ...template.metadata?.annotations,
            [ANNOTATION_METRICS_PORT]: String(svc.spec.metrics.port),
            [ANNOTATION_METRICS_PATH]: svc.spec.metrics.path,
          },
        },
        spec: podSpecFor(template, accel, pool),
      },
    },
  };
  // The hash covers everything but replicas, which is compared on its own (another writer may change it).
  const { replicas: _replicas, ...rest } = body.spec;
  return withHash(body, { ...body, spec: rest });
}

/**
 * One Service over all variants' pods, on the first container's ports (or the metrics port); headless
 * (clusterIP: None) when spec.service.headless says so.
 */
export function desiredService(svc: InferenceService): KubeObject {
  const name = svc.metadata.name;
  const container = svc.spec.template.spec.containers[0] as {
    ports?: { name?: string; containerPort: number }[];
  };
  const ports = (container.ports ?? []).map((p, i) => ({
    name: p.name ?? `port-${i}`,
    port: p.containerPort,
    targetPort: p.containerPort,
    protocol: "TCP",
  }));
  if (ports.length === 0) {
    ports.push({
      name: "http",
      port: svc.spec.metrics.port,
      targetPort: svc.spec.metrics.port,
      protocol: "TCP",
    });
  }
  const body = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: svc.metadata.namespace,
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_SERVICE]: name, "app.kubernetes.io/name": name },
      ownerReferences: [ownerRef(svc)],
    },
    spec: {
      ...(svc.spec.service.headless ? { clusterIP: "None" } : {}),
      selector: { [LABEL_SERVICE]: name },
      ports,
    },
  };
  return withHash(body, body);
}

function withHash<T extends { metadata: Json }>(body: T, hashed: unknown): T {
  return { ...body, metadata: { ...body.metadata, annotations: { [ANNOTATION_HASH]: hashOf(hashed) } } };
}

/** True when the live object already carries what we would apply (and, for Deployments, the replicas). */
export function upToDate(live: KubeObject | undefined, desired: KubeObject): boolean {
  if (!live) return false;
  const hash = (o: KubeObject) => o.metadata?.annotations?.[ANNOTATION_HASH];
  if (hash(live) !== hash(desired)) return false;
  const want = (desired.spec as { replicas?: number } | undefined)?.replicas;
  return want === undefined || (live.spec as { replicas?: number } | undefined)?.replicas === want;
}
