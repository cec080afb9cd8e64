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
  const eligible = (endpoint: string) => {
    const able = members.filter((m) => !options.avoid?.get(m)?.has(endpoint));
    return able.length > 0 ? able : members;
  };
  const kept = new Map<string, string[]>(members.map((m) => [m, []]));
  const pending: string[] = [];
  for (const endpoint of list) {
    const holder = options.holders?.get(endpoint);
    if (holder !== undefined && eligible(endpoint).includes(holder)) kept.get(holder)?.push(endpoint);
    else pending.push(endpoint);
  }
  const owners = new Map<string, string>();
  for (const [member, mine] of kept) for (const endpoint of mine) owners.set(endpoint, member);
  const load = new Map(members.map((m) => [m, kept.get(m)?.length ?? 0]));
  // A fixed order (by the endpoint's own hash) decides who gets the last place of an instance.
  pending.sort(byHash);
  for (const endpoint of pending) {
    const target = leastLoaded(preference(endpoint, eligible(endpoint)), load);
    owners.set(endpoint, target);
    load.set(target, (load.get(target) ?? 0) + 1);
  }
  const loads = [...load.values()];
  const spread = Math.max(...loads) - Math.min(...loads);
  if (spread <= 2) return owners;
  // One removal too many on one instance: a single endpoint moves, from the fullest to the emptiest.
  if (spread === 3 && moveOne(owners, members, load, eligible)) return owners;
  return rebalanced(list, members, kept, eligible);
}

/** Moves one endpoint from the instance holding most to the one holding fewest; false if none can. */
function moveOne(
  owners: Map<string, string>,
  members: readonly string[],
  load: ReadonlyMap<string, number>,
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
  owners.set(endpoint, emptiest);
  return true;
}

/** Loads within one of even, keeping each holder's endpoints up to its share. */
function rebalanced(
  list: readonly string[],
  members: readonly string[],
  kept: ReadonlyMap<string, string[]>,
  eligible: (endpoint: string) => string[],
): Map<string, string> {
  const owners = new Map<string, string>();
  const floor = Math.floor(list.length / members.length);
  const extra = list.length % members.length;
  // The shares one above the floor go to the instances holding most, so the fewest move.
  const byKept = [...members].sort(
    (a, b) => (kept.get(b)?.length ?? 0) - (kept.get(a)?.length ?? 0) || compare(a, b),
  );
  const room = new Map(byKept.map((m, i) => [m, floor + (i < extra ? 1 : 0)]));
  const pending: string[] = [];
  for (const member of byKept) {
    // Above its share, an instance keeps the endpoints that score highest for it.
    const mine = [...(kept.get(member) ?? [])].sort(
      (a, b) => score(member, b) - score(member, a) || compare(a, b),
    );
    const share = room.get(member) ?? 0;
    for (const endpoint of mine.slice(0, share)) owners.set(endpoint, member);
    pending.push(...mine.slice(share));
    room.set(member, Math.max(0, share - mine.length));
  }
  const shed = new Set(pending);
  for (const endpoint of list) if (!owners.has(endpoint) && !shed.has(endpoint)) pending.push(endpoint);
  pending.sort(byHash);
  for (const endpoint of pending) {
    const ranked = preference(endpoint, eligible(endpoint));
    const target = ranked.find((m) => (room.get(m) ?? 0) > 0) ?? (ranked[0] as string);
    owners.set(endpoint, target);
    room.set(target, (room.get(target) ?? 0) - 1);
  }
  return owners;
}

/** The first of `ranked` among those holding fewest. */
function leastLoaded(ranked: readonly string[], load: ReadonlyMap<string, number>): string {
  let best = ranked[0] as string;
  for (const member of ranked) if ((load.get(member) ?? 0) < (load.get(best) ?? 0)) best = member;
  return best;
}

function byHash(a: string, b: string): number {
  return hash(a) - hash(b) || compare(a, b);
}

/** The instances in the order `endpoint` prefers them (highest score first; ties by id). */
export function preference(endpoint: string, instances: readonly string[]): string[] {
  return [...instances].sort((a, b) => score(b, endpoint) - score(a, endpoint) || compare(a, b));
}

function score(instance: string, endpoint: string): number {
  return hash(`${instance}\n${endpoint}`);
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
