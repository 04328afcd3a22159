// Every field of the three kinds fuzzed through the real API server (issue 14): the mutants of each example
// (test/helpers/mutants.ts, generated from the kinds' schemas, which come from zod) are created with
// server-side dry run and strict field validation, as kubectl does. What the server refuses must name the
// field; what it accepts is created for real with the operator running, which must stay up, settle (no
// write loop), and name the field in a condition wherever its own validation (zod) refuses what the server
// let through. The test prints the counts (docs/reliability.md, "Bad input").
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { API_VERSION } from "../../operator/src/apis/common.ts";
import { openAPISchema } from "../../operator/src/apis/crd.ts";
import { KINDS } from "../../operator/src/apis/kinds.ts";
import { toFieldErrors } from "../../operator/src/apis/validate.ts";
import { KubeClient, type KubeObject } from "../../operator/src/kube/client.ts";
import { ApiError } from "../../operator/src/kube/errors.ts";
import { pathFor, R, type Resource } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { eventually } from "../helpers/eventually.ts";
import { EXAMPLES_DIR, readManifests } from "../helpers/fixtures.ts";
import { type Mutant, mutants } from "../helpers/mutants.ts";
import { type OperatorProcess, startOperatorProcess } from "../helpers/operator.ts";
import { integrationSuite } from "../helpers/suite.ts";

type Json = { [key: string]: unknown };
type Condition = { type: string; status: string; reason: string; message: string };
type Obj = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[] } };

const NS = "it-fuzz";
/** Pools and budgets are cluster-scoped: every name made here starts with this. */
const PREFIX = "fuzz";

interface Tried extends Mutant {
  kind: string;
  /** The server's refusal, or undefined when it accepted. */
  refused?: string;
  /** For an accepted mutant that zod refuses: the fields zod names (what the server stored, defaults applied). */
  zodPaths?: string[];
}

integrationSuite("fuzz", () => {
  let admin: KubeClient;
  let operator: OperatorProcess | undefined;
  const tried: Tried[] = [];
  const created: { res: Resource; name: string; namespace?: string; tried: Tried }[] = [];

  const resourceOf = (kind: string) =>
    Object.values(R).find((r) => r.kind === kind && r.group === "inferops.dev")!;
  const infoOf = (kind: string) => KINDS.find((k) => k.kind === kind)!;

  /** An example as a base: zod's defaults filled in (more fields to fuzz), names of this suite. */
  function base(object: Json): Json {
    const info = infoOf(object.kind as string);
    const parsed = info.schema.parse(object) as Json;
    const meta = object.metadata as { name: string };
    const spec = structuredClone(parsed.spec) as Json;
    // Pools only observe here: a mutant's node counts must not make the suite create thousands of Nodes.
    if (object.kind === "GPUNodePool") spec.provider = { type: "static" };
    return {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name: meta.name, ...(info.scope === "Namespaced" ? { namespace: NS } : {}) },
      spec,
    };
  }

  beforeAll(async () => {
    admin = await KubeClient.create(inject("adminKubeconfig"));
    kubectl(inject("adminKubeconfig"), ["create", "namespace", NS]);
  });

  afterAll(async () => {
    await operator?.stop();
    for (const c of created)
      await admin.delete(pathFor(c.res, { namespace: c.namespace, name: c.name })).catch(() => undefined);
    await admin?.close();
  });

  /**
   * A pool's base with each provider that steers something outside the cluster's Nodes: their blocks' fields
   * are fuzzed too. They point at objects that do not exist, so a pool the server accepts asks for nothing:
   * its provider fails, with a condition.
   */
  function providerBases(pool: Json): Json[] {
    const spec = pool.spec as Json;
    return [
      { type: "clusterAPI", clusterAPI: { machineDeployment: { namespace: NS, name: "fuzz-md" } } },
      { type: "karpenter", karpenter: { nodePool: "fuzz-nodepool" } },
    ].map((provider) => ({ ...pool, spec: { ...spec, provider } }));
  }

  it("the API server refuses a bad field by its name, or accepts it", async () => {
    const examples = readManifests(EXAMPLES_DIR).filter((m) => m.object.apiVersion === API_VERSION);
    const pool = examples.find((m) => m.object.kind === "GPUNodePool");
    const bases = [
      ...examples.map(({ object }) => base(object as Json)),
      ...(pool ? providerBases(base(pool.object as Json)) : []),
    ];
    // The two pool examples, and the provider bases, share most fields: each mutant once.
    const done = new Set<string>();
    for (const b of bases) {
      const kind = b.kind as string;
      const res = resourceOf(kind);
      const info = infoOf(kind);
      for (const m of mutants(b, openAPISchema(info))) {
        if (done.has(`${kind} ${m.path} ${m.how}`)) continue;
        done.add(`${kind} ${m.path} ${m.how}`);
        const namespace = res.namespaced ? NS : undefined;
        const t: Tried = { ...m, kind };
        try {
          const stored = await admin.request<Json>("POST", pathFor(res, { namespace }), {
            body: m.object,
            query: { dryRun: "All", fieldValidation: "Strict" },
          });
          const zod = info.schema.safeParse(stored);
          if (!zod.success) t.zodPaths = toFieldErrors(zod.error).map((e) => e.path);
        } catch (err) {
          if (!(err instanceof ApiError) || err.status === 0) throw err;
          t.refused = err.message;
        }
        tried.push(t);
      }
    }
    const refused = tried.filter((t) => t.refused !== undefined);
    const accepted = tried.filter((t) => t.refused === undefined);
    console.log(
      `fuzz: ${tried.length} mutants of ${new Set(tried.map((t) => t.path)).size} fields; the API server refused ${refused.length} and accepted ${accepted.length}, of which zod refuses ${accepted.filter((t) => t.zodPaths).length}`,
    );
    // A refusal names the field (or, for an unknown field, the field under it).
    const unnamed = refused.filter((t) => !t.refused!.includes(t.path));
    expect(
      unnamed.map((t) => `${t.kind} ${t.path} ${t.how}: ${t.refused!.slice(0, 300)}`),
      "refusals that do not name the field",
    ).toEqual([]);
  }, 300_000);

  it("the operator stays up and settles on every accepted mutant, and names the field zod refuses", async () => {
    const accepted = tried.filter((t) => t.refused === undefined);
    expect(accepted.length).toBeGreaterThan(0);
    // The examples' pools, unmutated, for the services' accelerators.
    for (const { object } of readManifests(EXAMPLES_DIR).filter((m) => m.object.kind === "GPUNodePool")) {
      const b = base(object as Json);
      await admin.apply(pathFor(R.gpuNodePools, { name: (b.metadata as { name: string }).name }), b);
      created.push({
        res: R.gpuNodePools,
        name: (b.metadata as { name: string }).name,
        tried: undefined as never,
      });
    }
    operator = await startOperatorProcess({ kubeconfig: inject("operatorKubeconfig"), identity: "op-fuzz" });
    for (const [i, t] of accepted.entries()) {
      const res = resourceOf(t.kind);
      const name = `${PREFIX}-${t.kind.toLowerCase()}-${i}`;
      const namespace = res.namespaced ? NS : undefined;
      const object = { ...t.object, metadata: { ...(t.object.metadata as Json), name } };
      await admin.create(pathFor(res, { namespace }), object as KubeObject);
      created.push({ res, name, namespace, tried: t });
    }
    // Every object gets a status for its generation; the ones zod refuses, Valid=False naming the field.
    await eventually(
      async () => {
        for (const c of created.filter((x) => x.tried)) {
          const o = await admin.get<Obj>(pathFor(c.res, { namespace: c.namespace, name: c.name }));
          expect(o.status?.observedGeneration, `${c.tried.kind} ${c.tried.path} ${c.tried.how}`).toBe(
            o.metadata?.generation,
          );
          const valid = o.status?.conditions?.find((x) => x.type === "Valid");
          if (c.tried.zodPaths) {
            expect(valid, `${c.name}: ${c.tried.path} ${c.tried.how}`).toMatchObject({
              status: "False",
              reason: "InvalidSpec",
            });
            for (const path of c.tried.zodPaths) expect(valid!.message).toContain(path);
          } else if (valid?.status === "False") {
            // Refused further on (the Deployment a pod template makes): the field is named all the same.
            // Server-side apply names a list item by its key (containers[name="vllm"]), not its index.
            const named = new RegExp(
              c.tried.path.replace(/[.*+?^${}()|\\]/g, "\\$&").replace(/\[\d+\]/g, "\\[[^\\]]*\\]"),
            );
            expect(valid.message, `${c.name}: ${c.tried.path} ${c.tried.how}`).toMatch(named);
          }
        }
      },
      { timeoutMs: 180_000, intervalMs: 2_000 },
    );
    const outcomes: string[] = [];
    for (const c of created.filter((x) => x.tried)) {
      const o = await admin.get<Obj>(pathFor(c.res, { namespace: c.namespace, name: c.name }));
      const valid = o.status?.conditions?.find((x) => x.type === "Valid");
      outcomes.push(
        `${c.tried.kind} ${c.tried.path} ${c.tried.how}: Valid=${valid?.status} ${valid?.reason}`,
      );
    }
    console.log(
      `fuzz: what the API server accepted, and what the operator made of it:\n  ${outcomes.join("\n  ")}`,
    );
    // Settled: a window of 10 s in which nothing is written, and the operator still up. The Deployments'
    // controllers may still be creating pods when every status is current (a slow CI machine), and their
    // status is the services' status: a write loop never goes quiet, a late write does within a window or two.
    const writesBy = async () =>
      (await operator!.metrics())
        .split("\n")
        .filter(
          (l) =>
            l.startsWith("inferops_kube_api_requests_total{") &&
            !l.includes('verb="GET"') &&
            !l.includes('resource="leases"'),
        );
    let written: string[] = [];
    for (let window = 0; window < 6; window++) {
      const before = await writesBy();
      await new Promise((r) => setTimeout(r, 10_000));
      written = (await writesBy()).filter((l) => !before.includes(l));
      if (written.length === 0) break;
      // What went on, for a failure below.
      const from = Date.now() - 10_000;
      console.log(`fuzz: written within window ${window}:\n  ${written.join("\n  ")}`);
      for (const l of operator.logs.filter((x) => (x.time as number) >= from).slice(-8))
        console.log(JSON.stringify(l).slice(0, 800));
    }
    expect(written, "writes in each of six 10 s windows while nothing changes").toEqual([]);
    expect(operator.proc.exitCode).toBeNull();
  }, 400_000);
});
