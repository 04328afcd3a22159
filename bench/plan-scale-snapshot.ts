// A synthetic Snapshot for plan() at scale, the same for the same size and seed.
//
// Pools: GPU nodes of 8 (L4, L40S, A100, H100 in turn, at list-like prices and power), the nodes shared
// evenly; each non-static pool may grow to 1.5x its nodes, except the first two cheap ones (already at
// maxNodes: they bind), and the last pool is static. Services: 50 model families (1 GPU per replica for
// most, 2 for some, 4 on L40S and 2 on A100/H100 for the largest), each on 2 or 3 pools with a profile per
// GPU type; priorities 100, 500 and 900; 100 namespaces; 30% in mode Manual (1 to 3 replicas), the rest
// Auto with fresh signals near their current 1 to 3 replicas. Budgets: a cost cap over everything that does
// not bind, and a power cap over ten namespaces that does.
import type { Accelerator } from "../operator/src/apis/inferenceservice.ts";
import { budget, load, pool, service, serviceSpec, snapshot, T0 } from "../operator/src/planning/testkit.ts";
import type { PoolSnapshot, Snapshot } from "../operator/src/planning/types.ts";
import { mulberry32 } from "../operator/src/serving/workload.ts";

const TYPES = [
  { type: "nvidia-l4", perGPU: 0.8, watts: 72, tps: 800 },
  { type: "nvidia-l40s", perGPU: 1.9, watts: 350, tps: 1600 },
  { type: "nvidia-a100", perGPU: 3.0, watts: 400, tps: 2600 },
  { type: "nvidia-h100", perGPU: 6.0, watts: 700, tps: 5000 },
];

function familyPools(seed: number, family: number, pools: number): Set<number> {
  const rand = mulberry32(seed * 1000 + family + 1);
  const k = 2 + Math.floor(rand() * 2);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(k, pools)) chosen.add(Math.floor(rand() * pools));
  return chosen;
}

export function scaleSnapshot(size: {
  services: number;
  nodes: number;
  pools: number;
  seed: number;
  /** Pools already at maxNodes (default 2). */
  tight?: number;
}): {
  snapshot: Snapshot;
  nowMs: number;
} {
  const rand = mulberry32(size.seed);
  const pools: PoolSnapshot[] = [];
  for (let i = 0; i < size.pools; i++) {
    const t = TYPES[i % TYPES.length]!;
    const nodes = Math.floor(size.nodes / size.pools) + (i < size.nodes % size.pools ? 1 : 0);
    const isStatic = i === size.pools - 1;
    const tight = i < (size.tight ?? 2);
    pools.push(
      pool(
        `pool-${i}`,
        {
          gpu: { type: t.type, count: 8, memoryGiB: 48 },
          power: { busyWattsPerGPU: t.watts, idleWattsPerGPU: Math.round(t.watts / 8) },
          costPerNodeHour: Math.round(t.perGPU * 8 * (0.9 + 0.2 * rand()) * 100) / 100,
          maxNodes: isStatic || tight ? nodes : Math.ceil(nodes * 1.5),
          provisioningSeconds: t.type === "nvidia-h100" ? 600 : 300,
          provider: { type: isStatic ? "static" : "kwok" },
        },
        { nodes, readyNodes: nodes, allocatableGPUs: nodes * 8 },
      ),
    );
  }

  const services = [];
  for (let i = 0; i < size.services; i++) {
    const family = i % 50;
    const scale = 0.5 + (family % 10) / 10;
    // A model family runs on the same 2 or 3 pools everywhere (its chart's accelerators list).
    const chosen = familyPools(size.seed, family, size.pools);
    const accelerators: Accelerator[] = [];
    for (const p of [...chosen].sort((a, b) => a - b)) {
      const t = TYPES[p % TYPES.length]!;
      let gpus =
        family < 35 ? 1 : family < 45 ? (t.type === "nvidia-l4" || t.type === "nvidia-l40s" ? 2 : 1) : 2;
      if (family >= 45 && t.type === "nvidia-l40s") gpus = 4;
      if (family >= 45 && t.type === "nvidia-l4") continue;
      accelerators.push({
        pool: `pool-${p}`,
        gpusPerReplica: gpus,
        profile: { maxTokensPerSecond: Math.round(t.tps * gpus * scale), maxConcurrentRequests: 64 },
      } as Accelerator);
    }
    if (accelerators.length === 0) accelerators.push({ pool: "pool-3", gpusPerReplica: 2 } as Accelerator);
    const manual = rand() < 0.3;
    const replicas = 1 + Math.floor(rand() * 3);
    const priority = [100, 500, 900][Math.floor(rand() * 3)]!;
    const spec = serviceSpec({
      accelerators,
      priority,
      ...(manual ? { replicas } : {}),
      scaling: { mode: manual ? "Manual" : "Auto", minReplicas: 1, maxReplicas: 20 },
    });
    const capacity = accelerators[0]!.profile?.maxTokensPerSecond ?? 2000;
    const rate = ((replicas * capacity) / 700) * 0.6;
    services.push(
      service(`svc-${i}`, {
        spec,
        namespace: `team-${i % 100}`,
        variants: [{ pool: accelerators[0]!.pool, replicas, readyReplicas: replicas }],
        signals: load(rate),
        now: T0,
      }),
    );
  }

  const budgets = [
    budget("org", { limits: { costPerHour: 1_000_000 } }),
    budget(
      "batch-power",
      { limits: { powerWatts: 150_000 } },
      Array.from({ length: 10 }, (_, i) => `team-${i}`),
    ),
  ];
  return { snapshot: snapshot(services, { pools, budgets }), nowMs: T0 };
}
