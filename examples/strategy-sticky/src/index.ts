import {
  type Candidate,
  type Connection,
  roundRobin,
  type SelectContext,
  type Strategy,
} from "@xiaozhi-connect/core";

/** FNV-1a, 32-bit: enough to spread keys over a handful of endpoints. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Sends every operation with the same affinity key (`dispatch(op, { key })`) to the same endpoint,
 * by rendezvous hashing: the eligible candidate with the highest hash of key + id wins, so removing
 * one endpoint moves only the keys it held. Operations without a key go round-robin.
 * O(n) per keyed pick: meant for tens of endpoints, not thousands.
 */
export function sticky(): Strategy {
  const fallback = roundRobin();
  return {
    specificationVersion: "v1",
    name: "sticky",
    select<C extends Connection>(candidates: readonly Candidate<C>[], context: SelectContext) {
      if (context.key === undefined) return fallback.select(candidates, context);
      let best: Candidate<C> | undefined;
      let bestScore = -1;
      for (const candidate of candidates) {
        if (candidate.ejected && !context.panic) continue;
        const score = hash(`${context.key}\u0000${candidate.id}`);
        if (score > bestScore) {
          best = candidate;
          bestScore = score;
        }
      }
      return best;
    },
  };
}

/** The factory, as the `xiaozhi-connect` command loads a module named in the config's `strategies`. */
export default sticky;
