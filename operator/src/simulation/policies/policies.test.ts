// Hand cases of the baselines against the upstream algorithms (numbers worked by hand from
// replica_calculator.go, horizontal.go and Knative's autoscaler.go).
import { describe, expect, it } from "vitest";
import {
  defaultHpaBehavior,
  externalPerPodReplicas,
  HpaController,
  type HpaPod,
  podMetric,
  podMetricReplicas,
} from "./hpa.ts";
import { KpaDecider } from "./kpa.ts";
import { replicasAt } from "./schedule.ts";

const ready = (metric: number): HpaPod => ({ phase: "Running", deleting: false, metric });
const loading: HpaPod = { phase: "Running", deleting: false };
const pending: HpaPod = { phase: "Pending", deleting: false };
const deleting: HpaPod = { phase: "Running", deleting: true, metric: 100 };

describe("HPA replica calculation (calcPlainMetricReplicas)", () => {
  it.each([
    ["all ready: ceil(ratio x ready)", [ready(10), ready(20), ready(30)], 3, 10, 6],
    ["within the 10% tolerance: unchanged", [ready(10.5), ready(9.8)], 2, 10, 2],
    ["scale-down: ceil(ratio x ready)", [ready(2), ready(3), ready(4), ready(3)], 4, 10, 2],
    ["a loading pod (no metric) counts 0 on a scale-up", [ready(20), ready(20), loading], 3, 10, 4],
    ["a loading pod counts at the target on a scale-down", [ready(5), ready(5), loading], 3, 10, 2],
    ["a Pending pod counts 0 on a scale-up", [ready(20), ready(20), pending], 3, 10, 4],
    ["a Pending pod is left out on a scale-down", [ready(2), ready(2), pending], 3, 10, 1],
    ["deleting pods are ignored", [ready(20), ready(20), deleting], 3, 10, 4],
    ["missing pods turning the direction keep the count", [ready(11.5), loading, loading], 3, 10, 3],
  ])("%s", (_name, pods, current, target, want) => {
    expect(podMetricReplicas(pods as HpaPod[], current as number, target as number)).toBe(want);
  });

  it("fails (holds) when no pod has a metric", () => {
    expect(podMetricReplicas([loading, pending], 2, 10)).toBeUndefined();
    expect(podMetricReplicas([], 0, 10)).toBeUndefined();
  });

  it("reads vLLM's gauges per metric", () => {
    const m = { numRequestsRunning: 3, numRequestsWaiting: 2, kvCacheUsage: 0.4 };
    expect(podMetric("running", m)).toBe(3);
    expect(podMetric("waiting", m)).toBe(2);
    expect(podMetric("running+waiting", m)).toBe(5);
    expect(podMetric("kv", m)).toBe(0.4);
  });
});

describe("HPA External metric, AverageValue (KEDA's HPA)", () => {
  it("ceil(sum / target) unless within tolerance of the status replicas", () => {
    expect(externalPerPodReplicas(10, 2, 2)).toBe(5);
    expect(externalPerPodReplicas(4.2, 2, 2)).toBe(2);
    expect(externalPerPodReplicas(0, 3, 1)).toBe(0);
  });
});

describe("HPA behaviour (defaults: up Pods 4 / Percent 100 per 15 s, down window 300 s)", () => {
  it("limits a scale-up to max(+4, x2) per 15 s, counting changes within the period", () => {
    const hpa = new HpaController(defaultHpaBehavior(), 1, 100);
    expect(hpa.reconcile(2, 40, 0)).toBe(6); // max(2 + 4, 2 x 2)
    expect(hpa.reconcile(6, 40, 10)).toBe(6); // period started at 2: max(6, 4) -> still 6
    expect(hpa.reconcile(6, 40, 15.1)).toBe(12); // the event is 15.1 s old: period start 6
    expect(hpa.reconcile(12, 40, 30.2)).toBe(24);
  });

  it("stabilizes a scale-down at the highest raw recommendation of the last 300 s", () => {
    const hpa = new HpaController(defaultHpaBehavior(300), 1, 100);
    expect(hpa.reconcile(10, 10, 0)).toBe(10);
    expect(hpa.reconcile(10, 8, 15)).toBe(10); // 10 recorded at 0
    expect(hpa.reconcile(10, 3, 30)).toBe(10);
    expect(hpa.reconcile(10, 3, 301)).toBe(8); // the 10 left the window; 8 (t = 15) still in it
    expect(hpa.reconcile(8, 3, 316)).toBe(3); // Percent 100 per 15 s allows it
  });

  it("records the current count at the first sync, so a first scale-down waits the window", () => {
    const hpa = new HpaController(defaultHpaBehavior(300), 1, 100);
    expect(hpa.reconcile(9, 2, 0)).toBe(9);
    expect(hpa.reconcile(9, 2, 299)).toBe(9);
    expect(hpa.reconcile(9, 2, 300.5)).toBe(2);
  });

  it("applies min/max replicas and holds when the metric fails", () => {
    const hpa = new HpaController(defaultHpaBehavior(0), 2, 5);
    expect(hpa.reconcile(3, 1, 0)).toBe(2);
    expect(hpa.reconcile(2, 50, 15)).toBe(5);
    expect(hpa.reconcile(5, undefined, 30)).toBe(5);
    expect(hpa.reconcile(7, 7, 45)).toBe(5);
  });

  it("truncates a Percent scale-down as upstream does", () => {
    const b = defaultHpaBehavior(0);
    b.scaleDown.policies = [{ type: "Percent", value: 50, periodSeconds: 60 }];
    const hpa = new HpaController(b, 1, 100);
    expect(hpa.scaleDownLimit(5, 0)).toBe(2); // int32(5 * 0.5)
  });
});

describe("Knative KPA decider", () => {
  const kpa = () => new KpaDecider({ target: 100, scaleDownDelaySeconds: 0, minScale: 1, maxScale: 100 });

  it("stable mode: ceil(concurrency / (target x 0.7)), at most halving per tick", () => {
    const d = kpa();
    expect(d.scale(0, 140, 140, 2)).toBe(2);
    expect(d.scale(2, 700, 700, 10)).toBe(10);
    expect(d.scale(4, 70, 70, 10)).toBe(5); // floor(10 / 2)
    expect(d.panicking).toBe(false);
  });

  it("panics at 200% of the ready pods, scales up on the panic window, never down, for a stable window", () => {
    const d = kpa();
    expect(d.scale(0, 140, 420, 2)).toBe(6); // dppc 6 >= 2 x 2 ready
    expect(d.panicking).toBe(true);
    expect(d.scale(2, 140, 140, 6)).toBe(6); // no scale-down while panicking
    expect(d.scale(59, 140, 140, 6)).toBe(6); // within 60 s of the last tick over the threshold (t = 0)
    expect(d.scale(61, 140, 140, 6)).toBe(3); // un-panicked: stable 2 but at most halving
    expect(d.panicking).toBe(false);
  });

  it("a scale-down delay keeps the highest desired count of the delay window", () => {
    const d = new KpaDecider({ target: 10, scaleDownDelaySeconds: 60, minScale: 1, maxScale: 100 });
    expect(d.scale(0, 70, 70, 10)).toBe(10);
    expect(d.scale(2, 35, 35, 10)).toBe(10);
    expect(d.scale(61, 35, 35, 10)).toBe(5);
  });
});

describe("replica schedules", () => {
  it("gives the replicas in force at any time", () => {
    const steps = [
      { t: 0, replicas: 2 },
      { t: 60, replicas: 5 },
      { t: 120, replicas: 1 },
    ];
    expect(replicasAt(steps, 0)).toBe(2);
    expect(replicasAt(steps, 59.9)).toBe(2);
    expect(replicasAt(steps, 60)).toBe(5);
    expect(replicasAt(steps, 1000)).toBe(1);
  });
});
