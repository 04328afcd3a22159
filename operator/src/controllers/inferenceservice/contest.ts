// Another writer of a managed Deployment's replicas: a person's `kubectl scale`, a script, a second operator
// instance with its own lease. inferops owns those replicas in mode Auto and sets them back once, with a
// warning; a writer that keeps changing them wins (kube/contest.ts): inferops stops writing them (Conflict,
// reason ReplicasContested) until a whole window passes without a change, so that two writers never fight.
// An HPA or KEDA on the Deployment is found by its object instead (reconcile.ts, conflictsFor).
import { CONTEST_LIMIT, CONTEST_WINDOW_MS, ForeignWrites } from "../../kube/contest.ts";

export { CONTEST_LIMIT, CONTEST_WINDOW_MS };

/** What a Deployment shows: its replicas, and its generation (raised by every change of its spec). */
export interface LiveReplicas {
  replicas: number;
  generation: number;
}

export interface ReplicasContest {
  /** Changes by the other writer within the window. */
  changes: number;
  /** The replicas the last one set. */
  lastTo: number;
  /** When inferops writes again if no other change comes. */
  untilMs: number;
}

export class ReplicaWriters {
  /** What inferops last wrote per Deployment (`service key|deployment`), and the generation it produced. */
  private readonly mine = new Map<string, LiveReplicas>();
  /** Changes of replicas by another writer, by generation, with the replicas set. */
  private readonly foreign = new ForeignWrites<number>();

  /** What inferops last wrote to the Deployment, and the generation that write produced. */
  lastWrite(service: string, deployment: string): LiveReplicas | undefined {
    return this.mine.get(`${service}|${deployment}`);
  }

  /** inferops' write of `replicas` succeeded, and produced `generation`. */
  wrote(service: string, deployment: string, written: LiveReplicas): void {
    this.mine.set(`${service}|${deployment}`, written);
  }

  /**
   * Reads the Deployment as the cache shows it, while inferops wants `wanted` replicas: true when it shows a
   * change of replicas by another writer, not counted before, that inferops would undo (a generation after
   * inferops' last write, with other replicas than it wrote and than it wants). A cache that has not yet seen
   * inferops' own write shows an older generation and counts nothing; nor does a change inferops agrees with
   * (a plan without fresh metrics holds what runs, whoever set it).
   */
  observe(service: string, deployment: string, live: LiveReplicas, wanted: number, nowMs: number): boolean {
    const key = `${service}|${deployment}`;
    const mine = this.mine.get(key);
    if (!mine || live.generation <= mine.generation || live.replicas === mine.replicas) return false;
    if (live.replicas === wanted) return false;
    return this.foreign.count(key, String(live.generation), live.replicas, nowMs);
  }

  /** Whether inferops leaves the Deployment's replicas to the other writer now. */
  contested(service: string, deployment: string, nowMs: number): ReplicasContest | undefined {
    const c = this.foreign.contested(`${service}|${deployment}`, nowMs);
    return c && { changes: c.writes, lastTo: c.last, untilMs: c.untilMs };
  }

  /** Whether anything is recorded for the Deployment (an operator just started has nothing). */
  knows(service: string, deployment: string): boolean {
    const key = `${service}|${deployment}`;
    return this.mine.has(key) || this.foreign.has(key);
  }

  /**
   * The service's status says an earlier leader left the Deployment to another writer: a new leader, which
   * saw none of it, leaves it for a whole window of its own (as it waits a whole scale-down window).
   */
  inherit(service: string, deployment: string, live: LiveReplicas, nowMs: number): void {
    const key = `${service}|${deployment}`;
    if (!this.mine.has(key)) this.foreign.inherit(key, live.replicas, nowMs);
  }

  /** The service is gone: its Deployments' records go too. */
  forget(service: string): void {
    const gone = (key: string) => key.startsWith(`${service}|`);
    for (const key of this.mine.keys()) if (gone(key)) this.mine.delete(key);
    this.foreign.forget(gone);
  }
}
