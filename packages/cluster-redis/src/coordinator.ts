import { randomBytes } from "node:crypto";
import { Emitter, type EndpointStatus, type Logger } from "@xiaozhi-connect/core";
import type {
  ClusterCoordinator,
  ClusterEndpointStatus,
  ClusterEventMap,
  ClusterHost,
  ClusterUpdateOptions,
  ClusterView,
} from "@xiaozhi-connect/webserver-adapter";
import { type ClusterClock, sleep, systemClock } from "./clock.js";
import { endpointsView, instancesView, listedView, type ViewSource } from "./cluster-view.js";
import {
  type CoordinatorOptions,
  defaultHandoverBatch,
  defaultLeaseTtl,
  listSettle,
} from "./coordinator-options.js";
import { drainBudgetMs, handOverAll } from "./drain.js";
import { Holdings } from "./holdings.js";
import { LinkWatch } from "./link-watch.js";
import { ListChanges } from "./list-changes.js";
import { ListKnowledge } from "./list-knowledge.js";
import { syncList } from "./list-sync.js";
import { Membership } from "./membership.js";
import { type ClusterMessage, parseMessage } from "./messages.js";
import { onMessage } from "./on-message.js";
import { Peers, tickOf } from "./peers.js";
import { PlanStep } from "./plan-step.js";
import { Reachability } from "./reachability.js";
import { StatusFeed, storedFeed } from "./status-feed.js";
import type { ClusterStores, MemberInfo } from "./stores.js";
import { TickLoop } from "./tick-loop.js";

/**
 * Cluster mode over Redis: several instances share the endpoints.
 *
 * - **Leases.** An instance runs an endpoint only while it holds the endpoint's lease, a key with
 *   a TTL holding `<instance>|<incarnation>`, taken with `SET NX`, renewed every third of the TTL,
 *   released by scripts that check the holder. The scripts log every change, and every tick reads
 *   the log since the last one (`Holdings.read`), so a grant or release whose reply was lost is
 *   settled on the next tick, and a tick costs Redis what changed, not the whole list.
 * - **The plan** (`plan()`) is pure: from what this instance sees and the time, which leases to
 *   release, take or take up. `PlanStep` gathers the snapshot and carries the plan out.
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
  readonly #handoverBatch: number;
  readonly #incarnation: string;
  readonly #startedAt: number;
  readonly #events = new Emitter<ClusterEventMap>();
  readonly #loop: TickLoop;
  readonly #watch: LinkWatch;
  readonly #list: ListKnowledge;
  readonly #changes: ListChanges;
  readonly #peers: Peers;
  readonly #feed = new StatusFeed();
  readonly #holdings: Holdings;
  #stores: ClusterStores | undefined;
  #host: ClusterHost | undefined;
  #unsubscribe: (() => void) | undefined;
  #settling = false;
  readonly #redis: Reachability;
  #joining = false;
  /** Stopping gracefully: handing what it runs over, taking nothing. */
  #leaving = false;
  readonly #membership: Membership;
  readonly #viewSource: ViewSource;
  readonly #step: PlanStep;
  #stopped = false;

  constructor(options: CoordinatorOptions) {
    this.#options = options;
    this.instanceId = options.instanceId;
    this.leaseTtl = options.leaseTtl ?? defaultLeaseTtl;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#randomId = options.randomId ?? (() => randomBytes(8).toString("hex"));
    this.#wall = options.wallClock ?? Date.now;
    this.#tickMs = tickOf(this.leaseTtl);
    this.#handoverBatch = options.handoverBatch ?? defaultHandoverBatch;
    this.#incarnation = this.#randomId();
    this.#startedAt = this.#wall();
    this.#loop = new TickLoop(this.#clock, this.#tickMs, () => this.#tick());
    this.#watch = new LinkWatch(this.leaseTtl);
    this.#list = new ListKnowledge(options.seed, options.describe);
    const emit = (event: keyof ClusterEventMap) => this.#emit(event);
    this.#redis = new Reachability(this.#logger, options.redis, () => emit("view"), this.#loop);
    this.#changes = new ListChanges({
      clock: this.#clock,
      loop: this.#loop,
      list: this.#list,
      store: () => this.#stores?.list,
      randomId: this.#randomId,
      retryMs: this.#tickMs,
      deadlineMs: listSettle + 2000,
      adopted: () => emit("changed"),
    });
    this.#peers = new Peers({
      self: this.instanceId,
      changed: () => emit("view"),
    });
    this.#holdings = new Holdings({
      self: this.instanceId,
      lease: `${this.instanceId}|${this.#incarnation}`,
      leaseTtl: this.leaseTtl,
      logger: this.#logger,
      watch: this.#watch,
      leases: () => this.#stores?.leases,
      host: () => this.#host,
      emit,
      publish: (message) => this.#publish(message),
      now: () => this.#clock.now(),
      wake: (ms) => this.#loop.kickIn(ms),
    });
    this.#membership = new Membership({
      self: this.instanceId,
      leaseTtl: this.leaseTtl,
      tickMs: this.#tickMs,
      clock: this.#clock,
      logger: this.#logger,
      holdings: this.#holdings,
      feed: this.#feed,
      tick: () => this.#loop.kick(),
    });
    this.#step = new PlanStep({
      self: this.instanceId,
      tickMs: this.#tickMs,
      handoverBatch: this.#handoverBatch,
      clock: this.#clock,
      list: this.#list,
      peers: this.#peers,
      watch: this.#watch,
      holdings: this.#holdings,
      membership: this.#membership,
      host: () => this.#host,
      logger: this.#logger,
    });
    this.#viewSource = {
      self: this.instanceId,
      list: this.#list,
      holdings: this.#holdings,
      peers: this.#peers,
    };
  }

  on<K extends keyof ClusterEventMap>(event: K, listener: (payload: ClusterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  get entries(): unknown[] {
    return this.#list.entries;
  }

  holds(id: string): boolean {
    return this.#holdings.held.has(id);
  }

  touch(id?: string): void {
    this.#step.touched(id);
    this.#feed.touch(id);
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
      await this.#membership.waitForId(() => this.#stopped);
    } finally {
      this.#joining = false;
    }
    if (!this.#redis.reachable || this.#membership.taken || this.#stopped) return;
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
    if (!this.#holdings.holders.get(id)) return false;
    await this.#publish({ t: "reconnect", by: this.instanceId, id });
    return true;
  }

  endpoints(local: readonly EndpointStatus[]): ClusterEndpointStatus[] {
    return endpointsView(this.#viewSource, local);
  }

  endpoint(id: string, local: EndpointStatus | undefined): ClusterEndpointStatus | undefined {
    return listedView(this.#viewSource, id, local);
  }

  view(): ClusterView {
    return {
      instanceId: this.instanceId,
      redis: this.#options.redis,
      reachable: this.#redis.reachable,
      leaseTtl: this.leaseTtl,
      version: this.#list.epoch === undefined ? 0 : this.#list.version,
      instances: instancesView(this.#peers.live, this.#holdings.holders, {
        id: this.instanceId,
        address: this.address,
        held: this.#holdings.held.size,
        startedAt: this.#startedAt,
        waiting: this.#membership.waitingFor,
      }),
    };
  }

  /**
   * Hands the endpoints held here to the other instances before a graceful stop, a batch at a
   * time (see `drain`), for at most {@link drainBudgetMs} from the call: the links close a batch at a time while
   * the services still answer. It says it is leaving first, so nothing new comes here and the
   * others take each batch at once. Does nothing when no other instance ticks or Redis is out of
   * reach: `stop` lets everything go at once.
   */
  async drain(): Promise<void> {
    const stores = this.#stores;
    if (this.#leaving || this.#stopped || !stores || !this.#redis.reachable || this.#holdings.held.size === 0)
      return;
    const deadline = this.#clock.now() + drainBudgetMs;
    // Who takes over: the instances that tick, neither joining nor leaving.
    const active = this.#peers.takers(this.#watch.avoiding(this.#clock.now()), this.#list.byHost);
    if (active.size < 2) return;
    this.#leaving = true;
    // A tick that beats as leaving: an instance that misses the message sees it in the heartbeat.
    await this.#loop.kick();
    await handOverAll({
      self: this.instanceId,
      listed: this.#list.ids,
      active,
      deadline,
      holdings: this.#holdings,
      clock: this.#clock,
      tickMs: this.#tickMs,
      batch: this.#handoverBatch,
      logger: this.#logger,
      publish: (message) => this.#publish(message),
      // One at a time with the ticks: a renewal never races a release.
      exclusive: (job) => this.#loop.exclusive(job),
      takes: (id) => this.#peers.live.has(id) && !this.#peers.isLeaving(id),
    });
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
    const held = this.#holdings.held.size + this.#holdings.unreleased.size;
    try {
      await this.#holdings.releaseAll();
      if (stores && !this.#membership.taken) await stores.members.leave(this.instanceId, this.#incarnation);
      await this.#publish({ t: "left", by: this.instanceId });
    } catch (error) {
      // With nothing held (Redis never reached, say) there is nothing to lapse: no warning.
      this.#logger[held > 0 ? "warn" : "debug"](
        { err: (error as Error).message, endpoints: held },
        "could not release the leases; they lapse after the lease TTL",
      );
    }
    this.#unsubscribe?.();
    stores?.close();
    this.#events.removeAllListeners();
  }

  // ---- the tick ----

  async #tick(): Promise<void> {
    const stores = this.#stores;
    if (this.#stopped || !stores) return;
    const wasReachable = this.#redis.reachable;
    try {
      // Renewed first, and every tick while Redis was away: a pause shows as a lost lease at once.
      await this.#holdings.renew(this.#clock.now(), !wasReachable);
      const beat = await stores.members.beat(this.instanceId, this.#info(), this.#randomId());
      if (beat.taken) {
        this.#redis.answered();
        await this.#membership.refused(beat.holder, beat.now);
        if (this.#membership.waitingFor) await this.#watchWhileHeld(stores);
        return;
      }
      // Stopping: it keeps what it still holds and its heartbeat, and plans nothing.
      if (this.#leaving) return;
      await this.#membership.joined(beat, wasReachable);
      await this.#peers.update(beat.live, beat.now, (ids) => stores.members.readStatuses(ids));
      const synced = await syncList(this.#list, stores.list, beat.list, beat.now, {
        newEpoch: this.#randomId,
        settleMs: listSettle,
        logger: this.#logger,
      });
      this.#settling = synced.settling;
      if (synced.changed) this.#emit("changed");
      await this.#step.run(() => ({ settling: this.#settling, joining: this.#joining }));
      const host = this.#host;
      if (host) {
        const store = storedFeed(stores.members, this.instanceId, this.#incarnation, this.leaseTtl);
        await this.#feed.send(
          this.#clock.now(),
          this.leaseTtl,
          this.instanceId,
          () => host.statuses(),
          store,
          host.status && ((id) => host.status?.(id)),
        );
      }
      this.#redis.reached(this.#holdings.held.size);
    } catch (error) {
      if (!this.#stopped) this.#redis.lost(error as Error, this.#holdings.held.size);
    }
  }

  /**
   * While it waits for its id, this instance reads the cluster's list once and watches the leases
   * the id's earlier process left: a lapse is not logged in Redis, so only a watcher can say it took
   * them back. (Locked out after joining, by another live process, it watches nothing.)
   */
  async #watchWhileHeld(stores: ClusterStores): Promise<void> {
    const stored = this.#list.epoch === undefined ? await stores.list.read() : undefined;
    if (stored && this.#list.adopt(stored)) this.#emit("changed");
    await this.#holdings.read(this.#list.ids, { has: () => true });
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
      statusVersion: this.#feed.version,
      ...(this.#joining ? { joining: true } : {}),
      ...(this.#leaving ? { leaving: true } : {}),
    };
  }

  #onMessage(text: string): void {
    const message = this.#stopped ? undefined : parseMessage(text);
    if (!message || ("by" in message && message.by === this.instanceId)) return;
    onMessage(message, {
      list: this.#list,
      holdings: this.#holdings,
      peers: this.#peers,
      host: () => this.#host,
      now: () => this.#clock.now(),
      kick: () => void this.#loop.kick(),
      view: () => this.#emit("view"),
    });
  }

  async #publish(message: ClusterMessage): Promise<void> {
    await this.#stores?.bus.publish(JSON.stringify(message));
  }

  #emit(event: keyof ClusterEventMap): void {
    this.#events.emit(event, { at: this.#wall() });
  }
}
