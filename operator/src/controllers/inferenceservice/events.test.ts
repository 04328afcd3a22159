import { describe, expect, it } from "vitest";
import type { InferenceService, InferenceServiceStatus } from "../../apis/inferenceservice.ts";
import { transitions } from "./events.ts";

const svc = {} as InferenceService;
const status = (
  readyReplicas: number,
  metrics: ["True" | "False", string] | undefined,
  limited?: string,
): InferenceServiceStatus =>
  ({
    readyReplicas,
    conditions: [
      ...(metrics
        ? [
            {
              type: "MetricsAvailable",
              status: metrics[0],
              reason: metrics[1],
              message: "why",
              lastTransitionTime: "",
            },
          ]
        : []),
      limited
        ? {
            type: "ScalingLimited",
            status: "True",
            reason: limited,
            message: "bound",
            lastTransitionTime: "",
          }
        : {
            type: "ScalingLimited",
            status: "False",
            reason: "WithinBounds",
            message: "",
            lastTransitionTime: "",
          },
    ],
  }) as unknown as InferenceServiceStatus;
const reasons = (before: InferenceServiceStatus | undefined, after: InferenceServiceStatus) =>
  transitions(svc, before, after).map((e) => `${e.type}/${e.reason}`);

describe("InferenceService events", () => {
  it("a new service, replicas starting and at minReplicas, records nothing", () => {
    expect(reasons(undefined, status(0, ["False", "MetricsMissing"], "AtMinReplicas"))).toEqual([]);
    // Its first replica is ready and reports: still nothing (no warning was given, none to take back).
    expect(reasons(status(0, ["False", "MetricsMissing"]), status(1, ["True", "MetricsFresh"]))).toEqual([]);
  });

  it("warns once ready replicas report no metrics, and once more when they are fresh again", () => {
    const starting = status(0, ["False", "MetricsMissing"]);
    const silent = status(2, ["False", "MetricsMissing"]);
    expect(reasons(starting, silent)).toEqual(["Warning/MetricsMissing"]);
    expect(reasons(silent, status(3, ["False", "MetricsMissing"]))).toEqual([]);
    expect(reasons(silent, status(2, ["False", "MetricsStale"]))).toEqual(["Warning/MetricsStale"]);
    expect(reasons(silent, status(2, ["True", "MetricsFresh"]))).toEqual(["Normal/MetricsFresh"]);
  });

  it("warns when fresh metrics go missing, even with no replica ready (a service at zero)", () => {
    expect(reasons(status(0, ["True", "MetricsFresh"]), status(0, ["False", "MetricsStale"]))).toEqual([
      "Warning/MetricsStale",
    ]);
  });

  it("a bound other than minReplicas is an event", () => {
    expect(
      reasons(status(1, ["True", "MetricsFresh"]), status(1, ["True", "MetricsFresh"], "AtMaxReplicas")),
    ).toEqual(["Normal/AtMaxReplicas"]);
    expect(
      reasons(status(1, ["True", "MetricsFresh"]), status(1, ["True", "MetricsFresh"], "AtMinReplicas")),
    ).toEqual([]);
  });
});
