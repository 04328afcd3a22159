// The serving model in wall-clock time: the model servers of the demo's fake pods (ARCHITECTURE.md, "the
// demo and end-to-end tests"). kwok runs the pods the operator creates, but nothing in them serves; this
// stands in for vLLM: one Replica per ready pod, a router that sends each request to the pod with the fewest
// requests in flight (as the simulator's fleet does), and each pod's metrics in vLLM's format for a real
// Prometheus to scrape. Time comes from a clock in seconds, so tests drive it by hand.
//
// A pod that becomes ready starts an empty replica (its counters at zero, as a restarted vLLM's are). A pod
// that goes away takes its requests in flight with it: they are counted as lost, as a killed server's
// would be. Requests that arrive while no pod is ready wait in the router and go out, oldest first, when
// one is.
import { Replica } from "./replica.ts";
import type { RequestRecord, ServingProfile } from "./types.ts";

export interface LiveStats {
  pods: number;
  inFlight: number;
  /** Requests waiting in the router for a ready pod. */
  held: number;
  submitted: number;
  finished: number;
  /** Requests in flight on pods that went away. */
  lost: number;
  /** Requests refused by a replica (prompt longer than its context). */
  refused: number;
}

export class LiveFleet {
  readonly #profile: ServingProfile;
  readonly #clock: () => number;
  readonly #pods = new Map<string, Replica>();
  #held: { promptTokens: number; outputTokens: number; arrival: number }[] = [];
  #next = 0;
  #submitted = 0;
  #rr = 0;
  #finished = 0;
  #lost = 0;
  #refused = 0;
  #recent: RequestRecord[] = [];
  readonly #heldArrival = new Map<number, number>();

  constructor(profile: ServingProfile, clock: () => number) {
    this.#profile = profile;
    this.#clock = clock;
  }

  /** The pods ready now: new ones start serving, gone ones are dropped. Returns whether the set changed. */
  setPods(keys: Iterable<string>): boolean {
    const now = this.#clock();
    const want = new Set(keys);
    let changed = false;
    for (const [key, replica] of this.#pods) {
      if (want.has(key)) continue;
      replica.advanceTo(now);
      this.#collect(replica);
      this.#lost += replica.inFlight;
      this.#pods.delete(key);
      changed = true;
    }
    for (const key of want) {
      if (this.#pods.has(key)) continue;
      this.#pods.set(key, new Replica(this.#profile, now));
      changed = true;
    }
    if (changed) this.#dispatchHeld(now);
    return changed;
  }

  /** The pods being served, in the order they became ready. */
  pods(): string[] {
    return [...this.#pods.keys()];
  }

  /** A request arriving now. */
  submit(promptTokens: number, outputTokens: number): void {
    const now = this.#clock();
    this.#submitted++;
    if (this.#pods.size === 0) {
      this.#held.push({ promptTokens, outputTokens, arrival: now });
      return;
    }
    this.#route(promptTokens, outputTokens, now);
  }

  /** Runs every replica up to now. */
  advance(): void {
    const now = this.#clock();
    for (const replica of this.#pods.values()) {
      replica.advanceTo(now);
      this.#collect(replica);
    }
  }

  /** The pod's metrics page in vLLM's text format, as of now; undefined for a pod not served. */
  metrics(key: string): string | undefined {
    const replica = this.#pods.get(key);
    if (!replica) return undefined;
    replica.advanceTo(this.#clock());
    this.#collect(replica);
    return replica.renderMetrics();
  }

  /** Requests finished since the last call (for a live summary of latency). */
  takeFinished(): RequestRecord[] {
    const out = this.#recent;
    this.#recent = [];
    return out;
  }

  stats(): LiveStats {
    let inFlight = 0;
    for (const r of this.#pods.values()) inFlight += r.inFlight;
    return {
      pods: this.#pods.size,
      inFlight,
      held: this.#held.length,
      submitted: this.#submitted,
      finished: this.#finished,
      lost: this.#lost,
      refused: this.#refused,
    };
  }

  #route(promptTokens: number, outputTokens: number, now: number, arrival = now): void {
    const pods = [...this.#pods.values()];
    const start = this.#rr++ % pods.length;
    let best = pods[start]!;
    best.advanceTo(now);
    for (let k = 1; k < pods.length && best.inFlight > 0; k++) {
      const p = pods[(start + k) % pods.length]!;
      p.advanceTo(now);
      if (p.inFlight < best.inFlight) best = p;
    }
    // A request held in the router keeps its arrival time: its wait counts in its TTFT (not in the pod's
    // metrics: vLLM never saw it). The replica sees it from now; its record is corrected when it finishes.
    const id = this.#next++;
    if (arrival < now) this.#heldArrival.set(id, arrival);
    if (best.add({ id, arrival: now, promptTokens, outputTokens }) !== undefined) this.#refused++;
  }

  #dispatchHeld(now: number): void {
    const held = this.#held;
    this.#held = [];
    for (const h of held) this.#route(h.promptTokens, h.outputTokens, now, h.arrival);
  }

  #collect(replica: Replica): void {
    for (const rec of replica.takeFinished()) {
      this.#finished++;
      const arrival = this.#heldArrival.get(rec.id as number);
      if (arrival !== undefined) this.#heldArrival.delete(rec.id as number);
      this.#recent.push(
        arrival === undefined
          ? rec
          : { ...rec, arrival, ttft: rec.firstToken - arrival, queueTime: rec.scheduled - arrival },
      );
      if (this.#recent.length > 100_000) this.#recent.splice(0, this.#recent.length - 100_000);
    }
  }
}
