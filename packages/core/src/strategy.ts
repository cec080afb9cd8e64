import type { Connection } from "./connection.js";

/** What a strategy sees of a connection. Live values: read them at `select` time, never cache. */
export interface Candidate<C extends Connection = Connection> {
  readonly id: string;
  readonly connection: C;
  /** Relative share configured for the endpoint (default 1). */
  readonly weight: number;
  /** Operations dispatched to it and not finished yet. */
  readonly inflight: number;
  /** 0–100 from the health scorer; 100 without one. */
  readonly healthScore: number;
  /** True when the health scorer ejected it; candidates only include ejected ones in panic mode. */
  readonly ejected: boolean;
}

export interface SelectContext {
  /** 0 for the first pick of a dispatch, then 1, 2… on failover. */
  readonly attempt: number;
  /** True when too few candidates are healthy and ejected ones are included. */
  readonly panic: boolean;
  /** Optional affinity key given by the caller of `dispatch`. */
  readonly key?: string;
  /** Uniform random in [0, 1); injectable for tests. */
  readonly random: () => number;
}

/**
 * Picks one candidate for an operation. Must not mutate candidates; may keep its own state.
 * Must be O(1) or O(log n) in the candidate count: dispatch calls it on the hot path.
 *
 * The manager passes the same `candidates` array until the pool changes, and a new array whenever
 * membership or a weight changes, so a strategy may cache facts per array (such as the largest
 * weight) in a WeakMap. Live values (`inflight`, `healthScore`, `ejected`) must be read at pick time.
 * Returning `undefined` (or a candidate it was not given) makes the manager fall back to the first
 * candidate, so a pick never fails while one is eligible. So does a `select` that throws or returns
 * a promise (it must answer synchronously); the manager's logger says which, once per strategy.
 */
export interface Strategy {
  readonly specificationVersion: "v1";
  /** kebab-case; the registry key and the name used in config. */
  readonly name: string;
  select<C extends Connection>(
    candidates: readonly Candidate<C>[],
    context: SelectContext,
  ): Candidate<C> | undefined;
}

/**
 * Round-robin over the candidates, skipping ejected ones outside panic mode; the manager's default.
 * O(1) unless ejected candidates have to be skipped.
 */
export function roundRobin(): Strategy {
  let next = 0;
  return {
    specificationVersion: "v1",
    name: "round-robin",
    select: (candidates, context) => {
      const n = candidates.length;
      for (let tried = 0; tried < n; tried++) {
        // Wrap before overflowing the safe integer range on very long-lived processes.
        next = (next + 1) % Number.MAX_SAFE_INTEGER;
        const candidate = candidates[next % n];
        if (candidate && (context.panic || !candidate.ejected)) return candidate;
      }
      return undefined;
    },
  };
}
