// Runtime validation of manifests against the zod schemas, with errors that name the field.
import type { z } from "zod";
import { API_VERSION } from "./common.ts";
import { type AnyResource, KINDS } from "./kinds.ts";

export interface FieldError {
  /** Kubernetes-style field path: spec.accelerators[0].pool */
  path: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** spec.accelerators[0].pool, as the API server writes paths. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

export function toFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => {
    let path = fieldPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      path = fieldPath([...issue.path, issue.keys[0] ?? ""]);
      return { path, message: `unknown field "${path}": remove it or check its spelling` };
    }
    return { path, message: issue.message };
  });
}

export function formatErrors(errors: FieldError[]): string {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("\n");
}

/** Validates one of our resources by its apiVersion and kind, and returns it with defaults applied. */
export function parseResource(input: unknown): ParseResult<AnyResource> {
  const obj = (typeof input === "object" && input !== null ? input : {}) as {
    apiVersion?: unknown;
    kind?: unknown;
  };
  if (obj.apiVersion !== API_VERSION) {
    return {
      ok: false,
      errors: [
        {
          path: "apiVersion",
          message: `apiVersion must be ${API_VERSION}, got ${JSON.stringify(obj.apiVersion)}`,
        },
      ],
    };
  }
  const info = KINDS.find((k) => k.kind === obj.kind);
  if (!info) {
    return {
      ok: false,
      errors: [
        {
          path: "kind",
          message: `kind must be one of ${KINDS.map((k) => k.kind).join(", ")}, got ${JSON.stringify(obj.kind)}`,
        },
      ],
    };
  }
  const result = info.schema.safeParse(input);
  return result.success
    ? { ok: true, value: result.data as AnyResource }
    : { ok: false, errors: toFieldErrors(result.error) };
}

const parsedSpecs = new WeakMap<z.ZodType, WeakMap<object, z.ZodSafeParseResult<unknown>>>();

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * The schema's safeParse of an object from an informer's cache, without its status (ours, not validated), once
 * per object: the caches replace an object when it changes and never change one in place, so a parse is
 * reused by the planner, the snapshot and every reconcile until the object changes. The result is frozen,
 * being shared: copy before changing it.
 */
export function parseSpec<S extends z.ZodType>(schema: S, raw: object): z.ZodSafeParseResult<z.output<S>> {
  let bySchema = parsedSpecs.get(schema);
  if (!bySchema) {
    bySchema = new WeakMap();
    parsedSpecs.set(schema, bySchema);
  }
  let parsed = bySchema.get(raw);
  if (!parsed) {
    parsed = deepFreeze(schema.safeParse({ ...raw, status: undefined }));
    bySchema.set(raw, parsed);
  }
  return parsed as z.ZodSafeParseResult<z.output<S>>;
}
