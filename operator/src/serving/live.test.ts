import { describe, expect, it } from "vitest";
import { LiveFleet } from "./live.ts";
import { getProfile } from "./profiles.ts";

const profile = getProfile("llama-3.1-8b-fp8/l4");

function fleet() {
  const clock = { t: 0 };
  const f = new LiveFleet(profile, () => clock.t);
  return { f, clock };
}

/** A gauge's value on a metrics page (vLLM's names, labels ignored). */
function gauge(page: string, name: string): number {
  const line = page.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name}`);
  return Number(line.trim().split(/\s+/).at(-1));
}

describe("LiveFleet", () => {
  it("spreads requests over the ready pods by requests in flight, and serves them in wall-clock time", () => {
    const { f, clock } = fleet();
    f.setPods(["a", "b"]);
    for (let i = 0; i < 10; i++) f.submit(500, 100);
    const inServer = (pod: string) => {
      const page = f.metrics(pod)!;
      return gauge(page, "vllm:num_requests_running") + gauge(page, "vllm:num_requests_waiting");
    };
    const a = inServer("a");
    const b = inServer("b");
    expect(a + b).toBe(10);
    expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
    clock.t = 120;
    f.advance();
    expect(f.stats()).toMatchObject({ pods: 2, inFlight: 0, finished: 10, submitted: 10, lost: 0 });
    const done = f.takeFinished();
    expect(done).toHaveLength(10);
    for (const r of done) expect(r.ttft).toBeGreaterThan(0);
    expect(f.takeFinished()).toEqual([]);
    expect(gauge(f.metrics("a")!, "vllm:request_success_total")).toBe(a);
  });

  it("holds requests while no pod is ready and counts their wait in their TTFT", () => {
    const { f, clock } = fleet();
    f.submit(500, 50);
    f.submit(500, 50);
    expect(f.stats()).toMatchObject({ pods: 0, held: 2, submitted: 2 });
    clock.t = 30;
    expect(f.setPods(["a"])).toBe(true);
    expect(f.stats().held).toBe(0);
    clock.t = 90;
    f.advance();
    const done = f.takeFinished();
    expect(done).toHaveLength(2);
    for (const r of done) {
      expect(r.arrival).toBe(0);
      expect(r.ttft).toBeGreaterThanOrEqual(30);
    }
  });

  it("starts a new pod's counters at zero and loses what a removed pod had in flight", () => {
    const { f, clock } = fleet();
    f.setPods(["a"]);
    for (let i = 0; i < 4; i++) f.submit(2000, 2000);
    clock.t = 1;
    expect(f.setPods(["b"])).toBe(true);
    expect(f.pods()).toEqual(["b"]);
    expect(f.stats()).toMatchObject({ lost: 4, inFlight: 0 });
    expect(f.metrics("a")).toBeUndefined();
    expect(gauge(f.metrics("b")!, "vllm:request_success_total")).toBe(0);
    expect(f.setPods(["b"])).toBe(false);
  });
});
