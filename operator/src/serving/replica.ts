// One model-server replica with continuous batching and chunked prefill, advanced engine step by engine step,
// in the manner of vLLM V1's scheduler. Pure and deterministic: no clock reads, no randomness; the driver
// says what time it is. Runs of decode-only steps with a stable batch are jumped over in closed form.
import {
  Histogram,
  ITL_BUCKETS,
  REQUEST_LATENCY_BUCKETS,
  type ReplicaMetrics,
  renderPrometheus,
  TOKEN_BUCKETS,
  TTFT_BUCKETS,
} from "./metrics.ts";
import type { RequestRecord, RequestSpec, ServingProfile } from "./types.ts";

export interface ReplicaOptions {
  /** model_name label for the metrics; defaults to the profile's model. */
  modelName?: string;
  /** Jump over runs of identical decode-only steps in closed form (default true). Off: one step at a time. */
  fastPath?: boolean;
  /** Keep a record per finished request for takeFinished() (default true); off for a metrics-only emitter. */
  records?: boolean;
  /**
   * The client's timeout, seconds: a request still waiting for its first step this long after it arrived is
   * given up by its client, and vLLM aborts a request whose client disconnects (it leaves the queue, is
   * counted in vllm:request_success_total with finished_reason "abort", and is handed over by
   * takeAbandoned()). Default: clients wait for ever.
   */
  abandonAfterSeconds?: number;
}

/** Why add() refused a request. */
export type Rejection = "too-long";

interface Live {
  spec: RequestSpec;
  prompt: number;
  output: number;
  /** Tokens to compute before the next sampled token: the prompt, or prompt + generated after a preemption. */
  target: number;
  /** Tokens held in the KV cache. */
  kv: number;
  generated: number;
  lastToken: number;
  scheduled: number;
  firstToken: number;
  preemptions: number;
  done: boolean;
}

/** A FIFO that also takes items back at the front (preempted requests go first). */
class Deque<T> {
  #buf: (T | undefined)[] = new Array(16);
  #head = 0;
  #size = 0;

  get length(): number {
    return this.#size;
  }
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head];
  }
  push(v: T): void {
    this.#grow();
    this.#buf[(this.#head + this.#size) % this.#buf.length] = v;
    this.#size++;
  }
  unshift(v: T): void {
    this.#grow();
    this.#head = (this.#head - 1 + this.#buf.length) % this.#buf.length;
    this.#buf[this.#head] = v;
    this.#size++;
  }
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const v = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#buf.length;
    this.#size--;
    return v;
  }
  #grow(): void {
    if (this.#size < this.#buf.length) return;
    const next = new Array<T | undefined>(this.#buf.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = this.#buf[(this.#head + i) % this.#buf.length];
    this.#buf = next;
    this.#head = 0;
  }
}

/**
 * A replica in time. Protocol for a driver (the simulator's event loop or the demo's emitter):
 * - `add(req)` offers a request; its arrival may be now or later (requests must be added in arrival order,
 *   and never before the time the replica was last advanced to).
 * - `advanceTo(t)` runs the engine up to time t: every step that starts at or before t is formed, every step
 *   that ends at or before t is completed. A step that starts at time s batches every request that arrived at
 *   or before s and had been added when the step was formed.
 * - `nextEventTime()` says when the replica's state next changes by itself (the end of the step in flight, or
 *   the next added arrival); Infinity when idle with nothing to come.
 * - `takeFinished()` hands over the records of requests finished so far.
 */
export class Replica {
  readonly profile: ServingProfile;
  readonly modelName: string;
  readonly #fastPath: boolean;
  readonly #keepRecords: boolean;
  readonly #abandonAfter: number;

  /** Time the replica was last advanced to. */
  #now = 0;
  /** Time the engine is free from: end of the last step (or the last idle instant). */
  #clock = 0;

  #pending: Live[] = []; // added, arrival in the future (or not yet reached by a step), in arrival order
  #pendingHead = 0;
  readonly #waiting = new Deque<Live>();
  #running: Live[] = [];
  #kvUsed = 0;
  #finished: RequestRecord[] = [];
  /** Ids of the requests given up by their clients since the last takeAbandoned(). */
  #abandonedIds: (string | number)[] = [];

  // The step in flight.
  #active = false;
  #stepStart = 0;
  #stepEnd = 0;
  #stepDuration = 0;
  #sched: Live[] = [];
  #schedCount = 0;

  // Counters.
  #promptTokens = 0;
  #generationTokens = 0;
  #success = 0;
  #aborted = 0;
  #preemptions = 0;
  #steps = 0;
  readonly #ttft = new Histogram(TTFT_BUCKETS);
  readonly #itl = new Histogram(ITL_BUCKETS);
  readonly #tpot = new Histogram(ITL_BUCKETS);
  readonly #e2e = new Histogram(REQUEST_LATENCY_BUCKETS);
  readonly #queue = new Histogram(REQUEST_LATENCY_BUCKETS);
  readonly #promptLengths = new Histogram(TOKEN_BUCKETS);
  readonly #outputLengths = new Histogram(TOKEN_BUCKETS);

  constructor(profile: ServingProfile, startTime = 0, options: ReplicaOptions = {}) {
    validateProfile(profile);
    if (!Number.isFinite(startTime))
      throw new RangeError(`replica start time must be finite, got ${startTime}`);
    this.profile = profile;
    this.modelName = options.modelName ?? profile.model;
    this.#fastPath = options.fastPath ?? true;
    this.#keepRecords = options.records ?? true;
    const abandon = options.abandonAfterSeconds ?? Number.POSITIVE_INFINITY;
    if (!(abandon > 0)) throw new RangeError(`abandonAfterSeconds must be > 0, got ${abandon}`);
    this.#abandonAfter = abandon;
    this.#now = startTime;
    this.#clock = startTime;
  }

  /** Time the replica was last advanced to. */
  get now(): number {
    return this.#now;
  }

  /** Engine steps executed so far (a jumped run counts each of its steps). */
  get steps(): number {
    return this.#steps;
  }

  /** Tokens held in the KV cache now. */
  get kvUsedTokens(): number {
    return this.#kvUsed;
  }

  /** Requests added and not yet finished. */
  get inFlight(): number {
    return this.#pending.length - this.#pendingHead + this.#waiting.length + this.#running.length;
  }

  /**
   * Offer a request. Returns undefined when accepted, or why it was refused: prompt + output longer than the
   * profile's maxModelLen (vLLM answers such a request with HTTP 400 and never queues it).
   */
  add(req: RequestSpec): Rejection | undefined {
    const { arrival, promptTokens: p, outputTokens: o } = req;
    if (!Number.isFinite(arrival) || arrival < this.#now) {
      throw new RangeError(`request ${req.id}: arrival ${arrival} is before the replica's time ${this.#now}`);
    }
    if (!Number.isInteger(p) || p < 1 || !Number.isInteger(o) || o < 1) {
      throw new RangeError(
        `request ${req.id}: prompt and output tokens must be integers >= 1, got ${p} and ${o}`,
      );
    }
    const last = this.#pending[this.#pending.length - 1];
    if (this.#pending.length > this.#pendingHead && last !== undefined && arrival < last.spec.arrival) {
      throw new RangeError(
        `request ${req.id}: added out of arrival order (${arrival} < ${last.spec.arrival})`,
      );
    }
    if (p + o > this.profile.maxModelLen) return "too-long";
    this.#pending.push({
      spec: req,
      prompt: p,
      output: o,
      target: p,
      kv: 0,
      generated: 0,
      lastToken: Number.NaN,
      scheduled: Number.NaN,
      firstToken: Number.NaN,
      preemptions: 0,
      done: false,
    });
    return undefined;
  }

  /** Run the engine up to time t (inclusive for step starts and ends). */
  advanceTo(t: number): void {
    if (Number.isNaN(t) || t < this.#now)
      throw new RangeError(`cannot advance to ${t}: replica is at ${this.#now}`);
    this.#run(t);
    if (t !== Number.POSITIVE_INFINITY) this.#now = t;
  }

  /** Run until nothing is left to do; returns the time the last step ended (the replica's new time). */
  runUntilIdle(): number {
    this.#run(Number.POSITIVE_INFINITY);
    this.#now = Math.max(this.#now, this.#clock);
    return this.#now;
  }

  /**
   * When the replica's state next changes without outside input: the end of the step in flight, else the
   * start of the next step (an added arrival), else Infinity. A query: it changes nothing.
   */
  nextEventTime(): number {
    if (this.#active) return this.#stepEnd;
    if (this.#running.length > 0 || this.#waiting.length > 0) return this.#clock; // a step starts now
    const next = this.#pending[this.#pendingHead];
    return next === undefined ? Number.POSITIVE_INFINITY : Math.max(next.spec.arrival, this.#clock);
  }

  /** Records of the requests finished since the last call, in finishing order. */
  takeFinished(): RequestRecord[] {
    const out = this.#finished;
    this.#finished = [];
    return out;
  }

  /** Ids of the requests their clients gave up on (abandonAfterSeconds) since the last call. */
  takeAbandoned(): (string | number)[] {
    const out = this.#abandonedIds;
    this.#abandonedIds = [];
    return out;
  }

  /** The replica's metrics at its current time. */
  metrics(): ReplicaMetrics {
    let arrived = 0;
    for (
      let i = this.#pendingHead;
      i < this.#pending.length && this.#pending[i]!.spec.arrival <= this.#now;
      i++
    ) {
      arrived++;
    }
    return {
      numRequestsWaiting: this.#waiting.length + arrived,
      numRequestsRunning: this.#running.length,
      kvCacheUsage: this.#kvUsed / this.profile.kvCapacityTokens,
      promptTokensTotal: this.#promptTokens,
      generationTokensTotal: this.#generationTokens,
      requestSuccessTotal: this.#success,
      requestAbortedTotal: this.#aborted,
      numPreemptionsTotal: this.#preemptions,
      timeToFirstToken: this.#ttft.snapshot(),
      interTokenLatency: this.#itl.snapshot(),
      requestTimePerOutputToken: this.#tpot.snapshot(),
      e2eRequestLatency: this.#e2e.snapshot(),
      requestQueueTime: this.#queue.snapshot(),
      requestPromptTokens: this.#promptLengths.snapshot(),
      requestGenerationTokens: this.#outputLengths.snapshot(),
    };
  }

  /** The replica's /metrics page in vLLM's Prometheus format. */
  renderMetrics(): string {
    return renderPrometheus(this.metrics(), { modelName: this.modelName });
  }

  // ---- engine ----

  #run(t: number): void {
    for (;;) {
      if (this.#active) {
        if (this.#stepEnd > t) return;
        this.#completeStep();
        continue;
      }
      let start = this.#clock;
      if (this.#running.length === 0 && this.#waiting.length === 0) {
        const next = this.#pending[this.#pendingHead];
        if (next === undefined) {
          if (t !== Number.POSITIVE_INFINITY) this.#clock = Math.max(this.#clock, t);
          return;
        }
        start = Math.max(start, next.spec.arrival);
      }
      if (start > t) {
        if (this.#running.length === 0 && this.#waiting.length === 0) this.#clock = Math.max(this.#clock, t);
        return;
      }
      this.#clock = start;
      this.#admitPending(start);
      if (this.#fastPath && this.#jump(start, t)) continue;
      this.#formStep(start);
    }
  }

  #admitPending(upTo: number): void {
    const p = this.#pending;
    let h = this.#pendingHead;
    while (h < p.length && p[h]!.spec.arrival <= upTo) this.#waiting.push(p[h++]!);
    if (h === p.length) {
      this.#pending = [];
      this.#pendingHead = 0;
    } else if (h > 1024 && h * 2 > p.length) {
      this.#pending = p.slice(h);
      this.#pendingHead = 0;
    } else {
      this.#pendingHead = h;
    }
  }

  #stepSeconds(prefillTokens: number, decodes: number, context: number): number {
    const s = this.profile.step;
    return (
      s.baseSeconds +
      s.perPrefillTokenSeconds * prefillTokens +
      s.perDecodeSeqSeconds * decodes +
      s.perContextTokenSeconds * context
    );
  }

  /** Form the step starting at `start` (vLLM V1 order: running requests first, then waiting, FCFS). */
  #formStep(start: number): void {
    const prof = this.profile;
    const cap = prof.kvCapacityTokens;
    const running = this.#running;
    let budget = prof.maxNumBatchedTokens;
    let prefill = 0;
    let decodes = 0;
    let context = 0;
    let n = 0;
    let preempted = false;
    const sched = this.#sched;

    for (let i = 0; i < running.length && budget > 0; i++) {
      let r: Live | undefined = running[i]!;
      const decoding = r.kv >= r.target;
      const need = decoding ? 1 : Math.min(r.target - r.kv, budget);
      while (cap - this.#kvUsed < need) {
        const victim = running.pop()!;
        this.#preempt(victim);
        preempted = true;
        if (victim === r) {
          r = undefined;
          break;
        }
      }
      if (r === undefined) break;
      r.kv += need;
      this.#kvUsed += need;
      budget -= need;
      if (decoding) decodes++;
      else prefill += need;
      context += r.kv;
      sched[n++] = r;
    }

    this.#abandon(start);
    // New requests only when nothing was preempted this step (or nothing could run at all).
    if (!preempted || n === 0) {
      while (this.#waiting.length > 0 && running.length < prof.maxNumSeqs && budget > 0) {
        const r = this.#waiting.peek()!;
        const need = Math.min(r.target - r.kv, budget);
        if (cap - this.#kvUsed < need) break;
        this.#waiting.shift();
        running.push(r);
        if (Number.isNaN(r.scheduled)) {
          r.scheduled = start;
          this.#queue.observe(start - r.spec.arrival);
        }
        r.kv += need;
        this.#kvUsed += need;
        budget -= need;
        prefill += need;
        context += r.kv;
        sched[n++] = r;
      }
    }

    this.#schedCount = n;
    this.#stepStart = start;
    this.#stepDuration = this.#stepSeconds(prefill, decodes, context);
    this.#stepEnd = start + this.#stepDuration;
    this.#active = true;
  }

  /**
   * Requests that waited abandonAfterSeconds for their first step leave the queue. The queue is in arrival
   * order behind any preempted requests (already started: their clients have tokens), so the ones given up
   * are at its head, and each step drops them as their time comes.
   */
  #abandon(t: number): void {
    if (this.#abandonAfter === Number.POSITIVE_INFINITY) return;
    const w = this.#waiting;
    for (let r = w.peek(); r !== undefined; r = w.peek()) {
      if (!Number.isNaN(r.scheduled) || r.spec.arrival + this.#abandonAfter > t) return;
      w.shift();
      this.#aborted++;
      this.#abandonedIds.push(r.spec.id);
    }
  }

  #preempt(r: Live): void {
    this.#kvUsed -= r.kv;
    r.kv = 0;
    r.target = r.prompt + r.generated;
    r.preemptions++;
    this.#preemptions++;
    this.#waiting.unshift(r);
  }

  #completeStep(): void {
    const end = this.#stepEnd;
    const stepStart = this.#stepStart;
    const sched = this.#sched;
    let sameInterval = 0; // decodes whose previous token came at this step's start: one bulk observation
    let emitted = 0;
    let finishedAny = false;
    for (let k = 0; k < this.#schedCount; k++) {
      const r = sched[k]!;
      if (r.kv < r.target) continue; // a prefill chunk that did not reach the end of the prompt
      emitted++;
      if (r.generated === 0) {
        r.firstToken = end;
        this.#ttft.observe(end - r.spec.arrival);
        this.#promptTokens += r.prompt;
      } else if (r.lastToken === stepStart) {
        sameInterval++;
      } else {
        this.#itl.observe(end - r.lastToken);
      }
      r.generated++;
      r.lastToken = end;
      if (r.generated >= r.output) {
        this.#finish(r, end);
        finishedAny = true;
      }
    }
    this.#itl.observe(this.#stepDuration, sameInterval);
    this.#generationTokens += emitted;
    if (finishedAny) this.#running = this.#running.filter((r) => !r.done);
    this.#schedCount = 0;
    this.#active = false;
    this.#clock = end;
    this.#steps++;
  }

  #finish(r: Live, end: number): void {
    r.done = true;
    this.#kvUsed -= r.kv;
    r.kv = 0;
    this.#success++;
    this.#e2e.observe(end - r.spec.arrival);
    this.#promptLengths.observe(r.prompt);
    this.#outputLengths.observe(r.output);
    if (r.output > 1) this.#tpot.observe((end - r.firstToken) / (r.output - 1));
    if (!this.#keepRecords) return;
    this.#finished.push({
      id: r.spec.id,
      arrival: r.spec.arrival,
      promptTokens: r.prompt,
      outputTokens: r.output,
      scheduled: r.scheduled,
      firstToken: r.firstToken,
      finish: end,
      ttft: r.firstToken - r.spec.arrival,
      meanItl: r.output > 1 ? (end - r.firstToken) / (r.output - 1) : 0,
      queueTime: r.scheduled - r.spec.arrival,
      preemptions: r.preemptions,
    });
  }

  /**
   * Jump over m decode-only steps in closed form when nothing can change the batch during them: every running
   * request decodes, no waiting request can be admitted, nobody finishes, the KV cache has room, no arrival
   * and no time limit falls inside. Step j (0-based) then lasts D0 + g*j, with g = c * n. Returns false when
   * fewer than two steps qualify (the regular path takes over).
   */
  #jump(start: number, t: number): boolean {
    const running = this.#running;
    const n = running.length;
    if (n === 0) return false;
    const prof = this.profile;
    let minLeft = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const r = running[i]!;
      // Every request decodes and sampled its last token at the end of the previous step.
      if (r.kv < r.target || r.lastToken !== start) return false;
      const left = r.output - r.generated;
      if (left < minLeft) minLeft = left;
    }
    const cap = prof.kvCapacityTokens;
    if (this.#waiting.length > 0 && n < prof.maxNumSeqs) {
      const budgetLeft = prof.maxNumBatchedTokens - n;
      const head = this.#waiting.peek()!;
      // The head stays blocked while the KV cache only fills up; if it could start now, no jump.
      if (budgetLeft > 0 && cap - this.#kvUsed - n >= Math.min(head.target - head.kv, budgetLeft))
        return false;
    }
    let mMax = Math.min(minLeft - 1, Math.floor((cap - this.#kvUsed) / n));
    if (mMax < 2) return false;

    const next = this.#pending[this.#pendingHead];
    const first = this.#waiting.peek();
    // A client giving up changes the queue the metrics show: no jump over it.
    const givesUp =
      first === undefined || !Number.isNaN(first.scheduled)
        ? Number.POSITIVE_INFINITY
        : first.spec.arrival + this.#abandonAfter;
    const limit = Math.min(t, next === undefined ? Number.POSITIVE_INFINITY : next.spec.arrival, givesUp);
    const s = prof.step;
    const d0 = this.#stepSeconds(0, n, this.#kvUsed + n);
    const g = s.perContextTokenSeconds * n;
    const total = (m: number) => m * d0 + (g * m * (m - 1)) / 2;
    if (limit !== Number.POSITIVE_INFINITY) {
      const span = limit - start;
      let m: number;
      if (g === 0) m = Math.floor(span / d0);
      else {
        const bq = d0 - g / 2;
        m = Math.floor((-bq + Math.sqrt(bq * bq + 2 * g * span)) / g);
      }
      if (!(m >= 0)) m = 0;
      m = Math.min(m, mMax);
      while (m > 0 && start + total(m) > limit) m--;
      while (m < mMax && start + total(m + 1) <= limit) m++;
      mMax = m;
    }
    const m = mMax;
    if (m < 2) return false;

    const end = start + total(m);
    for (let i = 0; i < n; i++) {
      const r = running[i]!;
      r.kv += m;
      r.generated += m;
      r.lastToken = end;
    }
    const kv0 = this.#kvUsed;
    this.#itl.observeSeries(d0, g, m, n, (j) => this.#stepSeconds(0, n, kv0 + n * (j + 1)));
    this.#kvUsed += n * m;
    this.#generationTokens += n * m;
    this.#steps += m;
    this.#clock = end;
    return true;
  }
}

export function validateProfile(p: ServingProfile): void {
  const s = p.step;
  const bad = (what: string) => {
    throw new RangeError(`serving profile ${p.id}: ${what}`);
  };
  if (!(s.baseSeconds > 0)) bad("step.baseSeconds must be > 0");
  for (const [k, v] of Object.entries(s)) if (!(v >= 0 && Number.isFinite(v))) bad(`step.${k} must be >= 0`);
  if (!Number.isInteger(p.maxNumSeqs) || p.maxNumSeqs < 1) bad("maxNumSeqs must be an integer >= 1");
  if (!Number.isInteger(p.maxNumBatchedTokens) || p.maxNumBatchedTokens < p.maxNumSeqs) {
    bad("maxNumBatchedTokens must be an integer >= maxNumSeqs (as vLLM requires)");
  }
  if (!Number.isInteger(p.maxModelLen) || p.maxModelLen < 2) bad("maxModelLen must be an integer >= 2");
  if (
    !Number.isInteger(p.kvCapacityTokens) ||
    p.kvCapacityTokens < Math.max(p.maxModelLen, p.maxNumBatchedTokens)
  ) {
    bad("kvCapacityTokens must hold at least one maxModelLen request and one full step budget");
  }
}
