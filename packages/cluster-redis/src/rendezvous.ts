import { type Eligibility, moveOne, quotas, rebalance } from "./rebalance.js";
import { byHash, compare, scoreFrom, seedOf } from "./scores.js";

export { preference, score } from "./scores.js";

/** What {@link assignEndpoints} takes besides the endpoints and instances. */
export interface AssignOptions {
  /**
   * Who holds each endpoint now; an endpoint stays with its holder when that is one of `instances`
   * (any other holder is ignored) unless that one has too many.
   */
  readonly holders?: Pick<ReadonlyMap<string, string>, "get">;
  /** Endpoints each instance cannot serve now; they go elsewhere unless every instance avoids them. */
  readonly avoid?: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * Which instance should hold each endpoint. Every instance computes the same answer from the same
 * snapshot (instances, endpoints, holders), with no talk between them.
 *
 * - **Minimal moves.** An endpoint stays with its live holder, and what must be placed (new, or
 *   whose holder is gone) goes to the instance holding fewest: a change of the list moves no
 *   endpoint it did not touch, and an instance that leaves moves only its own.
 * - **Even.** Loads may differ by two after changes of the list. When a removal makes it three,
 *   one endpoint moves from the fullest instance to the emptiest (unless one holds none: that is
 *   a join, in a small cluster); when they differ by more (an
 *   instance joined) they are rebalanced to differ by one at most, moving the fewest endpoints:
 *   those above an instance's share that score lowest for it go to instances below theirs.
 *   Instances that avoid every endpoint (cut off from the agents) are left out of the count.
 * - **Rendezvous.** Ties go by highest random weight hashing: the instance that scores highest
 *   for the endpoint.
 *
 * Its cost grows with the endpoints, not with endpoints × instances: an endpoint that stays with
 * its holder costs a few lookups, and only those placed or moved are scored against the instances.
 */
export function assignEndpoints(
  endpoints: readonly string[],
  instances: readonly string[],
  options: AssignOptions = {},
): Map<string, string> {
  const listed = new Set(endpoints);
  const assignment = assign(listed, instances, options);
  const owners = new Map<string, string>();
  for (const endpoint of listed) {
    const owner = assignment.get(endpoint);
    if (owner !== undefined) owners.set(endpoint, owner);
  }
  return owners;
}

/**
 * What `holders` answers, grouped, for a caller that keeps it so: each holder's endpoints (in
 * parts), and the endpoints no holder keeps. Every endpoint given is in exactly one of them.
 */
export interface HolderGroups {
  readonly byHolder: ReadonlyMap<string, readonly ReadonlySet<string>[]>;
  readonly unheld: Iterable<string>;
}

/** What an instance keeps: parts of the groups (or of the list), and how many in all. */
interface Kept {
  readonly parts: Iterable<string>[];
  size: number;
}

/** Who should hold each endpoint, read as asked (see {@link assign}). */
export interface Assignment {
  /** The instance that should hold `endpoint`; undefined for an endpoint not assigned. */
  get(endpoint: string): string | undefined;
  /**
   * The endpoints no live holder keeps (new, free, or their holder gone or avoiding them): in list
   * order, or as the groups give them when grouped.
   */
  readonly placed: readonly string[];
}

/**
 * {@link assignEndpoints} without building the answer: an endpoint that stays with its holder is
 * not copied anywhere, and only those placed or moved are kept. One pass over the endpoints when
 * nothing must move; the moves cost what they move. Given `groups` (and no instance avoiding
 * any listed endpoint), not even that: a pass over the groups of holders that are not instances and the
 * endpoints no holder keeps.
 */
export function assign(
  endpoints: ReadonlySet<string>,
  instances: readonly string[],
  options: AssignOptions & { readonly groups?: HolderGroups | undefined } = {},
): Assignment {
  const members = [...new Set(instances)].sort(compare);
  if (members.length === 0) return { get: () => undefined, placed: [] };
  const memberSet = new Set(members);
  const eligible = eligibility(endpoints, members, options.avoid);
  const restricted = eligible.restricted.size > 0 ? eligible.restricted : undefined;
  const holders = options.holders;
  /** The holder when it may keep the endpoint. */
  const kept = (endpoint: string): string | undefined => {
    const holder = holders?.get(endpoint);
    if (holder === undefined) return undefined;
    const able = restricted?.get(endpoint);
    return (able ? able.includes(holder) : memberSet.has(holder)) ? holder : undefined;
  };
  // What each instance keeps, in parts: its count is its load, and a rebalance picks from it.
  const keeps: Kept[] = members.map(() => ({ parts: [], size: 0 }));
  const index = new Map(members.map((m, i) => [m, i]));
  const pending: string[] = [];
  const groups = options.groups;
  if (groups !== undefined && restricted === undefined) {
    // Grouped already: only the endpoints of holders that are not instances, and those no holder
    // keeps, are looked at one by one.
    for (const [holder, parts] of groups.byHolder) {
      const kept = keeps[index.get(holder) ?? -1];
      for (const part of parts) {
        if (kept === undefined) for (const endpoint of part) pending.push(endpoint);
        else if (part.size > 0) {
          kept.parts.push(part);
          kept.size += part.size;
        }
      }
    }
    for (const endpoint of groups.unheld) pending.push(endpoint);
  } else {
    const lists = members.map(() => [] as string[]);
    // A pass over the list, the hot loop of a tick without groups: `kept` inlined, the index
    // standing for the membership check.
    for (const endpoint of endpoints) {
      const holder = holders?.get(endpoint);
      const at = holder === undefined ? undefined : index.get(holder);
      const able = at === undefined ? undefined : restricted?.get(endpoint);
      if (at === undefined || (able !== undefined && !able.includes(holder as string)))
        pending.push(endpoint);
      else (lists[at] as string[]).push(endpoint);
    }
    lists.forEach((list, i) => {
      keeps[i] = { parts: [list], size: list.length };
    });
  }
  const load = new Map(members.map((m, i) => [m, keeps[i]?.size ?? 0]));
  const moved = new Map<string, string>();
  const owner = (endpoint: string) => moved.get(endpoint) ?? kept(endpoint);
  placePending(pending, members, load, eligible, moved);
  const answer = {
    get: (endpoint: string) => (endpoints.has(endpoint) ? owner(endpoint) : undefined),
    placed: pending,
  };
  const balanced = members.filter((m) => eligible.counts(m));
  const spread = spreadOf(balanced, load);
  if (spread <= 2) return answer;
  // What each instance holds now: what it keeps, and what was placed on it.
  const heldBy = (over: ReadonlySet<string>) => {
    const held = new Map<string, string[]>();
    for (const member of over) {
      const list: string[] = [];
      for (const part of keeps[index.get(member) as number]?.parts ?? [])
        for (const endpoint of part) list.push(endpoint);
      held.set(member, list);
    }
    for (const [endpoint, member] of moved) held.get(member)?.push(endpoint);
    return held;
  };
  // One removal too many on one instance: a single endpoint moves, from the fullest to the emptiest.
  // Not to an instance holding none, which has joined (three apart when the list is small: six
  // endpoints on two, and a third comes): that one gets its share, as any that joins.
  const joined = balanced.some((m) => load.get(m) === 0);
  if (spread === 3 && !joined && moveOne(moved, balanced, load, eligible, heldBy)) return answer;
  if (eligible.restricted.size > 0) {
    rebalance(balanced, moved, load, eligible, heldBy);
    return answer;
  }
  // Each instance above its share gives a number of endpoints to each below theirs, fixed from
  // the loads alone; which endpoints, it works out only when one of them is asked about. An
  // instance's plan asks about its own, so a join costs it what it holds, not what all hold.
  const resolve = quotas(balanced, load, moved, heldBy);
  return {
    get: (endpoint) => {
      if (!endpoints.has(endpoint)) return undefined;
      const before = owner(endpoint);
      if (before !== undefined) resolve(before);
      return owner(endpoint);
    },
    placed: pending,
  };
}

function eligibility(
  endpoints: ReadonlySet<string>,
  members: readonly string[],
  avoid: ReadonlyMap<string, ReadonlySet<string>> | undefined,
): Eligibility {
  const restricted = new Map<string, string[]>();
  const avoiding = members.filter((m) => (avoid?.get(m)?.size ?? 0) > 0);
  for (const member of avoiding) {
    for (const endpoint of avoid?.get(member) ?? []) {
      // One no longer listed restricts nothing (and would turn the cheap rebalance off).
      if (restricted.has(endpoint) || !endpoints.has(endpoint)) continue;
      const some = members.filter((m) => !avoid?.get(m)?.has(endpoint));
      restricted.set(endpoint, some.length > 0 ? some : [...members]);
    }
  }
  const counted = new Set(members.filter((m) => !avoiding.includes(m)));
  if (endpoints.size > 0) {
    for (const member of avoiding) {
      const set = avoid?.get(member);
      for (const e of endpoints) {
        if (!set?.has(e) || (restricted.get(e)?.includes(member) ?? true)) {
          counted.add(member);
          break;
        }
      }
    }
  } else counted.clear();
  return {
    restricted,
    of: (endpoint) => restricted.get(endpoint) ?? members,
    counts: (member) => counted.has(member),
  };
}

function spreadOf(members: readonly string[], load: ReadonlyMap<string, number>): number {
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (const m of members) {
    const l = load.get(m) ?? 0;
    if (l > max) max = l;
    if (l < min) min = l;
  }
  return members.length === 0 ? 0 : max - min;
}

/**
 * Places each endpoint on the instance it prefers among those holding fewest, in a fixed order (by
 * the endpoint's own hash) that decides who gets the last place of an instance. Loads are counted
 * in an array while placing: thousands placed at once (an instance left) cost a scan of the
 * instances and a score of the least loaded each.
 */
function placePending(
  pending: readonly string[],
  members: readonly string[],
  load: Map<string, number>,
  eligible: Eligibility,
  moved: Map<string, string>,
): void {
  if (pending.length === 0) return;
  const loads = members.map((m) => load.get(m) ?? 0);
  const seeds = members.map(seedOf);
  const index = new Map(members.map((m, i) => [m, i]));
  const all = members.map((_, i) => i);
  for (const endpoint of byHash(pending)) {
    const able = eligible.restricted.get(endpoint);
    const candidates = able ? able.map((m) => index.get(m) as number) : all;
    let fewest = Number.POSITIVE_INFINITY;
    for (const i of candidates) fewest = Math.min(fewest, loads[i] as number);
    let best = -1;
    let bestScore = -1;
    for (const i of candidates) {
      if (loads[i] !== fewest) continue;
      const s = scoreFrom(seeds[i] as number, endpoint);
      // Candidates come in id order: on an equal score the first (the lowest id) stays.
      if (best < 0 || s > bestScore) {
        best = i;
        bestScore = s;
      }
    }
    moved.set(endpoint, members[best] as string);
    loads[best] = (loads[best] as number) + 1;
  }
  members.forEach((m, i) => {
    load.set(m, loads[i] as number);
  });
}
