import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMessage } from "../src/messages.js";
import { redisStores } from "../src/redis-stores.js";
import type { ClusterStores, MemberInfo } from "../src/stores.js";
import { FakeClock } from "./fake-clock.js";
import { MemoryRedis } from "./memory-redis.js";
import { redisAvailable, startRedis, type TestRedis } from "./redis-server.js";

// The same cases against the Lua scripts on a real redis-server and against the memory Redis the
// fake-clock tests use: the two agree, so what those tests show holds over Redis.
interface Backend {
  stores(name: string): Promise<ClusterStores>;
  /** A lease lapses. */
  lapse(id: string): Promise<void>;
  /** Redis restarts empty. */
  flush(): Promise<void>;
  /** Milliseconds a key (without the prefix) has left; undefined when it is not there. */
  ttl(key: string): Promise<number | undefined>;
  close(): Promise<void>;
}

const info = (incarnation: string, ttl = 10_000): MemberInfo => ({
  incarnation,
  address: null,
  startedAt: 1,
  ttl,
  avoid: [],
  avoidHosts: [],
});

function memory(): Backend {
  const redis = new MemoryRedis(new FakeClock());
  return {
    stores: async (name) => redis.connect(name).stores(),
    lapse: async (id) => redis.delete(`lease:${id}`),
    ttl: async (key) => redis.ttl(key),
    flush: async () => redis.flush(),
    close: async () => {},
  };
}

let server: TestRedis | undefined;
async function real(): Promise<Backend> {
  server ??= await startRedis();
  const url = server.url;
  const prefix = `contract-${Math.random().toString(16).slice(2)}:`;
  const admin = new Redis(url);
  const opened: ClusterStores[] = [];
  return {
    stores: async (name) => {
      // The contract is about answers, not latency: a busy machine may queue 150,000 leases' chunks
      // past the 1 s a server uses, so the commands get more time here.
      const stores = await redisStores({ url, prefix, commandTimeout: 5000, onError: () => name });
      await stores.connect();
      opened.push(stores);
      return stores;
    },
    lapse: async (id) => {
      await admin.del(`${prefix}lease:${id}`);
    },
    ttl: async (key) => {
      const left = await admin.pttl(`${prefix}${key}`);
      return left < 0 ? undefined : left;
    },
    flush: async () => {
      await admin.flushall();
    },
    close: async () => {
      for (const stores of opened) stores.close();
      admin.disconnect();
    },
  };
}

const backends: [string, () => Promise<Backend>][] = [["memory", async () => memory()]];
if (redisAvailable()) backends.push(["redis-server", real]);

afterAll(async () => {
  await server?.stop();
});

describe.each(backends)("the stores over %s", (_, make) => {
  let backend: Backend;
  let a: ClusterStores;
  let b: ClusterStores;

  beforeAll(async () => {
    backend = await make();
    await backend.flush();
    a = await backend.stores("a");
    b = await backend.stores("b");
  });

  afterAll(async () => {
    await backend.close();
  });

  it("beats: both live, a second process with a live id refused, a lapsed one forgotten, leave only its own", async () => {
    const first = await a.members.beat("a", info("ia"), "boot-1");
    expect(first.taken).toBe(false);
    const second = await b.members.beat("b", info("ib"), "boot-2");
    if (second.taken) throw new Error("b was refused");
    expect(second.boot).toBe(first.taken ? "" : first.boot);
    expect([...second.live.keys()].sort()).toEqual(["a", "b"]);
    expect(second.live.get("a")).toMatchObject({ incarnation: "ia", ttl: 10_000 });
    expect((second.live.get("a")?.deadline ?? 0) - second.now).toBeGreaterThan(9000);
    expect(second.list).toBeUndefined();
    const twin = await b.members.beat("a", info("other"), "boot-3");
    expect(twin).toMatchObject({ taken: true, holder: { incarnation: "ia" } });
    // A member whose heartbeat lapsed is forgotten at the next beat.
    await b.members.beat("gone", info("ig", -1), "boot-3");
    const after = await a.members.beat("a", info("ia"), "boot-3");
    expect(after.taken ? [] : [...after.live.keys()].sort()).toEqual(["a", "b"]);
    await b.members.leave("a", "other");
    await b.members.leave("b", "ib");
    const left = await a.members.beat("a", info("ia"), "boot-3");
    expect(left.taken ? [] : [...left.live.keys()]).toEqual(["a"]);
  });

  it("leases: one holder, renewed by it, taken again when lapsed, released only by it", async () => {
    expect(await a.leases.acquire(["e1", "e2"], "a|1", 10_000)).toEqual([true, true]);
    expect(await b.leases.acquire(["e1", "e3"], "b|1", 10_000)).toEqual([false, true]);
    expect(await b.leases.read(["e1", "e3", "e4"])).toEqual(["a|1", "b|1", undefined]);
    expect(await b.leases.renew(["e1", "e3"], "b|1", 10_000)).toEqual([false, true]);
    await backend.lapse("e2");
    expect(await a.leases.renew(["e1", "e2"], "a|1", 10_000)).toEqual([true, true]);
    expect(await a.leases.read(["e2"])).toEqual(["a|1"]);
    await b.leases.release(["e1", "e3"], "b|1");
    expect(await a.leases.read(["e1", "e3"])).toEqual(["a|1", undefined]);
    await a.leases.release(["e1", "e2"], "a|1");
    expect(await a.leases.read(["e1", "e2"])).toEqual([undefined, undefined]);
    expect(await a.leases.acquire([], "a|1", 10_000)).toEqual([]);
  });

  it("lapse: when the last of some leases lapses; none when none is held", async () => {
    expect(await a.leases.acquire(["l1"], "a|1", 10_000)).toEqual([true]);
    expect(await b.leases.acquire(["l2"], "b|1", 4_000)).toEqual([true]);
    const last = await a.leases.lapse?.(["l2", "l1", "l3"]);
    expect(last).toBeGreaterThan(9_000);
    expect(last).toBeLessThanOrEqual(10_000);
    const first = await a.leases.lapse?.(["l2"]);
    expect(first).toBeGreaterThan(3_000);
    expect(first).toBeLessThanOrEqual(4_000);
    expect(await a.leases.lapse?.(["l3"])).toBeUndefined();
    expect(await a.leases.lapse?.([])).toBeUndefined();
    await a.leases.release(["l1"], "a|1");
    await b.leases.release(["l2"], "b|1");
    expect(await a.leases.lapse?.(["l1", "l2"])).toBeUndefined();
  });

  it("the lease log: a snapshot's position, then every take, take-again and release after it in order", async () => {
    await backend.flush();
    const empty = await a.leases.snapshot([]);
    expect(empty.values).toEqual([]);
    expect(await b.leases.changes(empty.at, 100)).toEqual({ changes: [], at: empty.at });
    await a.leases.acquire(["l1", "l2"], "a|1", 10_000);
    const start = await b.leases.snapshot(["l1", "l2", "l3"]);
    expect(start.values).toEqual(["a|1", "a|1", undefined]);
    expect(start.at.seq).toBe(2);
    // Nothing changed: nothing to read.
    expect(await b.leases.changes(start.at, 100)).toEqual({ changes: [], at: start.at });
    expect(await b.leases.acquire(["l2", "l3"], "b|1", 10_000)).toEqual([false, true]);
    await a.leases.renew(["l1", "l2"], "a|1", 10_000);
    await backend.lapse("l1");
    await a.leases.renew(["l1"], "a|1", 10_000);
    await a.leases.release(["l2", "l3"], "a|1");
    await b.leases.release(["l3"], "b|1");
    const next = await a.leases.changes(start.at, 100);
    // Renewing a lease still held is not a change; a lapse is not logged, taking it again is.
    expect(next?.changes).toEqual([
      ["l3", "b|1"],
      ["l1", "a|1"],
      ["l2", undefined],
      ["l3", undefined],
    ]);
    expect(next?.at.seq).toBe(6);
    if (!next) return;
    expect(await b.leases.changes(next.at, 100)).toEqual({ changes: [], at: next.at });
    // More changes than worth reading, or a log Redis lost: the caller reads the leases instead.
    expect(await b.leases.changes(start.at, 3)).toBeUndefined();
    await backend.flush();
    expect(await b.leases.changes(next.at, 100)).toBeUndefined();
  });

  it("the periodic check: true only for the leases as known, with nothing logged since", async () => {
    await backend.flush();
    await a.leases.acquire(["l1"], "a|1", 10_000);
    await b.leases.acquire(["l2"], "b|1", 10_000);
    await a.leases.acquire(["l4"], "实例|7", 10_000);
    // An earlier process of the asker's instance: its lease shows as the instance, not as its own.
    await a.leases.acquire(["l5"], "b|0", 10_000);
    const ids = ["l1", "l2", "l3", "l4", "l5"];
    const { at } = await b.leases.snapshot(ids);
    const check = (known: (string | undefined)[], from = at, of = ids) =>
      b.leases.matches?.(of, known, "b|1", from);
    // Another's lease as its instance, the asker's own as its value, a free one as undefined.
    expect(await check(["a", "b|1", undefined, "实例", "b"])).toBe(true);
    expect(await check([], at, [])).toBe(true);
    expect(await check(["a", "b|1", "a", "实例", "b"])).toBe(false);
    expect(await check(["a", "b|1", undefined, "实例", "b|1"])).toBe(false);
    expect(await check(["a|1", "b|1", undefined, "实例", "b"])).toBe(false);
    expect(await check(["a", "b", undefined, "实例", "b"])).toBe(false);
    expect(await check(["a", "b|1", undefined, "实例x", "b"])).toBe(false);
    // A lapse is not logged: only the leases themselves tell it.
    await backend.lapse("l1");
    expect(await check(["a", "b|1", undefined, "实例", "b"])).toBe(false);
    expect(await check([undefined, "b|1", undefined, "实例", "b"])).toBe(true);
    // A change logged after the position: false whatever is known.
    await a.leases.acquire(["l3"], "a|1", 10_000);
    expect(await check([undefined, "b|1", "a", "实例", "b"])).toBe(false);
    const now = await b.leases.snapshot(ids);
    expect(await check([undefined, "b|1", "a", "实例", "b"], now.at)).toBe(true);
    // More leases than one command takes: a difference in any part of them is found.
    const many = Array.from({ length: 12_000 }, (_, i) => `c${i}`);
    await b.leases.acquire(many.slice(0, 6_000), "b|1", 10_000);
    const later = await b.leases.snapshot(many);
    const known = many.map((_, i) => (i < 6_000 ? "b|1" : undefined));
    const but = (at: number, to: string | undefined) => known.map((k, i) => (i === at ? to : k));
    expect(await check(known, later.at, many)).toBe(true);
    expect(await check(but(11_000, "a"), later.at, many)).toBe(false);
    expect(await check(but(5_999, undefined), later.at, many)).toBe(false);
  });

  it("ids of any text: the renewal (which builds its keys from the ids) finds the leases the take made", async () => {
    await backend.flush();
    const odd = ['a"b', "a\\b", "é", "😀", "x:y", "a b", "line\nbreak"];
    expect(await a.leases.acquire(odd, "a|1", 10_000)).toEqual(odd.map(() => true));
    const start = await b.leases.snapshot(odd);
    expect(await a.leases.renew(odd, "a|1", 10_000)).toEqual(odd.map(() => true));
    expect(await b.leases.renew(odd, "b|1", 10_000)).toEqual(odd.map(() => false));
    expect(await b.leases.read(odd)).toEqual(odd.map(() => "a|1"));
    // A renewal of leases held changes nothing: no second key was made for any id.
    expect(await b.leases.changes(start.at, 100)).toEqual({ changes: [], at: start.at });
    await a.leases.release(odd, "a|1");
  });

  it("takes, reads, renews and releases 150,000 leases at once, in order", async () => {
    const many = Array.from({ length: 150_000 }, (_, i) => `m${i}`);
    const taken = await a.leases.acquire(many, "a|1", 60_000);
    expect(taken).toHaveLength(many.length);
    expect(taken.every(Boolean)).toBe(true);
    expect(await b.leases.acquire(["m7", "m149999"], "b|1", 60_000)).toEqual([false, false]);
    const read = await b.leases.read([...many, "none"]);
    expect(read).toHaveLength(many.length + 1);
    expect(read.slice(-2)).toEqual(["a|1", undefined]);
    expect(read.filter((v) => v === "a|1")).toHaveLength(many.length);
    const snapshot = await b.leases.snapshot([...many, "none"]);
    expect(snapshot.values).toEqual(read);
    expect(await b.leases.changes(snapshot.at, many.length)).toEqual({ changes: [], at: snapshot.at });
    // One lost in a later chunk: the renewal's answer names it in its place.
    await backend.lapse("m149990");
    expect(await b.leases.acquire(["m149990"], "b|1", 120_000)).toEqual([true]);
    const renewed = await a.leases.renew(many, "a|1", 60_000);
    expect(renewed).toHaveLength(many.length);
    expect(renewed.flatMap((kept, i) => (kept ? [] : [i]))).toEqual([149_990]);
    // The longest is in the last chunk.
    const last = await a.leases.lapse?.(many);
    expect(last).toBeGreaterThan(110_000);
    expect(last).toBeLessThanOrEqual(120_000);
    await b.leases.release(["m149990"], "b|1");
    await a.leases.release(many, "a|1");
    expect((await a.leases.read(many)).every((v) => v === undefined)).toBe(true);
  }, 60_000);

  it("the list: seeded once, replaced while settling only by one that knows more, changed once per id", async () => {
    const heard: string[] = [];
    const off = b.bus.subscribe((m) => heard.push(m));
    expect(await a.list.read()).toBeUndefined();
    expect(await a.list.write({ epoch: "x", version: 1 }, [], "c0", 8)).toEqual({ kind: "absent" });
    const file = { epoch: "f1", version: 1, entries: ["e1"], origin: "file" as const, changes: [] };
    expect(await a.list.seed(file, 60_000)).toBe(true);
    expect(await b.list.seed({ ...file, epoch: "f2", entries: ["e9"] }, 60_000)).toBe(false);
    const history = {
      epoch: "h1",
      version: 4,
      entries: ["e1", "e2"],
      origin: "history" as const,
      changes: ["c1"],
    };
    expect(await b.list.seed(history, 60_000)).toBe(true);
    expect(await a.list.seed({ ...history, version: 3 }, 60_000)).toBe(false);
    expect(await a.list.seed({ ...history, version: 5, entries: ["e2"] }, 60_000)).toBe(true);
    const stored = await b.list.read();
    expect(stored).toMatchObject({
      epoch: "h1",
      version: 5,
      entries: ["e2"],
      origin: "history",
      changes: ["c1"],
    });
    const settling = await a.list.write({ epoch: "h1", version: 5 }, ["e3"], "c2", 8);
    expect(settling.kind).toBe("settling");
    expect(settling.kind === "settling" && settling.waitMs).toBeGreaterThan(50_000);
    // Settled: a seed cannot replace it, and a change applies once.
    await backend.flush();
    expect(await a.list.seed({ ...history, version: 5, entries: ["e2"] }, 0)).toBe(true);
    expect(await b.list.seed({ ...history, version: 9 }, 0)).toBe(false);
    expect(await a.list.write({ epoch: "h1", version: 4 }, ["e3"], "c2", 8)).toEqual({ kind: "conflict" });
    expect(await a.list.write({ epoch: "h1", version: 5 }, ["e2", "e3"], "c2", 2)).toEqual({
      kind: "written",
      version: 6,
    });
    expect(await b.list.write({ epoch: "h1", version: 5 }, ["e2", "e3"], "c2", 2)).toEqual({
      kind: "applied",
    });
    expect(await b.list.write({ epoch: "h1", version: 6 }, ["e3"], "c3", 2)).toEqual({
      kind: "written",
      version: 7,
    });
    expect(await b.list.read()).toMatchObject({ version: 7, entries: ["e3"], changes: ["c2", "c3"] });
    const beat = await a.members.beat("a", info("ia"), "boot");
    expect(beat.taken ? undefined : beat.list).toMatchObject({ epoch: "h1", version: 7 });
    off();
    const lists = heard.map(parseMessage).filter((m) => m?.t === "list");
    expect(lists.at(-1)).toEqual({ t: "list", epoch: "h1", v: 7 });
  });

  it("statuses: changes applied to the stored copy and published with it; kept alive without a publish", async () => {
    const heard: string[] = [];
    const waiters: [string, () => void][] = [];
    const off = a.bus.subscribe((m) => {
      heard.push(m);
      for (const [text, resolve] of waiters) if (m.includes(text)) resolve();
    });
    const hear = (text: string) => new Promise<void>((resolve) => waiters.push([text, resolve]));
    const change = (version: number, full: boolean, set: [string, string][], gone: string[] = []) => ({
      version,
      full,
      set,
      gone,
    });
    const first = hear('"v":1');
    await b.members.saveStatus(
      "b",
      change(1, true, [
        ["e1", "s1"],
        ["e2", "s2"],
      ]),
      '{"t":"x","v":1}',
      10_000,
    );
    await first;
    expect(await a.members.readStatuses(["b", "c"])).toEqual([
      { version: 1, endpoints: ["s1", "s2"] },
      undefined,
    ]);
    // A change sets and deletes fields; a full one replaces them all.
    await b.members.saveStatus(
      "b",
      change(
        2,
        false,
        [
          ["e2", "s2'"],
          ["e3", "s3"],
        ],
        ["e1"],
      ),
      '{"t":"x","v":2}',
      10_000,
    );
    const [second] = await a.members.readStatuses(["b"]);
    expect(second?.version).toBe(2);
    expect([...(second?.endpoints ?? [])].sort()).toEqual(["s2'", "s3"]);
    await b.members.saveStatus("b", change(3, true, [["e4", "s4"]]), '{"t":"x","v":3}', 10_000);
    expect(await a.members.readStatuses(["b"])).toEqual([{ version: 3, endpoints: ["s4"] }]);
    expect(await a.members.readStatuses([])).toEqual([]);
    // Kept alive: the same copy for longer, published to no one; nothing made for one not stored.
    await b.members.keepStatus("b", 60_000);
    await a.members.keepStatus("c", 60_000);
    const joined = hear('"joined"');
    await b.bus.publish('{"t":"joined","by":"b"}');
    await joined;
    off();
    expect(await backend.ttl("status-of:b")).toBeGreaterThan(10_000);
    expect(await a.members.readStatuses(["b", "c"])).toEqual([{ version: 3, endpoints: ["s4"] }, undefined]);
    expect(heard).toEqual([
      '{"t":"x","v":1}',
      '{"t":"x","v":2}',
      '{"t":"x","v":3}',
      '{"t":"joined","by":"b"}',
    ]);
  });
});
