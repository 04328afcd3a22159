// node bench/node-delay.ts [--delays 0,300,600,1200]
//
// What a GPUNodePool's scaleDownDelaySeconds costs and buys (planning/nodes.ts: a node goes once no target
// of the last delay wanted it): inferops with default settings on every robustness family at the suite's
// size and warm starts (families-at-size.ts), its pools' delay set to each value in turn (600 s is the
// default). Prints a markdown table of SLO attainment @ GPU-hours.

import { parseArgs } from "node:util";
import { inferopsPolicy } from "../operator/src/simulation/policies/inferops.ts";
import type { Scenario } from "../operator/src/simulation/scenario.ts";
import { simulate } from "../operator/src/simulation/simulate.ts";
import { pct, provenance, table } from "./day-slice.ts";
import { familiesAtSize, WARM } from "./families-at-size.ts";

const { values } = parseArgs({ options: { delays: { type: "string", default: "0,300,600,1200" } } });
const delays = values.delays.split(",").map(Number);
if (delays.some((d) => !Number.isInteger(d) || d < 0))
  throw new RangeError(`--delays: whole seconds >= 0, comma-separated (got ${values.delays})`);

function withDelay(scenario: Scenario, seconds: number): Scenario {
  return {
    ...scenario,
    pools: scenario.pools.map((p) => ({ ...p, spec: { ...p.spec, scaleDownDelaySeconds: seconds } })),
  };
}

const started = performance.now();
const rows: string[][] = [];
for (const f of familiesAtSize()) {
  const row = [f.name];
  for (const d of delays) {
    const scenario = withDelay(f.scenario, d);
    const r = await simulate(f.trace, scenario, inferopsPolicy(scenario), {
      warmReplicas: WARM[f.name] ?? 1,
    });
    row.push(`${pct(r.sloAttainment)} @ ${r.gpuHours.toFixed(2)}`);
  }
  rows.push(row);
}
const p = provenance();
console.log(
  `Measured on ${p.machine}, commit ${p.commit}, ${p.date}: ${Math.round((performance.now() - started) / 1000)} s.\n`,
);
console.log(table(["trace", ...delays.map((d) => `scaleDownDelaySeconds ${d}: SLO met @ GPU-h`)], rows));
