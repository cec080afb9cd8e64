import {
  type BeatResult,
  type ClusterStores,
  type LeaseChange,
  type LeaseLogPosition,
  type LiveMember,
  type MemberInfo,
  type StoredList,
  StoreError,
  type WriteResult,
} from "../src/stores.js";
import type { FakeClock } from "./fake-clock.js";

type Kind =
  | "beat"
  | "read"
  | "acquire"
  | "renew"
  | "release"
  | "seed"
  | "write"
  | "list"
  | "status"
  | "publish";

/**
 * Redis in memory on a fake clock, with the semantics of the Lua scripts (the contract test runs
 * the same cases against both), and the faults a test needs: Redis away, Redis losing its data,
 * a connection paused (a SIGSTOPped process), a reply lost, a command that lands late.
 */
export class MemoryRedis {
  readonly #values = new Map<string, { value: string; expires: number }>();
  readonly #live = new Map<string, { deadline: number; info: string }>();
  #list: StoredList | undefined;
  readonly #subscribers = new Set<MemoryConnection>();
  /** Redis answers nobody (connections refused). */
  down = false;
  /** Commands run, by kind: how a test sees what an instance did. */
  readonly calls = new Map<string, number>();
  /** Lease values read (by `read` and `snapshot`): what reading the leases costs. */
  leasesRead = 0;
  /** The lease log: every change, numbered from 1; at least the `logKeep` most recent are kept. */
  #log: { seq: number; id: string; value: string | undefined }[] = [];
  #seq = 0;
  logKeep = 50_000;

  constructor(readonly clock: FakeClock) {}

  /** Redis's own time: one clock for every instance. */
  time(): number {
    return this.clock.now() + 1_700_000_000_000;
  }

  /** Redis restarts empty. */
  flush(): void {
    this.#log = [];
    this.#seq = 0;
    this.#values.clear();
    this.#live.clear();
    this.#list = undefined;
  }

  connect(name: string): MemoryConnection {
    return new MemoryConnection(this, name);
  }

  get list(): StoredList | undefined {
    return this.#list;
  }

  lease(id: string): string | undefined {
    return this.get(`lease:${id}`);
  }

  /** Logs a lease change, as the Lua scripts do. */
  logLease(id: string, value: string | undefined): void {
    this.#seq++;
    this.#log.push({ seq: this.#seq, id, value });
    // Trimmed in steps, as Redis trims with `MAXLEN ~`: at least the last `logKeep` stay.
    if (this.#log.length >= 2 * this.logKeep) this.#log = this.#log.slice(-this.logKeep);
  }

  get position(): LeaseLogPosition {
    return { seq: this.#seq, cursor: String(this.#seq) };
  }

  leaseChanges(
    after: LeaseLogPosition,
    max: number,
  ): { changes: LeaseChange[]; at: LeaseLogPosition } | undefined {
    if (after.seq === this.#seq) return { changes: [], at: this.position };
    if (after.seq > this.#seq || this.#seq - after.seq > max) return undefined;
    const first = this.#log.findIndex((entry) => entry.seq > after.seq);
    if (first < 0 || this.#log[first]?.seq !== after.seq + 1) return undefined;
    const changes = this.#log.slice(first).map((entry): LeaseChange => [entry.id, entry.value]);
    return { changes, at: this.position };
  }

  get(key: string): string | undefined {
    const entry = this.#values.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.time()) {
      this.#values.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Milliseconds `key` has left, or undefined when it is not there. */
  ttl(key: string): number | undefined {
    return this.get(key) === undefined ? undefined : (this.#values.get(key)?.expires ?? 0) - this.time();
  }

  set(key: string, value: string, ttl = Number.POSITIVE_INFINITY): void {
    this.#values.set(key, { value, expires: this.time() + ttl });
  }

  delete(key: string): void {
    this.#values.delete(key);
  }

  publish(message: string): void {
    for (const connection of this.#subscribers) connection.deliver(message);
  }

  subscribe(connection: MemoryConnection): () => void {
    this.#subscribers.add(connection);
    return () => this.#subscribers.delete(connection);
  }

  beat(id: string, info: MemberInfo, proposedBoot: string): BeatResult {
    const now = this.time();
    let boot = this.get("boot");
    if (boot === undefined) {
      boot = proposedBoot;
      this.set("boot", boot);
    }
    for (const [member, entry] of this.#live) if (entry.deadline < now) this.#live.delete(member);
    const current = this.#live.get(id);
    if (current && (JSON.parse(current.info) as MemberInfo).incarnation !== info.incarnation) {
      return { taken: true, now, holder: member(current.info, current.deadline) };
    }
    this.#live.set(id, { deadline: now + info.ttl, info: JSON.stringify(info) });
    const list = this.#list;
    return {
      taken: false,
      now,
      boot,
      list: list && { epoch: list.epoch, version: list.version, settleUntil: list.settleUntil },
      live: new Map([...this.#live].map(([member_, entry]) => [member_, member(entry.info, entry.deadline)])),
    };
  }

  leave(id: string, incarnation: string): void {
    const current = this.#live.get(id);
    if (current && (JSON.parse(current.info) as MemberInfo).incarnation === incarnation)
      this.#live.delete(id);
  }

  seed(list: Omit<StoredList, "settleUntil">, settleMs: number): boolean {
    const now = this.time();
    const current = this.#list;
    let write = current === undefined;
    if (current && now < current.settleUntil) {
      write =
        (current.origin === "file" && list.origin === "history") ||
        (current.epoch === list.epoch && list.version > current.version);
    }
    if (!write) return false;
    this.#list = { ...structuredClone(list), settleUntil: now + settleMs };
    this.publish(JSON.stringify({ t: "list", epoch: list.epoch, v: list.version }));
    return true;
  }

  write(
    base: { epoch: string; version: number },
    entries: unknown[],
    changeId: string,
    keep: number,
  ): WriteResult {
    const now = this.time();
    const current = this.#list;
    if (!current) return { kind: "absent" };
    if (current.changes.includes(changeId)) return { kind: "applied" };
    if (current.epoch !== base.epoch || current.version !== base.version) return { kind: "conflict" };
    if (now < current.settleUntil) return { kind: "settling", waitMs: current.settleUntil - now };
    const version = current.version + 1;
    this.#list = {
      ...current,
      version,
      entries: structuredClone(entries),
      origin: "history",
      changes: [...current.changes, changeId].slice(-keep),
    };
    this.publish(JSON.stringify({ t: "list", epoch: current.epoch, v: version }));
    return { kind: "written", version };
  }

  count(kind: string): void {
    this.calls.set(kind, (this.calls.get(kind) ?? 0) + 1);
  }
}

/** One instance's connection: the faults of one process's link to Redis. */
export class MemoryConnection {
  #paused: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  /** Messages that arrived while paused, delivered on resume. */
  readonly #held: string[] = [];
  readonly #listeners = new Set<(message: string) => void>();
  readonly #faults = new Map<Kind, { lose?: boolean; drop?: boolean; delayMs?: number }>();
  /** This connection alone cannot reach Redis (a partition). */
  cut = false;
  /** Its subscription is down (it reconnects apart from the commands): messages are missed. */
  deaf = false;
  #stalledUntil = Number.NEGATIVE_INFINITY;
  /** A stall that starts with the first command of a kind. */
  #stallFrom: { readonly kind: Kind; readonly ms: number } | undefined;

  constructor(
    readonly redis: MemoryRedis,
    readonly name: string,
  ) {}

  /** Holds every command and message until `resume` (a SIGSTOPped process). */
  pause(): void {
    this.#paused ??= new Promise((resolve) => {
      this.#resume = resolve;
    });
  }

  resume(): void {
    this.#resume?.();
    this.#paused = undefined;
    for (const message of this.#held.splice(0)) this.deliver(message);
  }

  /** The next command of this kind runs, but its reply is lost (the caller sees a timeout). */
  loseReply(kind: Kind): void {
    this.#faults.set(kind, { lose: true });
  }

  /** The next command of this kind never reaches Redis, and the caller sees a timeout. */
  drop(kind: Kind): void {
    this.#faults.set(kind, { drop: true });
  }

  /** The next command of this kind times out for the caller and runs `ms` later (Redis paused). */
  delay(kind: Kind, ms: number): void {
    this.#faults.set(kind, { delayMs: ms });
  }

  /**
   * For `ms` (from now, or from the first command of kind `from`), Redis takes this connection's
   * commands but runs none (`CLIENT PAUSE`): each times out for the caller after 400 ms and runs,
   * in order, when the pause ends.
   */
  stall(ms: number, from?: Kind): void {
    if (from === undefined) this.#stalledUntil = this.redis.clock.now() + ms;
    else this.#stallFrom = { kind: from, ms };
  }

  deliver(message: string): void {
    if (this.deaf) return;
    if (this.#paused) this.#held.push(message);
    else for (const listener of this.#listeners) listener(message);
  }

  async run<T>(kind: Kind, command: () => T): Promise<T> {
    if (this.#paused) await this.#paused;
    if (this.redis.down || this.cut) throw new StoreError("Redis: connect ECONNREFUSED", false);
    const clock = this.redis.clock;
    if (this.#stallFrom?.kind === kind) {
      this.#stalledUntil = clock.now() + this.#stallFrom.ms;
      this.#stallFrom = undefined;
    }
    if (clock.now() < this.#stalledUntil) {
      const timers = clock.for("redis");
      timers.setTimeout(() => {
        if (!this.redis.down) command();
      }, this.#stalledUntil - clock.now());
      await new Promise((resolve) =>
        timers.setTimeout(() => resolve(undefined), Math.min(400, this.#stalledUntil - clock.now())),
      );
      throw new StoreError("Redis: Command timed out", true);
    }
    const fault = this.#faults.get(kind);
    this.#faults.delete(kind);
    if (fault?.delayMs !== undefined) {
      this.redis.clock.for("redis").setTimeout(() => {
        if (!this.redis.down) command();
      }, fault.delayMs);
      throw new StoreError("Redis: Command timed out", true);
    }
    if (fault?.drop) throw new StoreError("Redis: Command timed out", true);
    this.redis.count(kind);
    const result = command();
    if (fault?.lose) throw new StoreError("Redis: Command timed out", true);
    return result;
  }

  stores(): ClusterStores {
    const redis = this.redis;
    const run = this.run.bind(this);
    return {
      members: {
        beat: (id, info, proposedBoot) => run("beat", () => redis.beat(id, info, proposedBoot)),
        leave: (id, incarnation) => run("status", () => redis.leave(id, incarnation)),
        saveStatus: (id, change, message, ttl) =>
          run("status", () => {
            // A hash, as Redis keeps it: the version and each endpoint's status by id.
            const key = `status-of:${id}`;
            const known = redis.get(key);
            const fields: Record<string, string> = change.full || !known ? {} : JSON.parse(known);
            for (const [endpoint, text] of change.set) fields[endpoint] = text;
            for (const endpoint of change.gone) delete fields[endpoint];
            fields[""] = String(change.version);
            if (change.incarnation !== undefined) fields[" incarnation"] = change.incarnation;
            redis.set(key, JSON.stringify(fields), ttl);
            redis.publish(message);
          }),
        keepStatus: (id, ttl) =>
          run("status", () => {
            const text = redis.get(`status-of:${id}`);
            if (text !== undefined) redis.set(`status-of:${id}`, text, ttl);
          }),
        readStatuses: (ids) =>
          run("status", () =>
            ids.map((id) => {
              const text = redis.get(`status-of:${id}`);
              if (text === undefined) return undefined;
              const {
                "": version,
                " incarnation": incarnation,
                ...endpoints
              } = JSON.parse(text) as Record<string, string>;
              return {
                version: Number(version),
                endpoints: Object.values(endpoints),
                ...(incarnation === undefined ? {} : { incarnation }),
              };
            }),
          ),
      },
      leases: {
        read: (ids) =>
          run("read", () => {
            redis.leasesRead += ids.length;
            return ids.map((id) => redis.lease(id));
          }),
        snapshot: (ids) =>
          run("read", () => {
            redis.leasesRead += ids.length;
            return { values: ids.map((id) => redis.lease(id)), at: redis.position };
          }),
        changes: (after, max) => run("read", () => redis.leaseChanges(after, max)),
        acquire: (ids, value, ttl) =>
          run("acquire", () =>
            ids.map((id) => {
              if (redis.lease(id) !== undefined) return false;
              redis.set(`lease:${id}`, value, ttl);
              redis.logLease(id, value);
              return true;
            }),
          ),
        renew: (ids, value, ttl) =>
          run("renew", () =>
            ids.map((id) => {
              const holder = redis.lease(id);
              if (holder !== undefined && holder !== value) return false;
              redis.set(`lease:${id}`, value, ttl);
              if (holder === undefined) redis.logLease(id, value);
              return true;
            }),
          ),
        lapse: (ids) =>
          run("read", () => {
            let last: number | undefined;
            for (const id of ids) {
              const left = redis.ttl(`lease:${id}`);
              if (left !== undefined) last = Math.max(last ?? 0, left);
            }
            return last === Number.POSITIVE_INFINITY ? undefined : last;
          }),
        release: (ids, value) =>
          run("release", () => {
            for (const id of ids) {
              if (redis.lease(id) !== value) continue;
              redis.delete(`lease:${id}`);
              redis.logLease(id, undefined);
            }
          }),
      },
      list: {
        read: () => run("list", () => structuredClone(redis.list)),
        seed: (list, settleMs) => run("seed", () => redis.seed(list, settleMs)),
        write: (base, entries, changeId, keep) =>
          run("write", () => redis.write(base, entries, changeId, keep)),
      },
      bus: {
        publish: (message) => run("publish", () => redis.publish(message)),
        subscribe: (listener) => {
          this.#listeners.add(listener);
          const off = redis.subscribe(this);
          return () => {
            this.#listeners.delete(listener);
            off();
          };
        },
      },
      connect: async () => {},
      close: () => {},
    };
  }
}

function member(info: string, deadline: number): LiveMember {
  return { ...(JSON.parse(info) as MemberInfo), deadline };
}
