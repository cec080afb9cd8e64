import { type ClusterStores, StoreError } from "../src/stores.js";
import type { MemoryRedis } from "./memory-redis.js";

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
        matches: (ids, known, value, at) =>
          run("read", () => {
            const { seq, cursor } = redis.position;
            if (seq !== at.seq || cursor !== at.cursor) return false;
            // Held by another, a lease shows as its instance: the text before "|".
            const seen = (v: string | undefined) =>
              v === undefined || v === value ? v : v.slice(0, v.indexOf("|"));
            return ids.every((id, i) => seen(redis.lease(id)) === known[i]);
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
