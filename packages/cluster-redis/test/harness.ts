import type { EndpointStatus, Logger } from "@xiaozhi-connect/core";
import type { ClusterHost, ListedEndpoint } from "@xiaozhi-connect/webserver-adapter";
import { RedisClusterCoordinator } from "../src/coordinator.js";
import { FakeClock, settle } from "./fake-clock.js";
import { type MemoryConnection, MemoryRedis } from "./memory-redis.js";

/** List entries are endpoint ids here; each shows as a masked URL on `host` (default `cloud.test`). */
export function describe(entries: readonly unknown[]): ListedEndpoint[] {
  return entries
    .filter((e): e is string => typeof e === "string")
    .map((id) => ({ id, url: `ws://${hostOf(id)}/mcp/?token=<masked:${id}>`, weight: 1 }));
}

/** `other.test/e1` lives on another host; plain ids on `cloud.test`. */
function hostOf(id: string): string {
  return id.includes("/") ? (id.split("/")[0] as string) : "cloud.test";
}

/**
 * The agents' side: which instances have a link open to each endpoint, over time. Two at once
 * is an overlap, recorded with its length.
 */
export class Agents {
  readonly links = new Map<string, Set<string>>();
  readonly overlaps: { readonly id: string; readonly ms: number }[] = [];
  readonly #since = new Map<string, number>();
  /** Endpoint → the last time it had no link, or undefined while it has one. */
  readonly #unheldSince = new Map<string, number>();
  /** The longest time an endpoint went without a link, ms. */
  longestGap = 0;
  /** The most endpoints without a link at one moment. */
  mostUnheld = 0;

  constructor(private readonly clock: FakeClock) {}

  open(id: string, instance: string): void {
    const set = this.links.get(id) ?? new Set();
    this.links.set(id, set);
    set.add(instance);
    this.#changed(id);
  }

  close(id: string, instance: string): void {
    this.links.get(id)?.delete(instance);
    this.#changed(id);
  }

  holders(id: string): string[] {
    return [...(this.links.get(id) ?? [])].sort();
  }

  /** Endpoints with exactly one link each. */
  eachOnce(ids: readonly string[]): boolean {
    return ids.every((id) => this.holders(id).length === 1);
  }

  /** Overlaps so far, open ones included. */
  overlapCount(): number {
    return this.overlaps.length + this.#since.size;
  }

  /** Starts counting gaps from now (after a start-up, when every endpoint was held). */
  watchGaps(ids: readonly string[]): void {
    this.longestGap = 0;
    this.mostUnheld = 0;
    this.#unheldSince.clear();
    for (const id of ids) if (this.holders(id).length === 0) this.#unheldSince.set(id, this.clock.now());
  }

  #changed(id: string): void {
    const count = this.holders(id).length;
    const now = this.clock.now();
    const since = this.#since.get(id);
    if (count >= 2 && since === undefined) this.#since.set(id, now);
    if (count < 2 && since !== undefined) {
      this.#since.delete(id);
      this.overlaps.push({ id, ms: now - since });
    }
    const unheld = this.#unheldSince.get(id);
    if (count === 0 && unheld === undefined) {
      this.#unheldSince.set(id, now);
      this.mostUnheld = Math.max(this.mostUnheld, this.#unheldSince.size);
    }
    if (count > 0 && unheld !== undefined) {
      this.#unheldSince.delete(id);
      this.longestGap = Math.max(this.longestGap, now - unheld);
    }
  }
}

/** What the adapter does for the coordinator: runs a link for each endpoint it holds. */
export class FakeHost implements ClusterHost {
  readonly running = new Set<string>();
  readonly reconnects: string[] = [];
  /** The agents' side cannot be reached from this instance: its links stay down. */
  cutOff = false;

  constructor(
    readonly name: string,
    private readonly agents: Agents,
  ) {}

  /** The agents' side rejects these links for good (a token refused): they show as failed. */
  failed = false;

  statuses(): EndpointStatus[] {
    const down = this.cutOff || this.failed;
    return [...this.running].map((id) => ({
      id,
      url: `ws://${hostOf(id)}/mcp/?token=<masked:${id}>`,
      state: this.failed ? "failed" : this.cutOff ? "reconnecting" : "connected",
      connected: !down,
      initialized: !down,
      reconnectAttempts: 0,
      republishing: false,
      healthScore: 100,
      weight: 1,
      inflight: 0,
    }));
  }

  async drop(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.#stop(id);
  }

  reconnect(id: string): void {
    this.reconnects.push(id);
  }

  /** Runs what the coordinator holds and nothing else (the adapter's apply on `changed`). */
  sync(coordinator: RedisClusterCoordinator): void {
    for (const { id } of describe(coordinator.entries)) if (coordinator.holds(id)) this.#run(id);
    for (const id of [...this.running]) if (!coordinator.holds(id)) this.#stop(id);
  }

  /** The process died: its sockets close with it. */
  die(): void {
    for (const id of [...this.running]) this.#stop(id);
  }

  /** Told when a link's state changes, as the adapter tells the coordinator (`touch`). */
  changed = () => {};

  cut(): void {
    this.cutOff = true;
    for (const id of this.running) this.agents.close(id, this.name);
    this.changed();
  }

  #run(id: string): void {
    if (this.running.has(id)) return;
    this.running.add(id);
    if (!this.cutOff) this.agents.open(id, this.name);
  }

  #stop(id: string): void {
    if (!this.running.delete(id)) return;
    this.agents.close(id, this.name);
  }
}

export interface TestInstance {
  readonly name: string;
  readonly coordinator: RedisClusterCoordinator;
  readonly connection: MemoryConnection;
  readonly host: FakeHost;
  readonly logs: string[];
  /** Settles once `start` did. */
  readonly started: Promise<void>;
}

export interface StartOptions {
  readonly instanceId?: string;
  readonly seed?: string[];
  readonly leaseTtl?: number;
  readonly handoverBatch?: number;
  readonly wallClock?: () => number;
  /** Resolve before the join finished (for a start that waits). */
  readonly noWait?: boolean;
}

/** A cluster of in-process coordinators over a memory Redis on a fake clock. */
export class TestCluster {
  readonly clock = new FakeClock();
  readonly redis = new MemoryRedis(this.clock);
  readonly agents = new Agents(this.clock);
  readonly instances = new Map<string, TestInstance>();
  #ids = 0;

  constructor(
    readonly endpoints: readonly string[],
    readonly leaseTtl = 2000,
  ) {}

  get tickMs(): number {
    return Math.min(1000, Math.max(100, Math.round(this.leaseTtl / 10)));
  }

  instance(name: string): TestInstance {
    const found = this.instances.get(name);
    if (!found) throw new Error(`no instance ${name}`);
    return found;
  }

  /** Starts an instance and waits (on the fake clock) until it has joined. */
  async start(name: string, options: StartOptions = {}): Promise<TestInstance> {
    const connection = this.redis.connect(name);
    const host = new FakeHost(name, this.agents);
    const logs: string[] = [];
    const log =
      (level: string) =>
      (...args: unknown[]) =>
        logs.push(`${level} ${String(args.find((a) => typeof a === "string") ?? "")}`);
    const logger: Logger = { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
    const coordinator = new RedisClusterCoordinator({
      stores: async () => connection.stores(),
      logger,
      seed: options.seed ?? [...this.endpoints],
      describe,
      redis: "redis://memory",
      instanceId: options.instanceId ?? name,
      leaseTtl: options.leaseTtl ?? this.leaseTtl,
      ...(options.handoverBatch ? { handoverBatch: options.handoverBatch } : {}),
      clock: this.clock.for(name),
      randomId: () => `${name}${(++this.#ids).toString(16).padStart(6, "0")}`,
      wallClock: options.wallClock ?? (() => this.clock.now()),
    });
    coordinator.on("changed", () => host.sync(coordinator));
    host.changed = () => coordinator.touch();
    const started = coordinator.start(host);
    started.catch(() => {});
    const instance: TestInstance = { name, coordinator, connection, host, logs, started };
    this.instances.set(name, instance);
    if (options.noWait) return instance;
    await this.until(started);
    return instance;
  }

  /** Starts instances together (as processes started at one moment) and waits until each has joined. */
  async startAll(names: readonly string[]): Promise<void> {
    const joined = names.map((name) => this.start(name, { noWait: true }));
    const instances = await Promise.all(joined);
    await this.until(Promise.all(instances.map((i) => i.started)));
  }

  /** Advances the clock a tick at a time until `promise` settles (at most a minute of fake time). */
  async until<T>(promise: Promise<T>): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    watched.catch(() => {});
    for (let i = 0; i < 60_000 / this.tickMs && !settled; i++) await this.clock.advance(this.tickMs);
    return watched;
  }

  /** Advances until `predicate` holds, a tick at a time; returns the fake ms it took, or throws. */
  async waitFor(predicate: () => boolean, limitMs: number, what: string): Promise<number> {
    const started = this.clock.now();
    await settle();
    while (!predicate()) {
      if (this.clock.now() - started >= limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
      await this.clock.advance(Math.max(50, this.tickMs / 2));
    }
    return this.clock.now() - started;
  }

  /** A SIGKILL: no more ticks, no release, its sockets closed. */
  kill(name: string): void {
    const instance = this.instance(name);
    this.clock.pause(name);
    instance.connection.pause();
    instance.host.die();
    this.instances.delete(name);
  }

  /** A SIGSTOP: nothing runs and its sockets stay open. */
  pause(name: string): void {
    this.clock.pause(name);
    this.instance(name).connection.pause();
  }

  resume(name: string): void {
    this.clock.resume(name);
    this.instance(name).connection.resume();
  }

  /** A graceful stop, as the adapter does it: hand over, close what is left, leave. */
  async stop(name: string): Promise<void> {
    const instance = this.instance(name);
    await this.until(instance.coordinator.drain());
    instance.host.die();
    await this.until(instance.coordinator.stop());
    this.instances.delete(name);
  }

  async stopAll(): Promise<void> {
    for (const name of [...this.instances.keys()]) await this.stop(name);
  }

  /** Each endpoint held once by the agents' count and in the leases, by one of the running instances. */
  settled(): boolean {
    const listed = describe(this.redis.list?.entries ?? []).map((e) => e.id);
    return (
      listed.length > 0 &&
      this.agents.eachOnce(listed) &&
      listed.every((id) => {
        const holder = this.redis.lease(id)?.split("|")[0];
        return holder !== undefined && this.instances.get(holder)?.coordinator.holds(id) === true;
      })
    );
  }

  /** Every instance's view shows every endpoint with the instance whose lease it is. */
  viewsAgree(): boolean {
    const owners = this.owners();
    return [...this.instances.values()].every(({ coordinator }) =>
      coordinator.endpoints([]).every((e) => e.instance === (owners.get(e.id) ?? null)),
    );
  }

  /** Endpoint → the instance holding it, by lease. */
  owners(): Map<string, string> {
    const listed = describe(this.redis.list?.entries ?? []).map((e) => e.id);
    return new Map(listed.map((id) => [id, this.redis.lease(id)?.split("|")[0] ?? "-"]));
  }

  loads(): number[] {
    const counts = new Map<string, number>();
    for (const owner of this.owners().values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    return [...counts.values()].sort((a, b) => a - b);
  }
}

export function ids(count: number, prefix = "e"): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(2, "0")}`);
}
