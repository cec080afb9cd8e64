import type { EndpointStatus } from "@xiaozhi-connect/core";
import { type Avoided, hostOf } from "./link-watch.js";
import { type ClusterMessage, parseEndpointStatus } from "./messages.js";
import type { LiveMember, StoredStatus } from "./stores.js";

/** How long after its last heartbeat an instance counts as stopped (paused, cut off), ms. */
function staleAfter(ttl: number): number {
  return 3 * tickOf(ttl) + 1000;
}

/** A tick every tenth of the lease, 100 ms to 1 s. */
export function tickOf(ttl: number): number {
  return Math.min(1000, Math.max(100, Math.round(ttl / 10)));
}

export interface PeersOptions {
  readonly self: string;
  /** The instances, or what they run, changed. */
  readonly changed: () => void;
}

/**
 * The other instances as this one sees them: who is live (by each one's own TTL), whether each
 * still ticks, what each runs, and which endpoints each cannot serve.
 */
export class Peers {
  /** Live instances, this one included, as the last heartbeat read them. */
  live = new Map<string, LiveMember>();
  readonly #remote = new Map<string, Map<string, EndpointStatus>>();
  /** The version up to which what each other instance runs is known in full. */
  readonly #versions = new Map<string, number>();
  /** The newest version heard from each other instance. */
  readonly #newest = new Map<string, number>();
  /** Instances a change was missed from: their stored copy is read on the next heartbeat. */
  readonly #gaps = new Set<string>();
  /** A version announced but not heard yet, by instance: read in full if still so next time. */
  readonly #lagging = new Map<string, number>();
  /**
   * The hosts each other instance has a link up to, from what it last published, each with how many
   * of its links are up there: a change moves the counts of the endpoints in it only.
   */
  readonly #hostsUp = new Map<string, Map<string, number>>();
  /** Instances that said they are stopping, before their heartbeat says so. */
  readonly #leaving = new Set<string>();
  /** Live instances that stopped beating (paused, killed, cut off from Redis), as the last heartbeat read them. */
  #silent = new Set<string>();
  /** This instance's heartbeat before the last one (Redis's clock): where silence is counted from. */
  #ownBefore: number | undefined;
  #ownLast: number | undefined;

  constructor(private readonly options: PeersOptions) {}

  /**
   * Takes the members a heartbeat read (`now` on Redis's clock). What the others run arrives as
   * changes; it is read in full for those that joined, after a change was missed (a gap in the
   * versions), and for one whose heartbeat announced a version this instance has not heard by the
   * next heartbeat (a message lost while a subscription reconnected).
   */
  async update(
    live: ReadonlyMap<string, LiveMember>,
    now: number,
    read: (ids: readonly string[]) => Promise<(StoredStatus | undefined)[]>,
  ): Promise<void> {
    const { self } = this.options;
    // A new process under a known id counts its versions from the start again: it joined anew.
    const joined = [...live].flatMap(([id, member]) => {
      if (id === self) return [];
      const known = this.live.get(id);
      if (known && known.incarnation === member.incarnation) return [];
      if (known) this.#forget(id);
      return [id];
    });
    let changed = joined.length > 0 || [...this.live.keys()].some((id) => !live.has(id));
    // One that left while a read was under way may have come back into what is known of it.
    for (const id of this.#remote.keys()) if (!live.has(id)) changed = this.#forget(id) || changed;
    for (const id of this.#leaving) if (!live.has(id)) this.#leaving.delete(id);
    const behind = new Set<string>();
    for (const [id, member] of live) {
      if (id === self || joined.includes(id) || member.statusVersion === undefined) continue;
      if (this.#versions.get(id) === member.statusVersion) continue;
      // Announced last time too and still not heard: the message was lost.
      if (this.#lagging.get(id) === member.statusVersion) behind.add(id);
      else this.#lagging.set(id, member.statusVersion);
    }
    for (const id of this.#lagging.keys()) if (!live.has(id)) this.#lagging.delete(id);
    this.live = new Map(live);
    // One that stops or starts beating again changes how the view shows what it holds. Silence is
    // counted up to this instance's own heartbeat before this one, not up to `now`: a stall of Redis
    // (or of this process) delays every heartbeat alike, and no other instance missed one for it.
    const own = live.get(self);
    if (own && own.deadline - own.ttl !== this.#ownLast) {
      this.#ownBefore = this.#ownLast;
      this.#ownLast = own.deadline - own.ttl;
    }
    // Not yet a heartbeat before: nobody is counted silent yet (without its own: up to `now`).
    const since = own ? (this.#ownBefore ?? Number.NEGATIVE_INFINITY) : now;
    const silent = new Set<string>();
    for (const [id, member] of live) {
      if (id !== self && since - (member.deadline - member.ttl) > staleAfter(member.ttl)) silent.add(id);
    }
    if (silent.size !== this.#silent.size || [...silent].some((id) => !this.#silent.has(id))) changed = true;
    this.#silent = silent;
    const ids = [...new Set([...joined, ...behind, ...[...this.#gaps].filter((id) => live.has(id))])];
    this.#gaps.clear();
    if (ids.length > 0) {
      const stored = await read(ids);
      ids.forEach((id, i) => {
        // A copy an earlier process under this id saved is not this one's: read again next time.
        const saved = stored[i];
        const earlier = saved?.incarnation !== undefined && saved.incarnation !== live.get(id)?.incarnation;
        if (earlier) this.#gaps.add(id);
        const copy = earlier ? undefined : saved;
        // A change heard while the read was under way may be newer than the stored copy.
        if (copy && copy.version >= (this.#newest.get(id) ?? Number.NEGATIVE_INFINITY)) {
          const endpoints: EndpointStatus[] = [];
          for (const text of copy.endpoints) {
            const status = parseEndpointStatus(text);
            if (status) endpoints.push(status);
          }
          this.#replace(id, endpoints, copy.version);
        } else if (copy) this.#gaps.add(id);
      });
    }
    if (changed || ids.length > 0) this.options.changed();
  }

  /** Another instance published what it runs (`status`, from older versions) or what changed in it. */
  heard(message: Extract<ClusterMessage, { t: "status" | "status-change" }>): void {
    const { by } = message;
    if (message.t === "status") {
      this.#replace(by, message.endpoints, undefined);
      return;
    }
    const { v } = message;
    const complete = this.#versions.get(by);
    if (complete !== undefined && v <= complete) return;
    this.#newest.set(by, Math.max(v, this.#newest.get(by) ?? v));
    if (message.full) {
      this.#replace(by, message.endpoints, v);
      return;
    }
    const endpoints = this.#remote.get(by);
    const up = this.#hostsUp.get(by);
    if (endpoints === undefined || up === undefined) {
      const known = new Map(message.endpoints.map((e) => [e.id, e]));
      for (const id of message.gone ?? []) known.delete(id);
      this.#set(by, known);
    } else {
      for (const status of message.endpoints) {
        count(up, endpoints.get(status.id), -1);
        endpoints.set(status.id, status);
        count(up, status, 1);
      }
      for (const id of message.gone ?? []) {
        count(up, endpoints.get(id), -1);
        endpoints.delete(id);
      }
    }
    // Only the next change follows on from what is known; after a gap the stored copy is read.
    if (complete !== undefined && v === complete + 1) {
      this.#versions.set(by, v);
      this.#lagging.delete(by);
    } else this.#gaps.add(by);
  }

  #replace(by: string, endpoints: readonly EndpointStatus[], version: number | undefined): void {
    this.#set(by, new Map(endpoints.map((e) => [e.id, e])));
    if (version === undefined) {
      this.#versions.delete(by);
      this.#newest.delete(by);
    } else {
      this.#versions.set(by, version);
      this.#newest.set(by, version);
    }
    this.#lagging.delete(by);
    this.#gaps.delete(by);
  }

  #set(by: string, endpoints: Map<string, EndpointStatus>): void {
    this.#remote.set(by, endpoints);
    const up = new Map<string, number>();
    for (const status of endpoints.values()) count(up, status, 1);
    this.#hostsUp.set(by, up);
  }

  /** Forgets what is known of instance `id`; true when the view showed what it ran. */
  #forget(id: string): boolean {
    this.#leaving.delete(id);
    this.#silent.delete(id);
    const shown = this.#remote.delete(id);
    this.#hostsUp.delete(id);
    this.#versions.delete(id);
    this.#newest.delete(id);
    this.#gaps.delete(id);
    return shown;
  }

  /** Another instance left. */
  left(id: string): void {
    this.live.delete(id);
    this.#forget(id);
  }

  /** Another instance is stopping: nothing new goes to it, and what it hands over is taken at once. */
  leaving(id: string): void {
    if (this.live.has(id)) this.#leaving.add(id);
  }

  /** Whether `id` is live and stopping: its leases still hold while it hands them over. */
  isLeaving(id: string): boolean {
    return this.#leaving.has(id) || this.live.get(id)?.leaving === true;
  }

  /** Live instances still joining, as their last heartbeat said. */
  joining(): Set<string> {
    const joining = new Set<string>();
    for (const [id, member] of this.live) if (member.joining && id !== this.options.self) joining.add(id);
    return joining;
  }

  /** An endpoint as its holder last published it. */
  status(holder: string, id: string): EndpointStatus | undefined {
    return this.#remote.get(holder)?.get(id);
  }

  /** The last heartbeat (Redis's epoch ms) of a live instance that stopped beating; undefined while it beats. */
  silentSince(id: string): number | undefined {
    const member = this.#silent.has(id) ? this.live.get(id) : undefined;
    return member === undefined ? undefined : member.deadline - member.ttl;
  }

  /**
   * The live instances that still tick, with the listed endpoints each avoids; this one with
   * `own`. One that stopped beating is left out before its heartbeat lapses, and one that is
   * stopping (it hands its endpoints over): nothing goes to them.
   */
  active(own: Avoided, byHost: ReadonlyMap<string, readonly string[]>): Map<string, ReadonlySet<string>> {
    const avoids = (endpoints: Iterable<string>, avoided: Iterable<string>) => {
      const set = new Set(endpoints);
      for (const host of avoided) for (const id of byHost.get(host) ?? []) set.add(id);
      return set;
    };
    const active = new Map<string, ReadonlySet<string>>();
    for (const [id, member] of this.live) {
      if (id === this.options.self || this.isLeaving(id)) continue;
      if (!this.#silent.has(id)) active.set(id, avoids(member.avoid, member.avoidHosts));
    }
    active.set(this.options.self, avoids(own.endpoints, own.hosts));
    return active;
  }

  /** {@link active} without the instances still joining: those that can take endpoints over now. */
  takers(own: Avoided, byHost: ReadonlyMap<string, readonly string[]>): Map<string, ReadonlySet<string>> {
    const active = this.active(own, byHost);
    for (const id of this.joining()) active.delete(id);
    return active;
  }

  /** Hosts another live instance has a link up to, as they last published. */
  reachedHosts(): Set<string> {
    const hosts = new Set<string>();
    for (const [id, up] of this.#hostsUp) {
      if (this.live.has(id)) for (const host of up.keys()) hosts.add(host);
    }
    return hosts;
  }
}

/** Counts `status`'s host in `up` (by `by`: 1 or -1) when its link is up; a host at 0 goes. */
function count(up: Map<string, number>, status: EndpointStatus | undefined, by: 1 | -1): void {
  const host = status?.connected ? hostOf(status.url) : undefined;
  if (!host) return;
  const links = (up.get(host) ?? 0) + by;
  if (links > 0) up.set(host, links);
  else up.delete(host);
}
