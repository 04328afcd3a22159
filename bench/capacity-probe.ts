// node bench/capacity-probe.ts
//
// What spec.scaling.capacityProbe does (planning/probe.ts), and why it is off by default: inferops with
// default settings and with the probe enabled, on robustness families (operator/src/simulation/families.ts,
// seed 1) whose profile is right, half the truth and 1.5x it, and on the long-context family whose servers
// are prefill-bound, at the robustness suite's size and warm starts (families-at-size.ts). Prints a markdown
// table.

import { inferopsPolicy } from "../operator/src/simulation/policies/inferops.ts";
import type { Scenario } from "../operator/src/simulation/scenario.ts";
import { simulate } from "../operator/src/simulation/simulate.ts";
import { provenance, table } from "./day-slice.ts";
import { familiesAtSize, WARM } from "./families-at-size.ts";

const TRACES = [
  "wrong-profile-x0.5",
  "wrong-profile-x1.5",
  "step-3x",
  "bursts-10m",
  "long-steady",
  "long-step",
];

function withProbe(scenario: Scenario): Scenario {
  const spec = scenario.service.spec;
  return {
    ...scenario,
    service: {
      ...scenario.service,
      spec: { ...spec, scaling: { ...spec.scaling, capacityProbe: { enabled: true } } },
    },
  };
}

const started = performance.now();
const families = familiesAtSize(TRACES);
const rows: string[][] = [];
for (const f of families) {
  const warmReplicas = WARM[f.name] ?? 1;
  const off = await simulate(f.trace, f.scenario, inferopsPolicy(f.scenario), { warmReplicas });
  const probed = withProbe(f.scenario);
  const on = await simulate(f.trace, probed, inferopsPolicy(probed), { warmReplicas });
  const cell = (r: typeof off) => `${(r.sloAttainment * 100).toFixed(2)}% @ ${r.gpuHours.toFixed(2)}`;
  rows.push([f.name, String(warmReplicas), cell(off), cell(on)]);
}
const p = provenance();
console.log(
  `Measured on ${p.machine}, commit ${p.commit}, ${p.date}: ${Math.round((performance.now() - started) / 1000)} s.\n`,
);
console.log(
  table(["trace", "warm start", "defaults: SLO met @ GPU-h", "capacityProbe.enabled: SLO met @ GPU-h"], rows),
);
