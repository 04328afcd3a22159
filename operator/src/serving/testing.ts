// Helpers shared by the serving model's tests (not part of the public API).
import { Replica } from "./replica.ts";
import type { RequestRecord, RequestSpec, ServingProfile } from "./types.ts";

/** A small profile with round numbers: easy arithmetic, chunking at 64 tokens, KV pressure at 400 tokens. */
export function testProfile(overrides: Partial<ServingProfile> = {}): ServingProfile {
  return {
    id: "test/tiny",
    model: "test-model",
    gpu: "L4",
    gpusPerReplica: 1,
    weights: "bf16",
    maxNumBatchedTokens: 64,
    maxNumSeqs: 8,
    kvCapacityTokens: 400,
    maxModelLen: 300,
    step: {
      baseSeconds: 0.01,
      perPrefillTokenSeconds: 1e-4,
      perDecodeSeqSeconds: 1e-3,
      perContextTokenSeconds: 1e-6,
    },
    saturatedOutputTokensPerSecond: 0,
    spec: { maxTokensPerSecond: 1, maxConcurrentRequests: 1 },
    modelLoadSeconds: 60,
    source: "test",
    ...overrides,
  };
}

export interface DriveResult {
  records: RequestRecord[];
  replica: Replica;
  /** Highest KV use seen after any event. */
  maxKv: number;
  rejected: (string | number)[];
}

/**
 * Drive a replica the way the fleet simulator will: event by event, adding each request when its arrival
 * comes, checking the KV cache after every event.
 */
export function driveByEvents(
  profile: ServingProfile,
  requests: readonly RequestSpec[],
  options: { fastPath?: boolean; abandonAfterSeconds?: number } = {},
): DriveResult {
  const replica = new Replica(profile, 0, {
    fastPath: options.fastPath ?? true,
    ...(options.abandonAfterSeconds === undefined
      ? {}
      : { abandonAfterSeconds: options.abandonAfterSeconds }),
  });
  let i = 0;
  let maxKv = 0;
  const rejected: (string | number)[] = [];
  const records: RequestRecord[] = [];
  for (let guard = 0; guard < 10_000_000; guard++) {
    const arrival = i < requests.length ? requests[i]!.arrival : Number.POSITIVE_INFINITY;
    const next = replica.nextEventTime();
    if (arrival <= next) {
      if (arrival === Number.POSITIVE_INFINITY) break;
      replica.advanceTo(arrival);
      while (i < requests.length && requests[i]!.arrival === arrival) {
        if (replica.add(requests[i]!) !== undefined) rejected.push(requests[i]!.id);
        i++;
      }
    } else {
      replica.advanceTo(next);
    }
    maxKv = Math.max(maxKv, replica.kvUsedTokens);
    records.push(...replica.takeFinished());
  }
  return { records, replica, maxKv, rejected };
}

/** Time to prefill `prompt` tokens alone on an idle replica: the lower bound of any request's TTFT. */
export function isolatedPrefillSeconds(profile: ServingProfile, prompt: number): number {
  const s = profile.step;
  let done = 0;
  let t = 0;
  while (done < prompt) {
    const chunk = Math.min(profile.maxNumBatchedTokens, prompt - done);
    done += chunk;
    t += s.baseSeconds + s.perPrefillTokenSeconds * chunk + s.perContextTokenSeconds * done;
  }
  return t;
}

/**
 * The least time any schedule can take to prefill `prompt` tokens: ceil(prompt / budget) steps at least, each
 * costing base plus its chunk plus the attention over the context so far, smallest chunk first (which
 * minimises the context summed over the steps), and nothing else sharing the steps.
 */
export function minPrefillSeconds(profile: ServingProfile, prompt: number): number {
  const s = profile.step;
  const b = profile.maxNumBatchedTokens;
  const steps = Math.ceil(prompt / b);
  let done = prompt - (steps - 1) * b;
  let t = s.baseSeconds + s.perPrefillTokenSeconds * done + s.perContextTokenSeconds * done;
  for (let k = 1; k < steps; k++) {
    done += b;
    t += s.baseSeconds + s.perPrefillTokenSeconds * b + s.perContextTokenSeconds * done;
  }
  return t;
}
