// The robustness families (operator/src/simulation/families.ts, seed 1) sized as bench/robustness.ts sizes
// them (the capacity per replica at the SLO a fleet of 16 measured there: conv 2,454 tokens/s on L4,
// long-context 38,506 on H100), with the warm fleets that report gives (each trace's first-minute need), for
// the small benches that run inferops alone on them (capacity-probe.ts, node-delay.ts).

import { mixOf } from "../operator/src/simulation/capacity.ts";
import { buildFamilies, type FamilyMember, longContextMix } from "../operator/src/simulation/families.ts";
import { readTrace } from "../operator/src/simulation/trace.ts";
import { h100Scenario, standardScenario, TRACES_DIR } from "./standard.ts";

/** Warm starts of bench/results/robustness.md. */
export const WARM: Readonly<Record<string, number>> = {
  "step-3x": 7,
  "step-5x": 5,
  "step-10x": 4,
  "idle-burst": 1,
  "idle-bursts": 1,
  ramp: 3,
  "bursts-5m": 7,
  "bursts-10m": 7,
  "bursts-20m": 7,
  "long-steady": 13,
  "long-ramp": 3,
  "long-step": 5,
  "wrong-profile-x1.5": 12,
  "wrong-profile-x0.5": 13,
};

/** The named families (all of WARM's by default), at the robustness suite's size. */
export function familiesAtSize(only: readonly string[] = Object.keys(WARM)): FamilyMember[] {
  const convMix = mixOf(readTrace(`${TRACES_DIR}/azure-llm-2023-conv.csv`));
  return buildFamilies(
    {
      conv: { scenario: standardScenario(), mix: convMix, tokensPerReplica: 2454 },
      long: { scenario: h100Scenario(), mix: longContextMix(convMix), tokensPerReplica: 38506 },
    },
    { seed: 1, only },
  );
}
