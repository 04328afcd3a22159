// Conflicting writers over five minutes (issue 14), on its own local control plane: two operator instances
// that do not elect a leader (as a second release with its own Lease would run), both managing every
// service, while
//   - a person runs `kubectl scale deployment` on a managed Deployment every 30 s (3, 4, 3, ...),
//   - an HPA (min = max = 3) targets another managed Deployment (both services in Manual mode at 2),
//   - a third service is scaled by its queue (through a real Prometheus), which changes every 20 s.
// It counts every change of each Deployment's spec (its generation), the changes of replicas seen (sampled
// every 250 ms) and the flips (a value set back to the one before within 10 s, which no single writer here
// does), and each operator's API writes. The verdict, "no tug of war", is what docs/operator.md promises:
// the person's Deployment is set back at most twice by each operator and then left to the person
// (ReplicasContested), the HPA's is written by the HPA alone, the queue-scaled one flips no more than the
// contest allows, and neither operator keeps rewriting the statuses the other writes (StatusContested).
// With `--field-managers distinct` the second operator writes as field manager `inferops-b` (a second
// release of its own) instead of both as `inferops`; the result then also shows who owns which fields of
// each Deployment at the end (its managedFields).
//
//   node bench/writers.ts [--minutes 5] [--field-managers same|distinct] [--out bench/results/writers.json]
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { CONTEST_LIMIT } from "../operator/src/controllers/inferenceservice/contest.ts";
import { FIELD_MANAGER, type KubeObject } from "../operator/src/kube/client.ts";
import { pathFor, R } from "../operator/src/kube/resources.ts";
import { clusterDown, clusterUp, installInferops, kubectl } from "../test/helpers/cluster.ts";
import { type EmitterRig, queueScaledService, startEmitterRig } from "../test/helpers/emitter-rig.ts";
import { eventually } from "../test/helpers/eventually.ts";
import { ROOT } from "../test/helpers/fixtures.ts";
import { inferenceService } from "../test/helpers/objects.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    "field-managers": { type: "string", default: "same" },
    out: { type: "string", default: join(ROOT, "bench/results/writers.json") },
  },
});
const RUN_MS = Number(values.minutes) * 60_000;
const FIELD_MANAGERS = values["field-managers"];
if (FIELD_MANAGERS !== "same" && FIELD_MANAGERS !== "distinct") {
  console.error(`--field-managers: must be same or distinct, not ${FIELD_MANAGERS}`);
  process.exit(2);
}
/** Per operator, by start order; undefined: the operator's default, inferops. */
const MANAGERS = FIELD_MANAGERS === "distinct" ? [undefined, "inferops-b"] : [undefined, undefined];
const PER_REPLICA = 4;
/** The queue-scaled service's load, in replicas of queue, one step every 20 s (repeated over the run). */
const LOAD = [2, 5, 3, 6, 2, 4, 1, 5];
const LOAD_STEP_MS = 20_000;
const PERSON_EVERY_MS = 30_000;

const NS = "bench-writers";
const POOL = "bench-writers-h100";
const AUTO = "chat";
const PERSON = "edited";
const HPA = "hpa";
const deployOf = (svc: string) => `${svc}-${POOL}`;

type Deployment = KubeObject & { spec: { replicas: number } };
interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * Who owns what of an object, from its managedFields: per manager (and operation, subresource), the fields
 * it owns, as paths two levels deep (`spec.replicas`, `metadata.annotations`), list items left out.
 */
function owners(obj: KubeObject): { manager: string; fields: string[] }[] {
  const entries = (obj.metadata?.managedFields ?? []) as ManagedFieldsEntry[];
  return entries.map((e) => {
    const fields = new Set<string>();
    for (const [top, below] of Object.entries(e.fieldsV1 ?? {})) {
      if (!top.startsWith("f:")) continue;
      const subs = Object.keys((below ?? {}) as Record<string, unknown>).filter((k) => k.startsWith("f:"));
      if (subs.length === 0) fields.add(top.slice(2));
      for (const sub of subs) fields.add(`${top.slice(2)}.${sub.slice(2)}`);
    }
    const how = [e.operation, e.subresource].filter(Boolean).join(" ");
    return { manager: `${e.manager ?? "?"} (${how})`, fields: [...fields].sort() };
  });
}
type Svc = KubeObject & { status?: { conditions?: { type: string; status: string; reason: string }[] } };

const cluster = clusterUp(mkdtempSync(join(tmpdir(), "inferops-bench-")));
let rig: EmitterRig | undefined;
let ok = false;
try {
  installInferops(cluster.adminKubeconfig);
  rig = await startEmitterRig({
    ns: NS,
    pool: POOL,
    svc: AUTO,
    nodePrefix: "bench-writers",
    identity: "op-writers",
    operators: 2,
    leaderElect: false,
    fieldManagers: MANAGERS,
    kubeconfigs: { admin: cluster.adminKubeconfig, operator: cluster.operatorKubeconfig },
  });
  const { admin, emitter } = rig;
  const get = (svc: string) =>
    admin.get<Deployment>(pathFor(R.deployments, { namespace: NS, name: deployOf(svc) }));
  const service = (svc: string) => admin.get<Svc>(pathFor(R.inferenceServices, { namespace: NS, name: svc }));

  await admin.apply(
    pathFor(R.inferenceServices, { namespace: NS, name: AUTO }),
    queueScaledService({
      svc: AUTO,
      ns: NS,
      pool: POOL,
      perReplica: PER_REPLICA,
      maxReplicas: 8,
      scaleDownWindowSeconds: 20,
    }),
  );
  for (const svc of [PERSON, HPA])
    await admin.apply(
      pathFor(R.inferenceServices, { namespace: NS, name: svc }),
      inferenceService(svc, NS, {
        accelerators: [{ pool: POOL }],
        scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 6 },
        replicas: 2,
      }),
    );
  emitter.set({ waiting: LOAD[0]! * PER_REPLICA, running: 2 });
  await eventually(
    async () => {
      if ((await get(AUTO)).spec.replicas !== LOAD[0]) throw new Error("chat not at its first load yet");
      if ((await get(PERSON)).spec.replicas !== 2 || (await get(HPA)).spec.replicas !== 2)
        throw new Error("the Manual services not at 2 yet");
    },
    { timeoutMs: 120_000 },
  );

  const names = [AUTO, PERSON, HPA];
  const start = new Map(await Promise.all(names.map(async (n) => [n, await get(n)] as const)));
  const samples = new Map(
    names.map((n) => [n, [] as { at: number; generation: number; replicas: number }[]]),
  );
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const n of names) {
        const d = await get(n);
        samples
          .get(n)!
          .push({ at: Date.now(), generation: d.metadata?.generation ?? 0, replicas: d.spec.replicas });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  await admin.apply(pathFor(R.hpas, { namespace: NS, name: "user-hpa" }), {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: "user-hpa", namespace: NS },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployOf(HPA) },
      minReplicas: 3,
      maxReplicas: 3,
      metrics: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
        },
      ],
    },
  });

  const writesBefore = await Promise.all(rig.operators.map((op) => op.writes()));
  const began = Date.now();
  let personWrites = 0;
  let steps = 0;
  while (Date.now() - began < RUN_MS) {
    const elapsed = Date.now() - began;
    if (elapsed >= steps * LOAD_STEP_MS) {
      emitter.set({ waiting: LOAD[steps % LOAD.length]! * PER_REPLICA, running: 2 });
      steps++;
    }
    if (elapsed >= personWrites * PERSON_EVERY_MS) {
      kubectl(cluster.adminKubeconfig, [
        "scale",
        "-n",
        NS,
        `deployment/${deployOf(PERSON)}`,
        `--replicas=${3 + (personWrites % 2)}`,
      ]);
      personWrites++;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  sampling = false;
  await sampler;
  const writesAfter = await Promise.all(rig.operators.map((op) => op.writes()));

  const deployments = Object.fromEntries(
    await Promise.all(
      names.map(async (n) => {
        const s = samples.get(n)!;
        const specWrites = (s.at(-1)?.generation ?? 0) - (start.get(n)!.metadata?.generation ?? 0);
        const values = s.filter((x, i) => i === 0 || x.replicas !== s[i - 1]!.replicas);
        let flips = 0;
        for (let i = 2; i < values.length; i++)
          if (values[i]!.replicas === values[i - 2]!.replicas && values[i]!.at - values[i - 1]!.at < 10_000)
            flips++;
        const svc = await service(n);
        const c = svc.status?.conditions?.find((x) => x.type === "Conflict");
        const live = await get(n);
        return [
          n,
          {
            specWrites,
            replicaChanges: values.length - 1,
            flips,
            replicasAtEnd: s.at(-1)?.replicas,
            conflict: c?.status === "True" ? c.reason : "none",
            owners: owners(live),
            statusOwners: owners(svc).filter((o) => o.manager.endsWith("status)")),
            scaledBy: Object.fromEntries(
              rig!.operators.map((op) => [
                op.identity,
                op.logs.filter(
                  (l) =>
                    l.msg === "scaled Deployment" &&
                    l.deployment === deployOf(n) &&
                    (l.time as number) >= began,
                ).length,
              ]),
            ),
          },
        ] as const;
      }),
    ),
  );
  const person = deployments[PERSON]!;
  const hpa = deployments[HPA]!;
  const auto = deployments[AUTO]!;
  const verdict = {
    // Each operator sets the person's value back at most CONTEST_LIMIT - 1 times (each counts on its own).
    personSetBackAtMostTwiceEachThenLeft:
      person.specWrites <= personWrites + rig.operators.length * (CONTEST_LIMIT - 1) &&
      person.conflict === "ReplicasContested",
    hpaWrittenByTheHpaAlone:
      hpa.specWrites === 1 && hpa.replicasAtEnd === 3 && hpa.conflict === "HPAConflict",
    queueScaledFlipsWithinTheContest: auto.flips <= CONTEST_LIMIT,
    // Status: each operator writes a status at most CONTEST_LIMIT times after the other rewrote it, per
    // object, then stops for a window; events and Deployments come on top. A fight would be thousands.
    operatorWritesBounded: writesAfter.every((w, i) => w - writesBefore[i]! < 200),
  };
  ok = Object.values(verdict).every(Boolean);
  const result = {
    minutes: RUN_MS / 60_000,
    fieldManagers: Object.fromEntries(
      rig.operators.map((op, i) => [op.identity, MANAGERS[i] ?? FIELD_MANAGER]),
    ),
    personScaled: personWrites,
    loadSteps: steps,
    deployments,
    operatorApiWrites: Object.fromEntries(
      rig.operators.map((op, i) => [op.identity, writesAfter[i]! - writesBefore[i]!]),
    ),
    verdict,
    machine:
      `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${cpus()[0]?.model ?? ""}`.trim(),
    node: process.version,
    command: `node bench/writers.ts --minutes ${values.minutes} --field-managers ${FIELD_MANAGERS}`,
    date: new Date().toISOString().slice(0, 10),
  };
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await rig?.stop();
  clusterDown(cluster.dir);
}
process.exit(ok ? 0 : 1);
