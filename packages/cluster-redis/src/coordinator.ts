import { randomBytes } from "node:crypto";
import { Emitter, type EndpointStatus, type Logger, XiaozhiError } from "@xiaozhi-connect/core";
import type {
  ClusterCoordinator,
  ClusterEndpointStatus,
  ClusterEventMap,
  ClusterHost,
  ClusterUpdateOptions,
  ClusterView,
  ListedEndpoint,
} from "@xiaozhi-connect/webserver-adapter";
import { type ClusterClock, sleep, systemClock } from "./clock.js";
import { endpointView, instancesView } from "./cluster-view.js";
import { hostOf, LinkWatch } from "./link-watch.js";
import { ListChanges } from "./list-changes.js";
import { ListKnowledge } from "./list-knowledge.js";
import { type ClusterMessage, parseMessage } from "./messages.js";
import { type LeaseHolder, type Plan, plan, type Snapshot } from "./planner.js";
import type { ClusterStores, LiveMember, MemberInfo } from "./stores.js";
import { TickLoop } from "./tick-loop.js";

/** The default lease TTL: how long the endpoints of a vanished instance wait for another, in ms. */
export const defaultLeaseTtl = 15_000;
/** How long a list seeded into an empty Redis may still be replaced by one an instance knows better, ms. */
export const listSettle = 3000;

/** What a {@link RedisClusterCoordinator} is built from; `redisCluster` fills it from a `cluster` block. */
export interface CoordinatorOptions {
  /** Opens the stores (at `start`). */
  readonly stores: () => Promise<ClusterStores>;
  readonly logger: Logger;
  /** The config file's `mcpEndpoint` entries: they seed a cluster that has no list yet. */
  readonly seed: unknown[];
  readonly describe: (entries: readonly unknown[]) => ListedEndpoint[];
  /** How the view shows Redis: its URL with the password masked. */
  readonly redis: string;
  /** Default `<host>-<pid>-<4 random hex digits>`. */
  readonly instanceId: string;
  /** Default {@link defaultLeaseTtl}. */
  readonly leaseTtl?: number;
  /** Default the process's monotonic clock. */
  readonly clock?: ClusterClock;
  /** Random ids: this process's incarnation, change ids, list epochs. */
  readonly randomId?: () => string;
  /** Epoch ms, for what the view shows (default `Date.now`). */
  readonly wallClock?: () => number;
}

/** How long after its last heartbeat an instance counts as stopped (paused, cut off), ms. */
function staleAfter(ttl: number): number {
  return 3 * tickOf(ttl) + 1000;
}

/** A tick every tenth of the lease, 100 ms to 1 s. */
function tickOf(ttl: number): number {
  return Math.min(1000, Math.max(100, Math.round(ttl / 10)));
}

/**
 * Cluster mode over Redis: several instances share the endpoints.
 *
 * - **Leases.** An instance runs an endpoint only while it holds the endpoint's lease, a key with
 *   a TTL holding `<instance>|<incarnation>`, taken with `SET NX`, renewed every third of the TTL,
 *   released by scripts that check the holder. Every tick the leases are read back, so a grant or
 *   release whose reply was lost is settled on the next one.
 * - **The plan** (`plan()`) is pure: from what this instance sees and the time, which leases to
 *   release, take or adopt. This class only gathers the snapshot and carries the plan out.
 * - **The endpoint list** lives in Redis with an identity (epoch, version); changes are
 *   compare-and-set and applied once per change id. When Redis lost it, the instances seed it
 *   back from what they know; the config file seeds a cluster nobody knows.
 * - **One view.** Each instance publishes what it runs; any instance can show all.
 *
 * Every tick (a tenth of the TTL, 100 ms to 1 s) the instance renews when due, beats, reads the
 * list and the leases, and applies the plan. While Redis is out of reach it keeps what it holds
 * and takes nothing new.
 */
export class RedisClusterCoordinator implements ClusterCoordinator {
  readonly instanceId: string;
  readonly leaseTtl: number;
  address: string | null = null;
  readonly #options: CoordinatorOptions;
  readonly #logger: Logger;
  readonly #clock: ClusterClock;
  readonly #randomId: () => string;
  readonly #wall: () => number;
  readonly #tickMs: number;
  readonly #incarnation: string;
  /** What this process's leases hold. */
  readonly #lease: string;
  readonly #startedAt: number;
  readonly #events = new Emitter<ClusterEventMap>();
  readonly #loop: TickLoop;
  readonly #watch: LinkWatch;
  readonly #list: ListKnowledge;
  readonly #changes: ListChanges;
  #stores: ClusterStores | undefined;
  #host: ClusterHost | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Endpoints this instance runs. */
  readonly #held = new Set<string>();
  /** Leases whose acquire or release went unanswered: read again on the next tick. */
  readonly #unsure = new Set<string>();
  /** Who holds each listed endpoint, as last read. */
  #holders = new Map<string, string>();
  #live = new Map<string, LiveMember>();
  #redisNow = 0;
  readonly #remote = new Map<string, ReadonlyMap<string, EndpointStatus>>();
  #freeSince = new Map<string, number>();
  #grace: Snapshot["grace"];
  /** Redis's boot marker as last seen: another one means Redis lost its data. */
  #boot: string | undefined;
  #settling = false;
  #reachable = false;
  #warned = false;
  #joining = false;
  /** Another live process has this instance id: this one runs nothing. */
  #taken: LiveMember | undefined;
  #renewedAt = Number.NEGATIVE_INFINITY;
  #stopped = false;
  #statusDirty = true;
  #statusSent = "";
  #statusSentAt = Number.NEGATIVE_INFINITY;
  #statusesReadAt = Number.NEGATIVE_INFINITY;

  constructor(options: CoordinatorOptions) {
    this.#options = options;
    this.instanceId = options.instanceId;
    this.leaseTtl = options.leaseTtl ?? defaultLeaseTtl;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#randomId = options.randomId ?? (() => randomBytes(8).toString("hex"));
    this.#wall = options.wallClock ?? Date.now;
    this.#tickMs = tickOf(this.leaseTtl);
    this.#incarnation = this.#randomId();
    this.#lease = `${this.instanceId}|${this.#incarnation}`;
    this.#startedAt = this.#wall();
    this.#loop = new TickLoop(this.#clock, this.#tickMs, () => this.#tick());
    this.#watch = new LinkWatch(this.leaseTtl);
    this.#list = new ListKnowledge(options.seed, options.describe);
    this.#changes = new ListChanges({
      clock: this.#clock,
      loop: this.#loop,
      list: this.#list,
      store: () => this.#stores?.list,
      randomId: this.#randomId,
      retryMs: this.#tickMs,
      deadlineMs: listSettle + 2000,
      adopted: () => this.#emit("changed"),
    });
  }

  on<K extends keyof ClusterEventMap>(event: K, listener: (payload: ClusterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  get entries(): unknown[] {
    return this.#list.entries;
  }

  holds(id: string): boolean {
    return this.#held.has(id);
  }

  touch(): void {
    this.#statusDirty = true;
  }

  /**
   * Connects to Redis, reads the endpoint list (or seeds it), and takes this instance's share.
   * With Redis out of reach it returns after one attempt and keeps trying every tick. When a live
   * process has this id it waits for that one's heartbeat to lapse (a predecessor that crashed),
   * and rejects with `DUPLICATE_INSTANCE` if it keeps beating.
   */
  async start(host: ClusterHost): Promise<void> {
    if (this.#host || this.#stopped) return;
    this.#host = host;
    const stores = await this.#options.stores();
    this.#stores = stores;
    this.#unsubscribe = stores.bus.subscribe((text) => this.#onMessage(text));
    await stores.connect();
    // The first ticks only beat: instances started together see each other before anyone takes.
    this.#joining = true;
    try {
      await this.#loop.kick();
      await this.#waitForId();
    } finally {
      this.#joining = false;
    }
    if (!this.#reachable || this.#taken || this.#stopped) return;
    await this.#publish({ t: "joined", by: this.instanceId }).catch(() => {});
    await sleep(this.#clock, this.#tickMs);
    await this.#loop.kick();
  }

  update(
    edit: (entries: unknown[]) => unknown[] | undefined,
    options: ClusterUpdateOptions = {},
  ): Promise<boolean> {
    return this.#changes.apply(edit, options.key);
  }

  async reconnect(id: string): Promise<boolean> {
    if (!this.#holders.get(id)) return false;
    await this.#publish({ t: "reconnect", by: this.instanceId, id });
    return true;
  }

  endpoints(local: readonly EndpointStatus[]): ClusterEndpointStatus[] {
    const here = new Map(local.map((s) => [s.id, s]));
    return [...this.#list.desired.values()].map((shown) => this.#show(shown, here.get(shown.id)));
  }

  endpoint(id: string, local: EndpointStatus | undefined): ClusterEndpointStatus | undefined {
    const shown = this.#list.desired.get(id);
    return shown ? this.#show(shown, local) : undefined;
  }

  #show(shown: ListedEndpoint, local: EndpointStatus | undefined): ClusterEndpointStatus {
    const holder = this.#holders.get(shown.id);
    const remote = holder ? this.#remote.get(holder)?.get(shown.id) : undefined;
    return endpointView(shown, local, this.instanceId, holder, remote);
  }

  view(): ClusterView {
    return {
      instanceId: this.instanceId,
      redis: this.#options.redis,
      reachable: this.#reachable,
      leaseTtl: this.leaseTtl,
      version: this.#list.epoch === undefined ? 0 : this.#list.version,
      instances: instancesView(this.#live, this.#holders, {
        id: this.instanceId,
        address: this.address,
        held: this.#held.size,
      }),
    };
  }

  /**
   * Leaves the cluster: releases every lease (the caller has closed their links first), so the
   * others take the endpoints over at once, and closes the Redis connections. Bounded by the
   * command timeout when Redis is out of reach.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#loop.stop();
    const stores = this.#stores;
    const ids = [...this.#held];
    this.#held.clear();
    if (stores) {
      try {
        await stores.leases.release(ids, this.#lease);
        if (!this.#taken) await stores.members.leave(this.instanceId, this.#incarnation);
        await this.#publish({ t: "left", by: this.instanceId });
      } catch (error) {
        this.#logger.warn(
          { err: (error as Error).message, endpoints: ids.length },
          "could not release the leases; they lapse after the lease TTL",
        );
      }
    }
    this.#unsubscribe?.();
    stores?.close();
    this.#events.removeAllListeners();
  }

  // ---- the tick ----

  async #tick(): Promise<void> {
    const stores = this.#stores;
    if (this.#stopped || !stores) return;
    const wasReachable = this.#reachable;
    try {
      await this.#renew(false);
      const beat = await stores.members.beat(this.instanceId, this.#info(), this.#randomId());
      if (beat.taken) {
        await this.#refuse(beat.holder);
        return;
      }
      if (this.#taken)
        this.#logger.info({ instance: this.instanceId }, "cluster: the instance id is free; joining");
      this.#taken = undefined;
      const lostData = this.#boot !== undefined && beat.boot !== this.#boot;
      this.#boot = beat.boot;
      // Leases may have lapsed while Redis was away or lost: for one lease, an endpoint another
      // instance held is left to that instance to take again.
      if (!wasReachable || lostData) {
        this.#grace = { until: this.#clock.now() + this.leaseTtl, before: new Map(this.#holders) };
      }
      if (lostData) {
        this.#logger.warn(
          { held: this.#held.size },
          "cluster: Redis lost its data; keeping the endpoints held here and restoring the list",
        );
        await this.#renew(true);
      }
      await this.#members(beat.live, beat.now);
      await this.#syncList(beat.list, beat.now);
      await this.#balance();
      await this.#sendStatus();
      if (!wasReachable) {
        this.#reachable = true;
        this.#warned = false;
        // What runs here is published again: Redis may have come back without it.
        this.#statusSentAt = Number.NEGATIVE_INFINITY;
        this.#logger.info({ redis: this.#options.redis, held: this.#held.size }, "cluster: Redis reachable");
        this.#emit("view");
      }
    } catch (error) {
      if (this.#stopped) return;
      if (this.#reachable || !this.#warned) {
        this.#warned = true;
        this.#logger.warn(
          { err: (error as Error).message, redis: this.#options.redis, held: this.#held.size },
          "cluster: Redis out of reach; keeping the endpoints held here and taking no new ones",
        );
      }
      if (this.#reachable) {
        this.#reachable = false;
        this.#emit("view");
      }
    }
  }

  /** Renews the leases held, a third of the TTL after the last renewal (every tick while Redis is away). */
  async #renew(force: boolean): Promise<void> {
    const stores = this.#stores;
    const now = this.#clock.now();
    if (!stores || this.#held.size === 0) return;
    if (!force && this.#reachable && now - this.#renewedAt < this.leaseTtl / 3) return;
    const ids = [...this.#held];
    const kept = await stores.leases.renew(ids, this.#lease, this.leaseTtl);
    this.#renewedAt = now;
    const lost = ids.filter((_, i) => !kept[i]);
    if (lost.length > 0) await this.#lose(lost);
  }

  async #lose(ids: readonly string[]): Promise<void> {
    this.#logger.warn(
      { endpoints: ids },
      "cluster: leases lost to another instance; closing those links now",
    );
    for (const id of ids) this.#held.delete(id);
    this.#emit("changed");
    await this.#host?.drop(ids);
  }

  /** A live process has this instance id: let go of everything and run nothing while it is there. */
  async #refuse(holder: LiveMember): Promise<void> {
    if (!this.#taken) {
      this.#logger.error(
        { instance: this.instanceId, address: holder.address },
        "cluster: another running instance has this cluster.instanceId; this one runs nothing while it is there (give each instance its own id)",
      );
    }
    this.#taken = holder;
    this.#reachable = true;
    const ids = [...this.#held];
    if (ids.length === 0) return;
    this.#held.clear();
    this.#emit("changed");
    await this.#host?.drop(ids);
    await this.#stores?.leases.release(ids, this.#lease);
  }

  async #waitForId(): Promise<void> {
    const first = this.#taken;
    if (!first) return;
    // A predecessor that crashed stops beating and lapses within its TTL; a duplicate beats on.
    const until = this.#clock.now() + Math.max(first.ttl, this.leaseTtl) + 2 * this.#tickMs;
    while (this.#taken && !this.#stopped) {
      if (this.#taken.deadline > first.deadline || this.#clock.now() > until) {
        throw new XiaozhiError(
          "DUPLICATE_INSTANCE",
          `cluster.instanceId "${this.instanceId}" is in use by another running instance (${this.#taken.address ?? "address unknown"}); give each instance its own cluster.instanceId`,
        );
      }
      await sleep(this.#clock, this.#tickMs);
      await this.#loop.kick();
    }
  }

  #info(): MemberInfo {
    const avoided = this.#watch.avoiding(this.#clock.now());
    return {
      incarnation: this.#incarnation,
      address: this.address,
      startedAt: this.#startedAt,
      ttl: this.leaseTtl,
      avoid: [...avoided.endpoints],
      avoidHosts: [...avoided.hosts],
    };
  }

  async #members(live: ReadonlyMap<string, LiveMember>, now: number): Promise<void> {
    const joined = [...live.keys()].filter((id) => id !== this.instanceId && !this.#live.has(id));
    const changed = joined.length > 0 || [...this.#live.keys()].some((id) => !live.has(id));
    for (const id of this.#remote.keys()) if (!live.has(id)) this.#remote.delete(id);
    this.#live = new Map(live);
    this.#redisNow = now;
    // What the others run arrives as messages; once a lease it is read in full too, so a message
    // missed while a subscription reconnected is made good.
    const at = this.#clock.now();
    const others = [...live.keys()].filter((id) => id !== this.instanceId);
    if (at - this.#statusesReadAt >= this.leaseTtl) {
      this.#statusesReadAt = at;
      await this.#readStatuses(others);
      this.#emit("view");
    } else if (joined.length > 0) await this.#readStatuses(joined);
    if (changed) this.#emit("view");
  }

  /** Reads the list when it changed; seeds it when Redis has none, or restores one known better. */
  async #syncList(
    identity: { epoch: string; version: number; settleUntil: number } | undefined,
    now: number,
  ) {
    const stores = this.#stores as ClusterStores;
    this.#settling = identity !== undefined && now < identity.settleUntil;
    if (identity && this.#list.same(identity)) return;
    let stored = identity ? await stores.list.read() : undefined;
    if (!stored || (now < stored.settleUntil && this.#list.knowsMore(stored))) {
      const seed = this.#list.seed(this.#randomId);
      if (await stores.list.seed(seed, listSettle)) {
        this.#logger.info(
          {
            endpoints: seed.entries.length,
            from: this.#list.epoch ? "the list known here" : "the config file",
          },
          "cluster: seeded the endpoint list",
        );
      }
      stored = await stores.list.read();
      this.#settling = true;
    }
    if (stored && this.#list.adopt(stored)) this.#emit("changed");
  }

  /** Reads the leases, plans, and carries the plan out. */
  async #balance(): Promise<void> {
    const stores = this.#stores as ClusterStores;
    const now = this.#clock.now();
    const listed = [...this.#list.desired.keys()];
    const ids = [...new Set([...listed, ...this.#held, ...this.#unsure])];
    const values = await stores.leases.read(ids);
    this.#unsure.clear();
    const leases = new Map<string, LeaseHolder>();
    ids.forEach((id, i) => {
      const value = values[i];
      if (value)
        leases.set(id, { instance: value.slice(0, value.indexOf("|")), mine: value === this.#lease });
    });
    const holders = new Map<string, string>();
    for (const id of listed) {
      const lease = leases.get(id);
      if (lease) holders.set(id, lease.instance);
    }
    if (!sameMap(holders, this.#holders)) this.#emit("view");
    this.#holders = holders;
    const reached = this.#reachedHosts();
    const local = this.#host?.statuses() ?? [];
    const unservable = this.#watch.observe(now, this.#held, local, (host) => reached.has(host));
    const next = plan(
      {
        self: this.instanceId,
        tickMs: this.#tickMs,
        listed,
        settling: this.#settling,
        joining: this.#joining,
        live: this.#active(now),
        leases,
        held: this.#held,
        unservable,
        ...(this.#grace ? { grace: this.#grace } : {}),
        freeSince: this.#freeSince,
      },
      now,
    );
    this.#freeSince = next.freeSince;
    if (this.#grace && now >= this.#grace.until) this.#grace = undefined;
    await this.#carryOut(next, unservable, now);
  }

  async #carryOut(next: Plan, unservable: ReadonlySet<string>, now: number): Promise<void> {
    const stores = this.#stores as ClusterStores;
    if (next.lost.length > 0) await this.#lose(next.lost);
    if (next.release.length > 0) {
      const running = next.release.filter((id) => this.#held.has(id));
      for (const id of next.release) {
        this.#held.delete(id);
        this.#holders.delete(id);
        this.#unsure.add(id);
      }
      const gaveUp = next.release.filter((id) => unservable.has(id));
      if (gaveUp.length > 0) {
        this.#watch.gaveUp(gaveUp, now);
        this.#logger.warn(
          { endpoints: gaveUp },
          "cluster: these links stay down here while other instances reach their hosts; handing them over",
        );
      }
      // Break before make: the links close before the leases go, so no agent sees two providers.
      if (running.length > 0) {
        this.#emit("changed");
        await this.#host?.drop(running);
      }
      await stores.leases.release(next.release, this.#lease);
      for (const id of next.release) this.#unsure.delete(id);
      if (next.why.handover > 0)
        this.#logger.info({ endpoints: next.why.handover }, "cluster: handed endpoints over");
      await this.#publish({ t: "released", by: this.instanceId, ids: next.release });
    }
    let taken = next.adopt.length;
    for (const id of next.adopt) {
      this.#held.add(id);
      this.#holders.set(id, this.instanceId);
    }
    if (next.acquire.length > 0) {
      for (const id of next.acquire) this.#unsure.add(id);
      const got = await stores.leases.acquire(next.acquire, this.#lease, this.leaseTtl);
      next.acquire.forEach((id, i) => {
        this.#unsure.delete(id);
        if (!got[i]) return;
        this.#held.add(id);
        this.#holders.set(id, this.instanceId);
        this.#freeSince.delete(id);
        taken++;
      });
    }
    if (taken > 0) {
      this.#logger.debug({ endpoints: taken }, "cluster: took endpoints");
      this.#emit("changed");
      this.#emit("view");
    }
  }

  /** The live instances that still tick, with the listed endpoints each avoids; this one with its own. */
  #active(now: number): Map<string, ReadonlySet<string>> {
    const hosts = new Map<string, string[]>();
    for (const { id, url } of this.#list.desired.values()) {
      const host = hostOf(url);
      if (host !== undefined) hosts.set(host, [...(hosts.get(host) ?? []), id]);
    }
    const avoids = (endpoints: Iterable<string>, avoided: Iterable<string>) => {
      const set = new Set(endpoints);
      for (const host of avoided) for (const id of hosts.get(host) ?? []) set.add(id);
      return set;
    };
    const active = new Map<string, ReadonlySet<string>>();
    for (const [id, member] of this.#live) {
      if (id === this.instanceId) continue;
      if (this.#redisNow - (member.deadline - member.ttl) <= staleAfter(member.ttl)) {
        active.set(id, avoids(member.avoid, member.avoidHosts));
      }
    }
    const own = this.#watch.avoiding(now);
    active.set(this.instanceId, avoids(own.endpoints, own.hosts));
    return active;
  }

  /** Hosts another live instance has a link up to, as they last published. */
  #reachedHosts(): Set<string> {
    const hosts = new Set<string>();
    for (const [id, statuses] of this.#remote) {
      if (!this.#live.has(id)) continue;
      for (const status of statuses.values()) {
        const host = status.connected ? hostOf(status.url) : undefined;
        if (host) hosts.add(host);
      }
    }
    return hosts;
  }

  /**
   * Publishes what runs here when its state changed, and once a lease period in any case (fresh RTT
   * and health, and the stored copy an instance that joins later reads kept alive).
   */
  async #sendStatus(): Promise<void> {
    if (!this.#host || !this.#stores) return;
    const now = this.#clock.now();
    const due = now - this.#statusSentAt >= this.leaseTtl;
    if (!this.#statusDirty && !due) return;
    this.#statusDirty = false;
    const endpoints = this.#host.statuses();
    const shape = JSON.stringify(
      endpoints.map(({ rttMs, healthScore, health, lastFrameAt, ...rest }) => rest),
    );
    if (shape === this.#statusSent && !due) return;
    this.#statusSent = shape;
    this.#statusSentAt = now;
    const message: ClusterMessage = { t: "status", by: this.instanceId, endpoints };
    await this.#stores.members.saveStatus(this.instanceId, JSON.stringify(message), this.leaseTtl * 3);
  }

  async #readStatuses(ids: readonly string[]): Promise<void> {
    const texts = (await this.#stores?.members.readStatuses(ids)) ?? [];
    ids.forEach((id, i) => {
      const message = parseMessage(texts[i] ?? "");
      if (message?.t === "status") this.#remote.set(id, new Map(message.endpoints.map((e) => [e.id, e])));
    });
  }

  #onMessage(text: string): void {
    if (this.#stopped) return;
    const message = parseMessage(text);
    if (!message || ("by" in message && message.by === this.instanceId)) return;
    switch (message.t) {
      case "list":
        if (message.epoch !== this.#list.epoch || message.v !== this.#list.version) void this.#loop.kick();
        break;
      case "released":
        for (const id of message.ids) if (this.#holders.get(id) === message.by) this.#holders.delete(id);
        void this.#loop.kick();
        break;
      case "left":
        this.#live.delete(message.by);
        this.#remote.delete(message.by);
        this.#emit("view");
        void this.#loop.kick();
        break;
      case "joined":
        void this.#loop.kick();
        break;
      case "reconnect":
        if (this.#held.has(message.id)) this.#host?.reconnect(message.id);
        break;
      case "status":
        this.#remote.set(message.by, new Map(message.endpoints.map((e) => [e.id, e])));
        this.#emit("view");
        break;
    }
  }

  async #publish(message: ClusterMessage): Promise<void> {
    await this.#stores?.bus.publish(JSON.stringify(message));
  }

  #emit(event: keyof ClusterEventMap): void {
    this.#events.emit(event, { at: this.#wall() });
  }
}

function sameMap(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}
