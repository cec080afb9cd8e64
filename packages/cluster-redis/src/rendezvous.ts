/** What {@link assignEndpoints} takes besides the endpoints and instances. */
export interface AssignOptions {
  /** Who holds each endpoint now; an endpoint stays with a live holder unless that one has too many. */
  readonly holders?: ReadonlyMap<string, string>;
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
 *   one endpoint moves from the fullest instance to the emptiest; when they differ by more (an
 *   instance joined) they are rebalanced to differ by one at most, moving the fewest endpoints:
 *   those above an instance's share that score lowest for it go to instances below theirs.
 *   Instances that avoid every endpoint (cut off from the agents) are left out of the count.
 * - **Rendezvous.** Ties go by highest random weight hashing: the instance that scores highest
 *   for the endpoint.
 */
export function assignEndpoints(
  endpoints: readonly string[],
  instances: readonly string[],
  options: AssignOptions = {},
): Map<string, string> {
  const members = [...new Set(instances)].sort();
  if (members.length === 0) return new Map();
  const list = [...new Set(endpoints)];
  const able = new Map<string, string[]>();
  for (const endpoint of list) {
    const some = members.filter((m) => !options.avoid?.get(m)?.has(endpoint));
    able.set(endpoint, some.length > 0 ? some : members);
  }
  const eligible = (endpoint: string) => able.get(endpoint) ?? members;
  const counted = new Set([...able.values()].flat());
  const balanced = members.filter((m) => counted.has(m));
  const load = new Map(members.map((m) => [m, 0]));
  const owners = new Map<string, string>();
  const pending: string[] = [];
  for (const endpoint of list) {
    const holder = options.holders?.get(endpoint);
    if (holder === undefined || !eligible(endpoint).includes(holder)) pending.push(endpoint);
    else place(owners, load, endpoint, holder);
  }
  // A fixed order (by the endpoint's own hash) decides who gets the last place of an instance.
  pending.sort(byHash);
  for (const endpoint of pending)
    place(owners, load, endpoint, leastLoaded(preference(endpoint, eligible(endpoint)), load));
  const spread = spreadOf(balanced, load);
  if (spread <= 2) return owners;
  // One removal too many on one instance: a single endpoint moves, from the fullest to the emptiest.
  if (spread === 3 && moveOne(owners, balanced, load, eligible)) return owners;
  rebalance(list, balanced, owners, load, eligible);
  return owners;
}

/** Moves endpoints until loads differ by one at most, each from above its holder's share to below another's. */
function rebalance(
  list: readonly string[],
  members: readonly string[],
  owners: Map<string, string>,
  load: Map<string, number>,
  eligible: (endpoint: string) => string[],
): void {
  const floor = Math.floor(list.length / members.length);
  const extra = list.length % members.length;
  // The shares one above the floor go to the instances holding most, so the fewest move.
  const byLoad = [...members].sort((a, b) => (load.get(b) ?? 0) - (load.get(a) ?? 0) || compare(a, b));
  const share = new Map(byLoad.map((m, i) => [m, floor + (i < extra ? 1 : 0)]));
  const room = (m: string) => (share.get(m) ?? 0) - (load.get(m) ?? 0);
  for (const member of byLoad) {
    if (room(member) >= 0) continue;
    // Above its share, an instance keeps the endpoints that score highest for it.
    const mine = [...owners]
      .filter(([, owner]) => owner === member)
      .map(([endpoint]) => endpoint)
      .sort((a, b) => score(member, a) - score(member, b) || compare(a, b));
    for (const endpoint of mine) {
      if (room(member) >= 0) break;
      // Only to an instance below its share that can serve it; otherwise it stays.
      const target = preference(endpoint, eligible(endpoint)).find((m) => room(m) > 0);
      if (target === undefined) continue;
      load.set(member, (load.get(member) ?? 0) - 1);
      place(owners, load, endpoint, target);
    }
  }
}

/** Moves one endpoint from the instance holding most to the one holding fewest; false if none can. */
function moveOne(
  owners: Map<string, string>,
  members: readonly string[],
  load: Map<string, number>,
  eligible: (endpoint: string) => string[],
): boolean {
  const ordered = [...members].sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || compare(a, b));
  const emptiest = ordered[0] as string;
  const fullest = ordered[ordered.length - 1] as string;
  const movable = [...owners]
    .filter(([endpoint, owner]) => owner === fullest && eligible(endpoint).includes(emptiest))
    .map(([endpoint]) => endpoint)
    .sort((a, b) => score(fullest, a) - score(fullest, b) || compare(a, b));
  const endpoint = movable[0];
  if (endpoint === undefined) return false;
  load.set(fullest, (load.get(fullest) ?? 0) - 1);
  place(owners, load, endpoint, emptiest);
  return true;
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

function spreadOf(members: readonly string[], load: ReadonlyMap<string, number>): number {
  const loads = members.map((m) => load.get(m) ?? 0);
  return loads.length === 0 ? 0 : Math.max(...loads) - Math.min(...loads);
}

/** The first of `ranked` among those holding fewest. */
function leastLoaded(ranked: readonly string[], load: ReadonlyMap<string, number>): string {
  let best = ranked[0] as string;
  for (const member of ranked) if ((load.get(member) ?? 0) < (load.get(best) ?? 0)) best = member;
  return best;
}

/** The instances in the order `endpoint` prefers them (highest score first; ties by id). */
export function preference(endpoint: string, instances: readonly string[]): string[] {
  return [...instances].sort((a, b) => score(b, endpoint) - score(a, endpoint) || compare(a, b));
}

function score(instance: string, endpoint: string): number {
  return hash(`${instance}\n${endpoint}`);
}

function byHash(a: string, b: string): number {
  return hash(a) - hash(b) || compare(a, b);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser so close strings land far apart. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
