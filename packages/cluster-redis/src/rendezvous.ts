/** What {@link assignEndpoints} takes besides the endpoints and instances. */
export interface AssignOptions {
  /** Who holds each endpoint now; an endpoint stays with a live holder unless that one has too many. */
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
 *   one endpoint moves from the fullest instance to the emptiest; when they differ by more (an
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

/** Who should hold each endpoint, read as asked (see {@link assign}). */
export interface Assignment {
  /** The instance that should hold `endpoint`; undefined for an endpoint not assigned. */
  get(endpoint: string): string | undefined;
  /** The endpoints no live holder keeps (new, free, or their holder gone or avoiding them), in order. */
  readonly placed: readonly string[];
}

/**
 * {@link assignEndpoints} without building the answer: an endpoint that stays with its holder is
 * not copied anywhere, and only those placed or moved are kept. One pass over the endpoints when
 * nothing must move; the moves cost what they move.
 */
export function assign(
  endpoints: ReadonlySet<string>,
  instances: readonly string[],
  options: AssignOptions = {},
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
  // What each instance keeps, in list order: its count is its load, and a rebalance picks from it.
  const keeps: string[][] = members.map(() => []);
  const index = new Map(members.map((m, i) => [m, i]));
  const pending: string[] = [];
  // The hot loop of a tick: `kept` inlined, the index standing for the membership check.
  for (const endpoint of endpoints) {
    const holder = holders?.get(endpoint);
    const at = holder === undefined ? undefined : index.get(holder);
    const able = at === undefined ? undefined : restricted?.get(endpoint);
    if (at === undefined || (able !== undefined && !able.includes(holder as string))) pending.push(endpoint);
    else (keeps[at] as string[]).push(endpoint);
  }
  const load = new Map(members.map((m, i) => [m, keeps[i]?.length ?? 0]));
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
    for (const member of over) held.set(member, [...(keeps[index.get(member) as number] ?? [])]);
    for (const [endpoint, member] of moved) held.get(member)?.push(endpoint);
    return held;
  };
  // One removal too many on one instance: a single endpoint moves, from the fullest to the emptiest.
  if (spread === 3 && moveOne(moved, balanced, load, eligible, heldBy)) return answer;
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

/**
 * The rebalance when no instance avoids any endpoint: who gives how many to whom comes from the
 * loads (the instances above their share, fullest first, fill those below theirs, emptiest first),
 * and the returned function works out, once per instance asked about, which endpoints it gives:
 * those that score lowest for it, each to the receiver it prefers among those it still owes.
 */
function quotas(
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

/** Which instances may hold an endpoint: all of them, unless some avoid it (and not all do). */
interface Eligibility {
  /** The endpoints some instance avoids, each with the instances that may hold it. */
  readonly restricted: ReadonlyMap<string, readonly string[]>;
  of(endpoint: string): readonly string[];
  /** Whether `member` may hold any endpoint at all (it counts for the balance). */
  counts(member: string): boolean;
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
      if (restricted.has(endpoint)) continue;
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

/** Moves endpoints until loads differ by one at most, each from above its holder's share to below another's. */
function rebalance(
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
function moveOne(
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

/** The instances in the order `endpoint` prefers them (highest score first; ties by id). */
export function preference(endpoint: string, instances: readonly string[]): string[] {
  const scored = instances.map((instance) => ({ instance, score: score(instance, endpoint) }));
  scored.sort((a, b) => b.score - a.score || compare(a.instance, b.instance));
  return scored.map((s) => s.instance);
}

/** How much `instance` is preferred for `endpoint`: a hash of both. */
export function score(instance: string, endpoint: string): number {
  return scoreFrom(seedOf(instance), endpoint);
}

/** The part of every score of `instance` that does not depend on the endpoint. */
function seedOf(instance: string): number {
  return mix(mix(0x811c9dc5, instance), "\n");
}

/** `score(instance, endpoint)` from `seedOf(instance)`: hash(`${instance}\n${endpoint}`), without building the string. */
function scoreFrom(seed: number, endpoint: string): number {
  return finish(mix(seed, endpoint));
}

/** `endpoints` in the order of their own hash (ties by id). */
function byHash(endpoints: readonly string[]): string[] {
  const hashed = endpoints.map((endpoint) => ({ endpoint, hash: hash(endpoint) }));
  hashed.sort((a, b) => a.hash - b.hash || compare(a.endpoint, b.endpoint));
  return hashed.map((h) => h.endpoint);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser so close strings land far apart. */
function hash(text: string): number {
  return finish(mix(0x811c9dc5, text));
}

function mix(start: number, text: string): number {
  let h = start;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

function finish(start: number): number {
  let h = start;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
