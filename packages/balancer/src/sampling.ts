import type { Candidate, Connection } from "@xiaozhi-connect/core";

/** Rejection-sampling rounds before falling back to a scan; rounds needed are ~ max/mean weight. */
const maxRounds = 32;

// The manager hands strategies the same array until its pool changes, so per-array facts are cached.
const maxWeights = new WeakMap<readonly Candidate<Connection>[], number>();

/** The largest weight among `candidates`, computed once per array. */
export function maxWeight<C extends Connection>(candidates: readonly Candidate<C>[]): number {
  let max = maxWeights.get(candidates);
  if (max === undefined) {
    max = 0;
    for (const c of candidates) if (c.weight > max) max = c.weight;
    maxWeights.set(candidates, max);
  }
  return max;
}

/** True when a strategy may pick `candidate`: not ejected, unless in panic. */
export function eligible<C extends Connection>(candidate: Candidate<C>, panic: boolean): boolean {
  return panic || !candidate.ejected;
}

/**
 * Picks an eligible candidate with probability proportional to `weightOf`, in O(1) expected time:
 * draw uniformly, accept with weight / bound. After `maxRounds` rejections it scans once for the
 * heaviest eligible candidate, so a pick never fails when one exists.
 */
export function sampleWeighted<C extends Connection>(
  candidates: readonly Candidate<C>[],
  weightOf: (candidate: Candidate<C>) => number,
  bound: number,
  panic: boolean,
  random: () => number,
): Candidate<C> | undefined {
  const n = candidates.length;
  if (n === 0) return undefined;
  if (bound > 0) {
    for (let round = 0; round < maxRounds; round++) {
      const candidate = candidates[Math.floor(random() * n)] as Candidate<C>;
      if (!eligible(candidate, panic)) continue;
      if (random() * bound < weightOf(candidate)) return candidate;
    }
  }
  let best: Candidate<C> | undefined;
  let bestWeight = -1;
  for (const candidate of candidates) {
    if (!eligible(candidate, panic)) continue;
    const weight = weightOf(candidate);
    if (weight > bestWeight) {
      best = candidate;
      bestWeight = weight;
    }
  }
  return best;
}
