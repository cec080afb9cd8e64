import {
  type Candidate,
  type Connection,
  roundRobin,
  type SelectContext,
  type Strategy,
} from "@xiaozhi-connect/core";
import { eligible, maxWeight, sampleWeighted } from "./sampling.js";

export { roundRobin };

/** Uniformly random among eligible candidates, or in proportion to endpoint weights when they differ. O(1) expected. */
export function random(): Strategy {
  return {
    specificationVersion: "v1",
    name: "random",
    select: (candidates, context) =>
      sampleWeighted(candidates, (c) => c.weight, maxWeight(candidates), context.panic, context.random),
  };
}

/**
 * Picks in proportion to health score × weight, so a degraded link gets less traffic without being
 * cut off. Never picks an ejected candidate outside panic. O(1) expected.
 */
export function healthBased(): Strategy {
  return {
    specificationVersion: "v1",
    name: "health-based",
    select: (candidates, context) =>
      sampleWeighted(
        candidates,
        (c) => c.healthScore * c.weight,
        100 * maxWeight(candidates),
        context.panic,
        context.random,
      ),
  };
}

/**
 * Power of two choices on in-flight operations (per unit of weight): draws two candidates and takes
 * the less loaded, ties going to the healthier. The default of Finagle and Envoy; O(1).
 */
export function leastInflight(): Strategy {
  return {
    specificationVersion: "v1",
    name: "least-inflight",
    select: <C extends Connection>(candidates: readonly Candidate<C>[], context: SelectContext) => {
      const a = draw(candidates, context);
      if (!a) return undefined;
      const b = draw(candidates, context, a);
      if (!b) return a;
      const loadA = a.inflight / a.weight;
      const loadB = b.inflight / b.weight;
      if (loadA !== loadB) return loadA < loadB ? a : b;
      return b.healthScore > a.healthScore ? b : a;
    },
  };
}

/** A random eligible candidate other than `not`; a few draws, then a scan. */
function draw<C extends Connection>(
  candidates: readonly Candidate<C>[],
  context: SelectContext,
  not?: Candidate<C>,
): Candidate<C> | undefined {
  const n = candidates.length;
  for (let round = 0; round < 8 && n > 0; round++) {
    const candidate = candidates[Math.floor(context.random() * n)] as Candidate<C>;
    if (candidate !== not && eligible(candidate, context.panic)) return candidate;
  }
  return candidates.find((c) => c !== not && eligible(c, context.panic));
}
