// Writing an object's status: server-side apply on its /status subresource, as the client's field manager,
// sending only the status. An object deleted meanwhile is not an error (there is nothing left to report on).
import { Reason } from "../apis/conditions.ts";
import type { KubeApi, KubeObject } from "./client.ts";
import { CONTEST_LIMIT, CONTEST_WINDOW_MS, type Contest, ForeignWrites } from "./contest.ts";
import { isNotFound, wrap } from "./errors.ts";
import type { EventSpec } from "./events.ts";
import { pathFor, type Resource } from "./resources.ts";

/** Writes the status; resolves with the object as the write left it (none when the object is gone). */
export async function applyStatus(
  client: Pick<KubeApi, "apply">,
  resource: Resource,
  obj: KubeObject,
  status: unknown,
): Promise<KubeObject | undefined> {
  const name = obj.metadata?.name;
  const namespace = resource.namespaced ? obj.metadata?.namespace : undefined;
  try {
    const applied = await client.apply<KubeObject>(
      pathFor(resource, { namespace, name, subresource: "status" }),
      {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        metadata: namespace ? { name, namespace } : { name },
        status,
      },
    );
    return applied;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw wrap(`writing status of ${resource.kind} ${namespace ? `${namespace}/` : ""}${name}`, err);
  }
}

/** JSON round-trip, so undefined fields and key order do not count as differences. */
const normalised = (o: unknown) => JSON.stringify(o, (_k, v) => sortKeys(v));
function sortKeys(v: unknown): unknown {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export interface StatusWrite {
  written: boolean;
  /** Another writer keeps rewriting this status: inferops leaves it alone until then. */
  contest?: Contest<undefined>;
  /** The contest began with this write: report it (once). */
  contestStarted?: boolean;
}

/**
 * A controller's status writes, with a guard against a second writer of the same status (a second inferops
 * instance that elects no leader, or elects it by another Lease): each would rewrite the other's status
 * after every change, for ever. A status rewritten by someone else since inferops' own last write (the cache
 * shows another resourceVersion, the same generation and another status) counts; after CONTEST_LIMIT of them
 * within CONTEST_WINDOW_MS inferops stops writing it until a window passes without one (kube/contest.ts).
 */
export class StatusWrites {
  /**
   * Per object: the generation and resourceVersion the cache showed at inferops' last write, and its recent
   * writes (the resourceVersion each produced, and the status as the server kept it). A cache behind several
   * writes of inferops' own shows one of them.
   */
  private readonly ours = new Map<
    string,
    { generation?: number; before?: string; writes: { rv?: string; status: string }[] }
  >();
  private readonly foreign = new ForeignWrites();
  private readonly reported = new Set<string>();

  async write(
    client: Pick<KubeApi, "apply">,
    resource: Resource,
    obj: KubeObject,
    status: unknown,
    nowMs: number,
  ): Promise<StatusWrite> {
    const key = `${resource.plural}/${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
    const rv = obj.metadata?.resourceVersion;
    const mine = this.ours.get(key);
    if (
      mine &&
      rv !== undefined &&
      rv !== mine.before &&
      obj.metadata?.generation === mine.generation &&
      !mine.writes.some((w) => w.rv === rv) &&
      !mine.writes.some((w) => w.status === normalised(obj.status))
    )
      this.foreign.count(key, rv, undefined, nowMs);
    const contest = this.foreign.contested(key, nowMs);
    if (contest) {
      const contestStarted = !this.reported.has(key);
      this.reported.add(key);
      return { written: false, contest, contestStarted };
    }
    this.reported.delete(key);
    const applied = await applyStatus(client, resource, obj, status);
    // As the server keeps it (defaults applied): what the cache will show while nobody else writes it.
    const write = { rv: applied?.metadata?.resourceVersion, status: normalised(applied?.status ?? status) };
    const writes = mine && mine.generation === obj.metadata?.generation ? [...mine.writes, write] : [write];
    this.ours.set(key, {
      generation: obj.metadata?.generation,
      before: rv,
      writes: writes.slice(-RECENT_WRITES),
    });
    return { written: true };
  }

  /** The object is gone. */
  forget(resource: Resource, namespace: string | undefined, name: string): void {
    const key = `${resource.plural}/${namespace ?? ""}/${name}`;
    this.ours.delete(key);
    this.reported.delete(key);
    this.foreign.forget((k) => k === key);
  }
}

/** How many of its own recent writes per object StatusWrites recognises in a lagging cache. */
const RECENT_WRITES = 16;

/** The Warning a controller records once when another writer's rewrites of a status make inferops stop. */
export function statusContested(kind: string): EventSpec {
  return {
    type: "Warning",
    reason: Reason.StatusContested,
    action: "WriteStatus",
    note:
      `another writer rewrote this ${kind}'s status ${CONTEST_LIMIT} times within ${CONTEST_WINDOW_MS / 60_000} minutes` +
      " (a second inferops instance without --leader-elect, or with another Lease?); inferops stops writing it" +
      ` until ${CONTEST_WINDOW_MS / 60_000} minutes pass without another. Run one instance, or every instance with` +
      " --leader-elect and the same --namespace",
  };
}
