import { afterEach, describe, expect, it } from "vitest";
import { ids, TestCluster } from "./harness.js";

// Several coordinators over a memory Redis on a fake clock: takeover, handover, an outage and a
// pause play out in fake seconds. The memory Redis follows the Lua scripts (stores-contract.test.ts).
const endpoints = ids(12);
let cluster: TestCluster;

afterEach(async () => {
  await cluster?.stopAll();
});

async function three(leaseTtl = 2000): Promise<TestCluster> {
  cluster = new TestCluster(endpoints, leaseTtl);
  await cluster.startAll(["a", "b", "c"]);
  await cluster.waitFor(() => cluster.settled() && cluster.viewsAgree(), 5000, "every endpoint held once");
  return cluster;
}

describe("the coordinator on a fake clock", () => {
  it("holds every endpoint once, spread evenly, with no overlap", async () => {
    await three();
    expect(cluster.loads()).toEqual([4, 4, 4]);
    expect(cluster.agents.overlapCount()).toBe(0);
    const view = cluster.instance("a").coordinator.view();
    expect(view.instances.map((i) => [i.id, i.endpoints]).sort()).toEqual([
      ["a", 4],
      ["b", 4],
      ["c", 4],
    ]);
    expect(view.version).toBe(1);
    expect(
      cluster
        .instance("b")
        .coordinator.endpoints([])
        .filter((e) => e.instance === null),
    ).toEqual([]);
  });

  it("takeover: a killed instance's endpoints are held again within leaseTtl + 2 s", async () => {
    await three();
    const had = [...cluster.owners()].filter(([, owner]) => owner === "b").map(([id]) => id);
    cluster.kill("b");
    const took = await cluster.waitFor(() => cluster.settled(), 2000 + 2000, "takeover");
    expect(took).toBeGreaterThanOrEqual(2000 - cluster.tickMs * 3);
    expect(had.every((id) => ["a", "c"].includes(cluster.owners().get(id) ?? ""))).toBe(true);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("takeover comes as the killed instance's leases lapse, not at the others' next tick", async () => {
    await three();
    // The others tick half a tick after b from now on (held past a tick, as a short stall would),
    // so no tick of theirs falls on b's leases' lapse.
    await cluster.clock.advance(cluster.tickMs / 2);
    cluster.pause("a");
    cluster.pause("c");
    await cluster.clock.advance(cluster.tickMs);
    cluster.resume("a");
    cluster.resume("c");
    const had = [...cluster.owners()].filter(([, owner]) => owner === "b").map(([id]) => id);
    expect(had.length).toBeGreaterThan(0);
    const lease = `lease:${had[0]}`;
    // Killed right after a renewal: the latest its leases can lapse.
    for (let i = 0; i < 200 && (cluster.redis.ttl(lease) ?? 0) < 2000; i++) await cluster.clock.advance(5);
    expect(cluster.redis.ttl(lease)).toBe(2000);
    const lapse = cluster.clock.now() + 2000;
    cluster.kill("b");
    for (let i = 0; i < 1000 && !cluster.settled(); i++) await cluster.clock.advance(5);
    expect(cluster.settled()).toBe(true);
    // Taken within the margin after the lapse, not at the others' next tick (100 ms later here).
    expect(cluster.clock.now() - lapse).toBeLessThanOrEqual(20);
    expect(had.every((id) => ["a", "c"].includes(cluster.owners().get(id) ?? ""))).toBe(true);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("a view event shows the view as it is: a listener reading it at once sees the new holders", async () => {
    await three();
    const a = cluster.instance("a").coordinator;
    const shown = () => JSON.stringify(a.endpoints([]).map((e) => [e.id, e.instance]));
    let events = 0;
    const stale: string[] = [];
    const off = a.on("view", () => {
      events++;
      const atEvent = shown();
      // Whatever the event was about is in place by then: nothing else runs in between.
      queueMicrotask(() => {
        if (shown() !== atEvent) stale.push(atEvent);
      });
    });
    cluster.kill("b");
    await cluster.waitFor(() => cluster.settled(), 2000 + 2000, "takeover");
    await cluster.clock.advance(2 * cluster.leaseTtl);
    expect(events).toBeGreaterThan(0);
    expect(stale).toEqual([]);
    expect(a.endpoints([]).every((e) => e.instance === "a" || e.instance === "c")).toBe(true);
    off();
  });

  it("reads the lease log, not every lease: a steady cluster's ticks read no lease, and after a takeover none again", async () => {
    await three();
    // Every 100 ticks each instance reads every lease once, in case the log missed something:
    // over 50 ticks that is at most one read of the list per instance (every tick read 50 of them).
    const steady = async () => {
      const before = cluster.redis.leasesRead;
      await cluster.clock.advance(50 * cluster.tickMs);
      return cluster.redis.leasesRead - before;
    };
    expect(await steady()).toBeLessThanOrEqual(3 * endpoints.length);
    cluster.kill("b");
    await cluster.waitFor(() => cluster.settled(), 2000 + 2000, "takeover");
    expect(cluster.loads()).toEqual([6, 6]);
    expect(await steady()).toBeLessThanOrEqual(2 * endpoints.length);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("a steady cluster publishes no status: each keeps its stored copy alive, and a change is heard at once", async () => {
    await three();
    // What each runs since the start is published within a lease (the fake host never touches).
    await cluster.clock.advance(cluster.leaseTtl + cluster.tickMs);
    const statuses: string[] = [];
    const stores = cluster.redis.connect("listener").stores();
    const off = stores.bus.subscribe((text) => {
      if (text.includes('"t":"status')) statuses.push(text);
    });
    const readsBefore = cluster.redis.calls.get("status") ?? 0;
    // Five leases: the stored copies (kept for three) would have lapsed without the keep-alives.
    await cluster.clock.advance(5 * cluster.leaseTtl);
    expect(statuses).toEqual([]);
    expect(["a", "b", "c"].every((id) => cluster.redis.get(`status-of:${id}`) !== undefined)).toBe(true);
    // Keep-alives only: one a lease from each instance, and no stored copy read.
    expect((cluster.redis.calls.get("status") ?? 0) - readsBefore).toBeLessThanOrEqual(3 * 6);
    const b = cluster.instance("b");
    b.host.failed = true;
    b.coordinator.touch();
    await cluster.clock.advance(2 * cluster.tickMs);
    // One change, with only what changed: b's own endpoints.
    expect(statuses).toHaveLength(1);
    const theirs = [...b.host.running];
    expect(
      JSON.parse(statuses[0] as string)
        .endpoints.map((e: { id: string }) => e.id)
        .sort(),
    ).toEqual(theirs.sort());
    expect(
      theirs.every((id) => cluster.instance("a").coordinator.endpoint(id, undefined)?.state === "failed"),
    ).toBe(true);
    off();
  });

  it("handover: a joining instance gets its share and nothing else moves, links closed before leases go", async () => {
    cluster = new TestCluster(endpoints);
    await cluster.startAll(["a", "b"]);
    await cluster.waitFor(() => cluster.settled(), 5000, "two instances");
    const before = cluster.owners();
    await cluster.start("c");
    await cluster.waitFor(() => cluster.settled() && cluster.loads().join() === "4,4,4", 5000, "c's share");
    const moved = [...cluster.owners()].filter(([id, owner]) => before.get(id) !== owner);
    expect(moved).toHaveLength(4);
    expect(moved.every(([, owner]) => owner === "c")).toBe(true);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("a graceful stop hands the endpoints over within a tick or two", async () => {
    await three();
    await cluster.stop("c");
    const took = await cluster.waitFor(() => cluster.settled(), 1000, "takeover after stop");
    expect(took).toBeLessThanOrEqual(3 * cluster.tickMs);
    expect(cluster.loads()).toEqual([6, 6]);
  });

  it("a graceful stop hands over a batch at a time, each taken at once, while the rest keep their links", async () => {
    cluster = new TestCluster(ids(24));
    for (const name of ["a", "b", "c"]) await cluster.start(name, { handoverBatch: 3 });
    await cluster.waitFor(() => cluster.settled() && cluster.loads().join() === "8,8,8", 10_000, "three");
    const leaving = cluster.instance("c");
    const stopping = leaving.coordinator.drain();
    await cluster.waitFor(() => leaving.host.running.size < 8, 1000, "the first batch");
    // The others heard it: nothing new goes to c while it hands over.
    const a = cluster.instance("a").coordinator.view();
    expect(a.instances.some((i) => i.id === "c")).toBe(true);
    cluster.agents.watchGaps(ids(24));
    await cluster.until(stopping);
    await cluster.stop("c");
    await cluster.waitFor(() => cluster.settled(), 1000, "after the stop");
    expect(cluster.loads()).toEqual([12, 12]);
    // Three at most went without a link at once (all eight did before), each for less than a tick.
    expect(cluster.agents.mostUnheld).toBeGreaterThan(0);
    expect(cluster.agents.mostUnheld).toBeLessThanOrEqual(3);
    expect(cluster.agents.longestGap).toBeLessThan(cluster.tickMs);
    expect(cluster.agents.overlapCount()).toBe(0);
    expect(leaving.logs).toContain("info cluster: handed the endpoints over before stopping");
  });

  it("instances stopping together let go at once rather than wait for one another to take", async () => {
    cluster = new TestCluster(ids(24));
    for (const name of ["a", "b", "c"]) await cluster.start(name, { handoverBatch: 1 });
    await cluster.waitFor(() => cluster.settled() && cluster.loads().join() === "8,8,8", 10_000, "three");
    const started = cluster.clock.now();
    const names = ["a", "b", "c"];
    await cluster.until(Promise.all(names.map((name) => cluster.instance(name).coordinator.drain())));
    // Each handed a batch before it heard the others leave, then stopped waiting: a batch a
    // patience (two ticks) each would have taken the whole handover budget (3 s).
    expect(cluster.clock.now() - started).toBeLessThanOrEqual(cluster.tickMs);
    for (const name of names) {
      const instance = cluster.instance(name);
      expect(instance.host.running.size).toBeGreaterThanOrEqual(6);
      expect(instance.logs).toContain(
        "info cluster: the other instances are stopping too; letting the rest go at once",
      );
    }
    for (const name of names) await cluster.stop(name);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("a joining instance gets its share a batch per tick from each, and only its share moves", async () => {
    cluster = new TestCluster(ids(24));
    for (const name of ["a", "b"]) await cluster.start(name, { handoverBatch: 1 });
    await cluster.waitFor(() => cluster.settled() && cluster.loads().join() === "12,12", 10_000, "two");
    const before = cluster.owners();
    cluster.agents.watchGaps(ids(24));
    await cluster.start("c", { handoverBatch: 1 });
    // Even as the planner means it (loads within two), reached a step at a time.
    const even = () => {
      const loads = cluster.loads();
      return loads.length === 3 && (loads.at(-1) ?? 0) - (loads[0] ?? 0) <= 2;
    };
    await cluster.waitFor(() => cluster.settled() && even(), 20_000, "c's share");
    const moved = [...cluster.owners()].filter(([id, owner]) => before.get(id) !== owner);
    const share = [...cluster.owners().values()].filter((owner) => owner === "c").length;
    expect(share).toBeGreaterThanOrEqual(6);
    expect(moved.map(([, owner]) => owner)).toEqual(Array(share).fill("c"));
    // One from a and one from b at a tick: never more than two without a link.
    expect(cluster.agents.mostUnheld).toBeGreaterThan(0);
    expect(cluster.agents.mostUnheld).toBeLessThanOrEqual(2);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("Redis out of reach: each keeps what it holds; back empty, nothing moves and no endpoint is held twice", async () => {
    await three();
    const before = cluster.owners();
    cluster.redis.down = true;
    await cluster.clock.advance(3 * cluster.leaseTtl);
    expect([...cluster.instances.values()].every((i) => i.host.running.size === 4)).toBe(true);
    expect(cluster.instance("a").coordinator.view().reachable).toBe(false);
    cluster.redis.flush();
    cluster.redis.down = false;
    await cluster.waitFor(() => cluster.settled(), 2 * cluster.leaseTtl, "back");
    await cluster.clock.advance(2 * cluster.leaseTtl);
    expect(cluster.owners()).toEqual(before);
    expect(cluster.agents.overlapCount()).toBe(0);
    expect(cluster.redis.list?.version).toBe(1);
  });

  it("a paused instance: the others take over after its lease; it drops its links as soon as it runs", async () => {
    await three();
    const held = cluster.instance("c").host.running.size;
    cluster.pause("c");
    await cluster.waitFor(
      () => endpoints.filter((id) => cluster.agents.holders(id).length === 2).length === held,
      cluster.leaseTtl + 2000,
      "the others holding c's endpoints",
    );
    cluster.resume("c");
    await cluster.waitFor(() => cluster.agents.eachOnce(endpoints), 2 * cluster.tickMs, "c dropping them");
    expect(cluster.instance("c").logs.some((l) => l.includes("leases lost"))).toBe(true);
    await cluster.waitFor(() => cluster.settled() && cluster.loads().join() === "4,4,4", 5000, "c back in");
  });
});
