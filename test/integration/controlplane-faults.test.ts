// Control-plane faults (issue 14): the API server restarted, the API server unreachable for 60 s (frozen:
// connections open, nothing answers), and etcd paused for 10 s, each while a service scaled by its queue
// runs. The operator must not crash, must make no duplicate object, must never let the replicas drop below
// what the queue needs, and must converge on the demand that changed meanwhile once the control plane is
// back; the test prints the time it took.
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import type { KubeClient, KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import {
  type Component,
  componentPid,
  kubectl,
  pauseComponent,
  restartComponent,
} from "../helpers/cluster.ts";
import type { Emitter } from "../helpers/emitter.ts";
import { type EmitterRig, queueScaledService, startEmitterRig } from "../helpers/emitter-rig.ts";
import { eventually } from "../helpers/eventually.ts";
import type { OperatorProcess } from "../helpers/operator.ts";
import { integrationSuite } from "../helpers/suite.ts";

const PER_REPLICA = 4;

integrationSuite("control-plane faults", () => {
  const NS = "it-cp-faults";
  const POOL = "it-cp-faults-h100";
  const SVC = "chat";
  const DEPLOY = `${SVC}-${POOL}`;
  const dir = inject("clusterDir");
  /** Only the local control plane's processes can be stopped and frozen (not k3s in a container). */
  const local = componentPid(dir, "kube-apiserver") !== undefined;

  let rig: EmitterRig | undefined;
  let admin: KubeClient;
  let emitter: Emitter;
  let operator: OperatorProcess;

  const replicas = async () =>
    (
      await admin.get<KubeObject & { spec: { replicas: number } }>(
        pathFor(R.deployments, { namespace: NS, name: DEPLOY }),
      )
    ).spec.replicas;
  /** The API server answers /readyz again (kubectl, so that no client of ours keeps a stale connection). */
  const apiReady = () =>
    eventually(() => expect(kubectl(inject("adminKubeconfig"), ["get", "--raw", "/readyz"])).toBe("ok"), {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  /** The lowest replica count seen from now until `stop()`, read every 500 ms (a failed read is skipped). */
  const lowest = () => {
    let low = Number.POSITIVE_INFINITY;
    let stop = false;
    const done = (async () => {
      while (!stop) {
        try {
          low = Math.min(low, await replicas());
        } catch {} // the API server is down: nobody can change replicas meanwhile either
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    return async () => {
      stop = true;
      await done;
      return Math.min(low, await replicas());
    };
  };
  /** The queue of `n` replicas' worth, and the time until the Deployment asks for them. */
  const convergeTo = async (n: number, since: number) => {
    await eventually(async () => expect(await replicas()).toBe(n), { timeoutMs: 120_000, intervalMs: 250 });
    return (Date.now() - since) / 1000;
  };
  /** One Deployment and one Service for the service, whatever happened. */
  const noDuplicates = async () => {
    const selector = `inferops.dev/service=${SVC}`;
    expect(
      (await admin.list(pathFor(R.deployments, { namespace: NS }), { labelSelector: selector })).items,
    ).toHaveLength(1);
    expect(
      (await admin.list(pathFor(R.services, { namespace: NS }), { labelSelector: selector })).items,
    ).toHaveLength(1);
  };
  const alive = () => expect(operator.proc.exitCode).toBeNull();

  beforeAll(async () => {
    if (!local) return;
    rig = await startEmitterRig({
      ns: NS,
      pool: POOL,
      svc: SVC,
      nodePrefix: "it-cp-faults",
      identity: "op-cp-faults",
    });
    ({ admin, emitter, operator } = rig);
    // No scale-down window: replicas that held are the operator's doing, not a window's.
    await admin.apply(
      pathFor(R.inferenceServices, { namespace: NS, name: SVC }),
      queueScaledService({ svc: SVC, ns: NS, pool: POOL, perReplica: PER_REPLICA, maxReplicas: 12 }),
    );
    emitter.set({ waiting: 4 * PER_REPLICA, running: 2 });
    await convergeTo(4, Date.now());
  });

  afterAll(async () => {
    await rig?.stop();
  });

  /**
   * Runs the fault while the queue stands, raises the queue to `to` replicas' worth once it is over, and
   * reports how long until the Deployment asked for them.
   */
  const across = async (what: string, fault: () => Promise<void>, from: number, to: number) => {
    const stopWatching = lowest();
    await fault();
    const back = Date.now();
    emitter.set({ waiting: to * PER_REPLICA, running: 2 });
    const seconds = await convergeTo(to, back);
    expect(await stopWatching()).toBeGreaterThanOrEqual(from);
    await noDuplicates();
    alive();
    console.log(
      `${what}: replicas never below ${from}; ${to} asked for ${seconds.toFixed(1)} s after it was over`,
    );
  };

  it.skipIf(!local)(
    "the API server restarted: watches resume, nothing is duplicated, the operator goes on",
    async () => {
      await across(
        "API server restarted (down 5 s)",
        async () => {
          await restartComponent(dir, "kube-apiserver", 5_000);
          await apiReady();
        },
        4,
        6,
      );
    },
  );

  /** Freezes the component for `ms`, then waits for the API server to answer. */
  const freeze = async (component: Component, ms: number) => {
    const thaw = pauseComponent(dir, component);
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      thaw();
    }
    await apiReady();
  };

  it.skipIf(!local)(
    "the API server unreachable for 60 s: nothing crashes or drops, the operator converges after",
    async () => {
      await across("API server frozen for 60 s", () => freeze("kube-apiserver", 60_000), 6, 8);
    },
    240_000,
  );

  it.skipIf(!local)("etcd paused for 10 s: requests time out and are retried, nothing crashes", async () => {
    await across("etcd paused for 10 s", () => freeze("etcd", 10_000), 8, 10);
  });
});
