// An in-memory API server for unit tests: what KubeApi callers see of objects, lists, selectors, deletes
// with preconditions and the scale subresource, without a cluster. Server-side apply is approximated by a
// deep merge (maps merge, lists are replaced, null removes a key); field ownership is not modelled, so
// what only the real server can prove (SSA, validation, RBAC) is tested in test/integration.
import type { KubeApi, KubeList, KubeObject, Preconditions, RequestOptions } from "./client.ts";
import { ApiError } from "./errors.ts";

interface Address {
  /** /api/v1 or /apis/<group>/<version> */
  base: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function parse(path: string): Address {
  const parts = path.split("?")[0]!.split("/").filter(Boolean);
  let i = parts[0] === "api" ? 2 : 3;
  const base = `/${parts.slice(0, i).join("/")}`;
  let namespace: string | undefined;
  if (parts[i] === "namespaces" && parts.length > i + 2) {
    namespace = decodeURIComponent(parts[i + 1]!);
    i += 2;
  }
  const plural = parts[i];
  if (!plural) throw new Error(`fake kube: no resource in ${path}`);
  const name = parts[i + 1] === undefined ? undefined : decodeURIComponent(parts[i + 1]!);
  return { base, plural, namespace, name, subresource: parts[i + 2] };
}

const keyOf = (a: Address, name = a.name) => `${a.base}/${a.plural}/${a.namespace ?? ""}/${name ?? ""}`;

const clone = <T>(v: T): T => structuredClone(v);

function merge(into: unknown, patch: unknown): unknown {
  if (patch === null) return undefined;
  if (typeof patch !== "object" || Array.isArray(patch) || typeof into !== "object" || into === null)
    return clone(patch);
  const out: Record<string, unknown> = { ...(into as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    const merged = merge(out[k], v);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}

/** Equality (`k=v`, `k==v`, `k!=v`), existence (`k`, `!k`) and set (`k in (a,b)`, `k notin (a)`) terms. */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string): boolean {
  const terms = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    if (!term) return true;
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (set) {
      const values = set[3]!.split(",").map((v) => v.trim());
      const has = labels?.[set[1]!] !== undefined && values.includes(labels[set[1]!]!);
      return set[2] === "in" ? has : !has;
    }
    const eq = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (eq) {
      const equal = labels?.[eq[1]!.trim()] === eq[3]!.trim();
      return eq[2] === "!=" ? !equal : equal;
    }
    if (term.startsWith("!")) return labels?.[term.slice(1).trim()] === undefined;
    return labels?.[term] !== undefined;
  });
}

function fieldValue(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

/** `spec.nodeName=n,metadata.name!=x`: equality on dotted paths, as the API server's field selectors. */
function matchesFieldSelector(obj: unknown, selector: string): boolean {
  return selector.split(",").every((term) => {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!m) return true;
    const equal = String(fieldValue(obj, m[1]!) ?? "") === m[3];
    return m[2] === "!=" ? !equal : equal;
  });
}

export interface Write {
  verb: "create" | "replace" | "apply" | "patch" | "delete";
  path: string;
  body?: unknown;
}

/** Answers an error for a request it wants to fail (for failure-path tests); undefined lets it through. */
export type FaultInjector = (verb: string, path: string) => ApiError | undefined;

export class FakeKube implements KubeApi {
  readonly #objects = new Map<string, KubeObject>();
  #version = 0;
  #uid = 0;
  /** Every write, in order: tests assert what was written, and that a steady state writes nothing. */
  readonly writes: Write[] = [];
  fault?: FaultInjector;
  /** The server's clock for creationTimestamp; tests pass a fake one. */
  now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  #check(verb: string, path: string): void {
    const err = this.fault?.(verb, path);
    if (err) throw err;
  }

  #notFound(verb: string, path: string): ApiError {
    return new ApiError(`${verb} ${path}: not found`, { code: "NotFound", status: 404 });
  }

  #stamp(obj: KubeObject, previous?: KubeObject): KubeObject {
    obj.metadata = obj.metadata ?? {};
    const meta = obj.metadata;
    meta.resourceVersion = String(++this.#version);
    if (previous) {
      meta.uid = previous.metadata?.uid;
      meta.creationTimestamp = previous.metadata?.creationTimestamp;
      const specChanged = JSON.stringify(previous.spec) !== JSON.stringify(obj.spec);
      meta.generation = (previous.metadata?.generation ?? 1) + (specChanged ? 1 : 0);
    } else {
      meta.uid = `uid-${++this.#uid}`;
      meta.creationTimestamp = new Date(this.now()).toISOString().replace(/\.\d+Z$/, "Z");
      meta.generation = 1;
    }
    return obj;
  }

  /** Puts an object in the store as the server would have it (for a test's starting state). */
  seed<T extends KubeObject>(path: string, obj: T): T {
    const a = parse(path);
    const stored = this.#stamp(clone(obj), this.#objects.get(keyOf(a)));
    this.#objects.set(keyOf(a), stored);
    return clone(stored) as T;
  }

  /** The stored object at a path, or undefined. */
  peek<T extends KubeObject>(path: string): T | undefined {
    const o = this.#objects.get(keyOf(parse(path)));
    return o ? (clone(o) as T) : undefined;
  }

  /** Every stored object of a list path (`/api/v1/pods`: all namespaces), as an informer's list() gives them. */
  peekAll<T extends KubeObject>(path: string): T[] {
    const a = parse(path);
    const prefix = `${a.base}/${a.plural}/${a.namespace === undefined ? "" : `${a.namespace}/`}`;
    return [...this.#objects.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .map(([, o]) => clone(o) as T)
      .sort((x, y) => String(x.metadata?.name).localeCompare(String(y.metadata?.name)));
  }

  async get<T extends KubeObject>(path: string): Promise<T> {
    this.#check("GET", path);
    const a = parse(path);
    const obj = this.#objects.get(keyOf(a));
    if (!obj) throw this.#notFound("GET", path);
    if (a.subresource === "scale") return scaleOf(obj) as T;
    return clone(obj) as T;
  }

  async list<T extends KubeObject>(path: string, query?: RequestOptions["query"]): Promise<KubeList<T>> {
    this.#check("GET", path);
    const a = parse(path);
    const prefix = `${a.base}/${a.plural}/${a.namespace ?? ""}`;
    const items = [...this.#objects.entries()]
      .filter(([k]) =>
        a.namespace === undefined ? k.startsWith(`${a.base}/${a.plural}/`) : k.startsWith(`${prefix}/`),
      )
      .map(([, o]) => o)
      .filter(
        (o) => !query?.labelSelector || matchesLabelSelector(o.metadata?.labels, String(query.labelSelector)),
      )
      .filter((o) => !query?.fieldSelector || matchesFieldSelector(o, String(query.fieldSelector)))
      .sort((x, y) => String(x.metadata?.name).localeCompare(String(y.metadata?.name)));
    return { items: clone(items) as T[], metadata: { resourceVersion: String(this.#version) } };
  }

  async create<T extends KubeObject>(path: string, body: T): Promise<T> {
    this.#check("POST", path);
    const a = parse(path);
    if (a.subresource === "eviction") return this.#evict(path, a) as T;
    const name = body.metadata?.name;
    if (!name)
      throw new ApiError(`POST ${path}: metadata.name is required`, { code: "Invalid", status: 422 });
    const key = keyOf(a, name);
    if (this.#objects.has(key))
      throw new ApiError(`POST ${path}: ${name} already exists`, { code: "AlreadyExists", status: 409 });
    this.writes.push({ verb: "create", path, body: clone(body) });
    const stored = this.#stamp(clone(body));
    if (a.namespace && stored.metadata) stored.metadata.namespace = a.namespace;
    this.#objects.set(key, stored);
    return clone(stored) as T;
  }

  /** The Eviction API without PodDisruptionBudgets: the pod goes (a fault injector answers 429 for a PDB). */
  #evict(path: string, a: Address): KubeObject {
    const key = keyOf(a);
    if (!this.#objects.has(key)) throw this.#notFound("POST", path);
    this.writes.push({ verb: "create", path });
    this.#objects.delete(key);
    return { apiVersion: "v1", kind: "Status", status: "Success" } as KubeObject;
  }

  /** The stored object a write changes; Conflict when the body names another resourceVersion. */
  #existing(verb: string, path: string, body: KubeObject): { a: Address; previous: KubeObject } {
    this.#check(verb, path);
    const a = parse(path);
    const previous = this.#objects.get(keyOf(a));
    if (!previous) throw this.#notFound(verb, path);
    const rv = body.metadata?.resourceVersion;
    if (rv && rv !== previous.metadata?.resourceVersion)
      throw new ApiError(`${verb} ${path}: the object has been modified`, { code: "Conflict", status: 409 });
    return { a, previous };
  }

  /** Stores `next` (a whole object, or for /scale the Scale's replicas) and answers as the server does. */
  #write<T>(write: Write, a: Address, previous: KubeObject | undefined, next: KubeObject): T {
    this.writes.push({ ...write, body: clone(write.body) });
    const object =
      a.subresource === "scale"
        ? merge(previous, { spec: { replicas: (next.spec as { replicas?: number })?.replicas } })
        : next;
    const stored = this.#stamp(object as KubeObject, previous);
    this.#objects.set(keyOf(a), stored);
    return (a.subresource === "scale" ? scaleOf(stored) : clone(stored)) as T;
  }

  async replace<T extends KubeObject>(path: string, body: T): Promise<T> {
    const { a, previous } = this.#existing("PUT", path, body);
    return this.#write({ verb: "replace", path, body }, a, previous, clone(body));
  }

  async delete(
    path: string,
    _query?: RequestOptions["query"],
    opts: { preconditions?: Preconditions } = {},
  ): Promise<unknown> {
    this.#check("DELETE", path);
    const a = parse(path);
    const obj = this.#objects.get(keyOf(a));
    if (!obj) throw this.#notFound("DELETE", path);
    const pre = opts.preconditions;
    if (
      (pre?.uid && pre.uid !== obj.metadata?.uid) ||
      (pre?.resourceVersion && pre.resourceVersion !== obj.metadata?.resourceVersion)
    )
      throw new ApiError(`DELETE ${path}: precondition failed`, { code: "Conflict", status: 409 });
    this.writes.push({ verb: "delete", path });
    this.#objects.delete(keyOf(a));
    return {};
  }

  async patch<T extends KubeObject>(path: string, body: KubeObject): Promise<T> {
    const { a, previous } = this.#existing("PATCH", path, body);
    const { resourceVersion: _, ...meta } = body.metadata ?? {};
    const patch = body.metadata ? { ...body, metadata: meta } : body;
    return this.#write({ verb: "patch", path, body }, a, previous, merge(previous, patch) as KubeObject);
  }

  async apply<T extends KubeObject>(
    path: string,
    body: KubeObject,
    opts: { dryRun?: boolean } = {},
  ): Promise<T> {
    this.#check("PATCH", path);
    const a = parse(path);
    const previous = this.#objects.get(keyOf(a));
    if (a.subresource === "scale" && !previous) throw this.#notFound("PATCH", path);
    const next = merge(previous ?? {}, body) as KubeObject;
    if (opts.dryRun) return (a.subresource === "scale" ? scaleOf(next) : next) as T;
    return this.#write({ verb: "apply", path, body }, a, previous, next);
  }
}

/** The autoscaling/v1 Scale of an object with spec.replicas, as the scale subresource answers. */
function scaleOf(obj: KubeObject): KubeObject {
  const spec = obj.spec as { replicas?: number } | undefined;
  const status = obj.status as { replicas?: number; selector?: string } | undefined;
  return {
    apiVersion: "autoscaling/v1",
    kind: "Scale",
    metadata: {
      name: obj.metadata?.name,
      namespace: obj.metadata?.namespace,
      resourceVersion: obj.metadata?.resourceVersion,
    },
    spec: { replicas: spec?.replicas ?? 0 },
    status: { replicas: status?.replicas ?? 0, ...(status?.selector ? { selector: status.selector } : {}) },
  };
}
