import type { EndpointStatus } from "@xiaozhi-connect/core";
import type { ListedEndpoint } from "@xiaozhi-connect/webserver-adapter";
import type { ClusterClock } from "./clock.js";
import { type Avoided, hostOf } from "./link-watch.js";
import { type ClusterMessage, parseMessage } from "./messages.js";
import type { LiveMember } from "./stores.js";

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
  readonly leaseTtl: number;
  readonly clock: ClusterClock;
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
  #redisNow = 0;
  readonly #remote = new Map<string, ReadonlyMap<string, EndpointStatus>>();
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: PeersOptions) {}

  /**
   * Takes the members a heartbeat read (`now` on Redis's clock). What the others run arrives as
   * messages; it is read in full for those that joined, and for all once a lease, so a message
   * missed while a subscription reconnected is made good.
   */
  async update(
    live: ReadonlyMap<string, LiveMember>,
    now: number,
    read: (ids: readonly string[]) => Promise<(string | undefined)[]>,
  ): Promise<void> {
    const { self, clock, leaseTtl } = this.options;
    const joined = [...live.keys()].filter((id) => id !== self && !this.live.has(id));
    const changed = joined.length > 0 || [...this.live.keys()].some((id) => !live.has(id));
    for (const id of this.#remote.keys()) if (!live.has(id)) this.#remote.delete(id);
    this.live = new Map(live);
    this.#redisNow = now;
    const at = clock.now();
    const others = [...live.keys()].filter((id) => id !== self);
    let ids = joined;
    if (at - this.#readAt >= leaseTtl) {
      this.#readAt = at;
      ids = others;
    }
    if (ids.length > 0) {
      const texts = await read(ids);
      ids.forEach((id, i) => {
        const message = parseMessage(texts[i] ?? "");
        if (message?.t === "status" && message.by === id) this.heard(message);
      });
    }
    if (changed || ids.length > 0) this.options.changed();
  }

  /** Another instance published what it runs. */
  heard(message: Extract<ClusterMessage, { t: "status" }>): void {
    this.#remote.set(message.by, new Map(message.endpoints.map((e) => [e.id, e])));
  }

  /** Another instance left. */
  left(id: string): void {
    this.live.delete(id);
    this.#remote.delete(id);
  }

  /** An endpoint as its holder last published it. */
  status(holder: string, id: string): EndpointStatus | undefined {
    return this.#remote.get(holder)?.get(id);
  }

  /**
   * The live instances that still tick, with the listed endpoints each avoids; this one with
   * `own`. One that stopped beating is left out before its heartbeat lapses: nothing goes to it.
   */
  active(own: Avoided, listed: Iterable<ListedEndpoint>): Map<string, ReadonlySet<string>> {
    const hosts = new Map<string, string[]>();
    for (const { id, url } of listed) {
      const host = hostOf(url);
      if (host !== undefined) hosts.set(host, [...(hosts.get(host) ?? []), id]);
    }
    const avoids = (endpoints: Iterable<string>, avoided: Iterable<string>) => {
      const set = new Set(endpoints);
      for (const host of avoided) for (const id of hosts.get(host) ?? []) set.add(id);
      return set;
    };
    const active = new Map<string, ReadonlySet<string>>();
    for (const [id, member] of this.live) {
      if (id === this.options.self) continue;
      if (this.#redisNow - (member.deadline - member.ttl) <= staleAfter(member.ttl)) {
        active.set(id, avoids(member.avoid, member.avoidHosts));
      }
    }
    active.set(this.options.self, avoids(own.endpoints, own.hosts));
    return active;
  }

  /** Hosts another live instance has a link up to, as they last published. */
  reachedHosts(): Set<string> {
    const hosts = new Set<string>();
    for (const [id, statuses] of this.#remote) {
      if (!this.live.has(id)) continue;
      for (const status of statuses.values()) {
        const host = status.connected ? hostOf(status.url) : undefined;
        if (host) hosts.add(host);
      }
    }
    return hosts;
  }
}

/**
 * What this instance runs, published when its state changed and once a lease in any case (fresh
 * RTT and health, and the stored copy an instance that joins later reads kept alive).
 */
export class StatusFeed {
  #dirty = true;
  #sent = "";
  #sentAt = Number.NEGATIVE_INFINITY;

  /** The state of what runs here changed. */
  touch(): void {
    this.#dirty = true;
  }

  /** Publish on the next chance whatever it is: Redis may have come back without it. */
  again(): void {
    this.#sentAt = Number.NEGATIVE_INFINITY;
  }

  async send(
    now: number,
    leaseTtl: number,
    message: () => ClusterMessage & { t: "status" },
    save: (text: string) => Promise<void>,
  ): Promise<void> {
    const due = now - this.#sentAt >= leaseTtl;
    if (!this.#dirty && !due) return;
    this.#dirty = false;
    const status = message();
    const shape = JSON.stringify(
      status.endpoints.map(({ rttMs, healthScore, health, lastFrameAt, ...rest }) => rest),
    );
    if (shape === this.#sent && !due) return;
    this.#sent = shape;
    this.#sentAt = now;
    await save(JSON.stringify(status));
  }
}
