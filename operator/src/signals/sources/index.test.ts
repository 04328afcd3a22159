import { describe, expect, it } from "vitest";
import { inferenceServiceSpecSchema } from "../../apis/inferenceservice.ts";
import { SignalsError, SignalsErrorCode } from "../errors.ts";
import {
  createFakeSource,
  createSource,
  type MetricSource,
  routeBySource,
  SOURCES,
  serviceRef,
  toSignalsByService,
} from "./index.ts";

const NOW = 1_700_000_000_000;

const spec = (metrics: object, extra: object = {}) =>
  inferenceServiceSpecSchema.parse({
    model: { name: "m", server: "vllm" },
    template: { spec: { containers: [{ name: "server" }] } },
    accelerators: [{ pool: "h100" }],
    metrics,
    ...extra,
  });

describe("serviceRef", () => {
  it("takes what sources need from the spec", () => {
    const ref = serviceRef(
      "team",
      "llama",
      spec(
        { source: "prometheus", port: 9000 },
        {
          scaling: {
            minReplicas: 0,
            scaleToZero: { enabled: true, activationQuery: "sum(gw_queue)" },
          },
        },
      ),
      [{ name: "p", ip: "10.0.0.1", variant: "h100" }],
    );
    expect(ref).toEqual({
      key: "team/llama",
      namespace: "team",
      name: "llama",
      server: "vllm",
      metrics: { source: "prometheus", port: 9000, path: "/metrics" },
      activationQuery: "sum(gw_queue)",
      pods: [{ name: "p", ip: "10.0.0.1", variant: "h100" }],
    });
  });
});

describe("routeBySource", () => {
  const prom = createFakeSource();
  const scrape = createFakeSource();
  prom.setSignals("a/x", { queueDepth: 3, replicasReporting: 1 });
  scrape.setError("b/y", new SignalsError(SignalsErrorCode.ScrapeFailed, "all pods failed"));

  it("sends each service to the source its spec names, and says when that source is missing", async () => {
    const router = routeBySource({ prometheus: prom, podScrape: scrape });
    const refs = [
      serviceRef("a", "x", spec({})),
      serviceRef("b", "y", spec({ source: "podScrape" })),
      serviceRef("c", "z", spec({})),
    ];
    const out = await router.fetchSignals(refs, NOW);
    expect(out.get("a/x")).toEqual({
      ok: true,
      signals: { observedAtMs: NOW, replicasReporting: 1, queueDepth: 3 },
    });
    expect(out.get("b/y")).toMatchObject({ ok: false, error: { code: "ScrapeFailed" } });
    expect(out.get("c/z")).toEqual({ ok: true, signals: { observedAtMs: NOW, replicasReporting: 0 } });
    expect(prom.calls.at(-1)).toEqual({ keys: ["a/x", "c/z"], nowMs: NOW });
    expect(scrape.calls.at(-1)).toEqual({ keys: ["b/y"], nowMs: NOW });

    const onlyProm = await routeBySource({ prometheus: prom }).fetchSignals(refs, NOW);
    expect(onlyProm.get("b/y")).toMatchObject({ ok: false, error: { code: "SourceNotConfigured" } });
  });

  it("gives a source's services its failure when it rejects, and leaves the others alone", async () => {
    const broken: MetricSource = {
      kind: "fake",
      fetchSignals: () => Promise.reject(new Error("bug")),
    };
    const out = await routeBySource({ prometheus: prom, podScrape: broken }).fetchSignals(
      [serviceRef("a", "x", spec({})), serviceRef("b", "y", spec({ source: "podScrape" }))],
      NOW,
    );
    expect(out.get("a/x")?.ok).toBe(true);
    expect(out.get("b/y")).toMatchObject({ ok: false, error: { message: expect.stringContaining("bug") } });
  });
});

describe("registry", () => {
  it("lists one source per spec.metrics.source value", () => {
    expect(Object.keys(SOURCES).sort()).toEqual(["podScrape", "prometheus"]);
  });

  it.each([
    ["prometheus", { url: "http://prometheus:9090" }, "prometheus"],
    ["podScrape", { concurrency: 4 }, "podScrape"],
    ["podScrape", undefined, "podScrape"],
  ] as const)("creates %s from a valid config", (kind, config, want) => {
    expect(createSource(kind, config).kind).toBe(want);
  });

  it("refuses an invalid pod-scrape config naming the field", () => {
    expect(() => createSource("podScrape", { concurrency: 0 })).toThrow(/podScrape.*concurrency/);
  });
});

describe("toSignalsByService", () => {
  it("flattens results for the Snapshot builder", () => {
    const out = toSignalsByService(
      new Map([
        ["a/x", { ok: true as const, signals: { observedAtMs: 1, replicasReporting: 2 } }],
        ["b/y", { ok: false as const, error: new SignalsError(SignalsErrorCode.Timeout, "no answer") }],
      ]),
    );
    expect(out).toEqual(
      new Map([
        ["a/x", { signals: { observedAtMs: 1, replicasReporting: 2 } }],
        ["b/y", { error: "Timeout: no answer" }],
      ]),
    );
  });
});
