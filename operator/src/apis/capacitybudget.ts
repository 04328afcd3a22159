// CapacityBudget: cluster-wide limits on dollars per hour, watts and GPUs, shared by priority.
import { z } from "zod";
import {
  API_VERSION,
  clusterMeta,
  conditionsSchema,
  defaulted,
  labelSelectorSchema,
  nonNegative,
  text,
  withRules,
} from "./common.ts";

export const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;
export type Day = (typeof DAYS)[number];

const gpuLimitSchema = z.strictObject({
  type: text(63).min(1).describe("GPU type, as in GPUNodePool spec.gpu.type."),
  max: z.int().min(0).max(100000).describe("Most GPUs of this type the replicas in scope may request."),
});

export const limitsSchema = withRules(
  z
    .strictObject({
      costPerHour: nonNegative()
        .max(1e7)
        .optional()
        .describe(
          "Most dollars per hour for the GPUs the replicas in scope request: each replica counts its GPUs x its pool's costPerNodeHour / gpu.count. GPUs no replica requests (on nodes kept by minNodes or scaleDownDelaySeconds, or left over by packing) do not count.",
        ),
      powerWatts: nonNegative()
        .max(1e9)
        .optional()
        .describe(
          "Most watts for the GPUs the replicas in scope request: each replica counts its GPUs x its pool's busyWattsPerGPU, or its pool's measured watts per GPU in use where the pool sets power.measured and the measurement is fresh. The idle draw of GPUs no replica requests does not count.",
        ),
      gpus: z
        .array(gpuLimitSchema)
        .max(32)
        .optional()
        .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
        .describe("Most GPUs per GPU type that the replicas in scope request."),
    })
    .describe(
      "Limits on what the replicas in scope request (their GPUs' share of node cost, their GPUs' watts, their GPUs); each one set is a hard cap on the planned replicas.",
    ),
  [
    {
      cel: "has(self.costPerHour) || has(self.powerWatts) || (has(self.gpus) && size(self.gpus) > 0)",
      check: (l) => l.costPerHour !== undefined || l.powerWatts !== undefined || (l.gpus?.length ?? 0) > 0,
      message: "limits needs at least one of costPerHour, powerWatts or gpus",
    },
    {
      cel: "!has(self.gpus) || self.gpus.all(a, self.gpus.exists_one(b, b.type == a.type))",
      check: (l) => new Set((l.gpus ?? []).map((g) => g.type)).size === (l.gpus ?? []).length,
      message: "each GPU type may be listed once in gpus",
      field: ".gpus",
    },
  ],
);
export type Limits = z.output<typeof limitsSchema>;

const CLOCK = /^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/;

export const windowSchema = withRules(
  z
    .strictObject({
      name: text(63).min(1).describe("Name of the window, for status and events (peak, night...)."),
      start: text(5)
        .regex(CLOCK, "start must be a time HH:MM, 00:00 to 23:59")
        .describe("Start, HH:MM, inclusive."),
      end: text(5)
        .regex(CLOCK, "end must be a time HH:MM, 00:01 to 24:00")
        .describe(
          "End, HH:MM, exclusive; 24:00 for midnight. A window does not cross midnight: split it in two.",
        ),
      days: z
        .array(z.enum(DAYS))
        .min(1)
        .max(7)
        .default([...DAYS])
        .meta({ "x-kubernetes-list-type": "set" })
        .describe("Days the window applies on (Mon..Sun); default every day."),
      limits: limitsSchema,
    })
    .describe("Tighter limits during part of the day, in spec.timeZone."),
  [
    {
      cel: "self.start < self.end",
      check: (w) => w.start < w.end,
      message: "window start must be before end; a window that crosses midnight is two windows",
      field: ".end",
    },
  ],
);
export type BudgetWindow = z.output<typeof windowSchema>;

function windowsOverlap(a: BudgetWindow, b: BudgetWindow): boolean {
  return a.start < b.end && b.start < a.end && a.days.some((d) => b.days.includes(d));
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const capacityBudgetSpecSchema = withRules(
  z
    .strictObject({
      scope: defaulted(
        z.strictObject({
          namespaceSelector: labelSelectorSchema
            .optional()
            .describe("Namespaces whose InferenceServices the budget covers; omitted: all namespaces."),
        }),
      ).describe("Which InferenceServices the budget covers."),
      limits: limitsSchema,
      timeZone: withRules(text(64).min(1), [
        {
          // The API server loads the zone (Go's time zone database) as the operator does (ICU): a zone it
          // cannot load fails the rule. Go also takes "Local" (the server's own zone), which ICU does not.
          cel: "self != 'Local' && timestamp('2000-01-01T00:00:00Z').getHours(self) >= 0",
          check: isTimeZone,
          message: "timeZone must be an IANA time zone such as UTC or Europe/Paris",
        },
      ])
        .default("UTC")
        .describe("IANA time zone the windows are read in."),
      windows: z
        .array(windowSchema)
        .max(16)
        .optional()
        .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
        .describe(
          "Windows with tighter limits (a lower power cap at peak hours, say). Within a window, each of its limits replaces the base one.",
        ),
    })
    .describe("Desired state of a CapacityBudget."),
  [
    {
      cel: "!has(self.windows) || self.windows.all(a, self.windows.exists_one(b, b.name == a.name))",
      check: (s) => new Set((s.windows ?? []).map((w) => w.name)).size === (s.windows ?? []).length,
      message: "each window name may be used once in windows",
      field: ".windows",
    },
    {
      cel: "!has(self.windows) || self.windows.all(a, self.windows.all(b, a.name == b.name || a.end <= b.start || b.end <= a.start || !a.days.exists(d, d in b.days)))",
      check: (s) =>
        (s.windows ?? []).every((a) =>
          (s.windows ?? []).every((b) => a.name === b.name || !windowsOverlap(a, b)),
        ),
      message: "budget windows must not overlap: two windows share a day and a time; move or split one",
      field: ".windows",
    },
  ],
);
export type CapacityBudgetSpec = z.output<typeof capacityBudgetSpecSchema>;

const gpuCountSchema = z.strictObject({
  type: text(63).min(1).describe("GPU type, as in GPUNodePool spec.gpu.type."),
  count: z.int().min(0).describe("GPUs of this type."),
});

const limitsStatusSchema = z
  .strictObject({
    costPerHour: nonNegative().optional().describe("Most dollars per hour."),
    powerWatts: nonNegative().optional().describe("Most watts."),
    gpus: z
      .array(gpuLimitSchema)
      .max(32)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
      .describe("Most GPUs per type."),
  })
  .describe("The limits in force now: the base limits, or the active window's where it sets one.");

/** How a budget counted watts: every pool it counts nominal, all measured by one exporter, or a mix. */
export const POWER_SOURCES = ["Nominal", "DCGM", "Kepler", "Mixed"] as const;

export const capacityBudgetStatusSchema = z
  .strictObject({
    observedGeneration: z.int().min(0).optional().describe("metadata.generation this status reflects."),
    activeWindow: text(63).optional().describe("Name of the window in force, if any."),
    limits: limitsStatusSchema.optional(),
    used: z
      .strictObject({
        costPerHour: nonNegative()
          .optional()
          .describe("Dollars per hour of the GPUs the counted replicas request: their share of node cost."),
        powerWatts: nonNegative()
          .optional()
          .describe("Watts of the GPUs the counted replicas request, counted as powerSource says."),
        gpus: z
          .array(gpuCountSchema)
          .max(32)
          .optional()
          .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
          .describe("GPUs the counted replicas request, per type."),
      })
      .optional()
      .describe("What the planned replicas in scope use, against status.limits."),
    powerSource: z
      .enum(POWER_SOURCES)
      .optional()
      .describe(
        "How used.powerWatts was counted, over the pools the counted replicas run on. Nominal: the pool's busyWattsPerGPU for every GPU a planned replica requests. DCGM or Kepler: the pool's measured watts per GPU in use (its measured draw less idle watts of its free GPUs, shared by the GPUs pods request) for every such GPU. Mixed: pools differ. A pool whose measurement is stale or missing counts nominal, never zero; condition PowerMeasured names it.",
      ),
    services: z
      .array(
        z.strictObject({
          namespace: text(63).describe("Namespace of the InferenceService."),
          name: text(253).describe("Name of the InferenceService."),
          mode: text(16).describe("Its scaling mode: Auto, Recommend or Manual."),
          priority: z.int().min(0).max(1000).describe("Its priority."),
          replicas: z
            .int()
            .min(0)
            .describe(
              "Replicas the budget counts: the planned ones (Auto, Manual), or those running (Recommend, which nobody scales).",
            ),
        }),
      )
      .max(1000)
      .optional()
      .describe("The InferenceServices in scope and the replicas each counts, highest priority first."),
    heldBack: z
      .array(
        z.strictObject({
          namespace: text(63).describe("Namespace of the InferenceService."),
          name: text(253).describe("Name of the InferenceService."),
          replicas: z.int().min(0).describe("Replicas wanted but not granted."),
          limit: text(64).describe("Which limit held it back: costPerHour, powerWatts or gpus/<type>."),
        }),
      )
      .max(1000)
      .optional()
      .describe("Services that want more than the budget grants, and by how much."),
    conditions: conditionsSchema.optional(),
  })
  .describe("Observed state of a CapacityBudget.");
export type CapacityBudgetStatus = z.output<typeof capacityBudgetStatusSchema>;

export const capacityBudgetSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("CapacityBudget"),
  metadata: clusterMeta,
  spec: capacityBudgetSpecSchema,
  status: capacityBudgetStatusSchema.optional(),
});
export type CapacityBudget = z.output<typeof capacityBudgetSchema>;
