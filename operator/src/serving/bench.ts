// Micro-benchmark of the serving model (not a test): simulated requests per CPU second for a fleet of replicas
// fed by one Poisson stream (or a trace), routed to the replica with the fewest requests in flight, the way
// the fleet simulator will drive it.
//   node operator/src/serving/bench.ts [--profile ID] [--replicas N] [--rate R] [--hours H]
//                                      [--trace FILE --speedup K] [--route least|round-robin]
// least: every replica is advanced to every arrival to compare loads (jumps end at each arrival in the fleet);
// round-robin: only the chosen replica is advanced, so each replica jumps freely between its own arrivals.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { getProfile } from "./profiles.ts";
import { Replica } from "./replica.ts";
import type { RequestSpec } from "./types.ts";
import { CHAT_LIKE, poissonRequests } from "./workload.ts";

/** Rows of an Azure-LLM-inference-style CSV (TIMESTAMP, ContextTokens, GeneratedTokens), arrivals from 0. */
function readTrace(path: string, speedup: number): RequestSpec[] {
  const lines = readFileSync(path, "utf8").trim().split("\n").slice(1);
  let t0 = Number.NaN;
  return lines.map((line, i) => {
    const [ts, ctx, gen] = line.split(",");
    const t = Date.parse(`${ts!.trim().replace(" ", "T").slice(0, 23)}Z`) / 1000;
    if (Number.isNaN(t0)) t0 = t;
    return {
      id: i,
      arrival: (t - t0) / speedup,
      promptTokens: Math.max(1, Number(ctx)),
      outputTokens: Math.max(1, Number(gen)),
    };
  });
}

interface Result {
  requests: number;
  rejected: number;
  simulatedSeconds: number;
  cpuSeconds: number;
  steps: number;
}

function run(
  profileId: string,
  replicas: number,
  requests: readonly RequestSpec[],
  fastPath: boolean,
  route: string,
): Result {
  const profile = getProfile(profileId);
  const fleet = Array.from({ length: replicas }, () => new Replica(profile, 0, { fastPath }));
  const cpu0 = process.cpuUsage();
  let rejected = 0;
  let finished = 0;
  for (const [i, r] of requests.entries()) {
    let best = fleet[i % replicas]!;
    if (route === "least") {
      for (const replica of fleet) {
        replica.advanceTo(r.arrival);
        if (replica.inFlight < best.inFlight) best = replica;
      }
    }
    if (best.add(r) !== undefined) rejected++;
    finished += best.takeFinished().length;
  }
  let end = 0;
  for (const replica of fleet) {
    end = Math.max(end, replica.runUntilIdle());
    finished += replica.takeFinished().length;
  }
  const cpu = process.cpuUsage(cpu0);
  if (finished + rejected !== requests.length) throw new Error(`lost requests: ${finished} + ${rejected}`);
  return {
    requests: requests.length,
    rejected,
    simulatedSeconds: end,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    steps: fleet.reduce((a, x) => a + x.steps, 0),
  };
}

const { values } = parseArgs({
  options: {
    profile: { type: "string", default: "llama-3.1-8b-fp8/l40s" },
    replicas: { type: "string", default: "24" },
    rate: { type: "string", default: "40" },
    hours: { type: "string", default: "1" },
    trace: { type: "string" },
    speedup: { type: "string", default: "1" },
    route: { type: "string", default: "least" },
  },
});
const replicas = Number(values.replicas);
const requests = values.trace
  ? readTrace(values.trace, Number(values.speedup))
  : poissonRequests({
      shape: CHAT_LIKE,
      rate: Number(values.rate),
      durationSeconds: Number(values.hours) * 3600,
      seed: 42,
    });
const source = values.trace
  ? `${values.trace} x${values.speedup}`
  : `Poisson ${values.rate} req/s, chat-like`;
process.stdout.write(
  `serving model bench: ${values.profile}, ${replicas} replicas, ${source}, route ${values.route}\n`,
);
run(values.profile, replicas, requests.slice(0, 20000), true, values.route); // warm up the JIT
for (const fastPath of [true, false]) {
  const r = run(values.profile, replicas, requests, fastPath, values.route);
  process.stdout.write(
    `  fast path ${fastPath ? "on " : "off"}: ${r.requests} requests (${r.rejected} too long), ` +
      `${(r.simulatedSeconds / 3600).toFixed(2)} h simulated, ${r.steps} engine steps, ` +
      `${r.cpuSeconds.toFixed(2)} s CPU -> ${Math.round(r.requests / r.cpuSeconds)} requests/CPU s, ` +
      `${Math.round(r.simulatedSeconds / r.cpuSeconds)}x real time\n`,
  );
}
