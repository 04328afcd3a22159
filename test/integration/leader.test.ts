// Leader election on the real API server, as the operator's identity: a stop that races a renewal still
// hands the lease over at once (a fresh-clone CI run caught the release conflicting with a renewal that
// landed between its read and its write, so the successor waited out the whole lease).
import pino from "pino";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { LeaderElector } from "../../operator/src/kube/leader.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { integrationSuite } from "../helpers/suite.ts";

const NAMESPACE = "it-leader";

/**
 * The operator's client, with its lease writes made to race: while the test holds a gate, a renewal waits at
 * it, and a release (holder "") waits until that renewal has landed, so the release was read before the
 * renewal and written after it, the order that lost the hand-over.
 */
function racing(client: KubeClient) {
  const state: { gate?: Promise<void>; renewed?: Promise<void>; held: number } = { held: 0 };
  let landed = () => {};
  const proxy = new Proxy(client, {
    get(target, prop) {
      if (prop === "replace")
        return async <T extends KubeObject>(path: string, body: T): Promise<T> => {
          const gate = state.gate;
          if (!gate) return target.replace(path, body);
          if ((body.spec as { holderIdentity?: string } | undefined)?.holderIdentity === "") {
            await state.renewed;
            return target.replace(path, body);
          }
          state.held++;
          state.renewed = new Promise<void>((resolve) => {
            landed = resolve;
          });
          await gate;
          try {
            return await target.replace(path, body);
          } finally {
            landed();
          }
        };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { client: proxy, state };
}

integrationSuite("leader election", () => {
  let admin: KubeClient;
  const log = pino({ level: "silent" });
  beforeAll(async () => {
    kubectl(inject("adminKubeconfig"), ["create", "namespace", NAMESPACE]);
    admin = await KubeClient.create(inject("adminKubeconfig"));
  });
  afterAll(async () => admin?.close());

  const lease = (name: string) =>
    admin.get<KubeObject & { spec: { holderIdentity?: string } }>(
      pathFor(R.leases, { namespace: NAMESPACE, name }),
    );

  it("a stop that races an in-flight renewal still releases the lease, and never leads again", async () => {
    const name = "it-leader-race";
    const { client, state } = racing(await KubeClient.create(inject("operatorKubeconfig")));
    const events: string[] = [];
    const elector = new LeaderElector(
      client,
      { namespace: NAMESPACE, name, identity: "racer", retryPeriodMs: 200 },
      log,
      { onStartedLeading: () => events.push("started"), onStoppedLeading: () => events.push("stopped") },
    );
    try {
      elector.start();
      await eventually(async () => expect(elector.isLeader()).toBe(true));
      // Hold the next renewal after it has read the lease, then stop while it waits.
      let open = () => {};
      state.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      await eventually(async () => expect(state.held).toBe(1));
      const stopped = elector.stop();
      setTimeout(open, 300);
      await stopped;
      expect((await lease(name)).spec.holderIdentity).toBe("");
      expect(elector.isLeader()).toBe(false);
      expect(events).toEqual(["started", "stopped"]);
    } finally {
      state.gate = undefined;
      await elector.stop();
      await client.close();
    }
  });
});
