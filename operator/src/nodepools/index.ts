// The node providers, one per GPUNodePool provider.type, each behind the checks every provider shares.
import type { ProviderType } from "../apis/gpunodepool.ts";
import type { KubeApi } from "../kube/client.ts";
import { ClusterAPIProvider } from "./clusterapi.ts";
import { KarpenterProvider } from "./karpenter.ts";
import { KwokProvider } from "./kwok.ts";
import { kubeOccupant, type NodeProvider, nodeProvider } from "./provider.ts";
import { StaticProvider } from "./static.ts";

export * from "./provider.ts";

export interface ProvidersDeps {
  client: KubeApi;
  now?: () => number;
  /** How long a plan may be acted on after it was made (default PLAN_TTL_MS). */
  planTtlMs?: number;
}

export function nodeProviders(deps: ProvidersDeps): Record<ProviderType, NodeProvider> {
  const now = deps.now ?? Date.now;
  const shared = { now, occupant: kubeOccupant(deps.client), planTtlMs: deps.planTtlMs };
  const client = deps.client;
  return {
    kwok: nodeProvider(new KwokProvider({ client, now }), shared),
    clusterAPI: nodeProvider(new ClusterAPIProvider({ client, now }), shared),
    karpenter: nodeProvider(new KarpenterProvider({ client, now }), shared),
    static: nodeProvider(new StaticProvider({ client }), shared),
  };
}
