// Events on events.k8s.io/v1, deduplicated: the same reason and note for the same object within the
// window is recorded once. Recording never throws: an event that cannot be written is logged.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { KubeClient, KubeObject } from "./client.ts";
import { pathFor, R } from "./resources.ts";

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

export class EventRecorder {
  private readonly seen = new Map<string, number>();
  private readonly client: KubeClient;
  private readonly instance: string;
  private readonly log: Logger;
  private readonly opts: { dedupeWindowMs?: number; maxKeys?: number; now?: () => number };

  constructor(
    client: KubeClient,
    instance: string,
    log: Logger,
    opts: { dedupeWindowMs?: number; maxKeys?: number; now?: () => number } = {},
  ) {
    this.client = client;
    this.instance = instance;
    this.log = log;
    this.opts = opts;
  }

  /** Records the event unless the same one was recorded within the window. Resolves when written or skipped. */
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
      note: event.note.slice(0, 1024),
      type: event.type,
      regarding,
    };
    try {
      await this.client.create(pathFor(R.events, { namespace }), body);
      return true;
    } catch (err) {
      this.seen.delete(key);
      this.log.warn(
        { err, reason: event.reason, object: `${namespace}/${regarding.name}` },
        "recording event failed",
      );
      return false;
    }
  }
}
