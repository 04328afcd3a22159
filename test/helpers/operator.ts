// Moved to hack/lib/operator.ts (the demo and bench use it too; hack/ never imports test/).
export * from "../../hack/lib/operator.ts";
