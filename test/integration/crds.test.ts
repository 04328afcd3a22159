// The CRDs on the real API server: installed, the examples accepted, every bad input of the catalogue
// refused with the expected message (OpenAPI schema and CEL rules).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { API_VERSION } from "../../operator/src/apis/common.ts";
import { KINDS } from "../../operator/src/apis/kinds.ts";
import { KubeClient } from "../../operator/src/kube/client.ts";
import { ApiError } from "../../operator/src/kube/errors.ts";
import { pathFor, R, type Resource } from "../../operator/src/kube/resources.ts";
import { kubectl } from "../helpers/cluster.ts";
import { EXAMPLES_DIR, readInvalidCases, readManifests } from "../helpers/fixtures.ts";
import { integrationSuite } from "../helpers/suite.ts";

integrationSuite("crds", () => {
  const resourceOf = (kind: string): Resource =>
    Object.values(R).find((r) => r.kind === kind && (r.group === "inferops.dev" || !r.group.includes("."))) ??
    (() => {
      throw new Error(`no resource for ${kind}`);
    })();

  /** Creates with server-side dry run and strict field validation, as kubectl apply does by default. */
  async function dryRunCreate(
    client: KubeClient,
    object: { kind: string; metadata?: { namespace?: string } },
  ) {
    const res = resourceOf(object.kind);
    const namespace = res.namespaced ? (object.metadata?.namespace ?? "default") : undefined;
    return client.request("POST", pathFor(res, { namespace }), {
      body: object,
      query: { dryRun: "All", fieldValidation: "Strict" },
    });
  }

  let admin: KubeClient;
  beforeAll(async () => {
    admin = await KubeClient.create(inject("adminKubeconfig"));
  });
  afterAll(() => admin?.close());

  describe("CRDs", () => {
    it("are installed and Established with short names and the inferops category", () => {
      const out = kubectl(inject("adminKubeconfig"), [
        "api-resources",
        "--api-group=inferops.dev",
        "-o",
        "wide",
      ]);
      for (const info of KINDS) {
        expect(out).toContain(info.plural);
        expect(out).toContain(info.shortNames[0]);
      }
      expect(out).toContain("inferops");
    });

    it("accept kubectl apply --dry-run=client of the generated files", () => {
      const out = kubectl(inject("adminKubeconfig"), ["apply", "--dry-run=client", "-f", "crds/"]);
      expect(out).toMatch(/customresourcedefinition.*configured|unchanged|created/);
    });

    it("accept every example", async () => {
      kubectl(inject("adminKubeconfig"), ["apply", "-f", `${EXAMPLES_DIR}/00-namespace.yaml`]);
      for (const { file, object } of readManifests(EXAMPLES_DIR).filter(
        (m) => m.object.apiVersion === API_VERSION,
      )) {
        await expect(dryRunCreate(admin, object), file).resolves.toMatchObject({ kind: object.kind });
      }
    });

    it("apply defaults on the server as zod does", async () => {
      const [svc] = readManifests(EXAMPLES_DIR).filter((m) => m.object.kind === "InferenceService");
      const created = (await dryRunCreate(admin, svc!.object)) as {
        spec: { scaling: { mode: string; behavior: { scaleDown: { stabilizationWindowSeconds: number } } } };
      };
      expect(created.spec.scaling.mode).toBe("Auto");
      expect(created.spec.scaling.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    });
  });

  describe("the API server refuses the catalogue of bad inputs", () => {
    const cases = readInvalidCases().filter((c) => c.layers.includes("server"));

    it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
      const err = await dryRunCreate(admin, c.object).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `${c.name} was accepted`).toBeInstanceOf(ApiError);
      const message = (err as ApiError).message;
      expect(message).toContain(c.path);
      expect(message).toContain(c.server ?? c.message);
    });

    it("lets through only what zod alone can judge, and says so in the catalogue", () => {
      const zodOnly = readInvalidCases().filter((c) => !c.layers.includes("server"));
      expect(zodOnly.map((c) => c.name)).toEqual([]);
    });
  });
});
