// A fake metric source for tests of the drivers: answers what it was told, per service key, and records
// what it was asked. A service it knows nothing of says nothing (replicasReporting 0), as a real source
// does for a service without series.

import type { SignalsError } from "../errors.ts";
import type { Signals } from "../types.ts";
import { type MetricSource, noSignals, type ServiceRef, type SignalsResult } from "./types.ts";

export interface FakeSource extends MetricSource {
  /** Answers these signals for the service from now on; observedAtMs defaults to the call's nowMs. */
  setSignals(key: string, signals: Partial<Signals>): void;
  /** Answers this error for the service from now on. */
  setError(key: string, error: SignalsError): void;
  /** Forgets what was set for the service. */
  clear(key: string): void;
  /** The calls made so far: service keys and nowMs. */
  readonly calls: { keys: string[]; nowMs: number }[];
}

export function createFakeSource(): FakeSource {
  const answers = new Map<string, { signals: Partial<Signals> } | { error: SignalsError }>();
  const calls: { keys: string[]; nowMs: number }[] = [];
  return {
    kind: "fake",
    calls,
    setSignals: (key, signals) => answers.set(key, { signals }),
    setError: (key, error) => answers.set(key, { error }),
    clear: (key) => answers.delete(key),
    async fetchSignals(services: readonly ServiceRef[], nowMs: number) {
      calls.push({ keys: services.map((s) => s.key), nowMs });
      const out = new Map<string, SignalsResult>();
      for (const svc of services) {
        const answer = answers.get(svc.key);
        if (answer === undefined) out.set(svc.key, { ok: true, signals: noSignals(nowMs) });
        else if ("error" in answer) out.set(svc.key, { ok: false, error: answer.error });
        else out.set(svc.key, { ok: true, signals: { ...noSignals(nowMs), ...answer.signals } });
      }
      return out;
    },
  };
}
