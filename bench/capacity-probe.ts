// node bench/capacity-probe.ts
//
// What spec.scaling.capacityProbe does (planning/probe.ts), and why it is off by default: inferops with
// default settings and with the probe enabled, on robustness families (operator/src/simulation/families.ts,
// seed 1) whose profile is right, half the truth and 1.5x it, and on the long-context family whose servers
// are prefill-bound. The families are sized as bench/robustness.ts sizes them (the capacity per replica at
// the SLO a fleet of 16 measured there: conv 2,454 tokens/s on L4, long-context 38,506 on H100) and start
// from the warm fleets that report gives. Prints a markdown table.

import { mixOf } from "../operator/src/simulation/capacity.ts";
import { buildFamilies, longContextMix } from "../operator/src/simulation/families.ts";
import { inferopsPolicy } from "../operator/src/simulation/policies/inferops.ts";
import type { Scenario } from "../operator/src/simulation/scenario.ts";
import { simulate } from "../operator/src/simulation/simulate.ts";
import { readTrace } from "../operator/src/simulation/trace.ts";
import { provenance, table } from "./day-slice.ts";
import { h100Scenario, standardScenario, TRACES_DIR } from "./standard.ts";

/** Warm starts of bench/results/robustness.md (each trace's first-minute need). */
const WARM: Record<string, number> = {
  "wrong-profile-x0.5": 13,
  "wrong-profile-x1.5": 12,
  "step-3x": 7,
  "bursts-10m": 7,
  "long-steady": 13,
  "long-step": 5,
};

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
const convMix = mixOf(readTrace(`${TRACES_DIR}/azure-llm-2023-conv.csv`));
const families = buildFamilies(
  {
    conv: { scenario: standardScenario(), mix: convMix, tokensPerReplica: 2454 },
    long: { scenario: h100Scenario(), mix: longContextMix(convMix), tokensPerReplica: 38506 },
  },
  { seed: 1, only: Object.keys(WARM) },
);
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
