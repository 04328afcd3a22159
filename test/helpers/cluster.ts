// Moved to hack/lib/cluster.ts (the demo and bench use it too; hack/ never imports test/).
export * from "../../hack/lib/cluster.ts";
