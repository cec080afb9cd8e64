/**
 * Evening out the loads once the endpoints are placed: which endpoints move from instances above
 * their share to those below, the fewest that must, those that score lowest for their holder.
 */

import { compare, score, scoreFrom, seedOf } from "./scores.js";

/** Which instances may hold an endpoint: all of them, unless some avoid it (and not all do). */
export interface Eligibility {
  /** The endpoints some instance avoids, each with the instances that may hold it. */
  readonly restricted: ReadonlyMap<string, readonly string[]>;
  of(endpoint: string): readonly string[];
  /** Whether `member` may hold any endpoint at all (it counts for the balance). */
  counts(member: string): boolean;
}

/** Moves endpoints until loads differ by one at most, each from above its holder's share to below another's. */
export function rebalance(
  members: readonly string[],
  moved: Map<string, string>,
  load: Map<string, number>,
  eligible: Eligibility,
  heldBy: (members: ReadonlySet<string>) => Map<string, string[]>,
): void {
  const total = members.reduce((sum, m) => sum + (load.get(m) ?? 0), 0);
  const floor = Math.floor(total / members.length);
  const extra = total % members.length;
  // The shares one above the floor go to the instances holding most, so the fewest move.
  const byLoad = [...members].sort((a, b) => (load.get(b) ?? 0) - (load.get(a) ?? 0) || compare(a, b));
  const share = new Map(byLoad.map((m, i) => [m, floor + (i < extra ? 1 : 0)]));
  const room = (m: string) => (share.get(m) ?? 0) - (load.get(m) ?? 0);
  const over = new Set(byLoad.filter((m) => room(m) < 0));
  const held = heldBy(over);
  for (const member of byLoad) {
    if (room(member) >= 0) continue;
    // Above its share, an instance keeps the endpoints that score highest for it. When no instance
    // avoids any endpoint, the first `excess` of them move, so only those are picked out.
    const excess = eligible.restricted.size === 0 ? -room(member) : Number.POSITIVE_INFINITY;
    const mine = lowestScores(member, held.get(member) ?? [], excess);
    for (const endpoint of mine) {
      if (room(member) >= 0) break;
      // Only to an instance below its share that can serve it; otherwise it stays.
      const target = preferred(endpoint, eligible.of(endpoint), (m) => room(m) > 0);
      if (target === undefined) continue;
      load.set(member, (load.get(member) ?? 0) - 1);
      place(moved, load, endpoint, target);
    }
  }
}

/** Moves one endpoint from the instance holding most to the one holding fewest; false if none can. */
export function moveOne(
  moved: Map<string, string>,
  members: readonly string[],
  load: Map<string, number>,
  eligible: Eligibility,
  heldBy: (members: ReadonlySet<string>) => Map<string, string[]>,
): boolean {
  const ordered = [...members].sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || compare(a, b));
  const emptiest = ordered[0] as string;
  const fullest = ordered[ordered.length - 1] as string;
  const movable = (heldBy(new Set([fullest])).get(fullest) ?? []).filter((endpoint) =>
    eligible.of(endpoint).includes(emptiest),
  );
  const endpoint = lowestScores(fullest, movable, 1)[0];
  if (endpoint === undefined) return false;
  load.set(fullest, (load.get(fullest) ?? 0) - 1);
  place(moved, load, endpoint, emptiest);
  return true;
}

/**
 * The rebalance when no instance avoids any endpoint: who gives how many to whom comes from the
 * loads (the instances above their share, fullest first, fill those below theirs, emptiest first),
 * and the returned function works out, once per instance asked about, which endpoints it gives:
 * those that score lowest for it, each to the receiver it prefers among those it still owes.
 */
export function quotas(
  members: readonly string[],
  load: ReadonlyMap<string, number>,
  moved: Map<string, string>,
  heldBy: (members: ReadonlySet<string>) => Map<string, string[]>,
): (member: string) => void {
  const total = members.reduce((sum, m) => sum + (load.get(m) ?? 0), 0);
  const floor = Math.floor(total / members.length);
  const extra = total % members.length;
  // The shares one above the floor go to the instances holding most, so the fewest move.
  const byLoad = [...members].sort((a, b) => (load.get(b) ?? 0) - (load.get(a) ?? 0) || compare(a, b));
  const room = new Map(byLoad.map((m, i) => [m, floor + (i < extra ? 1 : 0) - (load.get(m) ?? 0)]));
  const receivers = byLoad.filter((m) => (room.get(m) ?? 0) > 0).reverse();
  const owed = new Map<string, Map<string, number>>();
  for (const member of byLoad) {
    let excess = -(room.get(member) ?? 0);
    if (excess <= 0) continue;
    const to = new Map<string, number>();
    for (const receiver of receivers) {
      const give = Math.min(excess, room.get(receiver) ?? 0);
      if (give <= 0) continue;
      to.set(receiver, give);
      room.set(receiver, (room.get(receiver) ?? 0) - give);
      excess -= give;
      if (excess === 0) break;
    }
    owed.set(member, to);
  }
  return (member) => {
    const to = owed.get(member);
    if (to === undefined) return;
    owed.delete(member);
    let count = 0;
    for (const n of to.values()) count += n;
    const mine = lowestScores(member, heldBy(new Set([member])).get(member) ?? [], count);
    for (const endpoint of mine) {
      const target = preferred(endpoint, [...to.keys()], (m) => (to.get(m) ?? 0) > 0) as string;
      to.set(target, (to.get(target) ?? 0) - 1);
      moved.set(endpoint, target);
    }
  };
}

/** The `count` endpoints of lowest score for `member`, lowest first (ties by id). */
function lowestScores(member: string, endpoints: readonly string[], count: number): string[] {
  const before = (a: Scored, b: Scored) =>
    a.score < b.score || (a.score === b.score && a.endpoint < b.endpoint);
  const seed = seedOf(member);
  if (count >= endpoints.length) {
    const scored = endpoints.map((endpoint) => ({ endpoint, score: scoreFrom(seed, endpoint) }));
    scored.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    return scored.map((s) => s.endpoint);
  }
  // A bounded pick: the kept ones sorted, the last the highest; one above it is passed over at once.
  const kept: Scored[] = [];
  let highest = Number.POSITIVE_INFINITY;
  for (const endpoint of endpoints) {
    const s = scoreFrom(seed, endpoint);
    if (s > highest) continue;
    const candidate = { endpoint, score: s };
    let at = kept.length;
    while (at > 0 && before(candidate, kept[at - 1] as Scored)) at--;
    if (at >= count) continue;
    kept.splice(at, 0, candidate);
    if (kept.length > count) kept.pop();
    if (kept.length === count) highest = (kept[count - 1] as Scored).score;
  }
  return kept.map((s) => s.endpoint);
}

interface Scored {
  readonly endpoint: string;
  readonly score: number;
}

function place(
  owners: Map<string, string>,
  load: Map<string, number>,
  endpoint: string,
  member: string,
): void {
  owners.set(endpoint, member);
  load.set(member, (load.get(member) ?? 0) + 1);
}

/** The instance `endpoint` prefers (highest score; ties by id) among those `members` that pass `accept`. */
function preferred(
  endpoint: string,
  members: readonly string[],
  accept: (member: string) => boolean,
): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const member of members) {
    if (!accept(member)) continue;
    const s = score(member, endpoint);
    if (best === undefined || s > bestScore || (s === bestScore && compare(member, best) < 0)) {
      best = member;
      bestScore = s;
    }
  }
  return best;
}
