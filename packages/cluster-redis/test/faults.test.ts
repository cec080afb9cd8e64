import { XiaozhiError } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import { keptChanges } from "../src/list-changes.js";
import { settle } from "./fake-clock.js";
import { ids, TestCluster } from "./harness.js";

// Each fault found by attacking the cluster from outside, played out on the fake clock.
const endpoints = ids(9);
let cluster: TestCluster;

afterEach(async () => {
  await cluster?.stopAll();
});

async function started(names = ["a", "b", "c"], leaseTtl = 2000): Promise<TestCluster> {
  cluster = new TestCluster(endpoints, leaseTtl);
  await cluster.startAll(names);
  await cluster.waitFor(() => cluster.settled() && cluster.viewsAgree(), 5000, "every endpoint held once");
  return cluster;
}

const add = (id: string) => (entries: unknown[]) => (entries.includes(id) ? undefined : [...entries, id]);
const remove = (id: string) => (entries: unknown[]) =>
  entries.includes(id) ? entries.filter((e) => e !== id) : undefined;

describe("faults", () => {
  it("a list change that times out leaves the tick loop running: the instance keeps renewing", async () => {
    await started(["a", "b", "c"], 10_000);
    const a = cluster.instance("a");
    // From its write on, Redis holds a's commands for 6 s (CLIENT PAUSE), longer than a change waits.
    a.connection.stall(6000, "write");
    const change = a.coordinator.update(add("x1"), { key: "add:x1" });
    await expect(cluster.until(change)).rejects.toMatchObject({ code: "CLUSTER_OUTCOME_UNKNOWN" });
    // Leases lapse unless renewed; three leases later a still holds its own and nobody else does.
    const held = [...a.host.running];
    await cluster.clock.advance(3 * cluster.leaseTtl);
    expect(held.every((id) => cluster.agents.holders(id).join() === "a")).toBe(true);
    expect(cluster.agents.overlapCount()).toBe(0);
    expect(a.coordinator.view().instances.find((i) => i.self)?.heartbeatAt).toBeGreaterThan(
      cluster.redis.time() - 2 * cluster.tickMs,
    );
  });

  it("a tick that fails is tried again soon, once; a second failure in a row waits for the next tick", async () => {
    await started(["a", "b", "c"], 10_000);
    const a = cluster.instance("a");
    const reachable = () => a.coordinator.view().reachable;
    /** Advances 50 ms at a time until `wanted`, and says how long that took (up to `limit`). */
    const until = async (wanted: () => boolean, limit: number) => {
      let waited = 0;
      while (!wanted() && waited < limit) {
        await cluster.clock.advance(50);
        waited += 50;
      }
      return waited;
    };
    // Its next heartbeat times out, as a command does when the process stalled past the timeout.
    a.connection.drop("beat");
    await until(() => !reachable(), 3 * cluster.tickMs);
    expect(reachable()).toBe(false);
    expect(await until(reachable, cluster.tickMs)).toBeLessThanOrEqual(300);
    // Twice in a row: the retry fails too, and the one after it is the regular tick.
    a.connection.drop("beat");
    await until(() => !reachable(), 3 * cluster.tickMs);
    a.connection.drop("beat");
    const back = await until(reachable, 2 * cluster.tickMs);
    expect(back).toBeGreaterThanOrEqual(cluster.tickMs);
    expect(reachable()).toBe(true);
  });

  it("a change answered as unknown applies once: the retry with the same key reports it done", async () => {
    await started(["a", "b", "c"], 10_000);
    const a = cluster.instance("a");
    a.connection.stall(6000, "write");
    await expect(cluster.until(a.coordinator.update(add("x1"), { key: "add:x1" }))).rejects.toThrow(
      /may still apply/,
    );
    await cluster.clock.advance(2000);
    expect(cluster.redis.list?.entries).toContain("x1");
    // The user's retry: not a 409, the same change, applied once.
    const duplicate = (entries: unknown[]) => {
      if (entries.includes("x1")) throw new XiaozhiError("DUPLICATE_ENDPOINT", "x1 already exists");
      return [...entries, "x1"];
    };
    expect(await cluster.until(a.coordinator.update(duplicate, { key: "add:x1" }))).toBe(true);
    expect(cluster.redis.list?.entries.filter((e) => e === "x1")).toHaveLength(1);
    // Without the key it is a new change, and the duplicate is refused.
    await expect(cluster.until(a.coordinator.update(duplicate))).rejects.toMatchObject({
      code: "DUPLICATE_ENDPOINT",
    });
  });

  it("a change refused before it reached Redis is unavailable, and nothing applies", async () => {
    await started();
    cluster.redis.down = true;
    await expect(
      cluster.until(cluster.instance("b").coordinator.update(add("x2"), { key: "add:x2" })),
    ).rejects.toMatchObject({
      code: "CLUSTER_UNAVAILABLE",
      message: "the cluster's Redis is out of reach: nothing was changed",
    });
    cluster.redis.down = false;
    await cluster.clock.advance(2 * cluster.leaseTtl);
    expect(cluster.redis.list?.entries).not.toContain("x2");
  });

  it("an acknowledged change survives Redis restarting empty, even when a stale instance seeds first", async () => {
    await started();
    const a = cluster.instance("a");
    expect(await cluster.until(a.coordinator.update(add("x1")))).toBe(true);
    expect(await cluster.until(a.coordinator.update(remove("e01")))).toBe(true);
    await cluster.waitFor(() => cluster.settled(), 5000, "x1 held");
    // A process restarted from a config file that never had x1 and still has e01.
    cluster.kill("c");
    await cluster.waitFor(() => cluster.settled(), 2 * cluster.leaseTtl + 2000, "c's share taken");
    cluster.redis.flush();
    const stale = await cluster.start("d", { seed: [...endpoints] });
    await cluster.waitFor(() => cluster.redis.list !== undefined, 2000, "a list seeded");
    await cluster.clock.advance(2 * cluster.leaseTtl);
    await cluster.waitFor(() => cluster.settled() && cluster.viewsAgree(), 5000, "settled again");
    const listed = cluster.redis.list?.entries ?? [];
    expect(listed).toContain("x1");
    expect(listed).not.toContain("e01");
    expect(cluster.agents.holders("e01")).toEqual([]);
    expect(stale.coordinator.entries).toEqual(listed);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("what another instance runs shows within a lease even while this one's subscription is down", async () => {
    await started(["a", "b"]);
    const a = cluster.instance("a");
    const b = cluster.instance("b");
    const theirs = [...b.host.running];
    const up = () => theirs.every((id) => a.coordinator.endpoint(id, undefined)?.connected === true);
    b.coordinator.touch();
    await cluster.waitFor(up, cluster.leaseTtl, "a showing b's links up");
    a.connection.deaf = true;
    b.host.failed = true;
    b.coordinator.touch();
    await cluster.clock.advance(2 * cluster.tickMs);
    const shown = () => theirs.every((id) => a.coordinator.endpoint(id, undefined)?.connected === false);
    expect(shown()).toBe(false);
    await cluster.waitFor(shown, cluster.leaseTtl + 2 * cluster.tickMs, "a showing b's links down");
  });

  it("a change made just after Redis restarted empty waits for the list to be restored, not a file's", async () => {
    await started(["a", "b"]);
    const a = cluster.instance("a");
    expect(await cluster.until(a.coordinator.update(add("x1")))).toBe(true);
    expect(await cluster.until(a.coordinator.update(remove("e02")))).toBe(true);
    // b goes, so a is the one instance that knows the list when Redis restarts empty; a's
    // subscription is not back yet.
    await cluster.stop("b");
    a.connection.deaf = true;
    cluster.redis.flush();
    // A process that knows only its config file reaches the empty Redis first and seeds it.
    await cluster.start("d", { noWait: true });
    await settle();
    expect(cluster.redis.list?.origin).toBe("file");
    a.connection.deaf = false;
    // Before a's next tick, a change reaches a: it must not be made on the file's list.
    const change = a.coordinator.update(add("x2"));
    expect(await cluster.until(change)).toBe(true);
    expect(cluster.redis.list?.entries).toEqual(expect.arrayContaining(["x1", "x2"]));
    expect(cluster.redis.list?.entries).not.toContain("e02");
  });

  it("an instance that knew a list re-reads a different list under the same version", async () => {
    await started(["a", "b"]);
    const a = cluster.instance("a");
    expect(await cluster.until(a.coordinator.update(add("x1")))).toBe(true);
    const version = cluster.redis.list?.version;
    // Redis restarts empty and, before anyone seeds it, another list with the same version is there.
    cluster.redis.flush();
    cluster.redis.seed(
      { epoch: "other", version: version ?? 0, entries: ["y1"], origin: "history", changes: [] },
      0,
    );
    await cluster.waitFor(
      () =>
        a.coordinator.entries.join() === "y1" && cluster.instance("b").coordinator.entries.join() === "y1",
      2000,
      "both reading the list Redis has",
    );
    // A change now is made on that list, not on the stale copy.
    expect(await cluster.until(a.coordinator.update(add("y2")))).toBe(true);
    expect(cluster.redis.list?.entries).toEqual(["y1", "y2"]);
  });

  it("after Redis comes back empty within a tick, each keeps its own: nobody takes another's endpoints", async () => {
    await started();
    const before = cluster.owners();
    cluster.redis.flush();
    await cluster.clock.advance(3 * cluster.leaseTtl);
    expect(cluster.owners()).toEqual(before);
    expect(cluster.agents.overlapCount()).toBe(0);
    expect(cluster.instance("a").logs.some((l) => l.includes("Redis lost its data"))).toBe(true);
  });

  it("Redis restarting empty while one instance is slow to return: the others leave its endpoints to it", async () => {
    await started(["a", "b", "c"], 10_000);
    const before = cluster.owners();
    // c's path to Redis stalls for 5 s, longer than the list takes to settle and shorter than a lease.
    cluster.instance("c").connection.stall(5000);
    cluster.redis.flush();
    await cluster.clock.advance(3 * cluster.leaseTtl);
    expect(cluster.owners()).toEqual(before);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("Redis away longer than a lease with its data kept: when back, each takes its own again and no other's", async () => {
    await started();
    const before = cluster.owners();
    cluster.redis.down = true;
    await cluster.clock.advance(2 * cluster.leaseTtl);
    expect(endpoints.every((id) => cluster.redis.lease(id) === undefined)).toBe(true);
    cluster.redis.down = false;
    await cluster.clock.advance(2 * cluster.leaseTtl);
    expect(cluster.owners()).toEqual(before);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("after an outage, an instance that does not come back has its endpoints taken once the grace ends", async () => {
    await started();
    const had = [...cluster.instance("c").host.running];
    cluster.redis.down = true;
    await cluster.clock.advance(cluster.leaseTtl);
    cluster.kill("c");
    cluster.redis.flush();
    cluster.redis.down = false;
    cluster.agents.watchGaps(endpoints);
    await cluster.waitFor(() => cluster.settled(), cluster.leaseTtl + 2000, "c's endpoints taken");
    expect(had.every((id) => cluster.agents.holders(id).length === 1)).toBe(true);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("links cut from the agents while Redis is reachable: held elsewhere within leaseTtl + 2 s, and not taken back", async () => {
    await started();
    const b = cluster.instance("b");
    const had = [...b.host.running];
    cluster.agents.watchGaps(endpoints);
    b.host.cut();
    await cluster.waitFor(
      () => had.every((id) => cluster.agents.holders(id).length === 1),
      cluster.leaseTtl + 2000,
      "b's endpoints held elsewhere",
    );
    expect(cluster.agents.longestGap).toBeLessThanOrEqual(cluster.leaseTtl + 2000);
    await cluster.clock.advance(3 * cluster.leaseTtl);
    expect(b.host.running.size).toBe(0);
    expect(had.every((id) => cluster.agents.holders(id).length === 1)).toBe(true);
    expect(b.logs.some((l) => l.includes("handing them over"))).toBe(true);
  });

  it("when no instance reaches the agents' side, nobody moves anything", async () => {
    await started();
    const before = cluster.owners();
    for (const instance of cluster.instances.values()) instance.host.cut();
    await cluster.clock.advance(5 * cluster.leaseTtl);
    expect(cluster.owners()).toEqual(before);
  });

  it("a grant whose reply was lost is taken up on the next tick", async () => {
    cluster = new TestCluster(endpoints);
    await cluster.startAll(["a"]);
    await cluster.waitFor(() => cluster.settled(), 5000, "a holds all");
    const a = cluster.instance("a");
    const releases = cluster.redis.calls.get("release") ?? 0;
    a.connection.loseReply("acquire");
    expect(await cluster.until(a.coordinator.update(add("x1")))).toBe(true);
    // The lease is a's in Redis; a runs it one tick later, well inside a lease, as it is.
    await cluster.waitFor(() => a.host.running.has("x1"), 3 * cluster.tickMs, "x1 run");
    expect(cluster.redis.lease("x1")?.startsWith("a|")).toBe(true);
    expect(cluster.redis.calls.get("release") ?? 0).toBe(releases);
  });

  it("a release whose reply was lost is done again on the next tick", async () => {
    await started(["a", "b"]);
    const a = cluster.instance("a");
    const victim = [...a.host.running][0] as string;
    // The release never reaches Redis: a sees a timeout and the lease stays until a sends it again.
    a.connection.drop("release");
    expect(await cluster.until(a.coordinator.update(remove(victim)))).toBe(true);
    await cluster.waitFor(() => cluster.redis.lease(victim) === undefined, 3 * cluster.tickMs, "released");
    expect(cluster.agents.holders(victim)).toEqual([]);
  });

  it("instances with different lease TTLs stay live for each other: nothing is dropped or handed over", async () => {
    cluster = new TestCluster(endpoints, 1000);
    await cluster.startAll(["a", "b"]);
    await cluster.start("c", { leaseTtl: 10_000 });
    await cluster.waitFor(
      () => cluster.settled() && cluster.loads().join() === "3,3,3",
      5000,
      "three shares",
    );
    const before = cluster.owners();
    // c beats once a second, sometimes a second and a half late (well inside its 10 s TTL); a, with a tenth of
    // c's TTL, never counts it gone.
    const a = cluster.instance("a").coordinator;
    let missing = 0;
    for (let i = 0; i < 6; i++) {
      cluster.instance("c").connection.stall(1500);
      for (let step = 0; step < 30; step++) {
        await cluster.clock.advance(100);
        if (!a.view().instances.some((instance) => instance.id === "c")) missing++;
      }
    }
    expect(missing).toBe(0);
    expect(cluster.owners()).toEqual(before);
    expect(
      cluster
        .instance("a")
        .coordinator.view()
        .instances.map((i) => i.id)
        .sort(),
    ).toEqual(["a", "b", "c"]);
  });

  it("a second process with a live instance's id is refused at join with a clear error", async () => {
    await started(["a", "b"]);
    const twin = await cluster.start("a2", { instanceId: "a", noWait: true });
    await expect(cluster.until(twin.started)).rejects.toMatchObject({
      code: "DUPLICATE_INSTANCE",
      message: expect.stringContaining('cluster.instanceId "a" is in use by another running instance'),
    });
    expect(twin.host.running.size).toBe(0);
    expect(cluster.agents.overlapCount()).toBe(0);
    expect(cluster.instance("a").host.running.size).toBeGreaterThan(0);
  });

  it("a restarted process with the id of one that crashed waits for it to lapse, then joins", async () => {
    await started(["a", "b"]);
    cluster.kill("a");
    const again = await cluster.start("a-again", { instanceId: "a" });
    expect(
      again.coordinator
        .view()
        .instances.map((i) => i.id)
        .sort(),
    ).toEqual(["a", "b"]);
    await cluster.waitFor(() => again.host.running.size > 0, 5000, "the new a taking its share");
  });

  it("the wall clock jumping back changes no timing: leases are renewed on the monotonic clock", async () => {
    let jump = 0;
    cluster = new TestCluster(endpoints);
    for (const name of ["a", "b"]) await cluster.start(name, { wallClock: () => cluster.clock.now() - jump });
    await cluster.waitFor(() => cluster.settled(), 5000, "settled");
    await cluster.clock.advance(2 * cluster.leaseTtl);
    expect(cluster.redis.calls.get("renew")).toBeGreaterThan(0);
    const before = cluster.owners();
    jump = 3_600_000;
    await cluster.clock.advance(5 * cluster.leaseTtl);
    expect(cluster.owners()).toEqual(before);
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("a change of the list moves no endpoint it did not touch", async () => {
    await started();
    const before = cluster.owners();
    const a = cluster.instance("a");
    for (const id of ["x1", "x2", "x3"])
      expect(await cluster.until(a.coordinator.update(add(id)))).toBe(true);
    expect(await cluster.until(a.coordinator.update(remove("e05")))).toBe(true);
    await cluster.waitFor(() => cluster.settled(), 5000, "settled");
    const after = cluster.owners();
    const moved = [...before].filter(([id, owner]) => after.has(id) && after.get(id) !== owner);
    expect(moved).toEqual([]);
    expect(cluster.agents.overlapCount()).toBe(0);
    expect(keptChanges).toBeGreaterThan(4);
  });
});
