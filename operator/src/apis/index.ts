export * from "./capacitybudget.ts";
export * from "./common.ts";
export * from "./conditions.ts";
export * from "./gpunodepool.ts";
export * from "./inferenceservice.ts";
export * from "./kinds.ts";
export * from "./validate.ts";
