// A level-triggered work queue: keys (namespace/name), never held twice, one reconcile per key at a time,
// bounded concurrency, per-key exponential backoff on errors, and timers for requeueAfterMs.
import { isTerminal } from "./errors.ts";

export interface ReconcileResult {
  /** Reconcile again after this long (a timer: evaluation interval, a wait for pods). */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string) => Promise<ReconcileResult | undefined>;

export interface QueueOptions {
  concurrency?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** Told of every finished reconcile, for metrics and logs. */
  onDone?: (key: string, outcome: "success" | "error" | "terminal", seconds: number, err?: unknown) => void;
}

export class WorkQueue {
  private readonly pending: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly concurrency: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private active = 0;
  private shuttingDown = false;
  private idleWaiters: (() => void)[] = [];

  private readonly reconcile: Reconciler;
  private readonly opts: QueueOptions;

  constructor(reconcile: Reconciler, opts: QueueOptions = {}) {
    this.reconcile = reconcile;
    this.opts = opts;
    this.concurrency = opts.concurrency ?? 4;
    this.backoff = opts.backoff ?? { baseMs: 1_000, maxMs: 300_000 };
  }

  /** Keys waiting to run (not counting those running). */
  get depth(): number {
    return this.pending.length;
  }

  get running(): number {
    return this.active;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.pump();
  }

  /** Adds the key after `ms`; an earlier timer for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Removes a key that no longer exists: its timers and backoff go. */
  forget(key: string): void {
    this.failures.delete(key);
    const t = this.timers.get(key);
    if (t) clearTimeout(t.timer);
    this.timers.delete(key);
  }

  /** Stops taking work and resolves when in-flight reconciles have finished. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.pending.length = 0;
    this.queued.clear();
    this.dirty.clear();
    if (this.active === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.shuttingDown && this.active < this.concurrency && this.pending.length > 0) {
      const key = this.pending.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      this.active++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    const started = performance.now();
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      this.opts.onDone?.(key, "success", (performance.now() - started) / 1000);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const seconds = (performance.now() - started) / 1000;
      if (isTerminal(err)) {
        this.failures.delete(key);
        this.opts.onDone?.(key, "terminal", seconds, err);
      } else {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        this.opts.onDone?.(key, "error", seconds, err);
        this.addAfter(key, Math.min(this.backoff.baseMs * 2 ** (n - 1), this.backoff.maxMs));
      }
    } finally {
      this.processing.delete(key);
      this.active--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
      if (this.active === 0 && this.shuttingDown) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }
}
