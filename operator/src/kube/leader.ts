// Leader election by Lease (coordination.k8s.io/v1), in the manner of client-go: 15 s lease, 10 s renew
// deadline, 2 s retry. Expiry is judged by when this process last saw the record change, not by the
// holder's clock. On losing the lease the operator stops acting at once.
import type { Logger } from "pino";
import type { KubeClient, KubeObject } from "./client.ts";
import { isConflict, isNotFound } from "./errors.ts";
import { pathFor, R } from "./resources.ts";

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private inflight: Promise<void> = Promise.resolve();
  private lastRenewMs = 0;
  private observed?: { holder?: string; renewTime?: string; atMs: number };
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  private readonly client: KubeClient;
  private readonly opts: LeaderOptions;
  private readonly log: Logger;
  private readonly callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void };

  constructor(
    client: KubeClient,
    opts: LeaderOptions,
    log: Logger,
    callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void },
  ) {
    this.client = client;
    this.opts = opts;
    this.log = log;
    this.callbacks = callbacks;
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops campaigning; a leader gives the lease up so a successor need not wait for expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A renewal in flight would otherwise land between our read and our release and make the release
    // conflict (the successor then waits out the whole lease).
    await this.inflight;
    // A renewal that completed after the stop may hold the lease without having led; release() reads the
    // lease and gives it up only if it names us.
    this.setLeading(false);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.release();
        return;
      } catch (err) {
        if (isConflict(err) && attempt < 3) continue;
        this.log.warn({ err }, "releasing the lease failed; a successor waits for it to expire");
        return;
      }
    }
  }

  private async release(): Promise<void> {
    const lease = await this.client.get<Lease>(this.path());
    if (lease.spec?.holderIdentity !== this.opts.identity) return;
    await this.client.replace(this.path(), {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: "",
        leaseDurationSeconds: 1,
        renewTime: microTime(Date.now()),
      },
    });
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.inflight = this.tick();
    }, delayMs);
  }

  private path(name?: string): string {
    return pathFor(R.leases, { namespace: this.opts.namespace, name: name ?? this.opts.name });
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const ok = await this.tryAcquireOrRenew();
      if (this.stopped) return;
      if (ok) this.lastRenewMs = Date.now();
      if (ok && !this.leading) this.setLeading(true);
    } catch (err) {
      this.log.warn({ err }, "lease update failed");
    }
    if (this.leading && Date.now() - this.lastRenewMs > this.renewDeadlineMs) {
      this.log.error(
        { lease: `${this.opts.namespace}/${this.opts.name}` },
        "lost the lease: renew deadline passed",
      );
      this.setLeading(false);
    }
    if (!this.stopped) this.schedule(this.retryMs);
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    if (leading) this.callbacks.onStartedLeading();
    else this.callbacks.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(this.path());
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.client.create(pathFor(R.leases, { namespace: this.opts.namespace }), {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: {
            holderIdentity: this.opts.identity,
            leaseDurationSeconds: Math.round(this.leaseMs / 1000),
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (e) {
        if (isConflict(e) || (e as { code?: string }).code === "AlreadyExists") return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    if (
      !this.observed ||
      this.observed.holder !== spec.holderIdentity ||
      this.observed.renewTime !== spec.renewTime
    ) {
      this.observed = { holder: spec.holderIdentity, renewTime: spec.renewTime, atMs: now };
    }
    const holder = spec.holderIdentity ?? "";
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000;
    const heldByOther = holder !== "" && holder !== this.opts.identity;
    if (heldByOther && this.observed.atMs + durationMs > now) return false;
    const transition = holder !== this.opts.identity;
    try {
      await this.client.replace(this.path(), {
        ...lease,
        spec: {
          holderIdentity: this.opts.identity,
          leaseDurationSeconds: Math.round(this.leaseMs / 1000),
          acquireTime: transition ? microTime(now) : spec.acquireTime,
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (transition ? 1 : 0),
        },
      });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
