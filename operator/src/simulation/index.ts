// The fleet simulator: replays a request trace through a simulated GPU fleet in virtual time under a scaling
// policy (inferops' plan(), or a baseline), and scores the run. Used by `npm run bench` and
// `inferops simulate`; see docs/simulator.md.
export { type Bound, clairvoyantBound, instantBound } from "./bounds.ts";
export {
  type CapacityCurve,
  type CapacityPoint,
  measureCapacity,
  measurePoint,
  mixOf,
  replicasFor,
  tokensPerReplica,
  windowNeeds,
} from "./capacity.ts";
export { ConfigError, isConfigError, loadConfig, scenarioFromConfig } from "./config.ts";
export { Fleet, type FleetOverrides, type PodDeletion } from "./fleet.ts";
export { inlineRunner, type Job, type JobRunner, runJob, workerRunner } from "./jobs.ts";
export { createPolicy, type PolicySpec } from "./policies/index.ts";
export type { Decision, Family, FleetView, Params, Policy } from "./policy.ts";
export { FAMILIES } from "./policy.ts";
export {
  ATTRIBUTION,
  checkTargets,
  markdownReport,
  paretoSpec,
  renderSvg,
  replicasSpec,
  writePlots,
} from "./report.ts";
export {
  formatTraceResult,
  type PolicyResult,
  policyResultSchema,
  type TraceResult,
  traceResultSchema,
} from "./results.ts";
export {
  contextTokensOf,
  DEFAULT_SLO,
  primaryPool,
  profileFor,
  replicaLimit,
  type Scenario,
  ScenarioError,
  type Slo,
} from "./scenario.ts";
export { PodScraper, readingOf } from "./signals.ts";
export { type RunOptions, type RunResult, simulate, type TimelinePoint } from "./simulate.ts";
export {
  measureCurve,
  prepareSuite,
  prepareSuiteOn,
  runPrepared,
  runSuites,
  type SuiteInput,
  type SuiteOutput,
} from "./suite.ts";
export { bestAttaining, cheapestReaching, paretoFrontier } from "./sweep.ts";
export {
  buildTrace,
  diurnalDay,
  diurnalMultiplier,
  readTrace,
  superpose,
  type Trace,
  TraceError,
  type TraceRecipe,
  windowLoad,
} from "./trace.ts";
export { warningLines } from "./warnings.ts";
