// Another writer of a managed Deployment's replicas: a person's `kubectl scale`, a script, a second operator
// instance with its own lease. inferops owns those replicas in mode Auto and sets them back once, with a
// warning; a writer that keeps changing them wins: after CONTEST_LIMIT changes within CONTEST_WINDOW_MS
// inferops stops writing them (Conflict, reason ReplicasContested) until a whole window passes without one,
// so that two writers never fight. An HPA or KEDA on the Deployment is found by its object instead
// (reconcile.ts, conflictsFor). Pure bookkeeping, per operator process: a new leader starts with none.

/** Changes by another writer within the window that make inferops stop writing a Deployment's replicas. */
export const CONTEST_LIMIT = 3;
/** How far back changes count, and how long without one before inferops writes the replicas again. */
export const CONTEST_WINDOW_MS = 5 * 60_000;

/** What a Deployment shows: its replicas, and its generation (raised by every change of its spec). */
export interface LiveReplicas {
  replicas: number;
  generation: number;
}

export interface Contest {
  /** Changes by another writer within the window, the newest last. */
  changes: number;
  /** The replicas the last one set. */
  lastTo: number;
  /** When inferops writes again if no other change comes. */
  untilMs: number;
}

interface Entry {
  /** What inferops last wrote, and the generation its write produced. */
  mine?: LiveReplicas;
  /** Generations of changes by another writer already counted, with when they were seen. */
  foreign: { generation: number; replicas: number; atMs: number }[];
}

export class ReplicaWriters {
  /** Service key (namespace/name) -> Deployment name -> entry. */
  private readonly byService = new Map<string, Map<string, Entry>>();

  private entry(service: string, deployment: string): Entry {
    let deployments = this.byService.get(service);
    if (!deployments) {
      deployments = new Map();
      this.byService.set(service, deployments);
    }
    let e = deployments.get(deployment);
    if (!e) {
      e = { foreign: [] };
      deployments.set(deployment, e);
    }
    return e;
  }

  /** inferops' write of `replicas` succeeded, and produced `generation`. */
  wrote(service: string, deployment: string, written: LiveReplicas): void {
    this.entry(service, deployment).mine = written;
  }

  /**
   * Reads the Deployment as the cache shows it, while inferops wants `wanted` replicas: true when it shows a
   * change of replicas by another writer, not counted before, that inferops would undo (a generation after
   * inferops' last write, with other replicas than it wrote and than it wants). A cache that has not yet seen
   * inferops' own write shows an older generation and counts nothing; nor does a change inferops agrees with
   * (a plan without fresh metrics holds what runs, whoever set it).
   */
  observe(service: string, deployment: string, live: LiveReplicas, wanted: number, nowMs: number): boolean {
    const e = this.byService.get(service)?.get(deployment);
    if (!e?.mine || live.generation <= e.mine.generation || live.replicas === e.mine.replicas) return false;
    if (live.replicas === wanted) return false;
    if (e.foreign.some((f) => f.generation === live.generation)) return false;
    e.foreign.push({ generation: live.generation, replicas: live.replicas, atMs: nowMs });
    return true;
  }

  /** Whether inferops leaves the Deployment's replicas to the other writer now. */
  contested(service: string, deployment: string, nowMs: number): Contest | undefined {
    const e = this.byService.get(service)?.get(deployment);
    if (!e) return undefined;
    e.foreign = e.foreign.filter((f) => nowMs - f.atMs < CONTEST_WINDOW_MS);
    if (e.foreign.length < CONTEST_LIMIT) return undefined;
    const last = e.foreign[e.foreign.length - 1]!;
    return { changes: e.foreign.length, lastTo: last.replicas, untilMs: last.atMs + CONTEST_WINDOW_MS };
  }

  /** Whether anything is recorded for the Deployment (an operator just started has nothing). */
  knows(service: string, deployment: string): boolean {
    return this.byService.get(service)?.has(deployment) ?? false;
  }

  /**
   * The service's status says an earlier leader left the Deployment to another writer: a new leader, which
   * saw none of it, leaves it for a whole window of its own (as it waits a whole scale-down window).
   */
  inherit(service: string, deployment: string, live: LiveReplicas, nowMs: number): void {
    const e = this.entry(service, deployment);
    if (e.mine || e.foreign.length > 0) return;
    for (let i = 0; i < CONTEST_LIMIT; i++) e.foreign.push({ ...live, atMs: nowMs });
  }

  /** The service is gone: its Deployments' records go too. */
  forget(service: string): void {
    this.byService.delete(service);
  }
}
