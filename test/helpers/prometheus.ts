// Moved to hack/lib/prometheus.ts (the demo and bench use it too; hack/ never imports test/).
export * from "../../hack/lib/prometheus.ts";
