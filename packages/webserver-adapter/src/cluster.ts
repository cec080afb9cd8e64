import { hostname } from "node:os";
import {
  Emitter,
  type EndpointStatus,
  type Logger,
  maskEndpoint,
  resolveEndpoint,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import type { Redis, RedisOptions } from "ioredis";
import { acquireScript, beatScript, releaseScript, renewScript, writeListScript } from "./cluster-scripts.js";
import { endpointEntries, selectEndpoints } from "./config/endpoints.js";
import type { XiaozhiConfig } from "./config/schema.js";
import { assignEndpoints, preference } from "./rendezvous.js";

/** The `cluster` block of the config. */
export type ClusterConfig = NonNullable<XiaozhiConfig["cluster"]>;

/** The default lease TTL: how long the endpoints of a vanished instance wait for another, in ms. */
export const defaultLeaseTtl = 15_000;

/** An instance of the cluster as `/api/cluster` and the dashboard show it. */
export interface ClusterInstance {
  readonly id: string;
  /** Its dashboard and API, `http://host:port/`, once it listens. */
  readonly address: string | null;
  readonly startedAt: number;
  /** Endpoints it holds. */
  readonly endpoints: number;
  /** Epoch ms of its last heartbeat, on Redis's clock. */
  readonly heartbeatAt: number;
  /** This is the instance answering. */
  readonly self: boolean;
}

/** The cluster as one instance sees it. */
export interface ClusterView {
  readonly instanceId: string;
  /** The Redis URL with its password masked. */
  readonly redis: string;
  /** Whether the last exchange with Redis worked. */
  readonly reachable: boolean;
  readonly leaseTtl: number;
  /** The version of the endpoint list in Redis; 0 before it was read. */
  readonly version: number;
  readonly instances: readonly ClusterInstance[];
}

/** An endpoint of the cluster with the instance holding it (`null`: no instance holds it now). */
export type ClusterEndpointStatus = EndpointStatus & { readonly instance: string | null };

/** What the coordinator needs of the instance it runs in. */
export interface ClusterHost {
  /** The endpoints this instance runs, masked. */
  statuses(): EndpointStatus[];
  /** Closes these endpoints' links now: their leases were lost or are being handed over. */
  drop(ids: readonly string[]): Promise<void>;
  /** Another instance asked to drop and reopen the link of an endpoint held here. */
  reconnect(id: string): void;
}

export interface ClusterEventMap {
  /** The endpoint list or the set of endpoints held here changed: apply them. */
  changed: { readonly at: number };
  /** What other instances run, or the instances themselves, changed. */
  view: { readonly at: number };
}

interface LiveInstance {
  readonly heartbeatAt: number;
  readonly address: string | null;
  readonly startedAt: number;
}

type Message =
  | { t: "list"; v: number }
  | { t: "released"; by: string; ids: string[] }
  | { t: "joined" | "left"; by: string }
  | { t: "status"; by: string; endpoints: EndpointStatus[] }
  | { t: "reconnect"; by: string; id: string };

interface ScriptCommands {
  xzAcquire(...args: (string | number)[]): Promise<number[]>;
  xzRenew(...args: (string | number)[]): Promise<number[]>;
  xzRelease(...args: (string | number)[]): Promise<number>;
  xzBeat(...args: (string | number)[]): Promise<(string | number)[]>;
  xzWriteList(...args: (string | number)[]): Promise<number>;
}

/**
 * Cluster mode: several instances share the endpoints through Redis.
 *
 * - **Leases.** An instance runs an endpoint only while it holds the endpoint's lease (`SET NX PX`,
 *   renewed and released by Lua scripts that check the holder, with a fencing counter). Rendezvous
 *   hashing with bounded loads says which instance should hold what; the leases are the truth.
 * - **The endpoint list** lives in Redis with a version; changes are compare-and-set on the version
 *   and announced with pub/sub. The local file seeds it when Redis has none.
 * - **One view.** Each instance publishes the status of what it runs; any instance can show all.
 *
 * Every tick (a tenth of the lease TTL, 100 ms to 1 s) the instance beats, reads who holds what,
 * hands over what should move and takes what is free; every third of the TTL it renews its leases.
 * While Redis is out of reach it keeps what it holds and takes nothing new.
 */
export class ClusterCoordinator {
  readonly instanceId: string;
  readonly leaseTtl: number;
  readonly #tickMs: number;
  readonly #prefix: string;
  readonly #url: string;
  readonly #logger: Logger;
  readonly #events = new Emitter<ClusterEventMap>();
  readonly #startedAt = Date.now();
  #redis: (Redis & ScriptCommands) | undefined;
  #subscriber: Redis | undefined;
  #host: ClusterHost | undefined;
  #address: string | null = null;
  /** The endpoint list (raw `mcpEndpoint` entries) and its version; 0 until read. */
  #entries: unknown[] = [];
  #version = 0;
  /** The endpoint ids of the list, in its order, with how they show when no instance runs them. */
  #desired = new Map<string, { url: string; name?: string; weight: number }>();
  /** Leases held here: endpoint id → fence. */
  readonly #held = new Map<string, number>();
  #live = new Map<string, LiveInstance>();
  #holders = new Map<string, string>();
  readonly #remote = new Map<string, ReadonlyMap<string, EndpointStatus>>();
  /** Ticks an endpoint has been seen free, for the fallback when its preferred instance does not take it. */
  readonly #freeFor = new Map<string, number>();
  #reachable = false;
  #renewedAt = 0;
  /** The last assignment and what it was computed from. */
  #owners: { desired: unknown; instances: string; owners: Map<string, string> } = {
    desired: undefined,
    instances: "",
    owners: new Map(),
  };
  #joining = false;
  /** Until when, after Redis was out of reach, endpoints held elsewhere before are left alone. */
  #graceUntil = 0;
  #heldBefore = new Map<string, string>();
  /** Whether being out of reach was logged since Redis last answered. */
  #warned = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #statusDirty = true;
  #statusSent = "";
  #statusSentAt = 0;

  constructor(
    config: ClusterConfig,
    options: { readonly logger: Logger; readonly seed?: XiaozhiConfig["mcpEndpoint"] },
  ) {
    this.instanceId = config.instanceId ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._:-]/g, "-");
    this.leaseTtl = config.leaseTtl ?? defaultLeaseTtl;
    this.#tickMs = Math.min(1000, Math.max(100, Math.round(this.leaseTtl / 10)));
    this.#prefix = `${config.namespace ?? "xiaozhi-connect"}:`;
    this.#url = config.redis;
    this.#logger = options.logger;
    this.#entries = endpointEntries(options.seed);
    this.#setDesired();
  }

  on<K extends keyof ClusterEventMap>(event: K, listener: (payload: ClusterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** The endpoint list of the cluster (raw `mcpEndpoint` entries). */
  get entries(): unknown[] {
    return this.#entries;
  }

  /** Whether this instance holds the endpoint's lease. */
  holds(id: string): boolean {
    return this.#held.has(id);
  }

  /** The address other instances show for this one. */
  set address(address: string | null) {
    this.#address = address;
  }

  /** The status of what this instance runs changed; it is published on the next tick. */
  touch(): void {
    this.#statusDirty = true;
  }

  /**
   * Connects to Redis, reads the endpoint list (or seeds it), and takes this instance's share of
   * the free endpoints. With Redis out of reach it returns after one attempt and keeps trying every
   * tick: nothing runs until Redis answers.
   */
  async start(host: ClusterHost): Promise<void> {
    this.#host = host;
    const { Redis } = await import("ioredis");
    const options: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Redis answers in well under a millisecond; one that does not within a second is out of
      // reach, and a stop waiting on it stays well inside the 5 s shutdown.
      commandTimeout: Math.max(300, Math.min(1000, Math.round(this.leaseTtl / 5))),
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 1000),
    };
    const redis = new Redis(this.#url, options) as Redis & ScriptCommands;
    redis.defineCommand("xzAcquire", { lua: acquireScript });
    redis.defineCommand("xzRenew", { lua: renewScript });
    redis.defineCommand("xzRelease", { lua: releaseScript });
    redis.defineCommand("xzBeat", { numberOfKeys: 3, lua: beatScript });
    redis.defineCommand("xzWriteList", { numberOfKeys: 1, lua: writeListScript });
    redis.on("error", (error: Error) => this.#logger.debug({ err: error.message }, "redis"));
    this.#redis = redis;
    const subscriber = redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined });
    subscriber.on("error", (error: Error) => this.#logger.debug({ err: error.message }, "redis subscriber"));
    subscriber.on("message", (_channel: string, text: string) => this.#onMessage(text));
    // Subscribed again by the client after every reconnect.
    void subscriber.subscribe(this.#key("events")).catch(() => {});
    this.#subscriber = subscriber;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off("ready", done);
        resolve();
      };
      const timer = setTimeout(done, 3000);
      redis.once("ready", done);
    });
    // The first tick only beats: instances started at the same moment see each other before
    // anyone takes endpoints, instead of one taking all and handing most over a moment later.
    this.#joining = true;
    await this.#kick();
    this.#joining = false;
    if (this.#reachable) {
      await this.#publish({ t: "joined", by: this.instanceId }).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, this.#tickMs).unref());
      await this.#kick();
    }
  }

  /**
   * Changes the endpoint list: `edit` gets the current entries and returns the new ones (it may
   * throw, e.g. `DUPLICATE_ENDPOINT`). Compare-and-set on the version, retried when another
   * instance wrote first. Throws `CLUSTER_UNAVAILABLE` when Redis does not answer.
   */
  async update(edit: (entries: unknown[]) => unknown[] | undefined): Promise<void> {
    // Ticks read the list too: a write runs between them, so an older read never lands after it.
    while (this.#running) await this.#running;
    const write = this.#write(edit);
    this.#running = write.then(
      () => {},
      () => {},
    );
    try {
      await write;
    } finally {
      this.#running = undefined;
      this.#again = false;
    }
    // Take what is ours of the new list now, so the caller sees where an added endpoint runs.
    await this.#kick();
  }

  async #write(edit: (entries: unknown[]) => unknown[] | undefined): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      await this.#readList(true);
      const next = edit(structuredClone(this.#entries));
      if (next === undefined) return;
      const version = await this.#call((r) =>
        r.xzWriteList(this.#key("endpoints"), this.#version, JSON.stringify(next), this.#key("events")),
      );
      if (version > 0) {
        this.#setList(next, version);
        return;
      }
    }
    throw new XiaozhiError(
      "CLUSTER_UNAVAILABLE",
      "the endpoint list kept changing under this write; try again",
    );
  }

  /** Asks the instance holding `id` to drop and reopen its link; false when no instance holds it. */
  async reconnect(id: string): Promise<boolean> {
    const holder = this.#holders.get(id);
    if (!holder) return false;
    await this.#publish({ t: "reconnect", by: this.instanceId, id });
    return true;
  }

  /** Every endpoint of the cluster with the instance holding it; `local` is what runs here. */
  endpoints(local: readonly EndpointStatus[]): ClusterEndpointStatus[] {
    const here = new Map(local.map((s) => [s.id, s]));
    return [...this.#desired].map(([id, shown]) => this.#statusOf(id, shown, here.get(id)));
  }

  /** One endpoint as `endpoints` shows it; undefined when the list does not have it. */
  endpoint(id: string, local: EndpointStatus | undefined): ClusterEndpointStatus | undefined {
    const shown = this.#desired.get(id);
    return shown ? this.#statusOf(id, shown, local) : undefined;
  }

  #statusOf(
    id: string,
    shown: { url: string; name?: string; weight: number },
    local: EndpointStatus | undefined,
  ): ClusterEndpointStatus {
    if (local) return { ...local, instance: this.instanceId };
    const holder = this.#holders.get(id) ?? null;
    const remote = holder ? this.#remote.get(holder)?.get(id) : undefined;
    if (remote) return { ...remote, instance: holder };
    return {
      id,
      url: shown.url,
      ...(shown.name === undefined ? {} : { name: shown.name }),
      state: "disconnected",
      connected: false,
      initialized: false,
      reconnectAttempts: 0,
      republishing: false,
      healthScore: 0,
      weight: shown.weight,
      inflight: 0,
      instance: holder,
    };
  }

  view(): ClusterView {
    const held = new Map<string, number>();
    for (const holder of this.#holders.values()) held.set(holder, (held.get(holder) ?? 0) + 1);
    const instances = [...this.#live].map(([id, live]) => ({
      id,
      address: id === this.instanceId ? this.#address : live.address,
      startedAt: live.startedAt,
      endpoints: id === this.instanceId ? this.#held.size : (held.get(id) ?? 0),
      heartbeatAt: live.heartbeatAt,
      self: id === this.instanceId,
    }));
    return {
      instanceId: this.instanceId,
      redis: maskRedisUrl(this.#url),
      reachable: this.#reachable,
      leaseTtl: this.leaseTtl,
      version: this.#version,
      instances,
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
    clearTimeout(this.#timer);
    await this.#running;
    const ids = [...this.#held.keys()];
    try {
      if (ids.length > 0) await this.#release(ids);
      await this.#call((r) =>
        r
          .multi()
          .zrem(this.#key("live"), this.instanceId)
          .hdel(this.#key("instances"), this.instanceId)
          .exec(),
      );
      await this.#publish({ t: "left", by: this.instanceId });
    } catch (error) {
      this.#logger.warn(
        { err: (error as Error).message, endpoints: ids.length },
        "could not release the leases; they lapse after the lease TTL",
      );
    }
    this.#held.clear();
    this.#subscriber?.disconnect();
    this.#redis?.disconnect();
    this.#events.removeAllListeners();
  }

  // ---- the tick ----

  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#kick(), this.#tickMs);
    this.#timer.unref?.();
  }

  /** Runs a tick now, or right after the one under way; resolves when the tick started ends. */
  #kick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    clearTimeout(this.#timer);
    const running = this.#tick().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        void this.#kick();
      } else this.#schedule();
    });
    this.#running = running;
    return running;
  }

  async #tick(): Promise<void> {
    try {
      if (this.#version === 0) await this.#readList(false);
      await this.#renew();
      await this.#beat();
      await this.#balance();
      await this.#sendStatus();
      if (!this.#reachable) {
        this.#reachable = true;
        this.#warned = false;
        // Leases may have lapsed while Redis was away. For one lease period, an endpoint another
        // instance held is left to that instance to take again (see #balance).
        if (this.#version > 0) this.#graceUntil = Date.now() + this.leaseTtl;
        // What runs here is published again: Redis may have come back without it.
        this.#statusSentAt = 0;
        this.#logger.info(
          { redis: maskRedisUrl(this.#url), held: this.#held.size },
          "cluster: Redis reachable",
        );
        this.#events.emit("view", { at: Date.now() });
      }
    } catch (error) {
      if (this.#stopped) return;
      if (this.#reachable || !this.#warned) {
        this.#warned = true;
        this.#logger.warn(
          { err: (error as Error).message, redis: maskRedisUrl(this.#url), held: this.#held.size },
          "cluster: Redis out of reach; keeping the endpoints held here and taking no new ones",
        );
      }
      if (this.#reachable) {
        this.#reachable = false;
        this.#heldBefore = new Map(this.#holders);
        this.#events.emit("view", { at: Date.now() });
      }
    }
  }

  /** Reads the endpoint list; seeds it (from the file, or the last list known) when Redis has none. */
  async #readList(mustExist: boolean): Promise<void> {
    const [version, text] = await this.#call((r) => r.hmget(this.#key("endpoints"), "version", "entries"));
    if (version && text) {
      if (Number(version) !== this.#version) this.#setList(JSON.parse(text) as unknown[], Number(version));
      return;
    }
    if (mustExist && this.#version === 0) throw new XiaozhiError("CLUSTER_UNAVAILABLE", "no endpoint list");
    const seeded = await this.#call((r) =>
      r.xzWriteList(this.#key("endpoints"), 0, JSON.stringify(this.#entries), this.#key("events")),
    );
    if (seeded > 0) {
      this.#logger.info(
        { endpoints: this.#desired.size, version: seeded },
        "cluster: seeded the endpoint list",
      );
      this.#setList(this.#entries, seeded);
    } else await this.#readList(true);
  }

  #setList(entries: unknown[], version: number): void {
    const changed = version !== this.#version;
    this.#entries = entries;
    this.#version = version;
    this.#setDesired();
    if (changed) this.#events.emit("changed", { at: Date.now() });
  }

  #setDesired(): void {
    const desired = new Map<string, { url: string; name?: string; weight: number }>();
    for (const endpoint of selectEndpoints(this.#entries as XiaozhiConfig["mcpEndpoint"]).endpoints) {
      const resolved = resolveEndpoint(endpoint);
      desired.set(resolved.id, {
        url: maskEndpoint(resolved.url ?? ""),
        ...(endpoint.name === undefined ? {} : { name: endpoint.name }),
        weight: endpoint.weight ?? 1,
      });
    }
    this.#desired = desired;
  }

  /**
   * Renews the leases held, a third of the TTL after the last renewal (at once after a pause or
   * while Redis was away, so a lease lost meanwhile is noticed on the first tick).
   */
  async #renew(): Promise<void> {
    const now = Date.now();
    if (this.#held.size === 0 || (this.#reachable && now - this.#renewedAt < this.leaseTtl / 3)) return;
    this.#renewedAt = now;
    const ids = [...this.#held.keys()];
    const keys = ids.flatMap((id) => [this.#key(`lease:${id}`), this.#key(`fence:${id}`)]);
    const fences = ids.map((id) => this.#held.get(id) as number);
    const lost = await this.#call((r) =>
      r.xzRenew(keys.length, ...keys, this.instanceId, this.leaseTtl, ...fences),
    );
    if (lost.length === 0) return;
    const gone = lost.map((n) => ids[n - 1] as string);
    for (const id of gone) this.#held.delete(id);
    this.#logger.warn(
      { endpoints: gone },
      "cluster: leases lost to another instance; closing those links now",
    );
    await this.#host?.drop(gone);
    this.#events.emit("changed", { at: Date.now() });
  }

  async #beat(): Promise<void> {
    const info = JSON.stringify({ address: this.#address, startedAt: this.#startedAt });
    const reply = await this.#call((r) =>
      r.xzBeat(
        this.#key("live"),
        this.#key("instances"),
        this.#key("endpoints"),
        this.instanceId,
        info,
        this.leaseTtl,
      ),
    );
    const version = Number(reply[1]);
    const live = new Map<string, LiveInstance>();
    for (let i = 2; i + 2 < reply.length; i += 3) {
      const parsed = safeJson(String(reply[i + 2])) as Partial<LiveInstance>;
      live.set(String(reply[i]), {
        heartbeatAt: Number(reply[i + 1]),
        address: typeof parsed.address === "string" ? parsed.address : null,
        startedAt: Number(parsed.startedAt) || 0,
      });
    }
    const joined = [...live.keys()].filter((id) => !this.#live.has(id) && id !== this.instanceId);
    const membership = joined.length > 0 || [...this.#live.keys()].some((id) => !live.has(id));
    for (const id of this.#remote.keys()) if (!live.has(id)) this.#remote.delete(id);
    this.#live = live;
    if (joined.length > 0) await this.#readStatuses(joined);
    if (membership) this.#events.emit("view", { at: Date.now() });
    if (version !== this.#version) await this.#readList(false);
  }

  /** Hands over what another live instance should hold, then takes what is free and ours. */
  async #balance(): Promise<void> {
    const ids = [...this.#desired.keys()];
    const values = ids.length
      ? await this.#call((r) => r.mget(...ids.map((id) => this.#key(`lease:${id}`))))
      : [];
    const holders = new Map<string, string>();
    ids.forEach((id, i) => {
      const value = values[i];
      if (value) holders.set(id, value.slice(0, value.lastIndexOf("|")));
    });
    const before = this.#holders;
    this.#holders = holders;
    if (!sameMap(before, holders)) this.#events.emit("view", { at: Date.now() });

    // Leases of endpoints no longer listed: close their links and let them go.
    const unlisted = [...this.#held.keys()].filter((id) => !this.#desired.has(id));
    const instances = [...this.#live.keys()];
    if (!instances.includes(this.instanceId)) instances.push(this.instanceId);
    instances.sort();
    const owners = this.#assign(instances);
    const handover = [...this.#held.keys()].filter((id) => {
      const owner = owners.get(id);
      return owner !== undefined && owner !== this.instanceId && this.#live.has(owner);
    });
    const letGo = [...unlisted, ...handover];
    if (letGo.length > 0) {
      // Break before make: the links close before the leases go, so no agent sees two providers.
      const fences = letGo.map((id) => this.#held.get(id) ?? 0);
      for (const id of letGo) {
        this.#held.delete(id);
        this.#holders.delete(id);
      }
      this.#events.emit("changed", { at: Date.now() });
      await this.#host?.drop(letGo);
      await this.#release(letGo, fences);
      if (handover.length > 0)
        this.#logger.info({ endpoints: handover.length }, "cluster: handed endpoints over");
      await this.#publish({ t: "released", by: this.instanceId, ids: letGo });
    }

    // Free endpoints: ours by preference, or anyone's when the preferred ones have left them free.
    // What was just let go is left to the instance it was handed to (`holders` no longer has it).
    const letting = new Set(letGo);
    const take: string[] = [];
    for (const id of ids) {
      if (holders.has(id)) {
        this.#freeFor.delete(id);
        continue;
      }
      if (letting.has(id)) continue;
      const before = this.#heldBefore.get(id);
      if (before !== undefined && before !== this.instanceId && Date.now() < this.#graceUntil) continue;
      const waited = (this.#freeFor.get(id) ?? 0) + 1;
      this.#freeFor.set(id, waited);
      const rank =
        owners.get(id) === this.instanceId ? 0 : 1 + preference(id, instances).indexOf(this.instanceId);
      if (rank === 0 || waited > 2 * rank) take.push(id);
    }
    for (const id of this.#freeFor.keys()) if (!this.#desired.has(id)) this.#freeFor.delete(id);
    if (take.length === 0 || this.#joining) return;
    const keys = take.flatMap((id) => [this.#key(`lease:${id}`), this.#key(`fence:${id}`)]);
    const fences = await this.#call((r) => r.xzAcquire(keys.length, ...keys, this.instanceId, this.leaseTtl));
    const taken: string[] = [];
    take.forEach((id, i) => {
      const fence = Number(fences[i]);
      if (fence > 0) {
        this.#held.set(id, fence);
        this.#holders.set(id, this.instanceId);
        this.#freeFor.delete(id);
        taken.push(id);
      }
    });
    if (taken.length > 0) {
      this.#logger.debug({ endpoints: taken.length }, "cluster: took endpoints");
      this.#events.emit("changed", { at: Date.now() });
      this.#events.emit("view", { at: Date.now() });
    }
  }

  /** The preferred holder of each endpoint; computed again only when instances or endpoints change. */
  #assign(instances: readonly string[]): Map<string, string> {
    const desired = this.#desired;
    const key = instances.join(",");
    if (this.#owners.desired !== desired || this.#owners.instances !== key) {
      this.#owners = { desired, instances: key, owners: assignEndpoints([...desired.keys()], instances) };
    }
    return this.#owners.owners;
  }

  async #release(ids: readonly string[], fences?: readonly number[]): Promise<void> {
    const held = fences ?? ids.map((id) => this.#held.get(id) ?? 0);
    await this.#call((r) =>
      r.xzRelease(ids.length, ...ids.map((id) => this.#key(`lease:${id}`)), this.instanceId, ...held),
    );
  }

  /**
   * Publishes what runs here when its state changed, and once a lease period in any case (fresh RTT
   * and health, and the stored copy an instance that joins later reads kept alive).
   */
  async #sendStatus(): Promise<void> {
    if (!this.#host) return;
    const now = Date.now();
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
    const text = JSON.stringify({ t: "status", by: this.instanceId, endpoints } satisfies Message);
    await this.#call((r) =>
      r
        .multi()
        .set(this.#key(`status:${this.instanceId}`), text, "PX", this.leaseTtl * 3)
        .publish(this.#key("events"), text)
        .exec(),
    );
  }

  async #readStatuses(instances: readonly string[]): Promise<void> {
    const texts = await this.#call((r) => r.mget(...instances.map((id) => this.#key(`status:${id}`))));
    instances.forEach((id, i) => {
      const message = safeJson(texts[i] ?? "") as Message | undefined;
      if (message?.t === "status") this.#remote.set(id, new Map(message.endpoints.map((e) => [e.id, e])));
    });
  }

  #onMessage(text: string): void {
    if (this.#stopped) return;
    const message = safeJson(text) as Message | undefined;
    if (!message || typeof message !== "object") return;
    switch (message.t) {
      case "list":
        if (message.v !== this.#version) void this.#kick();
        break;
      case "released":
        if (message.by === this.instanceId) break;
        for (const id of message.ids) this.#holders.delete(id);
        void this.#kick();
        break;
      case "left":
        if (message.by === this.instanceId) break;
        this.#live.delete(message.by);
        this.#remote.delete(message.by);
        this.#events.emit("view", { at: Date.now() });
        void this.#kick();
        break;
      case "joined":
        if (message.by !== this.instanceId) void this.#kick();
        break;
      case "reconnect":
        if (this.#held.has(message.id)) this.#host?.reconnect(message.id);
        break;
      case "status":
        if (message.by === this.instanceId || !Array.isArray(message.endpoints)) break;
        this.#remote.set(message.by, new Map(message.endpoints.map((e) => [e.id, e])));
        this.#events.emit("view", { at: Date.now() });
        break;
    }
  }

  async #publish(message: Message): Promise<void> {
    await this.#call((r) => r.publish(this.#key("events"), JSON.stringify(message)));
  }

  async #call<T>(command: (redis: Redis & ScriptCommands) => Promise<T>): Promise<T> {
    const redis = this.#redis;
    if (!redis) throw new XiaozhiError("CLUSTER_UNAVAILABLE", "cluster mode has not started");
    try {
      return await command(redis);
    } catch (error) {
      if (XiaozhiError.isInstance(error)) throw error;
      throw new XiaozhiError("CLUSTER_UNAVAILABLE", `Redis: ${(error as Error).message}`, { cause: error });
    }
  }

  #key(name: string): string {
    return this.#prefix + name;
  }
}

/** A Redis URL without its password: `redis://user:***@host:6379/0`. */
export function maskRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "redis://(invalid)";
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sameMap(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}
