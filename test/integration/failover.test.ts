// Leader failover while scaling (issue 14): two operators elect a leader; the leader is killed (SIGKILL) in
// the middle of a ramp, and again in the middle of a scale-down. The standby takes over within the lease
// duration, applies no scaling step twice, never lets the replicas drop below what the queue needs, and
// scales down no sooner than the old leader would have. The test prints what each failover cost or added.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { KubeClient, KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import type { Emitter } from "../helpers/emitter.ts";
import { type EmitterRig, queueScaledService, startEmitterRig } from "../helpers/emitter-rig.ts";
import { eventually } from "../helpers/eventually.ts";
import type { OperatorProcess } from "../helpers/operator.ts";
import { integrationSuite } from "../helpers/suite.ts";

/** Lease duration (kube/leader.ts), one retry period, and slack for a loaded 2-core machine. */
const HANDOVER_LIMIT_MS = 15_000 + 2_000 + 3_000;
const PER_REPLICA = 4;
const WINDOW_S = 20;

integrationSuite("failover", () => {
  const NS = "it-failover";
  const POOL = "it-failover-h100";
  const SVC = "chat";
  const DEPLOY = `${SVC}-${POOL}`;

  let rig: EmitterRig | undefined;
  let admin: KubeClient;
  let emitter: Emitter;
  /** Operators still alive; a killed one leaves. */
  let alive: OperatorProcess[] = [];
  /** Every operator ever started here, for the scaling steps they logged. */
  let all: OperatorProcess[] = [];

  const replicas = async () =>
    (
      await admin.get<KubeObject & { spec: { replicas: number } }>(
        pathFor(R.deployments, { namespace: NS, name: DEPLOY }),
      )
    ).spec.replicas;
  const leader = async (): Promise<OperatorProcess> => {
    let found: OperatorProcess | undefined;
    await eventually(
      async () => {
        const leading: OperatorProcess[] = [];
        for (const op of alive) if ((await op.counter("inferops_leader")) === 1) leading.push(op);
        expect(leading).toHaveLength(1);
        found = leading[0];
      },
      { timeoutMs: 40_000 },
    );
    return found!;
  };
  /**
   * Kills the leader, then starts a new standby (so that the next failover has one too); `takeover` resolves
   * with the new leader and the milliseconds from the kill until it reported leading.
   */
  const killLeader = async () => {
    const killed = await leader();
    const killedAt = Date.now();
    await killed.stop("SIGKILL");
    alive = alive.filter((op) => op !== killed);
    const takeover = (async () => {
      for (;;) {
        for (const op of alive)
          if ((await op.counter("inferops_leader")) === 1) return { next: op, ms: Date.now() - killedAt };
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    void rig!.addOperator(`op-failover-${all.length}`).then((standby) => {
      alive.push(standby);
      all.push(standby);
    });
    return { killed, killedAt, takeover };
  };
  /** The scaling steps every operator logged, in time order. */
  const steps = () =>
    all
      .flatMap((op) =>
        op.logs
          .filter((l) => l.msg === "scaled Deployment" && l.deployment === DEPLOY)
          .map((l) => ({
            from: l.from as number,
            to: l.to as number,
            at: l.time as number,
            by: op.identity,
          })),
      )
      .sort((a, b) => a.at - b.at);
  /** Samples the Deployment's replicas every 500 ms until stopped. */
  const sampler = () => {
    const samples: { at: number; replicas: number }[] = [];
    let stop = false;
    const done = (async () => {
      while (!stop) {
        samples.push({ at: Date.now(), replicas: await replicas() });
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    return {
      samples,
      /** Stops sampling, with one last sample taken now: the change just awaited is in the samples. */
      async stop() {
        stop = true;
        await done;
        samples.push({ at: Date.now(), replicas: await replicas() });
        return samples;
      },
    };
  };

  beforeAll(async () => {
    rig = await startEmitterRig({
      ns: NS,
      pool: POOL,
      svc: SVC,
      nodePrefix: "it-failover",
      identity: "op-failover",
      operators: 2,
    });
    ({ admin, emitter } = rig);
    alive = [...rig.operators];
    all = [...rig.operators];
    await admin.apply(
      pathFor(R.inferenceServices, { namespace: NS, name: SVC }),
      queueScaledService({
        svc: SVC,
        ns: NS,
        pool: POOL,
        perReplica: PER_REPLICA,
        maxReplicas: 8,
        scaleDownWindowSeconds: WINDOW_S,
      }),
    );
    emitter.set({ waiting: PER_REPLICA, running: 2 });
    await eventually(async () => expect(await replicas()).toBe(1), { timeoutMs: 90_000 });
  });

  afterAll(async () => {
    await rig?.stop(); // every operator the rig started, the killed ones already gone
  });

  it("the leader killed in the middle of a ramp: the standby goes on within the lease duration, no step twice, no drop", async () => {
    const watch = sampler();
    // A ramp: the queue grows by one replica's worth every 5 s, from 2 replicas' to 7 replicas'.
    const ramp: { at: number; n: number }[] = [];
    let killed: Awaited<ReturnType<typeof killLeader>> | undefined;
    for (const n of [2, 3, 4, 5, 6, 7]) {
      emitter.set({ waiting: n * PER_REPLICA, running: 2 });
      ramp.push({ at: Date.now(), n });
      if (n === 4) killed = await killLeader();
      await new Promise((r) => setTimeout(r, 5_000));
    }
    const rampEnd = ramp.at(-1)!.at;
    const { next, ms: handoverMs } = await killed!.takeover;
    await eventually(async () => expect(await replicas()).toBe(7), { timeoutMs: 60_000 });
    const caughtUpMs = Date.now() - killed!.killedAt;
    const samples = await watch.stop();

    expect(next).not.toBe(killed!.killed);
    expect(handoverMs).toBeLessThan(HANDOVER_LIMIT_MS);
    // Never down during a ramp.
    for (let i = 1; i < samples.length; i++)
      expect(samples[i]!.replicas).toBeGreaterThanOrEqual(samples[i - 1]!.replicas);
    // Each step starts where the last one ended, and none is applied twice (by the old and the new leader).
    const s = steps().filter((x) => x.at >= samples[0]!.at - 1_000);
    for (let i = 1; i < s.length; i++) expect(s[i]!.from).toBe(s[i - 1]!.to);
    expect(new Set(s.map((x) => `${x.from}->${x.to}`)).size).toBe(s.length);
    expect(s.some((x) => x.by === next.identity)).toBe(true);
    // What the failover cost: replica-seconds short of the queue's need from the kill until caught up.
    const needAt = (at: number) => ramp.filter((r) => r.at <= at).at(-1)?.n ?? 1;
    let shortReplicaSeconds = 0;
    for (let i = 1; i < samples.length; i++) {
      const { at, replicas: r } = samples[i]!;
      if (at < killed!.killedAt) continue;
      shortReplicaSeconds += (Math.max(0, needAt(at) - r) * (at - samples[i - 1]!.at)) / 1000;
    }
    console.log(
      `failover mid-ramp: the standby led ${(handoverMs / 1000).toFixed(1)} s after the kill and caught up with the ramp ${(caughtUpMs / 1000).toFixed(1)} s after it (ramp over ${((rampEnd - killed!.killedAt) / 1000).toFixed(1)} s after it); ${shortReplicaSeconds.toFixed(0)} replica-seconds short of the queue's need meanwhile; steps: ${s.map((x) => `${x.from}->${x.to} by ${x.by}`).join(", ")}`,
    );
  });

  it("the leader killed in the middle of a scale-down window: the new leader scales down no sooner than the old one would have", async () => {
    const top = await replicas();
    expect(top).toBe(7);
    const watch = sampler();
    const droppedAt = Date.now();
    emitter.set({ waiting: PER_REPLICA, running: 2 });
    // A third of the way into the window, the leader dies.
    await new Promise((r) => setTimeout(r, (WINDOW_S * 1000) / 3));
    const { killedAt, takeover } = await killLeader();
    const { next, ms: handoverMs } = await takeover;
    expect(handoverMs).toBeLessThan(HANDOVER_LIMIT_MS);
    await eventually(async () => expect(await replicas()).toBeLessThan(top), { timeoutMs: 120_000 });
    const downAt = Date.now();
    await eventually(async () => expect(await replicas()).toBe(1), { timeoutMs: 60_000 });
    const samples = await watch.stop();

    // The old leader would have scaled down a whole window after the queue fell: the new one, which saw
    // none of that window, waits a whole window of its own.
    expect(downAt - droppedAt).toBeGreaterThanOrEqual(WINDOW_S * 1000);
    const changes = samples.filter((x, i) => i === 0 || x.replicas !== samples[i - 1]!.replicas);
    console.log(
      `replicas after the drop: ${changes.map((x) => `${x.replicas} at +${((x.at - droppedAt) / 1000).toFixed(1)} s`).join(", ")} (${samples.length} samples)`,
    );
    const first = samples.find((x) => x.replicas < top)!;
    expect(first).toBeDefined();
    expect(first.at - droppedAt).toBeGreaterThanOrEqual(WINDOW_S * 1000);
    // No step twice, each from where the last ended.
    const s = steps().filter((x) => x.at >= droppedAt);
    for (let i = 1; i < s.length; i++) expect(s[i]!.from).toBe(s[i - 1]!.to);
    expect(s.every((x) => x.by === next.identity)).toBe(true);
    // What the failover added: replica-seconds above 1 beyond the old leader's window.
    let addedReplicaSeconds = 0;
    for (let i = 1; i < samples.length; i++) {
      const { at, replicas: r } = samples[i]!;
      if (at < droppedAt + WINDOW_S * 1000) continue;
      addedReplicaSeconds += ((r - 1) * (at - samples[i - 1]!.at)) / 1000;
    }
    console.log(
      `failover mid-scale-down: the standby led ${(handoverMs / 1000).toFixed(1)} s after the kill; the first scale-down came ${((first.at - droppedAt) / 1000).toFixed(1)} s after the queue fell (window ${WINDOW_S} s, leader killed ${((killedAt - droppedAt) / 1000).toFixed(1)} s in); ${addedReplicaSeconds.toFixed(0)} replica-seconds above the need after the old leader's window; steps: ${s.map((x) => `${x.from}->${x.to} by ${x.by}`).join(", ")}`,
    );
  });
});
