import type { Redis, RedisOptions } from "ioredis";
import { failureOf, neverSent, passwordOf, redisCause } from "./redis-errors.js";
import {
  acquireScript,
  beatScript,
  changesScript,
  checkScript,
  knownLeasesHash,
  lapseScript,
  leaveScript,
  releaseScript,
  renewScript,
  seedScript,
  snapshotScript,
  writeScript,
} from "./redis-scripts.js";
import { member, parseEntries } from "./stored-values.js";
import {
  type BeatResult,
  type ClusterStores,
  type LeaseChange,
  type LeaseLogPosition,
  type LiveMember,
  type MemberInfo,
  type StoredList,
  type StoredStatus,
  StoreError,
  type WriteResult,
} from "./stores.js";

type Args = (string | number)[];
interface Scripts {
  xzBeat(...args: Args): Promise<(string | number)[]>;
  xzLeave(...args: Args): Promise<number>;
  xzAcquire(...args: Args): Promise<number[]>;
  xzRenew(...args: Args): Promise<number[]>;
  xzLapse(...args: Args): Promise<number>;
  xzRelease(...args: Args): Promise<number>;
  xzSeed(...args: Args): Promise<number>;
  xzWrite(...args: Args): Promise<(string | number)[]>;
  xzChanges(...args: Args): Promise<(string | number)[]>;
  xzSnapshot(...args: Args): Promise<(string | number)[]>;
  xzCheck(...args: Args): Promise<string>;
}
type Client = Redis & Scripts;

export interface RedisStoresOptions {
  readonly url: string;
  /** Key prefix, `<namespace>:`. */
  readonly prefix: string;
  /** A command not answered within this many ms fails (it may still run). */
  readonly commandTimeout: number;
  /** Reports connection errors (they repeat while Redis is away), as {@link StoreError}s word them. */
  readonly onError?: (message: string) => void;
}

/**
 * The stores over ioredis: one connection for commands and one for the events channel. Commands
 * are never queued while Redis is away, so a failed call says whether it was sent.
 */
export async function redisStores(options: RedisStoresOptions): Promise<ClusterStores> {
  const { Redis } = await import("ioredis");
  const settings: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeout,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 1000),
  };
  const redis = new Redis(options.url, settings) as Client;
  redis.defineCommand("xzBeat", { numberOfKeys: 4, lua: beatScript });
  redis.defineCommand("xzLeave", { numberOfKeys: 2, lua: leaveScript });
  redis.defineCommand("xzAcquire", { lua: acquireScript });
  redis.defineCommand("xzRenew", { lua: renewScript });
  redis.defineCommand("xzLapse", { lua: lapseScript });
  redis.defineCommand("xzRelease", { lua: releaseScript });
  redis.defineCommand("xzSeed", { numberOfKeys: 1, lua: seedScript });
  redis.defineCommand("xzWrite", { numberOfKeys: 1, lua: writeScript });
  redis.defineCommand("xzChanges", { numberOfKeys: 2, lua: changesScript });
  redis.defineCommand("xzSnapshot", { lua: snapshotScript });
  redis.defineCommand("xzCheck", { lua: checkScript });
  // What the connection last failed with (a refused password, a refused connection): a command
  // refused because the connection is down fails with it, not with that it was not sent.
  const password = passwordOf(options.url);
  let down: string | undefined;
  const failed = (error: Error) => {
    down = redisCause(error.message, password);
    options.onError?.(down);
  };
  redis.on("error", failed);
  redis.on("ready", () => {
    down = undefined;
  });
  // The subscription waits out an outage (its commands are queued, never given up), and is made
  // again on every reconnect: a connection that came back unsubscribed would hear nothing.
  const subscriber = redis.duplicate({
    enableOfflineQueue: true,
    commandTimeout: undefined,
    maxRetriesPerRequest: null,
  });
  subscriber.on("error", (error: Error) => options.onError?.(redisCause(error.message, password)));
  const key = (name: string) => options.prefix + name;
  const channel = key("events");
  const leasePrefix = key("lease:");
  // The lease keys, then the lease log's counter and stream, which the scripts write together.
  const logKeys = [key("lease-seq"), key("lease-log")];
  const leaseKeys = (ids: readonly string[]) => [...ids.map((id) => leasePrefix + id), ...logKeys];
  const listeners = new Set<(message: string) => void>();
  subscriber.on("message", (_channel: string, text: string) => {
    for (const listener of listeners) listener(text);
  });
  const unsubscribed = (error: Error) =>
    options.onError?.(`could not subscribe to the channel: ${redisCause(failureOf(error), password)}`);
  subscriber.on("ready", () => void subscriber.subscribe(channel).catch(unsubscribed));

  const call = async <T>(command: (client: Client) => Promise<T>): Promise<T> => {
    try {
      return await command(redis);
    } catch (error) {
      const message = failureOf(error);
      // Only a command refused before it was written provably did nothing.
      const sent = !neverSent(message);
      throw new StoreError((!sent && down) || redisCause(message, password), sent, { cause: error });
    }
  };
  // One script per chunk of ids, in one transaction: every chunk sees the same moment.
  const everyChunk = async (ids: readonly string[], run: (multi: Scripts, part: string[]) => void) => {
    const parts = ids.length === 0 ? [[]] : chunks(ids);
    const replies = await call(async (r) => {
      const multi = r.multi() as unknown as Scripts & { exec(): Promise<[Error | null, unknown][] | null> };
      for (const part of parts) run(multi, part);
      const results = await multi.exec();
      if (!results) throw new Error("lease transaction aborted");
      return results.map(([error, reply]) => {
        if (error) throw error;
        return reply;
      });
    });
    return { parts, replies };
  };

  return {
    members: {
      async beat(id: string, info: MemberInfo, proposedBoot: string): Promise<BeatResult> {
        const keys = [key("live"), key("instances"), key("endpoints"), key("boot")];
        const reply = await call((r) =>
          r.xzBeat(...keys, id, info.incarnation, JSON.stringify(info), info.ttl, proposedBoot),
        );
        const now = Number(reply[1]);
        if (reply[0] === "taken") {
          return { taken: true, now, holder: member(String(reply[2]), Number(reply[3])) };
        }
        const live = new Map<string, LiveMember>();
        for (let i = 6; i + 2 < reply.length; i += 3) {
          live.set(String(reply[i]), member(String(reply[i + 2]), Number(reply[i + 1])));
        }
        const epoch = String(reply[3]);
        return {
          taken: false,
          now,
          boot: String(reply[2]),
          list: epoch ? { epoch, version: Number(reply[4]), settleUntil: Number(reply[5]) } : undefined,
          live,
        };
      },
      async leave(id, incarnation) {
        await call((r) => r.xzLeave(key("live"), key("instances"), id, incarnation));
      },
      async saveStatus(id, change, message, ttl) {
        const k = key(`status-of:${id}`);
        await call((r) => {
          const multi = r.multi();
          if (change.full) multi.del(k);
          for (const part of chunks(change.set)) multi.hset(k, ...part.flat());
          for (const part of chunks(change.gone)) multi.hdel(k, ...part);
          if (change.incarnation !== undefined) multi.hset(k, incarnationField, change.incarnation);
          return multi
            .hset(k, versionField, String(change.version))
            .pexpire(k, ttl)
            .publish(channel, message)
            .exec();
        });
      },
      async keepStatus(id, ttl) {
        await call((r) => r.pexpire(key(`status-of:${id}`), ttl));
      },
      readStatuses(ids) {
        if (ids.length === 0) return Promise.resolve([]);
        return call(async (r) => {
          const pipeline = r.pipeline();
          for (const id of ids) pipeline.hgetall(key(`status-of:${id}`));
          const replies = (await pipeline.exec()) ?? [];
          return replies.map(([error, reply]): StoredStatus | undefined => {
            if (error) throw error;
            const fields = reply as Record<string, string>;
            const version = fields[versionField];
            if (version === undefined) return undefined;
            const endpoints = Object.entries(fields)
              .filter(([field]) => field !== versionField && field !== incarnationField)
              .map(([, text]) => text);
            const incarnation = fields[incarnationField];
            return {
              version: Number(version),
              endpoints,
              ...(incarnation === undefined ? {} : { incarnation }),
            };
          });
        });
      },
    },
    // Every lease command goes in chunks, pipelined: a command's keys are spread into arguments,
    // which has limits (a call's arguments in JavaScript, Lua's stack in a script) long before a
    // hundred thousand endpoints. The renewal and the periodic check send each chunk's ids as one
    // argument instead; chunks still bound how long one script holds Redis.
    leases: {
      read(ids) {
        return chunked(ids, (part) =>
          call(async (r) => (await r.mget(...part.map((id) => leasePrefix + id))).map((v) => v ?? undefined)),
        );
      },
      async snapshot(ids) {
        const { replies } = await everyChunk(ids, (multi, part) =>
          multi.xzSnapshot(part.length + logKeys.length, ...leaseKeys(part)),
        );
        const first = replies[0] as (string | number)[];
        const at: LeaseLogPosition = { seq: Number(first[0]), cursor: String(first[1]) };
        const values = (replies as (string | number)[][]).flatMap((reply) =>
          reply.slice(2).map((v) => (v === "" ? undefined : String(v))),
        );
        return { values, at };
      },
      async matches(ids, known, value, at) {
        const { parts, replies } = await everyChunk(ids, (multi, part) =>
          multi.xzCheck(2, ...logKeys, at.seq, at.cursor, value, leasePrefix, JSON.stringify(part)),
        );
        let from = 0;
        return parts.every((part, i) => {
          from += part.length;
          return replies[i] === knownLeasesHash(known.slice(from - part.length, from), value);
        });
      },
      async changes(after, max) {
        const reply = await call((r) => r.xzChanges(...logKeys, after.seq, after.cursor, max));
        if (reply[0] === "gap") return undefined;
        const changes: LeaseChange[] = [];
        for (let i = 2; i + 1 < reply.length; i += 2) {
          const value = String(reply[i + 1]);
          changes.push([String(reply[i]).slice(leasePrefix.length), value === "" ? undefined : value]);
        }
        return { changes, at: { seq: Number(reply[0]), cursor: String(reply[1]) } };
      },
      async acquire(ids, value, ttl) {
        return chunked(ids, async (part) => {
          const keys = leaseKeys(part);
          return (await call((r) => r.xzAcquire(keys.length, ...keys, value, ttl, logKeep))).map(
            (n) => n === 1,
          );
        });
      },
      async renew(ids, value, ttl) {
        return chunked(ids, async (part) => {
          const lost = await call((r) =>
            r.xzRenew(2, ...logKeys, value, ttl, logKeep, leasePrefix, JSON.stringify(part)),
          );
          const kept = part.map(() => true);
          for (const position of lost) kept[position - 1] = false;
          return kept;
        });
      },
      async lapse(ids) {
        const lasts = await chunked(ids, async (part) => {
          const keys = part.map((id) => leasePrefix + id);
          return [await call((r) => r.xzLapse(keys.length, ...keys))];
        });
        // -1: a lease without a TTL (set by hand) never lapses; -2: none is held.
        if (lasts.includes(-1)) return undefined;
        const last = Math.max(-2, ...lasts);
        return last < 0 ? undefined : last;
      },
      async release(ids, value) {
        await chunked(ids, async (part) => {
          const keys = leaseKeys(part);
          // ARGV[2] is unused: the log size is ARGV[3] in every lease script.
          await call((r) => r.xzRelease(keys.length, ...keys, value, "", logKeep));
          return [];
        });
      },
    },
    list: {
      async read(): Promise<StoredList | undefined> {
        const fields = ["epoch", "version", "entries", "origin", "settleUntil", "changes"] as const;
        const [epoch, version, entries, origin, settleUntil, changes] = await call((r) =>
          r.hmget(key("endpoints"), ...fields),
        );
        if (!epoch || !entries) return undefined;
        return {
          epoch,
          version: Number(version),
          entries: parseEntries(entries),
          origin: origin === "history" ? "history" : "file",
          settleUntil: Number(settleUntil) || 0,
          changes: (changes ?? "").split(" ").filter(Boolean),
        };
      },
      async seed(list, settleMs) {
        const written = await call((r) =>
          r.xzSeed(
            key("endpoints"),
            list.epoch,
            list.version,
            JSON.stringify(list.entries),
            list.origin,
            list.changes.join(" "),
            settleMs,
            channel,
          ),
        );
        return written === 1;
      },
      async write(base, entries, changeId, keep): Promise<WriteResult> {
        const reply = await call((r) =>
          r.xzWrite(
            key("endpoints"),
            base.epoch,
            base.version,
            JSON.stringify(entries),
            changeId,
            keep,
            channel,
          ),
        );
        switch (reply[0]) {
          case "written":
            return { kind: "written", version: Number(reply[1]) };
          case "applied":
            return { kind: "applied" };
          case "settling":
            return { kind: "settling", waitMs: Number(reply[1]) };
          case "absent":
            return { kind: "absent" };
          default:
            return { kind: "conflict" };
        }
      },
    },
    bus: {
      async publish(message) {
        await call((r) => r.publish(channel, message));
      },
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    async connect() {
      if (redis.status === "ready") return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          redis.off("ready", done);
          resolve();
        };
        const timer = setTimeout(done, 3000);
        redis.once("ready", done);
      });
    },
    close() {
      listeners.clear();
      subscriber.disconnect();
      redis.disconnect();
    },
  };
}

/** Leases per lease command (keys, or ids in the renewal's and the check's one argument). */
const leaseChunk = 5000;

/** The field of a stored status that holds its version: no endpoint id is empty. */
const versionField = "";
/** The stored status's field naming the process that saved it (no endpoint id starts with a space). */
const incarnationField = " incarnation";

/** About how many lease changes Redis keeps: an instance further behind reads the leases instead. */
const logKeep = 50_000;

function chunks<T>(ids: readonly T[]): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < ids.length; i += leaseChunk) parts.push(ids.slice(i, i + leaseChunk));
  return parts;
}

/** `run` over `ids` in chunks of {@link leaseChunk}, all sent at once; the answers in order. */
async function chunked<T>(
  ids: readonly string[],
  run: (part: readonly string[]) => Promise<T[]>,
): Promise<T[]> {
  if (ids.length === 0) return [];
  if (ids.length <= leaseChunk) return run(ids);
  return (await Promise.all(chunks(ids).map(run))).flat();
}
