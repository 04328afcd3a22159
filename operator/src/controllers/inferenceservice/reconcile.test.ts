import pino from "pino";
import { describe, expect, it } from "vitest";
import { gpuNodePool, inferenceService } from "../../../../test/helpers/objects.ts";
import { ConditionType, Reason } from "../../apis/conditions.ts";
import type { InferenceServiceStatus } from "../../apis/inferenceservice.ts";
import { isTerminal } from "../../kube/errors.ts";
import type { EventSpec } from "../../kube/events.ts";
import { FakeKube } from "../../kube/fake.ts";
import type { Informer, Obj } from "../../kube/informer.ts";
import { pathFor, R, type Resource } from "../../kube/resources.ts";
import { makeReconciler } from "./reconcile.ts";

const log = pino({ level: "silent" });
const SVC_PATH = pathFor(R.inferenceServices, { namespace: "n", name: "s" });

/** An informer's cache read from the fake server, as a watch would have delivered it. */
function cacheOf(kube: FakeKube, res: Resource): Informer {
  const indexes = new Map<string, (o: Obj) => string | undefined>();
  const list = (namespace?: string) => kube.peekAll<Obj>(pathFor(res, { namespace }));
  const cache: Pick<Informer, "get" | "list" | "addIndex" | "byIndex"> = {
    get: (name, namespace) => kube.peek<Obj>(pathFor(res, { namespace, name })),
    list,
    addIndex: (name, keyOf) => void indexes.set(name, keyOf),
    byIndex: (name, key) => list().filter((o) => indexes.get(name)?.(o) === key),
  };
  return cache as Informer;
}

/** An InferenceService on pool `a`, its reconciler, and what it records; `minReplicas: 0` alone is invalid. */
function setup() {
  const kube = new FakeKube({ now: () => 0 });
  kube.seed(pathFor(R.gpuNodePools, { name: "a" }), gpuNodePool("a"));
  const seedService = (minReplicas: number) =>
    kube.seed(
      SVC_PATH,
      inferenceService("s", "n", { accelerators: [{ pool: "a" }], scaling: { minReplicas, maxReplicas: 4 } }),
    );
  const recorded: EventSpec[] = [];
  const reconcile = makeReconciler({
    client: kube,
    caches: {
      services: cacheOf(kube, R.inferenceServices),
      pools: cacheOf(kube, R.gpuNodePools),
      deployments: cacheOf(kube, R.deployments),
      k8sServices: cacheOf(kube, R.services),
      hpas: cacheOf(kube, R.hpas),
    },
    events: {
      record: async (_r, e) => {
        recorded.push(e);
        return true;
      },
    },
    log,
    decide: () => ({ perVariant: new Map([["a", 1]]), total: 1, reason: "Manual", message: "1 replica" }),
    now: () => 0,
  });
  const valid = () =>
    kube
      .peek<Obj & { status?: InferenceServiceStatus }>(SVC_PATH)
      ?.status?.conditions?.find((c) => c.type === ConditionType.Valid);
  return { kube, recorded, seedService, valid, reconcile: () => reconcile("n/s") };
}

describe("InferenceService reconcile of a spec zod refuses (the API server admitted it)", () => {
  it("says so in Valid and in one Warning naming the field, on the transition only", async () => {
    const t = setup();
    t.seedService(0);
    const err = await t.reconcile().catch((e: unknown) => e);
    expect(isTerminal(err)).toBe(true);
    expect(t.valid()).toMatchObject({
      status: "False",
      reason: Reason.InvalidSpec,
      message: expect.stringContaining("spec.scaling.minReplicas"),
    });
    expect(t.recorded).toEqual([
      expect.objectContaining({
        type: "Warning",
        reason: Reason.InvalidSpec,
        note: expect.stringMatching(
          /^InferenceService n\/s cannot be used.*spec\.scaling\.minReplicas.*set minReplicas to 1 or more/s,
        ),
      }),
    ]);
    expect(t.kube.writes.map((w) => w.path)).toEqual([`${SVC_PATH}/status`]);

    // Every Plan wakes it again: the steady state writes and records nothing.
    await t.reconcile().catch(() => undefined);
    await t.reconcile().catch(() => undefined);
    expect(t.kube.writes).toHaveLength(1);
    expect(t.recorded).toHaveLength(1);

    // Fixed: Valid again, and no Warning for it.
    t.seedService(1);
    await t.reconcile();
    expect(t.valid()).toMatchObject({ status: "True", reason: Reason.SpecValid });
    expect(t.recorded.filter((e) => e.reason === Reason.InvalidSpec)).toHaveLength(1);

    // Broken again: a new transition, a new Warning.
    t.seedService(0);
    await expect(t.reconcile()).rejects.toThrow(/spec.scaling.minReplicas/);
    expect(t.valid()).toMatchObject({ status: "False", reason: Reason.InvalidSpec });
    expect(t.recorded.filter((e) => e.reason === Reason.InvalidSpec)).toHaveLength(2);
  });
});
