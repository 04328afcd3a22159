// Bad variants of a valid object, generated from its kind's OpenAPI schema (itself generated from the zod
// schemas, operator/src/apis/crd.ts): for every field under spec that the object has, a value of the wrong
// type, numbers out of range and not whole, strings too long, empty, outside the enum or the pattern, a
// huge string where no length is bounded, lists too long, unknown fields, and deep nesting where any
// field is allowed. The fuzz suite sends each through the real API server.

type Json = { [key: string]: unknown };

export interface Mutant {
  /** The field changed, as the API server names it (`spec.accelerators[0].pool`). */
  path: string;
  /** What was done to it. */
  how: string;
  object: Json;
}

/** One MiB: far beyond any bound a field should have, well within the API server's 3 MiB request limit. */
export const HUGE = 1 << 20;
/** Nesting of the deep mutants. */
export const DEPTH = 100;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A copy of `object` with the value at `steps` replaced by `value` (every step exists in it). */
function setAt(object: Json, steps: (string | number)[], value: unknown): Json {
  const copy = structuredClone(object);
  let node: unknown = copy;
  for (const step of steps.slice(0, -1)) node = (node as Record<string | number, unknown>)[step];
  (node as Record<string | number, unknown>)[steps.at(-1)!] = value;
  return copy;
}

function pathName(steps: (string | number)[]): string {
  return steps.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");
}

function deep(depth: number): Json {
  let node: Json = { leaf: "x" };
  for (let i = 0; i < depth; i++) node = { nested: node };
  return node;
}

/** Values of another type than the node's, one per other type. */
function wrongTypes(type: unknown): [string, unknown][] {
  const all: [string, string, unknown][] = [
    ["string", "a string", "ten"],
    ["integer", "a number", 12345],
    ["number", "a number", 12345],
    ["boolean", "a boolean", true],
    ["object", "an object", { a: 1 }],
    ["array", "a list", [1]],
  ];
  const seen = new Set<string>();
  const out: [string, unknown][] = [];
  for (const [t, label, value] of all) {
    if (t === type || (type === "number" && t === "integer") || (type === "integer" && t === "number"))
      continue;
    if (seen.has(label)) continue;
    seen.add(label);
    out.push([`${label} where ${type} is expected`, value]);
  }
  return out;
}

/** The mutants of `object` for the schema node at `steps` (the node's value is `value`, present). */
function mutateNode(object: Json, schema: Json, steps: (string | number)[], value: unknown, out: Mutant[]) {
  const push = (how: string, v: unknown) =>
    out.push({ path: pathName(steps), how, object: setAt(object, steps, v) });
  const type = schema.type;
  if (type !== undefined && !schema["x-kubernetes-int-or-string"])
    for (const [how, v] of wrongTypes(type)) push(how, v);
  if (type === "integer" || type === "number") {
    if (typeof schema.minimum === "number") push(`below its minimum ${schema.minimum}`, schema.minimum - 1);
    if (typeof schema.maximum === "number") push(`above its maximum ${schema.maximum}`, schema.maximum + 1);
    if (type === "integer") push("not a whole number", 1.5);
    push("a number beyond any sensible bound", 1e300);
    push("negative", -1);
  }
  if (type === "string") {
    if (Array.isArray(schema.enum)) push("outside its enum", "NotAValue");
    if (typeof schema.maxLength === "number")
      push(`longer than ${schema.maxLength}`, "a".repeat(schema.maxLength + 1));
    else push(`a ${HUGE}-character string`, "a".repeat(HUGE));
    if (typeof schema.pattern === "string") push(`not matching ${schema.pattern}`, "!! not it !!");
    push("empty", "");
  }
  if (type === "array" && Array.isArray(value) && value.length > 0) {
    if (typeof schema.maxItems === "number")
      push(
        `more than ${schema.maxItems} items`,
        Array.from({ length: schema.maxItems + 1 }, () => value[0]),
      );
    push("empty", []);
    if (isObject(schema.items)) mutateNode(object, schema.items, [...steps, 0], value[0], out);
  }
  if (type === "object") {
    if (schema["x-kubernetes-preserve-unknown-fields"] === true) {
      push(`nested ${DEPTH} deep`, { ...(isObject(value) ? value : {}), fuzz: deep(DEPTH) });
    }
    if (isObject(schema.properties)) {
      if (isObject(value)) push("with an unknown field", { ...value, fuzzUnknownField: 1 });
      for (const [key, child] of Object.entries(schema.properties)) {
        const childValue = isObject(value) ? value[key] : undefined;
        if (childValue !== undefined && isObject(child))
          mutateNode(object, child, [...steps, key], childValue, out);
      }
    } else if (isObject(schema.additionalProperties) && isObject(value)) {
      const [key, childValue] = Object.entries(value)[0] ?? [];
      if (key !== undefined)
        mutateNode(object, schema.additionalProperties, [...steps, key], childValue, out);
    }
  }
}

/** Every mutant of `object`'s spec, from its kind's OpenAPI schema. */
export function mutants(object: Json, openAPISchema: Json): Mutant[] {
  const out: Mutant[] = [];
  const spec = (openAPISchema.properties as Json).spec as Json;
  mutateNode(object, spec, ["spec"], object.spec, out);
  return out;
}
