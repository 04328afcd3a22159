// Writes by someone else to what inferops writes: counted per object, so that a writer that keeps on wins
// instead of fighting. After CONTEST_LIMIT writes within CONTEST_WINDOW_MS inferops stops writing that part
// of the object until a whole window passes without another. Used for a Deployment's replicas
// (controllers/inferenceservice/contest.ts) and for status (kube/status.ts, StatusWrites). Pure
// bookkeeping, per operator process.

/** Writes by another writer within the window that make inferops stop writing. */
export const CONTEST_LIMIT = 3;
/** How far back writes count, and how long without one before inferops writes again. */
export const CONTEST_WINDOW_MS = 5 * 60_000;

export interface Contest<D> {
  /** Writes by the other writer within the window. */
  writes: number;
  /** What the last one carried. */
  last: D;
  /** When inferops writes again if no other write comes. */
  untilMs: number;
}

export class ForeignWrites<D = undefined> {
  /** key -> the other writer's writes within the window (or older, until next read), oldest first. */
  private readonly byKey = new Map<string, { id: string; data: D; atMs: number }[]>();

  /** Counts the write `id` (a generation, a resourceVersion) once: true when it was not counted before. */
  count(key: string, id: string, data: D, nowMs: number): boolean {
    let writes = this.byKey.get(key);
    if (!writes) {
      writes = [];
      this.byKey.set(key, writes);
    }
    if (writes.some((w) => w.id === id)) return false;
    writes.push({ id, data, atMs: nowMs });
    return true;
  }

  /** Whether inferops leaves the object's contested part to the other writer now. */
  contested(key: string, nowMs: number): Contest<D> | undefined {
    const writes = this.byKey.get(key)?.filter((w) => nowMs - w.atMs < CONTEST_WINDOW_MS);
    if (!writes) return undefined;
    if (writes.length === 0) this.byKey.delete(key);
    else this.byKey.set(key, writes);
    if (writes.length < CONTEST_LIMIT) return undefined;
    const last = writes[writes.length - 1]!;
    return { writes: writes.length, last: last.data, untilMs: last.atMs + CONTEST_WINDOW_MS };
  }

  /** Whether any write of the key is recorded. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** A contest an earlier leader reported: a whole window from now, as if the limit had just been reached. */
  inherit(key: string, data: D, nowMs: number): void {
    if (this.byKey.has(key)) return;
    this.byKey.set(
      key,
      Array.from({ length: CONTEST_LIMIT }, (_, i) => ({ id: `inherited-${i}`, data, atMs: nowMs })),
    );
  }

  /** Drops every key for which `drop` is true (the objects are gone). */
  forget(drop: (key: string) => boolean): void {
    for (const key of this.byKey.keys()) if (drop(key)) this.byKey.delete(key);
  }
}
