// Moved to hack/lib/ports.ts (the demo and bench use it too; hack/ never imports test/).
export * from "../../hack/lib/ports.ts";
