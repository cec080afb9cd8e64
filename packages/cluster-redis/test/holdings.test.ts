import { describe, expect, it } from "vitest";
import { Holdings } from "../src/holdings.js";
import { LinkWatch } from "../src/link-watch.js";
import { FakeClock } from "./fake-clock.js";
import { MemoryRedis } from "./memory-redis.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function holdingsOf(redis: MemoryRedis, self: string, events: string[] = []): Holdings {
  const stores = redis.connect(self).stores();
  return new Holdings({
    self,
    lease: `${self}|1`,
    leaseTtl: 2000,
    logger: quiet,
    watch: new LinkWatch(2000),
    leases: () => stores.leases,
    host: () => undefined,
    emit: (event) => events.push(event),
    publish: async () => {},
    now: () => redis.time(),
    wake: () => {},
  });
}

describe("Holdings: endpoints a stopping instance hands over", () => {
  it("keeps what it was handed while the lease still shows the old holder (heard after the read), and forgets it once another holds it", async () => {
    const redis = new MemoryRedis(new FakeClock());
    const leaving = redis.connect("c").stores();
    await leaving.leases.acquire(["e1", "e2"], "c|1", 2000);
    const a = holdingsOf(redis, "a");
    const live = { has: () => true };
    await a.read(new Set(["e1", "e2"]), live);
    // c releases both and names a for e1 and b for e2; a hears it before its next read.
    await leaving.leases.release(["e1", "e2"], "c|1");
    a.released({ t: "released", by: "c", ids: ["e1", "e2"], to: { a: ["e1"], b: ["e2"] } }, 0);
    expect([...a.given(0, 3000)]).toEqual([
      ["e1", "a"],
      ["e2", "b"],
    ]);
    // b took e2; a reads it: e2 is no longer anyone's to take, e1 still a's.
    await redis.connect("b").stores().leases.acquire(["e2"], "b|1", 2000);
    await a.read(new Set(["e1", "e2"]), live);
    expect([...a.given(0, 3000)]).toEqual([["e1", "a"]]);
    // After a few ticks what was not taken goes back to the usual plan.
    expect([...a.given(3001, 3000)]).toEqual([]);
  });
});

describe("Holdings: what the view shows", () => {
  it("says the view changed when a release heard from another instance shows an endpoint unheld, and only then", async () => {
    const redis = new MemoryRedis(new FakeClock());
    await redis.connect("c").stores().leases.acquire(["e1", "e2"], "c|1", 2000);
    const events: string[] = [];
    const a = holdingsOf(redis, "a", events);
    await a.read(new Set(["e1", "e2"]), { has: () => true });
    expect(a.holders.get("e1")).toBe("c");
    events.length = 0;
    // A watcher that looked now saw e1 unheld: the change is sent, or it would keep showing it so.
    a.released({ t: "released", by: "c", ids: ["e1"] }, 0);
    expect(a.holders.has("e1")).toBe(false);
    expect(events).toEqual(["view"]);
    // Nothing shown changes (e1 is unheld already, e3 was never c's): no event.
    a.released({ t: "released", by: "c", ids: ["e1", "e3"] }, 10);
    expect(events).toEqual(["view"]);
  });
});

describe("Holdings: an endpoint handed on again", () => {
  it("forgets who was named to take it once that one lets it go, even before a read showed it held", async () => {
    const redis = new MemoryRedis(new FakeClock());
    const a = holdingsOf(redis, "a");
    a.released({ t: "released", by: "c", ids: ["e1", "e2"], to: { b: ["e1", "e2"] } }, 0);
    expect([...a.given(0, 3000)]).toEqual([
      ["e1", "b"],
      ["e2", "b"],
    ]);
    // b took both and hands e1 on (its share moved) before a read anything: nobody waits for b.
    a.released({ t: "released", by: "b", ids: ["e1"] }, 10);
    expect([...a.given(10, 3000)]).toEqual([["e2", "b"]]);
    // Handed on with a name, the new name counts.
    a.released({ t: "released", by: "b", ids: ["e2"], to: { d: ["e2"] } }, 20);
    expect([...a.given(20, 3000)]).toEqual([["e2", "d"]]);
  });
});

describe("Holdings: endpoints let go of", () => {
  it("knows what another instance let go of, from its message or the lease log, until someone holds it or a few ticks passed", async () => {
    const redis = new MemoryRedis(new FakeClock());
    const other = redis.connect("c").stores();
    await other.leases.acquire(["e1", "e2", "e3"], "c|1", 2000);
    const a = holdingsOf(redis, "a");
    const listed = new Set(["e1", "e2", "e3", "e4"]);
    const live = { has: () => true };
    await a.read(listed, live);
    expect([...a.letGo(redis.time(), 3000)]).toEqual([]);
    // e1 is released with a message, e2 only in the log; e4 was never held.
    await other.leases.release(["e1", "e2"], "c|1");
    a.released({ t: "released", by: "c", ids: ["e1"] }, redis.time());
    await a.read(listed, live);
    expect([...a.letGo(redis.time(), 3000)].sort()).toEqual([
      ["e1", "c"],
      ["e2", "c"],
    ]);
    // b takes e1: it is held again.
    await redis.connect("b").stores().leases.acquire(["e1"], "b|1", 2000);
    await a.read(listed, live);
    expect([...a.letGo(redis.time(), 3000)]).toEqual([["e2", "c"]]);
    expect([...a.letGo(redis.time() + 3001, 3000)]).toEqual([]);
  });
});

describe("Holdings: the periodic read of every lease", () => {
  it("changes the version only when it finds something the log did not tell (a lease that lapsed)", async () => {
    const clock = new FakeClock();
    const redis = new MemoryRedis(clock);
    const other = redis.connect("b").stores();
    await other.leases.acquire(["e1", "e2"], "b|1", 2000);
    // This process holds e3: its own lease is checked as its value, the others' as their instance.
    await redis.connect("a").stores().leases.acquire(["e3"], "a|1", 60_000);
    const a = holdingsOf(redis, "a");
    const listed = new Set(["e1", "e2", "e3"]);
    const live = { has: () => true };
    await a.read(listed, live);
    const first = a.version;
    expect(first).toBeGreaterThan(0);
    expect([...a.holders]).toEqual([
      ["e1", "b"],
      ["e2", "b"],
      ["e3", "a"],
    ]);
    // A hundred ticks of an unchanged log, then the check against Redis: the same leases, the same
    // version, and no lease read out (Redis compared a hash).
    const readBefore = redis.leasesRead;
    for (let tick = 0; tick < 101; tick++) await a.read(listed, live);
    expect(a.version).toBe(first);
    expect(redis.leasesRead).toBe(readBefore);
    // e2's lease lapses (no log entry for that) and the next full read finds it.
    await other.leases.renew(["e1"], "b|1", 2000);
    await clock.advance(1500);
    await other.leases.renew(["e1"], "b|1", 2000);
    await clock.advance(1000);
    for (let tick = 0; tick < 101; tick++) await a.read(listed, live);
    expect(a.version).toBe(first + 1);
    expect([...a.holders]).toEqual([
      ["e1", "b"],
      ["e3", "a"],
    ]);
    // The check found the difference, so every lease was read.
    expect(redis.leasesRead).toBe(readBefore + 3);
  });
});
