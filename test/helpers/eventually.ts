// Moved to hack/lib/eventually.ts (the demo and bench use it too; hack/ never imports test/).
export * from "../../hack/lib/eventually.ts";
