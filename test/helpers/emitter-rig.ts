// One InferenceService whose signals come from a vLLM-format emitter through a real Prometheus, on a static
// pool of two 8-GPU nodes, with an operator of its own: what signals.test.ts and metrics-faults.test.ts
// stand on.
import { join } from "node:path";
import { KubeClient } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl } from "./cluster.ts";
import { type Emitter, startVllmEmitter } from "./emitter.ts";
import { gpuNode, gpuNodePool, inferenceService } from "./objects.ts";
import { type OperatorProcess, startOperatorProcess } from "./operator.ts";
import { type PrometheusProcess, startPrometheus } from "./prometheus.ts";

export interface EmitterRig {
  admin: KubeClient;
  emitter: Emitter;
  prometheus: PrometheusProcess;
  /** The first operator; with `operators > 1`, whichever leads is found with `leaderOf`. */
  operator: OperatorProcess;
  /** Every operator started, in order (one unless `operators` said more). */
  operators: OperatorProcess[];
  /** Starts one more operator like the others (a new standby after a leader was killed). */
  addOperator(identity: string): Promise<OperatorProcess>;
  stop(): Promise<void>;
}

/** Namespace `ns`, pool `pool` with nodes `<prefix>-0/1`, and the emitter scraped as pod `<svc>-<pool>-fake-0`. */
export async function startEmitterRig(o: {
  ns: string;
  pool: string;
  svc: string;
  nodePrefix: string;
  identity: string;
  /** Prometheus's scrape interval (default 1 s). */
  scrapeIntervalSeconds?: number;
  /** Operators to start, `<identity>-0`, `<identity>-1`...; more than one elect a leader (default 1). */
  operators?: number;
  /** Whether the operators elect a leader (default: when there are several); without, every one writes. */
  leaderElect?: boolean;
  /** More flags for every operator. */
  operatorArgs?: string[];
  /**
   * The field manager of each operator, by the order they start in (a missing one: the operator's default);
   * two releases that manage the same objects would each have their own.
   */
  fieldManagers?: (string | undefined)[];
  /** `user:password` the operators put in their --prometheus-url (Prometheus here ignores it). */
  prometheusUserinfo?: string;
  /** The cluster's kubeconfigs; by default the integration suite's (a benchmark has its own cluster). */
  kubeconfigs?: { admin: string; operator: string };
}): Promise<EmitterRig> {
  const kubeconfigs = o.kubeconfigs ?? (await suiteKubeconfigs());
  const admin = await KubeClient.create(kubeconfigs.admin);
  kubectl(kubeconfigs.admin, ["create", "namespace", o.ns]);
  await admin.apply(
    pathFor(R.gpuNodePools, { name: o.pool }),
    gpuNodePool(o.pool, { maxNodes: 2, provisioningSeconds: 0, provider: { type: "static" } }),
  );
  for (const n of [`${o.nodePrefix}-0`, `${o.nodePrefix}-1`])
    await admin.apply(pathFor(R.nodes, { name: n }), gpuNode(n, o.pool, 8));
  const emitter = await startVllmEmitter();
  const prometheus = await startPrometheus(
    [
      {
        address: emitter.address,
        labels: { namespace: o.ns, inferops_service: o.svc, pod: `${o.svc}-${o.pool}-fake-0` },
      },
    ],
    o.scrapeIntervalSeconds !== undefined ? { scrapeIntervalSeconds: o.scrapeIntervalSeconds } : {},
  );
  const count = o.operators ?? 1;
  const operators: OperatorProcess[] = [];
  const addOperator = async (identity: string) => {
    const logDir = process.env.INFEROPS_TEST_OPERATOR_LOG_DIR;
    const op = await startOperatorProcess({
      kubeconfig: kubeconfigs.operator,
      identity,
      // For a failure's post-mortem: every operator's log lines, one file per identity.
      ...(logDir ? { logFile: join(logDir, `${identity}.log`) } : {}),
      leaderElect: o.leaderElect ?? count > 1,
      fieldManager: o.fieldManagers?.[operators.length],
      extraArgs: [
        "--prometheus-url",
        o.prometheusUserinfo ? prometheus.url.replace("://", `://${o.prometheusUserinfo}@`) : prometheus.url,
        ...(o.operatorArgs ?? []),
      ],
    });
    operators.push(op);
    return op;
  };
  for (let i = 0; i < count; i++) await addOperator(count > 1 ? `${o.identity}-${i}` : o.identity);
  return {
    admin,
    emitter,
    prometheus,
    operator: operators[0]!,
    operators,
    addOperator,
    async stop() {
      await Promise.all(operators.map((op) => op.stop()));
      await prometheus.stop();
      await emitter.close();
      await admin.close();
    },
  };
}

/** The integration suite's kubeconfigs (global-setup.ts), read through vitest only when running under it. */
async function suiteKubeconfigs() {
  const { inject } = await import("vitest");
  return { admin: inject("adminKubeconfig"), operator: inject("operatorKubeconfig") };
}

/**
 * A rig's InferenceService scaled by its queue alone: `perReplica` waiting requests per replica, no lead time
 * and no scale-up window, so that what the replicas do is the operator's doing at the next evaluation; the
 * scale-down window is `scaleDownWindowSeconds` (default none: a queue read as zero would scale down at once).
 */
export function queueScaledService(o: {
  svc: string;
  ns: string;
  pool: string;
  perReplica: number;
  maxReplicas: number;
  scaleDownWindowSeconds?: number;
}) {
  return inferenceService(o.svc, o.ns, {
    accelerators: [{ pool: o.pool }],
    scaling: {
      minReplicas: 1,
      maxReplicas: o.maxReplicas,
      targets: { queueDepthPerReplica: o.perReplica },
      leadTimeSeconds: 0,
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0 },
        scaleDown: { stabilizationWindowSeconds: o.scaleDownWindowSeconds ?? 0 },
      },
    },
  });
}
