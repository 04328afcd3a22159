// CapacityBudgets on the real control plane: a budget caps growth and the higher priority keeps its
// replicas; a peak window comes into force and the plan shrinks lowest priority first, with events; the
// budget's status shows used against limit; a budget the operator cannot use says which field.
// Services are in mode Manual, so what each asks for is spec.replicas (no model servers needed): the Plan
// applies bounds and budgets to it as to any other mode.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { pathFor, R } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { gpuNode, gpuNodePool, inferenceService } from "../helpers/objects.ts";
import { type OperatorProcess, startOperatorProcess } from "../helpers/operator.ts";
import { integrationSuite } from "../helpers/suite.ts";

integrationSuite("capacity budgets", () => {
  const NS = "it-budgets";
  const POOL = "it-bud-h100";
  const BUDGET = "it-budgets";
  const NODES = ["it-bud-gpu-0", "it-bud-gpu-1"];
  const WATTS = 700; // busyWattsPerGPU of the pool; one GPU per replica
  let admin: KubeClient;
  let operator: OperatorProcess;
  const admCfg = () => inject("adminKubeconfig");

  type Condition = { type: string; status: string; reason: string; message: string };
  type Budget = KubeObject & {
    status?: {
      activeWindow?: string;
      limits?: { powerWatts?: number };
      used?: { costPerHour?: number; powerWatts?: number; gpus?: { type: string; count: number }[] };
      powerSource?: string;
      services?: { name: string; mode: string; replicas: number }[];
      heldBack?: { name: string; replicas: number; limit: string }[];
      conditions?: Condition[];
    };
  };
  type Svc = KubeObject & { status?: { conditions?: Condition[] } };
  type Event = { reason: string; note: string; regarding: { name: string; kind: string } };

  const budgetPath = pathFor(R.capacityBudgets, { name: BUDGET });
  const getBudget = () => admin.get<Budget>(budgetPath);
  const replicasOf = async (svc: string) =>
    (
      await admin.get<KubeObject & { spec: { replicas: number } }>(
        pathFor(R.deployments, { namespace: NS, name: `${svc}-${POOL}` }),
      )
    ).spec.replicas;
  const condition = (c: Condition[] | undefined, type: string) => c?.find((x) => x.type === type);
  const events = async (namespace: string, name: string) =>
    (await admin.list<KubeObject & Event>(pathFor(R.events, { namespace }))).items.filter(
      (e) => e.regarding?.name === name,
    );

  function service(name: string, priority: number, replicas: number) {
    return inferenceService(name, NS, {
      accelerators: [{ pool: POOL, gpusPerReplica: 1 }],
      scaling: { mode: "Manual", minReplicas: 1, maxReplicas: 8 },
      priority,
      replicas,
    });
  }
  const applyService = (name: string, priority: number, replicas: number) =>
    admin.apply(pathFor(R.inferenceServices, { namespace: NS, name }), service(name, priority, replicas));

  function budget(spec: Record<string, unknown>) {
    return {
      apiVersion: "inferops.dev/v1alpha1",
      kind: "CapacityBudget",
      metadata: { name: BUDGET },
      spec: {
        scope: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": NS } } },
        ...spec,
      },
    };
  }

  beforeAll(async () => {
    admin = await KubeClient.create(admCfg());
    kubectl(admCfg(), ["create", "namespace", NS]);
    // A static pool of two 8-GPU nodes: room for every replica asked, so only the budget limits them.
    await admin.apply(
      pathFor(R.gpuNodePools, { name: POOL }),
      gpuNodePool(POOL, { provider: { type: "static" } }),
    );
    for (const n of NODES) await admin.apply(pathFor(R.nodes, { name: n }), gpuNode(n, POOL, 8));
    operator = await startOperatorProcess({
      kubeconfig: inject("operatorKubeconfig"),
      identity: "op-budgets",
    });
  });

  afterAll(async () => {
    await operator?.stop();
    for (const args of [
      ["delete", "namespace", NS, "--wait=false"],
      ["delete", "capacitybudgets", BUDGET],
      ["delete", "gpunodepools", POOL],
      ["delete", "node", ...NODES],
    ])
      kubectl(admCfg(), [...args, "--ignore-not-found"]);
    await admin?.close();
  });

  describe("a budget in force", () => {
    it("shows used against limit while it does not bind", async () => {
      await applyService("high", 900, 3);
      await applyService("low", 100, 3);
      await admin.apply(budgetPath, budget({ limits: { powerWatts: 8 * WATTS } }));
      await eventually(async () => {
        const b = await getBudget();
        expect(b.status).toMatchObject({
          limits: { powerWatts: 8 * WATTS },
          used: { powerWatts: 6 * WATTS, gpus: [{ type: "nvidia-h100-80gb", count: 6 }] },
          powerSource: "Nominal",
          heldBack: [],
        });
        expect(b.status?.used?.costPerHour).toBeCloseTo((6 * 98.32) / 8, 2);
        expect(b.status?.services).toEqual([
          expect.objectContaining({ name: "high", mode: "Manual", replicas: 3 }),
          expect.objectContaining({ name: "low", mode: "Manual", replicas: 3 }),
        ]);
        expect(condition(b.status?.conditions, "Binding")).toMatchObject({ status: "False" });
      });
      // Columns: $/h used and limit (none set), watts used and limit, window (none), Binding, Violated.
      expect(kubectl(admCfg(), ["get", "capbudget", BUDGET])).toMatch(
        new RegExp(`${BUDGET}\\s+73.74\\s+${6 * WATTS}\\s+${8 * WATTS}\\s+False\\s+False`),
      );
    });

    it("caps growth: the higher priority gets all it asks, the lower one what is left, with events", async () => {
      await applyService("high", 900, 5);
      await applyService("low", 100, 5);
      await eventually(async () => {
        expect(await replicasOf("high")).toBe(5);
        expect(await replicasOf("low")).toBe(3);
      });
      const b = await eventually(async () => {
        const b = await getBudget();
        expect(b.status?.heldBack).toEqual([
          { namespace: NS, name: "low", replicas: 2, limit: "powerWatts" },
        ]);
        return b;
      });
      expect(b.status?.used?.powerWatts).toBe(8 * WATTS);
      expect(condition(b.status?.conditions, "Binding")).toMatchObject({
        status: "True",
        reason: "BudgetBinding",
      });
      const low = await admin.get<Svc>(pathFor(R.inferenceServices, { namespace: NS, name: "low" }));
      expect(condition(low.status?.conditions, "BudgetLimited")).toMatchObject({
        status: "True",
        message: `CapacityBudget ${BUDGET} holds back 2 replicas (powerWatts)`,
      });
      const high = await admin.get<Svc>(pathFor(R.inferenceServices, { namespace: NS, name: "high" }));
      expect(condition(high.status?.conditions, "BudgetLimited")?.status).toBe("False");
      await eventually(async () =>
        expect((await events("default", BUDGET)).map((e) => e.reason)).toContain("BudgetBinding"),
      );
    });

    it("a peak window coming into force shrinks the lowest priority first, with events", async () => {
      // A window from the next minute on, in a time zone where that is not near midnight.
      const zone = ["UTC", "Etc/GMT-6", "Etc/GMT+6"].find((tz) => {
        const h = Number(
          new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", hourCycle: "h23" }).format(
            Date.now() + 60_000,
          ),
        );
        return h >= 1 && h <= 21;
      })!;
      const hhmm = (ms: number) =>
        new Intl.DateTimeFormat("en-GB", {
          timeZone: zone,
          hour: "2-digit",
          minute: "2-digit",
          hourCycle: "h23",
        }).format(ms);
      const start = hhmm(Date.now() + 60_000);
      const end = hhmm(Date.now() + 60_000 * 4);
      await admin.apply(
        budgetPath,
        budget({
          limits: { powerWatts: 8 * WATTS },
          timeZone: zone,
          windows: [{ name: "peak", start, end, limits: { powerWatts: 6 * WATTS } }],
        }),
      );
      // Before it starts nothing changes; once in force, low goes to its minimum and high keeps 5.
      await eventually(
        async () => {
          const b = await getBudget();
          expect(b.status).toMatchObject({ activeWindow: "peak", limits: { powerWatts: 6 * WATTS } });
          expect(await replicasOf("low")).toBe(1);
        },
        { timeoutMs: 150_000 },
      );
      expect(await replicasOf("high")).toBe(5);
      const b = await eventually(async () => {
        const b = await getBudget();
        expect(b.status?.used?.powerWatts).toBe(6 * WATTS);
        return b;
      });
      expect(b.status?.heldBack).toEqual([{ namespace: NS, name: "low", replicas: 4, limit: "powerWatts" }]);
      expect(condition(b.status?.conditions, "Binding")?.message).toContain("(window peak in force)");
      await eventually(async () => {
        const notes = (await events("default", BUDGET)).filter((e) => e.reason === "BudgetWindowStarted");
        expect(notes.map((e) => e.note)).toContain(`window peak in force: powerWatts ${6 * WATTS}`);
      });
      await eventually(async () => {
        const scaled = (await events(NS, "low")).filter((e) => e.note.includes(`low-${POOL} from 3 to 1`));
        expect(scaled[0]?.reason).toBe("BudgetBinding");
      });
    });

    it("is Violated when the minimums alone exceed it, and holds the minimums", async () => {
      await admin.apply(budgetPath, budget({ limits: { powerWatts: WATTS } }));
      await eventually(async () => {
        const b = await getBudget();
        expect(condition(b.status?.conditions, "Violated")).toMatchObject({
          status: "True",
          reason: "MinimumsExceedBudget",
        });
        expect(condition(b.status?.conditions, "Ready")?.status).toBe("False");
        expect(await replicasOf("high")).toBe(1);
        expect(await replicasOf("low")).toBe(1);
      });
    });
  });

  it("a budget the operator cannot use (stored under an older CRD) gets Valid=False and an event naming the field", async () => {
    // A CRD whose schema does not check spec.timeZone (as before it did) admits a zone no one can load;
    // the current CRD is restored once the object is stored, as after an upgrade of the CRDs.
    const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/capacitybudgets.inferops.dev";
    type Crd = KubeObject & {
      spec: {
        versions: {
          schema: {
            openAPIV3Schema: { properties: { spec: { properties: { timeZone: Record<string, unknown> } } } };
          };
        }[];
      };
    };
    const current = await admin.get<Crd>(crdPath);
    const older = structuredClone(current);
    delete older.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.timeZone[
      "x-kubernetes-validations"
    ];
    await admin.replace(crdPath, older);
    const name = "it-budgets-bad-zone";
    const path = pathFor(R.capacityBudgets, { name });
    try {
      await eventually(() =>
        admin.apply(path, {
          ...budget({ limits: { powerWatts: 1000 }, timeZone: "Mars/Olympus_Mons" }),
          metadata: { name },
        }),
      );
    } finally {
      const now = await admin.get<Crd>(crdPath);
      await admin.replace(crdPath, { ...now, spec: current.spec });
    }
    // The API server keeps a changed CRD's old storage, and the watches open on it, until its request
    // timeout (60 s) has passed, and such a watch may deliver nothing new meanwhile: the operator's informer
    // sees the object when that watch closes and it watches again (a CI run took just over 60 s).
    const afterCrdChange = { timeoutMs: 150_000 };
    try {
      await eventually(async () => {
        const b = await admin.get<Budget>(path);
        expect(condition(b.status?.conditions, "Valid")).toMatchObject({
          status: "False",
          reason: "InvalidSpec",
          message: expect.stringContaining("spec.timeZone: timeZone must be an IANA time zone"),
        });
      }, afterCrdChange);
      await eventually(async () => {
        const e = (await events("default", name)).find((x) => x.reason === "InvalidSpec");
        expect(e?.note).toContain("spec.timeZone");
      }, afterCrdChange);
    } finally {
      kubectl(admCfg(), ["delete", "capacitybudgets", name, "--ignore-not-found"]);
    }
  }, 240_000);
});
