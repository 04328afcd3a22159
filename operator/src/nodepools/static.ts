// static: nodes nobody scales. The pool's nodes are the Nodes that carry its nodeLabels; the provider reports
// them and answers Unsupported when asked for a different number, so the planner learns the pool is fixed.

import { poolNodeLabels } from "../apis/labels.ts";
import type { KubeApi } from "../kube/client.ts";
import {
  type Driver,
  listNodes,
  liveNodes,
  type Pool,
  type PoolNode,
  ProviderError,
  poolNodeOf,
  selectorOf,
} from "./provider.ts";

export class StaticProvider implements Driver {
  readonly type = "static" as const;
  readonly #client: KubeApi;

  constructor(deps: { client: KubeApi }) {
    this.#client = deps.client;
  }

  async observe(pool: Pool): Promise<PoolNode[]> {
    const nodes = await listNodes(this.#client, pool, selectorOf(poolNodeLabels(pool)));
    return nodes.map((n) => poolNodeOf(n, pool));
  }

  async resize(pool: Pool, target: number, remove: readonly PoolNode[], nodes: readonly PoolNode[]) {
    const live = liveNodes(nodes).length;
    if (target !== live || remove.length > 0)
      throw new ProviderError(
        "Unsupported",
        `pool ${pool.metadata.name} is static: it has ${live} node(s) and cannot be scaled to ${target}; add or remove its nodes by hand, or give it a provider that scales`,
      );
    return { added: 0, wrote: false };
  }
}
