// InferenceService: one model served by one server runtime, on one or more GPU variants.
import { z } from "zod";
import {
  API_VERSION,
  conditionsSchema,
  DNS_1035_LABEL,
  defaulted,
  dnsLabel,
  namespacedMeta,
  nonNegative,
  positive,
  seconds,
  text,
  withRules,
} from "./common.ts";

export const SERVERS = ["vllm", "sglang", "tgi", "triton", "llamacpp", "custom"] as const;
export type ServerRuntime = (typeof SERVERS)[number];

export const modelSchema = z
  .strictObject({
    name: text(253).min(1).describe("Model identifier, for example meta-llama/Llama-3.1-8B-Instruct."),
    server: z
      .enum(SERVERS)
      .describe(
        "Model server runtime, which decides the metric names read: vllm, sglang, tgi, triton, llamacpp, or custom (then spec.metrics.queries must name the signals).",
      ),
  })
  .describe("The model and the server that runs it.");

export const performanceProfileSchema = z
  .strictObject({
    maxTokensPerSecond: positive()
      .max(1e7)
      .describe(
        "Tokens per second (prompt and generated) one replica sustains at its latency targets. Seeds the capacity model; the operator refines it from observed saturation.",
      ),
    maxConcurrentRequests: z
      .int()
      .min(1)
      .max(100000)
      .optional()
      .describe(
        "Requests one replica runs at once before queueing (the server's max batch / KV-cache limit).",
      ),
  })
  .describe("What one replica of this variant can serve.");

export const acceleratorSchema = z
  .strictObject({
    pool: dnsLabel("spec.accelerators[].pool").describe(
      "Name of the GPUNodePool this variant runs on. Its node labels become the pod's nodeSelector and its taints tolerations.",
    ),
    gpusPerReplica: z
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe("GPUs (nvidia.com/gpu) each replica requests; 1 to 16."),
    profile: performanceProfileSchema.optional(),
  })
  .describe("A GPU variant the service may run on.");
export type Accelerator = z.output<typeof acceleratorSchema>;

/** targets.attainment when unset: the share of requests that should meet the latency objectives. */
export const DEFAULT_ATTAINMENT = 0.99;

const policySchema = z
  .strictObject({
    type: z
      .enum(["Pods", "Percent"])
      .describe("Pods: an absolute number of replicas; Percent: of current replicas."),
    value: z
      .int()
      .min(1)
      .max(10000)
      .describe("Replicas, or percent of current replicas, per period; at least 1."),
    periodSeconds: seconds(1, 1800).describe("Window the policy holds over, 1 to 1800 seconds."),
  })
  .describe("A rate limit on scaling, as in HPA's behavior.");

const scalingRules = (defaults: { window: number; policies: z.input<typeof policySchema>[] }) =>
  defaulted(
    z.strictObject({
      stabilizationWindowSeconds: seconds(0, 3600)
        .default(defaults.window)
        .describe(
          "Recommendations over this window are considered and the most conservative taken (highest for scale-down, lowest for scale-up).",
        ),
      selectPolicy: z
        .enum(["Max", "Min", "Disabled"])
        .default("Max")
        .describe(
          "Which policy wins when several apply: Max (most change), Min (least change), Disabled (never).",
        ),
      policies: z
        .array(policySchema)
        .min(
          1,
          "policies needs at least one policy: to stop scaling in this direction, set selectPolicy: Disabled",
        )
        .max(8)
        .default(defaults.policies)
        .describe(
          "Rate limits; with selectPolicy they bound how fast replicas change. At least one (selectPolicy: Disabled stops scaling in this direction).",
        ),
    }),
  );

export const behaviorSchema = z
  .strictObject({
    tolerance: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe("Relative change in the ratio of load to target below which nothing changes (0.1 = 10%)."),
    scaleUp: scalingRules({
      window: 30,
      policies: [
        { type: "Percent", value: 100, periodSeconds: 15 },
        { type: "Pods", value: 4, periodSeconds: 15 },
      ],
    }).describe(
      "Scale-up behaviour. Default: 30 s stabilization (every evaluation over 30 s must ask for more, so one noisy sample adds no GPUs; panic mode and waking from zero skip it), then double or add 4 replicas per 15 s, whichever is more.",
    ),
    scaleDown: scalingRules({
      window: 300,
      policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
    }).describe(
      "Scale-down behaviour. Default: 300 s stabilization, and the planner holds at least the lead time (capacity given back takes that long to return); then down to the highest recommendation of the window at once (100% per 15 s, as HPA): the rate policy adds no time of its own after the window.",
    ),
  })
  .describe(
    "How fast replicas change, in the shape of HPA's behavior, with defaults suited to GPU services.",
  );

export const scaleToZeroSchema = withRules(
  z
    .strictObject({
      enabled: z.boolean().default(false).describe("Allow the service to scale to zero replicas when idle."),
      idleSeconds: seconds(30, 86400)
        .default(600)
        .describe("How long the service must see no requests before it scales to zero."),
      activationQuery: text(4096)
        .min(1)
        .optional()
        .describe(
          "PromQL for demand that exists while no replica runs (a gateway or router queue, say). A value above zero wakes the service.",
        ),
    })
    .describe("Scale to zero when idle, and wake on a demand signal."),
  [
    {
      cel: "!self.enabled || has(self.activationQuery)",
      check: (s) => !s.enabled || s.activationQuery !== undefined,
      message:
        "scaleToZero.enabled needs scaleToZero.activationQuery: a PromQL query for demand that exists while no replica runs (for example a gateway queue), or the service could never wake",
      field: ".activationQuery",
    },
  ],
);

export const capacityProbeSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Let the operator test replicas above their profile: on a steady, loaded fleet whose latency stays well under its targets, it scales down one step at a time and keeps the capacity the replicas prove. Only for services whose latency rises before they saturate (decode-bound chat); a prefill-bound service (long prompts) can tip into a backlog at a step.",
      ),
  })
  .describe("Learn capacity above the profile by probing (off by default).");

export const targetsSchema = z
  .strictObject({
    queueDepthPerReplica: positive()
      .max(10000)
      .default(4)
      .describe("Waiting requests per replica to aim for; more adds replicas."),
    tokenUtilization: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe("Share of a replica's token capacity (spec.accelerators[].profile) to aim for, in (0, 1]."),
    ttftSeconds: positive()
      .max(600)
      .optional()
      .describe(
        "Time-to-first-token objective in seconds; replicas are added until the predicted TTFT meets it.",
      ),
    itlSeconds: positive()
      .max(10)
      .optional()
      .describe(
        "Inter-token latency objective in seconds, for each request's mean (vLLM's request_time_per_output_token).",
      ),
    attainment: z
      .number()
      .gt(0)
      .lt(1)
      .default(DEFAULT_ATTAINMENT)
      .describe(
        "Share of requests that should meet ttftSeconds and itlSeconds; while fewer do, the operator adds headroom.",
      ),
  })
  .describe("What one replica should carry. The recommendation is the largest the targets ask for.");

export const scalingSchema = withRules(
  z
    .strictObject({
      mode: z
        .enum(["Auto", "Recommend", "Manual"])
        .default("Auto")
        .describe(
          "Auto: the operator sets replicas. Recommend: decisions go to status only and replicas stay at their floor. Manual: spec.replicas (kubectl scale) sets them.",
        ),
      minReplicas: z
        .int()
        .min(0)
        .max(10000)
        .default(1)
        .describe("Fewest replicas across variants; 0 only with scaleToZero.enabled."),
      maxReplicas: z.int().min(1).max(10000).default(10).describe("Most replicas across variants."),
      targets: defaulted(targetsSchema),
      behavior: defaulted(behaviorSchema),
      scaleToZero: scaleToZeroSchema.optional(),
      capacityProbe: capacityProbeSchema.optional(),
      leadTimeSeconds: seconds(0, 7200)
        .optional()
        .describe(
          "Time for new capacity to serve (node provisioning plus model load). Default: the pool's provisioningSeconds plus 60 s.",
        ),
    })
    .describe("Replica bounds, targets and behaviour."),
  [
    {
      cel: "self.minReplicas <= self.maxReplicas",
      check: (s) => s.minReplicas <= s.maxReplicas,
      message: "minReplicas must be less than or equal to maxReplicas",
      field: ".minReplicas",
    },
    {
      cel: "self.minReplicas > 0 || (has(self.scaleToZero) && self.scaleToZero.enabled)",
      check: (s) => s.minReplicas > 0 || s.scaleToZero?.enabled === true,
      message:
        "minReplicas: 0 needs scaleToZero.enabled: true; set minReplicas to 1 or more, or enable scaleToZero",
      field: ".minReplicas",
    },
    {
      cel: "!has(self.scaleToZero) || !self.scaleToZero.enabled || self.minReplicas == 0",
      check: (s) => !s.scaleToZero?.enabled || s.minReplicas === 0,
      message: "scaleToZero.enabled needs minReplicas: 0",
      field: ".scaleToZero",
    },
  ],
);

export const SIGNAL_QUERIES = [
  "queueDepth",
  "runningRequests",
  "promptTokensPerSecond",
  "generationTokensPerSecond",
  "kvCacheUtilization",
  "ttftSeconds",
  "itlSeconds",
  "requestItlSeconds",
  "arrivalRate",
] as const;
export type SignalName = (typeof SIGNAL_QUERIES)[number];

export const metricsSchema = z
  .strictObject({
    source: z
      .enum(["prometheus", "podScrape"])
      .default("prometheus")
      .describe(
        "Where signals come from: the Prometheus HTTP API, or scraping each pod's /metrics directly.",
      ),
    prometheusURL: text(2048)
      .regex(/^https?:\/\//, "prometheusURL must start with http:// or https://")
      .optional()
      .describe("Prometheus base URL for this service; default: the operator's --prometheus-url."),
    port: z.int().min(1).max(65535).default(8000).describe("Container port serving /metrics, for podScrape."),
    path: text(256)
      .regex(/^\//, "path must start with / (as /metrics does)")
      .default("/metrics")
      .describe("HTTP path of the metrics endpoint, for podScrape."),
    queries: z
      .strictObject(
        Object.fromEntries(
          SIGNAL_QUERIES.map((s) => [
            s,
            text(4096)
              .min(1)
              .optional()
              .describe(
                `PromQL returning ${s} for this service (one sample; replaces the server adapter's query).`,
              ),
          ]),
        ) as Record<SignalName, z.ZodOptional<z.ZodString>>,
      )
      .optional()
      .describe("PromQL overrides per signal, for servers or pipelines the adapters do not know."),
  })
  .describe("Where the service's signals come from.");

/**
 * The model server's PodTemplateSpec: metadata and spec kept open (x-kubernetes-preserve-unknown-fields); the
 * API server validates the Deployment we make from them (a field it refuses is named in the Valid condition,
 * reason TemplateRefused). Nothing else is a PodTemplateSpec's: another field beside them is refused.
 */
export const podTemplateSchema = z
  .strictObject({
    metadata: z
      .looseObject({
        labels: z.record(text(317), text(63)).optional().describe("Labels added to the pods."),
        annotations: z.record(z.string(), z.string()).optional().describe("Annotations added to the pods."),
      })
      .optional()
      .describe("Labels and annotations for the pods."),
    spec: z
      .looseObject({
        containers: z
          .array(
            z.looseObject({
              name: dnsLabel("container name").describe("Container name."),
              image: text(1024).min(1).optional().describe("Container image."),
            }),
          )
          .min(1)
          .describe("The pod's containers; the first one runs the model server and gets the GPU request."),
      })
      .describe("Pod spec (corev1.PodSpec)."),
  })
  .describe("Pod template for the model server (corev1.PodTemplateSpec).");

export const serviceSchema = z
  .strictObject({
    headless: z
      .boolean()
      .default(false)
      .describe(
        "Make the Service headless (clusterIP: None): DNS answers the ready pods' addresses and no virtual IP is allocated. For gateways and clients that choose the replica themselves, and for thousands of services (the API server allocates each virtual IP in a time that grows with the Services there are). Changing it replaces the Service.",
      ),
  })
  .describe("The Service inferops makes in front of the service's pods.");

export const inferenceServiceSpecSchema = withRules(
  z
    .strictObject({
      model: modelSchema,
      template: podTemplateSchema,
      accelerators: z
        .array(acceleratorSchema)
        .min(1, "spec.accelerators needs at least one variant: name a GPUNodePool")
        .max(8)
        .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["pool"] })
        .describe("GPU variants the service may run on, in order of preference when cost and fit are equal."),
      scaling: defaulted(scalingSchema),
      metrics: defaulted(metricsSchema),
      service: defaulted(serviceSchema),
      priority: z
        .int()
        .min(0)
        .max(1000)
        .default(500)
        .describe("0 to 1000; under a binding CapacityBudget higher priorities are served first."),
      replicas: z
        .int()
        .min(0)
        .max(10000)
        .optional()
        .describe(
          "Replicas in Manual mode, set by kubectl scale through the scale subresource. Ignored in Auto.",
        ),
    })
    .describe("Desired state of an InferenceService."),
  [
    {
      cel: "self.accelerators.all(a, self.accelerators.exists_one(b, b.pool == a.pool))",
      check: (s) => new Set(s.accelerators.map((a) => a.pool)).size === s.accelerators.length,
      message: "each GPUNodePool may be named once in spec.accelerators; merge the duplicate variants",
      field: ".accelerators",
    },
    {
      cel: "self.model.server != 'custom' || (has(self.metrics.queries) && has(self.metrics.queries.queueDepth))",
      check: (s) => s.model.server !== "custom" || s.metrics.queries?.queueDepth !== undefined,
      message:
        "model.server custom has no metric adapter: set spec.metrics.queries.queueDepth to a PromQL query for waiting requests",
      field: ".metrics",
    },
    {
      cel: "!has(self.replicas) || self.scaling.mode != 'Manual' || (self.replicas >= self.scaling.minReplicas && self.replicas <= self.scaling.maxReplicas)",
      check: (s) =>
        s.replicas === undefined ||
        s.scaling.mode !== "Manual" ||
        (s.replicas >= s.scaling.minReplicas && s.replicas <= s.scaling.maxReplicas),
      message: "replicas must lie within scaling.minReplicas and scaling.maxReplicas",
      field: ".replicas",
    },
    {
      cel: "self.metrics.source != 'podScrape' || !has(self.scaling.scaleToZero) || !has(self.scaling.scaleToZero.activationQuery)",
      check: (s) => s.metrics.source !== "podScrape" || s.scaling.scaleToZero?.activationQuery === undefined,
      message:
        "scaling.scaleToZero.activationQuery is PromQL and needs metrics.source prometheus: the podScrape source reads only the service's pods, and while none runs the service could never wake",
      field: ".scaling.scaleToZero.activationQuery",
    },
  ],
);
export type InferenceServiceSpec = z.output<typeof inferenceServiceSpecSchema>;

const signalsStatus = z
  .strictObject({
    queueDepth: nonNegative().optional().describe("Waiting requests across replicas."),
    queuedReplicas: z
      .int()
      .min(0)
      .optional()
      .describe("Replicas whose queue holds waiting requests: only they hold the backlog."),
    runningRequests: nonNegative().optional().describe("Requests being served across replicas."),
    tokensPerSecond: nonNegative().optional().describe("Prompt plus generated tokens per second."),
    arrivalRate: nonNegative()
      .optional()
      .describe(
        "Requests per second by the servers' request counter: arrivals for TGI and custom queries, completions for vLLM, SGLang and Triton (the planner corrects those by the change of the requests in the servers: growth added, a draining backlog taken off; docs/tuning.md, Queue view).",
      ),
    kvCacheUtilization: nonNegative().optional().describe("Mean KV-cache usage across replicas, 0 to 1."),
    ttftSeconds: nonNegative().optional().describe("Time to first token, p95, seconds."),
    itlSeconds: nonNegative().optional().describe("Inter-token latency, p95, seconds."),
    requestItlSeconds: nonNegative()
      .optional()
      .describe("Per-request mean inter-token latency, p95, seconds."),
    observedAt: text(64).optional().describe("When the signals were read (RFC 3339)."),
  })
  .describe("The signals behind the last decision.");

export const variantStatusSchema = z.strictObject({
  pool: text(63).describe("GPUNodePool of this variant."),
  replicas: z.int().min(0).describe("Replicas the variant's Deployment has."),
  readyReplicas: z.int().min(0).describe("Replicas ready to serve."),
  desiredReplicas: z.int().min(0).describe("Replicas the operator wants."),
});

export const inferenceServiceStatusSchema = z
  .strictObject({
    observedGeneration: z.int().min(0).optional().describe("metadata.generation this status reflects."),
    replicas: z
      .int()
      .min(0)
      .optional()
      .describe("Replicas across variants (the scale subresource's status)."),
    readyReplicas: z.int().min(0).optional().describe("Ready replicas across variants."),
    desiredReplicas: z.int().min(0).optional().describe("Replicas the operator wants across variants."),
    selector: text(1024)
      .optional()
      .describe("Label selector of the service's pods, for the scale subresource."),
    variants: z
      .array(variantStatusSchema)
      .max(8)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["pool"] })
      .describe("Replicas per variant."),
    signals: signalsStatus.optional(),
    lastDecision: z
      .strictObject({
        time: text(64).describe("When it was decided (RFC 3339)."),
        replicas: z.int().min(0).describe("Replicas decided."),
        reason: text(256).describe("CamelCase reason: which signal or limit decided."),
        message: text(4096).describe("Detail."),
      })
      .optional()
      .describe("The last scaling decision and why."),
    recommendation: z
      .strictObject({
        replicas: z
          .int()
          .min(0)
          .describe("Replicas the decision engine would run, after bounds and budgets."),
        reason: text(256).describe("CamelCase reason: which signal or limit decided."),
        message: text(4096).describe("Detail."),
      })
      .optional()
      .describe("Mode Recommend: what the decision engine would run, and why; nothing is scaled to it."),
    learned: z
      .strictObject({
        capacityScale: z
          .number()
          .min(0.25)
          .max(4)
          .optional()
          .describe(
            "Capacity over the profiles' maxTokensPerSecond that the planner learned: below 1, measured at saturation (the replicas serve less than the profiles say); above 1, what the replicas served with every latency objective met (or a capacity probe measured).",
          ),
        sloHeadroom: z
          .number()
          .min(1)
          .max(100)
          .optional()
          .describe(
            "Headroom the planner keeps for the latency objectives after misses (above 1: more replicas).",
          ),
        observedAt: text(64).describe(
          "When they were written (RFC 3339): they relax back towards the profiles from then, and are written again only when learning moves one the other way by 0.05.",
        ),
      })
      .optional()
      .describe(
        "What the planner learned about the replicas' capacity, kept here so that a new leader (after a failover or a restart) starts from it instead of the profiles alone. Absent while the profiles hold.",
      ),
    costPerHour: nonNegative().optional().describe("Dollars per hour of the GPUs the service holds."),
    powerWatts: nonNegative()
      .optional()
      .describe(
        "Power of the service's GPUs, watts: each pool's busyWattsPerGPU per GPU, or its measured watts per GPU in use while spec.power.measured reads fresh (what budgets count).",
      ),
    conditions: conditionsSchema.optional(),
  })
  .describe("Observed state of an InferenceService.");
export type InferenceServiceStatus = z.output<typeof inferenceServiceStatusSchema>;

export const inferenceServiceSchema = withRules(
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal("InferenceService"),
    metadata: namespacedMeta,
    spec: inferenceServiceSpecSchema,
    status: inferenceServiceStatusSchema.optional(),
  }),
  [
    {
      cel: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63",
      check: (s) => DNS_1035_LABEL.test(s.metadata.name) && s.metadata.name.length <= 63,
      message:
        "metadata.name must start with a letter, hold only lower-case letters, digits and '-', and be at most 63 characters: it names the Service and labels the pods",
      field: ".metadata.name",
    },
  ],
);
export type InferenceService = z.output<typeof inferenceServiceSchema>;
