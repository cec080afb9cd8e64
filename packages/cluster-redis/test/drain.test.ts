import { describe, expect, it } from "vitest";
import { drain, handoverPlan } from "../src/drain.js";
import { Holdings } from "../src/holdings.js";
import { LinkWatch } from "../src/link-watch.js";
import { FakeClock } from "./fake-clock.js";
import { MemoryRedis } from "./memory-redis.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const ids = (n: number) => Array.from({ length: n }, (_, i) => `e${i}`);

/**
 * Drains 100 endpoints on a fake clock (10 a batch, patience 1 s, a look every 300 ms unless
 * `over` says otherwise): how many went, when it ended, and each batch's time and size, ms from
 * the start.
 */
async function drained(over: {
  deadline: number;
  pollMs?: number;
  n?: number;
  taken?: (since: number) => boolean;
  /** Whether anyone still takes, asked with the time since the start. */
  taking?: (since: number) => boolean;
  handOver?: (part: readonly string[], held: Set<string>) => void;
}) {
  const fake = new FakeClock();
  const clock = fake.for("c");
  const held = new Set(ids(over.n ?? 100));
  const batches: [number, number][] = [];
  const start = clock.now();
  let ended: number | undefined;
  const draining = drain({
    clock,
    batch: 10,
    patienceMs: 1000,
    pollMs: over.pollMs ?? 300,
    deadline: start + over.deadline,
    held: () => [...held],
    handOver: async (part) => {
      batches.push([clock.now() - start, part.length]);
      if (over.handOver) over.handOver(part, held);
      else for (const id of part) held.delete(id);
    },
    // Asked with how long ago the last batch went.
    taken: async () => over.taken?.(clock.now() - start - (batches.at(-1)?.[0] ?? 0)) ?? false,
    ...(over.taking ? { taking: () => over.taking?.(clock.now() - start) ?? true } : {}),
  }).then((handed) => {
    ended = clock.now() - start;
    return handed;
  });
  await fake.advance(10_000);
  return { handed: await draining, ended, batches };
}

describe("drain", () => {
  it("starts no batch and waits no longer than its deadline, and grows the batches to fit what is left", async () => {
    const { handed, ended, batches } = await drained({ deadline: 3000 });
    // Nobody takes anything, so each batch waits its whole patience: a second per batch leaves
    // room for two more, which share the 90 left.
    expect(handed).toBe(100);
    expect(batches).toEqual([
      [0, 10],
      [1000, 45],
      [2000, 45],
    ]);
    expect(ended).toBe(2000);
  });

  it("stops at the deadline, the wait cut short", async () => {
    const { handed, ended } = await drained({
      deadline: 500,
      handOver: (part, held) => held.delete(part[0] as string),
    });
    expect(handed).toBe(10);
    expect(ended).toBe(500);
  });

  it("stops at the first look that finds nobody left to take, and starts no batch then", async () => {
    // The instances it hands to say at 400 ms that they are stopping too.
    const { handed, ended, batches } = await drained({ deadline: 3000, taking: (since) => since < 400 });
    expect(batches).toEqual([[0, 10]]);
    expect(handed).toBe(10);
    // The look at 600 ms (every 300 ms) saw it.
    expect(ended).toBe(600);
    const none = await drained({ deadline: 3000, taking: () => false });
    expect(none).toMatchObject({ handed: 0, batches: [], ended: 0 });
  });

  it("hands the next batch over as soon as the last was taken", async () => {
    // Taken 100 ms after it went.
    const { handed, batches } = await drained({
      deadline: 2500,
      n: 30,
      pollMs: 50,
      taken: (since) => since >= 100,
    });
    expect(handed).toBe(30);
    expect(batches.map(([at]) => at)).toEqual([0, 100, 200]);
  });
});

describe("handoverPlan", () => {
  const none = new Set<string>();
  /** c stops; a and b take over, neither avoiding anything. */
  const active = new Map([
    ["a", none],
    ["b", none],
    ["c", none],
  ]);

  it("gives each endpoint to one of the others, evenly, in an order that spreads both over it", () => {
    const held = new Set(ids(40));
    const { owner, order } = handoverPlan("c", held, active, { held, holders: new Map() });
    expect([...order].sort()).toEqual([...held].sort());
    const owners = order.map(owner);
    expect(owners.every((o) => o === "a" || o === "b")).toBe(true);
    const toA = owners.filter((o) => o === "a").length;
    expect(Math.abs(toA - (40 - toA))).toBeLessThanOrEqual(10);
    // The first batch of ten goes to both.
    expect(new Set(owners.slice(0, 10)).size).toBe(2);
  });

  it("spreads a bigger share over every batch, not over the last ones", () => {
    const held = new Set(ids(40));
    // b already holds 30 others: a's share of c's 40 is the bigger one.
    const others = ids(70).slice(40);
    const holders = new Map(others.map((id) => [id, "b"]));
    const listed = new Set([...held, ...others]);
    const { owner, order } = handoverPlan("c", listed, active, { held, holders });
    const owners = order.map(owner);
    const toA = owners.filter((o) => o === "a").length;
    expect(toA).toBeGreaterThan(40 - toA);
    // Every quarter of the order has some for each, in about the same proportion.
    for (let q = 0; q < 4; q++) {
      const part = owners.slice(q * 10, q * 10 + 10);
      expect(new Set(part).size).toBe(2);
      expect(Math.abs(part.filter((o) => o === "a").length - toA / 4)).toBeLessThanOrEqual(1.5);
    }
  });
});

describe("Holdings.handOver", () => {
  it("keeps what it could not release for the stop to release, and tells nobody it went", async () => {
    const redis = new MemoryRedis(new FakeClock());
    const stores = redis.connect("c").stores();
    await stores.leases.acquire(["e1", "e2"], "c|1", 2000);
    const published: unknown[] = [];
    const dropped: string[] = [];
    /** c's holdings over `stores`, whose links close with `drop`. */
    const holdingsOf = (drop: (ids: readonly string[]) => Promise<void>) =>
      new Holdings({
        self: "c",
        lease: "c|1",
        leaseTtl: 2000,
        logger: quiet,
        watch: new LinkWatch(2000),
        leases: () => stores.leases,
        host: () => ({ statuses: () => [], drop, reconnect: () => {} }),
        emit: () => {},
        publish: async (message) => void published.push(message),
        now: () => redis.time(),
        wake: () => {},
      });
    const holdings = holdingsOf(async (gone) => void dropped.push(...gone));
    holdings.held.add("e1").add("e2");
    redis.down = true;
    await expect(holdings.handOver(["e1"], () => "a")).rejects.toThrow();
    // The link closed before the lease was to go; the lease is still this process's, to release at stop.
    expect(dropped).toEqual(["e1"]);
    expect([...holdings.unreleased]).toEqual(["e1"]);
    expect([...holdings.held]).toEqual(["e2"]);
    expect(published).toEqual([]);
    redis.down = false;
    expect(await stores.leases.read(["e1"])).toEqual(["c|1"]);
    // Links that would not close: the lease is kept for the stop as well.
    const failing = holdingsOf(async () => {
      throw new Error("closing failed");
    });
    failing.held.add("e2");
    await expect(failing.handOver(["e2"], () => "a")).rejects.toThrow("closing failed");
    expect([...failing.unreleased]).toEqual(["e2"]);
    expect(published).toEqual([]);
  });
});
