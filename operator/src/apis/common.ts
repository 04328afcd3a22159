// Building blocks shared by the three kinds. Every schema here is the single source of truth for the
// TypeScript type, the runtime validation and (through crd.ts) the CRD's OpenAPI schema and CEL rules.
import { z } from "zod";

export const GROUP = "inferops.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A cross-field rule, written once for both layers: `check` runs in zod, `cel` runs in the API server. */
export interface Rule<T> {
  /** CEL expression over `self`, for `x-kubernetes-validations`. */
  cel: string;
  /** Same predicate in TypeScript, evaluated on the parsed (defaulted) value. */
  check: (self: T) => boolean;
  /** What is wrong and how to fix it; identical in both layers. */
  message: string;
  /** Field the error points at, relative to the object the rule is on (`.minReplicas`, `.windows`). */
  field?: string;
}

/** Attaches rules to an object schema: as a zod refinement and as CEL `x-kubernetes-validations`. */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (!rule.check(value)) {
        ctx.addIssue({
          code: "custom",
          message: rule.message,
          path: rule.field ? rule.field.slice(1).split(".") : [],
        });
      }
    }
  });
  return refined.meta({
    "x-kubernetes-validations": rules.map((r) => ({
      rule: r.cel,
      message: r.message,
      // The CRD declares no properties under metadata, so a fieldPath there would be refused.
      ...(r.field && !r.field.startsWith(".metadata.") ? { fieldPath: r.field } : {}),
    })),
  }) as S;
}

/**
 * An optional object whose default is its own fully defaulted value. The CRD then carries the whole
 * default (the API server checks CEL rules against a default as written, so `{}` would fail them), and zod
 * fills in the same values.
 */
export function defaulted<S extends z.ZodType>(schema: S) {
  return schema.default(schema.parse({}) as never);
}

/** RFC 1123 label: what Kubernetes accepts as a label value, a Service or Deployment name segment. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1035 label: a Service name must start with a letter. */
export const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export const dnsLabel = (what: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(
      DNS_LABEL,
      `${what} must be a DNS label: lower-case letters, digits and '-', at most 63 characters`,
    );

/** A string with a bounded length, as every CRD string needs for CEL cost estimation. */
export const text = (max: number) => z.string().max(max);

/** A non-negative finite number (dollars, watts, tokens per second). */
export const nonNegative = () => z.number().min(0);
export const positive = () => z.number().gt(0);
export const seconds = (min: number, max: number) => z.int().min(min).max(max);

// Kubernetes' qualified names (label and taint keys) and label values, as apimachinery validates them:
// an optional DNS-subdomain prefix of at most 253 characters and '/', then a name of at most 63 characters
// (alphanumerics, '-', '_', '.', starting and ending alphanumeric); a value is empty or such a name. The
// same expressions run in zod (JavaScript) and in CEL (RE2): `[.]` instead of an escaped dot.
const DNS_SUBDOMAIN_LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";
const QUALIFIED_NAME = "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?";
const LABEL_KEY_RE = `^(${DNS_SUBDOMAIN_LABEL}([.]${DNS_SUBDOMAIN_LABEL})*/)?${QUALIFIED_NAME}$`;
const LABEL_VALUE_RE = `^(${QUALIFIED_NAME})?$`;
const LABEL_KEY_RULE =
  "a label key is an optional DNS-subdomain prefix of at most 253 characters and '/', then a name of at most 63 characters: letters, digits, '-', '_' and '.', starting and ending with a letter or digit (nvidia.com/gpu.product)";
const LABEL_VALUE_RULE =
  "a label value is empty or at most 63 characters: letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

/** Whether a string is a Kubernetes label key (also what a taint key must be). */
export function isLabelKey(k: string): boolean {
  return new RegExp(LABEL_KEY_RE).test(k) && (!k.includes("/") || k.indexOf("/") <= 253);
}
export const isLabelValue = (v: string): boolean => new RegExp(LABEL_VALUE_RE).test(v);
const celLabelKey = (k: string) =>
  `${k}.matches('${LABEL_KEY_RE}') && (!${k}.contains('/') || ${k}.indexOf('/') <= 253)`;

/** Kubernetes labels, keys and values checked as the API server checks them on Nodes and pods. */
export const labelMap = withRules(
  z
    .record(text(317), text(63))
    .meta({ maxProperties: 64 })
    .refine((m) => Object.keys(m).length <= 64, "at most 64 labels"),
  [
    {
      cel: `self.all(k, ${celLabelKey("k")})`,
      check: (m) => Object.keys(m).every(isLabelKey),
      message: `every key must be a Kubernetes label key: ${LABEL_KEY_RULE}`,
    },
    {
      cel: `self.all(k, self[k].matches('${LABEL_VALUE_RE}'))`,
      check: (m) => Object.values(m).every(isLabelValue),
      message: `every value must be a Kubernetes label value: ${LABEL_VALUE_RULE}`,
    },
  ],
).describe("Kubernetes labels: keys are at most 317 characters (prefix/name), values at most 63.");

export const taintSchema = withRules(
  z.strictObject({
    key: text(317).min(1).describe("Taint key, for example nvidia.com/gpu."),
    value: text(63).optional().describe("Taint value."),
    effect: z
      .enum(["NoSchedule", "PreferNoSchedule", "NoExecute"])
      .describe("Taint effect: NoSchedule, PreferNoSchedule or NoExecute."),
  }),
  [
    {
      cel: celLabelKey("self.key"),
      check: (t) => isLabelKey(t.key),
      message: `a taint key must be a Kubernetes label key: ${LABEL_KEY_RULE}`,
      field: ".key",
    },
    {
      cel: `!has(self.value) || self.value.matches('${LABEL_VALUE_RE}')`,
      check: (t) => t.value === undefined || isLabelValue(t.value),
      message: `a taint value must be a Kubernetes label value: ${LABEL_VALUE_RULE}`,
      field: ".value",
    },
  ],
).describe("A taint the pool's nodes carry; replicas placed on the pool get a matching toleration.");
export type Taint = z.output<typeof taintSchema>;

const labelSelectorRequirement = z.strictObject({
  key: text(317).min(1).describe("Label key the selector applies to."),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).describe("In, NotIn, Exists or DoesNotExist."),
  values: z.array(text(63)).max(64).optional().describe("Values for In and NotIn; empty for Exists."),
});

export const labelSelectorSchema = z
  .strictObject({
    matchLabels: z.record(text(317), text(63)).optional().describe("Labels that must all match."),
    matchExpressions: z
      .array(labelSelectorRequirement)
      .max(16)
      .optional()
      .describe("Set-based requirements that must all match."),
  })
  .describe("A Kubernetes label selector. An empty selector matches everything.");
export type LabelSelector = z.output<typeof labelSelectorSchema>;

/** Whether labels match a label selector, with Kubernetes' semantics (an empty selector matches all). */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((e) => {
    const has = e.key in labels;
    const v = labels[e.key];
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(v!);
      case "NotIn":
        return !has || !(e.values ?? []).includes(v!);
      case "Exists":
        return has;
      default:
        return !has;
    }
  });
}

/** metav1.Condition, as the operator writes it. */
export const conditionSchema = z.object({
  type: text(316).describe("Condition type, CamelCase (Ready, Progressing, MetricsAvailable...)."),
  status: z.enum(["True", "False", "Unknown"]).describe("True, False or Unknown."),
  observedGeneration: z
    .int()
    .min(0)
    .optional()
    .describe("metadata.generation the condition was computed for."),
  lastTransitionTime: text(64).describe("When status last changed (RFC 3339)."),
  reason: text(1024).describe("CamelCase reason from the operator's catalog."),
  message: text(32768).describe("Human-readable detail."),
});
export type Condition = z.output<typeof conditionSchema>;

export const conditionsSchema = z
  .array(conditionSchema)
  .max(32)
  .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
  .describe("Current state as conditions, one per type; Ready summarises the others.");

const metaFields = {
  name: text(253).min(1).describe("Object name."),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  generation: z.int().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
};

/** The object envelope: what the operator reads of metadata; everything else passes through. */
export const namespacedMeta = z.looseObject({
  ...metaFields,
  namespace: text(63).optional().describe("Namespace."),
});
export const clusterMeta = z.looseObject(metaFields);
