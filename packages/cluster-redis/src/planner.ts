import { type Assignment, assign, type HolderGroups, score } from "./rendezvous.js";

/** Who holds a lease in Redis. */
export interface LeaseHolder {
  readonly instance: string;
  /** The lease is this process's own (not just this instance id's, which a predecessor may have had). */
  readonly mine: boolean;
}

/**
 * The leases of a {@link Snapshot} grouped, as the coordinator's lease table keeps them up to date
 * as they change: with it the plan finds what must be placed among the free endpoints and the
 * leases of instances not live, rather than by a pass over the whole list.
 */
export interface LeaseIndex {
  /** The endpoints of `leases` that are not this process's own, by the holder's instance id. */
  readonly byInstance: ReadonlyMap<string, ReadonlySet<string>>;
  /** The listed endpoints with no lease. */
  readonly unleased: ReadonlySet<string>;
  /** How many leases are of endpoints not listed (while any are, the plan passes over the list). */
  readonly unlisted: number;
}

/** What one instance knows at a tick: everything the plan depends on. */
export interface Snapshot {
  readonly self: string;
  /** The tick period, ms: a free endpoint its preferred instance leaves alone goes to the next after a few. */
  readonly tickMs: number;
  /** The endpoint ids of the list, in its order. */
  readonly listed: ReadonlySet<string>;
  /** The list may still be replaced by one an instance knows better: take nothing, let nothing unlisted go. */
  readonly settling: boolean;
  /** This instance is joining: it holds what it has and takes nothing yet. */
  readonly joining: boolean;
  /**
   * The live instances that tick (this one included), each with the endpoints it cannot serve now.
   * One that stopped beating is left out before its heartbeat lapses: nothing is handed to it.
   */
  readonly live: ReadonlyMap<string, ReadonlySet<string>>;
  /** The leases in Redis, by endpoint id. */
  readonly leases: ReadonlyMap<string, LeaseHolder>;
  /**
   * The ids of this process's own leases (those `leases` gives as `mine`), for a caller that keeps
   * them apart: the plan reads these instead of passing over every lease to find them.
   */
  readonly own?: ReadonlySet<string>;
  /**
   * `leases` grouped (it needs `own` too); it must agree with `leases`, `own` and `listed`. The
   * plan passes over the list instead while a lease is of an endpoint not listed, while this
   * instance is not live, and while an instance avoids a listed endpoint.
   */
  readonly index?: LeaseIndex;
  /** Endpoints this instance runs now. */
  readonly held: ReadonlySet<string>;
  /** Endpoints held here whose links stay down while other instances reach the same host. */
  readonly unservable: ReadonlySet<string>;
  /**
   * After Redis came back: until `until`, an endpoint `before` shows held by another instance is
   * left to that instance to take again.
   */
  readonly grace?: { readonly until: number; readonly before: ReadonlyMap<string, string> };
  /** Since when each free endpoint has been seen free, ms. */
  readonly freeSince: ReadonlyMap<string, number>;
  /**
   * At most this many endpoints handed over at a tick (no limit when unset): an instance that
   * joined gets its share a batch at a time, so each endpoint is without a link only while its
   * batch connects. The rest stay until the next tick.
   */
  readonly handoverBatch?: number;
  /**
   * Endpoints a stopping instance handed over, each with the instance it named: that one takes it
   * as soon as it is free, whatever the shares of the moment say, unless it is no longer in `live`
   * or is still joining (then the shares decide).
   */
  readonly given?: ReadonlyMap<string, string>;
  /** Instances still joining: they count for the shares, but nothing is handed over to them yet. */
  readonly joiningPeers?: ReadonlySet<string>;
  /**
   * Free endpoints another instance let go of a moment ago (released, or its lease gone), each
   * with that instance: their agents are without them now, so one a joining instance would own
   * goes to one that takes now, other than the one that let it go.
   * Endpoints never held (a cold start) wait for the joiners instead, which then take their shares
   * themselves rather than in handover batches.
   */
  readonly letGo?: ReadonlyMap<string, string>;
}

/** What to do at a tick. */
export interface Plan {
  /** Held here, but the lease is another's now: close the links; there is nothing to release. */
  readonly lost: string[];
  /** This process's leases in Redis it does not run (a grant whose reply was lost): run them. */
  readonly adopt: string[];
  /** Close these links (where they run), then release the leases: break before make. */
  readonly release: string[];
  /** Free endpoints to take. */
  readonly acquire: string[];
  /** Which instance should hold each listed endpoint (undefined for one not listed). */
  readonly owners: Assignment;
  /** `freeSince` for the next tick. */
  readonly freeSince: Map<string, number>;
  /** How many of `release` are handovers, unlisted, unservable, and leases this process should not have. */
  readonly why: { handover: number; unlisted: number; unservable: number; stray: number };
}

/**
 * The cluster's policy: from one instance's snapshot and the time (monotonic ms), what that
 * instance does now. Pure: no I/O, no clock, the same answer for the same input.
 */
export function plan(snapshot: Snapshot, now: number): Plan {
  const { self, live, leases, held } = snapshot;
  const instances = live.has(self) ? [...live.keys()] : [...live.keys(), self];
  const holders = new Holders(leases, live, held, self);
  const listed = snapshot.listed;
  const owners = assign(listed, instances, { holders, avoid: live, groups: groupsOf(snapshot) });
  const avoids = live.get(self);
  const avoided = (id: string) => {
    if (!avoids?.has(id)) return false;
    return instances.some((instance) => !live.get(instance)?.has(id));
  };
  const why = { handover: 0, unlisted: 0, unservable: 0, stray: 0 };
  const handoverBatch = snapshot.handoverBatch ?? Number.POSITIVE_INFINITY;
  const joiningPeers = snapshot.joiningPeers;

  const lost: string[] = [];
  const release: string[] = [];
  const handover: string[] = [];
  for (const id of held) {
    const lease = leases.get(id);
    if (lease !== undefined && !lease.mine) {
      lost.push(id);
    } else if (snapshot.unservable.has(id)) {
      release.push(id);
      why.unservable++;
    } else if (snapshot.settling || snapshot.joining) {
      // The list may still change back: hold still.
    } else if (!listed.has(id)) {
      release.push(id);
      why.unlisted++;
    } else if (owners.get(id) !== self) {
      handover.push(id);
    }
  }

  // This process's leases it does not run: run them if it should, else let them go.
  const adopt: string[] = [];
  const notRun = (id: string) => {
    if (held.has(id)) return;
    if (listed.has(id) && owners.get(id) === self && !avoided(id)) adopt.push(id);
    else {
      release.push(id);
      why.stray++;
    }
  };
  if (snapshot.own) for (const id of snapshot.own) notRun(id);
  else for (const [id, lease] of leases) if (lease.mine) notRun(id);

  const acquire: string[] = [];
  const freeSince = new Map<string, number>();
  if (snapshot.settling || snapshot.joining) return { lost, adopt, release, acquire, owners, freeSince, why };
  const grace = snapshot.grace && now < snapshot.grace.until ? snapshot.grace.before : undefined;
  const others = instances.filter((i) => i !== self);
  /** Free endpoints another instance should take and has had no time to yet. */
  let untaken = 0;
  // Only an endpoint no live instance keeps can be free: the rest of the list is not read again.
  for (const id of owners.placed) {
    if (leases.has(id) || held.has(id) || avoided(id)) continue;
    const before = grace?.get(id);
    if (before !== undefined && before !== self) continue;
    // Counted from when it could be taken, so a wait for the preferred instance is a real one.
    const since = snapshot.freeSince.get(id) ?? now;
    freeSince.set(id, since);
    const named = snapshot.given?.get(id);
    let owner = named !== undefined && live.has(named) && !joiningPeers?.has(named) ? named : owners.get(id);
    // One still joining takes nothing for a few ticks: an endpoint let go of goes meanwhile to the
    // best of those that take now, and comes to the joiner later in a handover batch.
    const from = snapshot.letGo?.get(id);
    if (owner !== undefined && joiningPeers?.has(owner) && from !== undefined)
      owner = takerOf(id, instances, live, joiningPeers, from);
    if (owner === self) {
      acquire.push(id);
      continue;
    }
    // The instance that should take it has not: after a wait that grows with this one's rank, it does.
    const waited = now - since;
    if (waited < 2 * snapshot.tickMs) {
      untaken++;
      continue;
    }
    if (waited >= rankOf(self, id, others, owner, joiningPeers) * 2 * snapshot.tickMs) acquire.push(id);
  }
  // A batch at a time, the next once every endpoint let go was taken (or waited 2 ticks): an
  // endpoint waits for its own batch to connect, not for all of them. The wait is for any
  // instance, not only the one the batch goes to: while several take endpoints at once (a cold
  // start of many), handovers would keep some endpoint unheld at every moment, and being held
  // comes before being even. A slow taker holds the rest up for 2 ticks at most. Nothing goes to
  // an instance still joining (it takes nothing yet).
  if (untaken === 0) {
    for (const id of handover) {
      if (why.handover >= handoverBatch) break;
      if (joiningPeers?.has(owners.get(id) as string)) continue;
      release.push(id);
      why.handover++;
    }
  }
  return { lost, adopt, release, acquire, owners, freeSince, why };
}

/**
 * Who holds each endpoint, read from the leases as asked rather than copied: with a hundred
 * thousand endpoints a copy per tick would cost more than the plan. A class, so the hot loop that
 * asks it sees one function every tick.
 *
 * A lease's instance is answered whether it is live or not: `assign` keeps an endpoint only with
 * one of the instances it places on, which are the live ones (and this one), so a second lookup per
 * endpoint here would only repeat that check. This instance's own leases are the exception while it
 * is not live itself.
 */
class Holders {
  readonly #selfLive: boolean;

  constructor(
    private readonly leases: ReadonlyMap<string, LeaseHolder>,
    live: ReadonlyMap<string, unknown>,
    private readonly held: ReadonlySet<string>,
    private readonly self: string,
  ) {
    this.#selfLive = live.has(self);
  }

  get(id: string): string | undefined {
    const lease = this.leases.get(id);
    if (lease !== undefined)
      return this.#selfLive || lease.instance !== this.self ? lease.instance : undefined;
    // What runs here stays this instance's while its lease is only missing (renewal sets it again).
    return this.held.has(id) ? this.self : undefined;
  }
}

/**
 * What {@link Holders} answers, grouped from the snapshot's index: each instance's leases, and this
 * one's own with what it runs while its lease is only missing. Undefined (the plan passes over the
 * list) without an index, while a lease is of an endpoint not listed, or while this instance is
 * not live (its own leases then count for no one); `assign` passes over it too while an instance
 * avoids a listed endpoint. The groups are the table's own sets, not copies: the plan's `owners`
 * is read before the plan is carried out.
 */
function groupsOf(snapshot: Snapshot): HolderGroups | undefined {
  const { index, own, held, self } = snapshot;
  if (index === undefined || own === undefined || index.unlisted > 0 || !snapshot.live.has(self))
    return undefined;
  const { unleased } = index;
  const running = new Set<string>();
  if (held.size <= unleased.size) {
    for (const id of held) if (unleased.has(id)) running.add(id);
  } else for (const id of unleased) if (held.has(id)) running.add(id);
  const byHolder = new Map<string, ReadonlySet<string>[]>();
  for (const [instance, ids] of index.byInstance) byHolder.set(instance, [ids]);
  byHolder.set(self, [...(byHolder.get(self) ?? []), own, running]);
  const unheld =
    running.size === 0
      ? unleased
      : {
          *[Symbol.iterator]() {
            for (const id of unleased) if (!running.has(id)) yield id;
          },
        };
  return { byHolder, unheld };
}

/**
 * The instance `id` prefers among those that take endpoints now (not joining, not the one that
 * let it go), leaving out those that avoid it unless all of them do.
 */
function takerOf(
  id: string,
  instances: readonly string[],
  live: ReadonlyMap<string, ReadonlySet<string>>,
  joining: ReadonlySet<string>,
  from: string,
): string | undefined {
  let best: string | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const avoiding of [false, true]) {
    for (const instance of instances) {
      if (joining.has(instance) || instance === from || (!avoiding && live.get(instance)?.has(id))) continue;
      const mine = score(instance, id);
      if (mine > bestScore || (mine === bestScore && instance < (best as string))) {
        best = instance;
        bestScore = mine;
      }
    }
    if (best !== undefined) return best;
  }
  return best;
}

/** 1 + how many instances that take now besides `owner` `id` prefers to `self`. */
function rankOf(
  self: string,
  id: string,
  others: readonly string[],
  owner: string | undefined,
  joining: ReadonlySet<string> | undefined,
): number {
  const mine = score(self, id);
  let rank = 1;
  for (const instance of others) {
    if (instance === owner || joining?.has(instance)) continue;
    const theirs = score(instance, id);
    if (theirs > mine || (theirs === mine && instance < self)) rank++;
  }
  return rank;
}
