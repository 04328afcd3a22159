// Static provisioning: a fixed number of replicas from the start (a fleet sized by hand, for the peak).
import type { Policy } from "../policy.ts";

export function staticPolicy(replicas: number): Policy {
  return {
    name: `static-${replicas}`,
    family: "static",
    params: { replicas },
    intervalSeconds: 60,
    initialReplicas: () => replicas,
    decide: (view) => ({ replicas: { [view.primaryPool]: replicas } }),
  };
}
