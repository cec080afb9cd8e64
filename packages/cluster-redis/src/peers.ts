import type { EndpointStatus } from "@xiaozhi-connect/core";
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
  /** The version of each other instance's status as last heard. */
  readonly #versions = new Map<string, number>();
  /** A version announced but not heard yet, by instance: read in full if still so next time. */
  readonly #lagging = new Map<string, number>();
  /** The hosts each other instance has a link up to, from its last status. */
  readonly #hostsUp = new Map<string, ReadonlySet<string>>();
  /** How many status messages were taken from each instance (a stored copy read meanwhile is older). */
  readonly #heardCount = new Map<string, number>();

  constructor(private readonly options: PeersOptions) {}

  /**
   * Takes the members a heartbeat read (`now` on Redis's clock). What the others run arrives as
   * messages; it is read in full for those that joined, and for one whose heartbeat announced a
   * version this instance has not heard by the next heartbeat (a message missed while a
   * subscription reconnected).
   */
  async update(
    live: ReadonlyMap<string, LiveMember>,
    now: number,
    read: (ids: readonly string[]) => Promise<(string | undefined)[]>,
  ): Promise<void> {
    const { self } = this.options;
    const joined = [...live.keys()].filter((id) => id !== self && !this.live.has(id));
    const changed = joined.length > 0 || [...this.live.keys()].some((id) => !live.has(id));
    for (const id of this.#remote.keys()) {
      if (live.has(id)) continue;
      this.#remote.delete(id);
      this.#hostsUp.delete(id);
      this.#versions.delete(id);
      this.#heardCount.delete(id);
    }
    const behind = new Set<string>();
    for (const [id, member] of live) {
      if (id === self || joined.includes(id) || member.statusVersion === undefined) continue;
      const heard = this.#versions.get(id);
      if (heard === member.statusVersion) continue;
      // Announced last time too and still not heard: the message was missed.
      if (this.#lagging.get(id) === member.statusVersion) behind.add(id);
      else this.#lagging.set(id, member.statusVersion);
    }
    for (const id of this.#lagging.keys()) if (!live.has(id)) this.#lagging.delete(id);
    this.live = new Map(live);
    this.#redisNow = now;
    const ids = [...joined, ...behind];
    if (ids.length > 0) {
      const before = ids.map((id) => this.#heardCount.get(id));
      const texts = await read(ids);
      ids.forEach((id, i) => {
        // A message heard while the read was under way is newer than the stored copy.
        if (this.#heardCount.get(id) !== before[i]) return;
        const message = parseMessage(texts[i] ?? "");
        if (message?.t === "status" && message.by === id) this.heard(message);
      });
    }
    if (changed || ids.length > 0) this.options.changed();
  }

  /** Another instance published what it runs. */
  heard(message: Extract<ClusterMessage, { t: "status" }>): void {
    this.#heardCount.set(message.by, (this.#heardCount.get(message.by) ?? 0) + 1);
    this.#remote.set(message.by, new Map(message.endpoints.map((e) => [e.id, e])));
    if (message.v !== undefined) this.#versions.set(message.by, message.v);
    this.#lagging.delete(message.by);
    // Worked out once per message rather than on every tick that asks.
    const up = new Set<string>();
    for (const status of message.endpoints) {
      const host = status.connected ? hostOf(status.url) : undefined;
      if (host) up.add(host);
    }
    this.#hostsUp.set(message.by, up);
  }

  /** Another instance left. */
  left(id: string): void {
    this.live.delete(id);
    this.#remote.delete(id);
    this.#hostsUp.delete(id);
    this.#versions.delete(id);
    this.#heardCount.delete(id);
  }

  /** An endpoint as its holder last published it. */
  status(holder: string, id: string): EndpointStatus | undefined {
    return this.#remote.get(holder)?.get(id);
  }

  /**
   * The live instances that still tick, with the listed endpoints each avoids; this one with
   * `own`. One that stopped beating is left out before its heartbeat lapses: nothing goes to it.
   */
  active(own: Avoided, byHost: ReadonlyMap<string, readonly string[]>): Map<string, ReadonlySet<string>> {
    const avoids = (endpoints: Iterable<string>, avoided: Iterable<string>) => {
      const set = new Set(endpoints);
      for (const host of avoided) for (const id of byHost.get(host) ?? []) set.add(id);
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
    for (const [id, up] of this.#hostsUp) {
      if (this.live.has(id)) for (const host of up) hosts.add(host);
    }
    return hosts;
  }
}

/**
 * What this instance runs, published when its state changed, or its RTT or health moved enough to
 * matter (`drifted`), looked at once a lease. Otherwise the stored copy is only kept alive: a
 * steady instance publishes nothing. Each publish has a version, announced in every heartbeat, so
 * another instance that missed one reads the stored copy.
 */
export class StatusFeed {
  /** Counts the publishes of this process. */
  version = 0;
  #dirty = true;
  #force = true;
  #sent = "";
  #sentAt = Number.NEGATIVE_INFINITY;
  /** RTT and health as last published, by endpoint id. */
  #published = new Map<string, Pick<EndpointStatus, "rttMs" | "healthScore">>();

  /** The state of what runs here changed. */
  touch(): void {
    this.#dirty = true;
  }

  /** Publish on the next chance whatever it is: Redis may have come back without it. */
  again(): void {
    this.#force = true;
  }

  async send(
    now: number,
    leaseTtl: number,
    message: (version: number) => ClusterMessage & { t: "status" },
    store: { save(text: string): Promise<void>; keep(): Promise<void> },
  ): Promise<void> {
    const due = now - this.#sentAt >= leaseTtl;
    if (!this.#dirty && !due && !this.#force) return;
    this.#dirty = false;
    const status = message(this.version + 1);
    const shape = JSON.stringify(
      status.endpoints.map(({ rttMs, healthScore, health, lastFrameAt, ...rest }) => rest),
    );
    if (!this.#force && shape === this.#sent && !(due && drifted(this.#published, status.endpoints))) {
      if (due) {
        this.#sentAt = now;
        await store.keep();
      }
      return;
    }
    this.#force = false;
    this.#sent = shape;
    this.#sentAt = now;
    this.#published = new Map(
      status.endpoints.map((e) => [e.id, { rttMs: e.rttMs, healthScore: e.healthScore }]),
    );
    this.version++;
    await store.save(JSON.stringify(status));
  }
}

/** Whether any endpoint's health moved by 10 or more, or its RTT by half and 20 ms, since published. */
function drifted(
  published: ReadonlyMap<string, Pick<EndpointStatus, "rttMs" | "healthScore">>,
  now: readonly EndpointStatus[],
): boolean {
  for (const status of now) {
    const before = published.get(status.id);
    if (!before) return true;
    if (Math.abs(status.healthScore - before.healthScore) >= 10) return true;
    const [a, b] = [before.rttMs, status.rttMs];
    if ((a === undefined) !== (b === undefined)) return true;
    if (a !== undefined && b !== undefined && Math.abs(b - a) >= Math.max(20, a / 2)) return true;
  }
  return false;
}
