// Events on events.k8s.io/v1, deduplicated: the same reason and note for the same object within the
// window is recorded once. Recording never throws and never waits for the API server (client-go's
// broadcaster does the same): events go out in the background, a few at a time, from a bounded queue; an
// event that cannot be written is logged, and when the queue is full the oldest waiting event is dropped.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { KubeClient, KubeObject } from "./client.ts";
import { pathFor, R } from "./resources.ts";
import { displayText, EVENT_NOTE_MAX_BYTES } from "./text.ts";

export const REPORTING_CONTROLLER = "inferops.dev/operator";

export interface EventSpec {
  type: "Normal" | "Warning";
  /** CamelCase reason from the catalog. */
  reason: string;
  /** What happened, for a human. */
  note: string;
  /** Verb of what was done or failed: Scale, Apply, Hold, Provision... */
  action: string;
}

export interface Regarding {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export const regardingOf = (obj: KubeObject): Regarding => ({
  apiVersion: obj.apiVersion ?? "",
  kind: obj.kind ?? "",
  name: obj.metadata?.name ?? "",
  namespace: obj.metadata?.namespace,
  uid: obj.metadata?.uid,
});

/** 2026-01-02T15:04:05.000000Z, as metav1.MicroTime wants. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export interface EventRecorderOptions {
  /** The same event for the same object within this window is recorded once (default 10 minutes). */
  dedupeWindowMs?: number;
  /** Events remembered for deduplication (default 4096). */
  maxKeys?: number;
  /** Events written at once (default 4). */
  concurrency?: number;
  /** Events waiting to be written; beyond it the oldest is dropped (default 1000). */
  maxQueued?: number;
  now?: () => number;
}

interface Pending {
  key: string;
  namespace: string;
  body: Record<string, unknown>;
  reason: string;
  object: string;
}

export class EventRecorder {
  private readonly seen = new Map<string, number>();
  private readonly client: Pick<KubeClient, "create">;
  private readonly instance: string;
  private readonly log: Logger;
  private readonly opts: EventRecorderOptions;
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private idle: (() => void)[] = [];
  /** Events dropped because the queue was full, since the start. */
  dropped = 0;

  constructor(
    client: Pick<KubeClient, "create">,
    instance: string,
    log: Logger,
    opts: EventRecorderOptions = {},
  ) {
    this.client = client;
    this.instance = instance;
    this.log = log;
    this.opts = opts;
  }

  /**
   * Queues the event unless the same one was recorded within the window: true when queued. Resolves at once;
   * the event is written in the background (`flush()` waits for it).
   */
  async record(regarding: Regarding, event: EventSpec): Promise<boolean> {
    const now = (this.opts.now ?? Date.now)();
    const key = `${regarding.uid ?? `${regarding.namespace}/${regarding.name}`}|${event.type}|${event.reason}|${event.note}`;
    const last = this.seen.get(key);
    if (last !== undefined && now - last < (this.opts.dedupeWindowMs ?? 600_000)) return false;
    this.seen.delete(key);
    this.seen.set(key, now);
    const maxKeys = this.opts.maxKeys ?? 4096;
    while (this.seen.size > maxKeys) this.seen.delete(this.seen.keys().next().value as string);

    const namespace = regarding.namespace ?? "default";
    const body = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: `${regarding.name}.${randomBytes(8).toString("hex")}`, namespace },
      eventTime: microTime(now),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
      action: event.action,
      reason: event.reason,
      note: displayText(event.note, EVENT_NOTE_MAX_BYTES),
      type: event.type,
      regarding,
    };
    this.queue.push({ key, namespace, body, reason: event.reason, object: `${namespace}/${regarding.name}` });
    const maxQueued = this.opts.maxQueued ?? 1000;
    if (this.queue.length > maxQueued) {
      const old = this.queue.shift()!;
      this.seen.delete(old.key);
      this.dropped++;
      this.log.warn({ reason: old.reason, object: old.object }, "event queue full: dropped the oldest event");
    }
    this.pump();
    return true;
  }

  /** Resolves once every queued event has been written or has failed. */
  flush(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < (this.opts.concurrency ?? 4) && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.inFlight++;
      void this.send(next).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.queue.length === 0 && this.inFlight === 0)
          for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async send(p: Pending): Promise<void> {
    try {
      await this.client.create(pathFor(R.events, { namespace: p.namespace }), p.body);
    } catch (err) {
      this.seen.delete(p.key);
      this.log.warn({ err, reason: p.reason, object: p.object }, "recording event failed");
    }
  }
}
