// The decision engine's public surface: plan() and the Snapshot/Plan contract. The pieces (recommend,
// behavior, forecast, queueing, allocate, budgets) are exported from their own files for the simulator's
// baselines and for tests.
export { leadTimeSeconds, plan, signalHealth } from "./plan.ts";
export type * from "./types.ts";
