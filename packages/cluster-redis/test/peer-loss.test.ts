import { afterEach, describe, expect, it } from "vitest";
import { ids, TestCluster, type TestInstance } from "./harness.js";

// What the instances say and show when one of them is lost (killed, or restarted at once under
// its id): played out on the fake clock over the memory Redis.
const endpoints = ids(12);
let cluster: TestCluster;

afterEach(async () => {
  await cluster?.stopAll();
});

async function three(leaseTtl: number): Promise<TestCluster> {
  cluster = new TestCluster(endpoints, leaseTtl);
  await cluster.startAll(["a", "b", "c"]);
  await cluster.waitFor(() => cluster.settled() && cluster.viewsAgree(), 5000, "every endpoint held once");
  return cluster;
}

/** What `instance` shows of the endpoints `holder` holds. */
const shownOf = (instance: TestInstance, holder: string) =>
  instance.coordinator.endpoints(instance.host.statuses()).filter((e) => e.instance === holder);

const tookOver =
  /^warn cluster: instance b stopped renewing its leases and they ran out; took (\d+) of its endpoints over$/;

describe("an instance lost", () => {
  it("killed: the others show its endpoints not confirmed once it stops beating, then say they took them over", async () => {
    // A long lease: the heartbeat is missed (4 s) well before the leases lapse (10 s at most).
    await three(10_000);
    const a = cluster.instance("a");
    const had = [...cluster.owners()].filter(([, owner]) => owner === "b").map(([id]) => id);
    // What b runs is published as its links change (told here, as the adapter tells it).
    cluster.instance("b").host.changed();
    await cluster.waitFor(
      () => shownOf(a, "b").length === had.length && shownOf(a, "b").every((e) => e.connected),
      5000,
      "b's endpoints shown connected",
    );
    let shownOnView = false;
    const unconfirmed = () => {
      const shown = shownOf(a, "b");
      return (
        shown.length === had.length &&
        shown.every(
          (e) =>
            !e.connected &&
            e.state === "disconnected" &&
            /^not confirmed: instance b /.test(e.lastError ?? ""),
        )
      );
    };
    // A dashboard hears of it: the view changes as b goes silent, not only when asked.
    a.coordinator.on("view", () => {
      shownOnView ||= unconfirmed();
    });
    const lastBeat = a.coordinator.view().instances.find((i) => i.id === "b")?.heartbeatAt;
    cluster.kill("b");
    await cluster.waitFor(unconfirmed, 6000, "b's endpoints shown not confirmed");
    expect(cluster.owners().get(had[0] as string)).toBe("b");
    expect(shownOnView).toBe(true);
    expect(shownOf(a, "b")[0]?.lastErrorAt).toBeGreaterThanOrEqual(lastBeat ?? Number.POSITIVE_INFINITY);
    await cluster.waitFor(() => cluster.settled() && cluster.viewsAgree(), 10_000 + 3000, "takeover");
    // Each of the others says how many it took, and from which instance: the counts add up.
    const taken = ["a", "c"].flatMap((name) =>
      cluster.instance(name).logs.flatMap((line) => tookOver.exec(line)?.[1] ?? []),
    );
    expect(taken.map(Number).reduce((sum, n) => sum + n, 0)).toBe(had.length);
    for (const name of ["a", "c"])
      for (const id of had) expect(cluster.instance(name).logs.join("\n")).not.toContain(id);
    // Held again: shown as the new holder runs them, with no word of b.
    cluster.instance("c").host.changed();
    await cluster.waitFor(
      () =>
        a.coordinator
          .endpoints(a.host.statuses())
          .filter((e) => had.includes(e.id))
          .every((e) => e.connected && e.lastError === undefined && e.instance !== "b"),
      5000,
      "b's endpoints shown held again",
    );
    expect(cluster.agents.overlapCount()).toBe(0);
  });

  it("killed with an endpoint unlisted before its lease lapsed: listed again much later, its take is no takeover", async () => {
    await three(2000);
    const a = cluster.instance("a");
    const gone = [...cluster.owners()].find(([, owner]) => owner === "b")?.[0] as string;
    cluster.kill("b");
    await cluster.until(a.coordinator.update((entries) => entries.filter((e) => e !== gone)));
    // b's other endpoints are taken over once their leases lapse, and said so.
    await cluster.waitFor(() => cluster.settled(), 10_000, "b's endpoints held again");
    const said = () =>
      ["a", "c"].flatMap((name) => cluster.instance(name).logs.filter((l) => tookOver.test(l)));
    const before = said().length;
    expect(before).toBeGreaterThan(0);
    // A minute on, the endpoint is listed again: a new one, taken without a word of b.
    await cluster.waitFor(() => false, 60_000, "a minute").catch(() => {});
    await cluster.until(a.coordinator.update((entries) => [...entries, gone]));
    await cluster.waitFor(
      () => cluster.settled() && cluster.owners().get(gone) !== "-",
      10_000,
      "held again",
    );
    expect(said()).toHaveLength(before);
  });

  it("everyone stalled at once (Redis paused, say): nobody is shown not confirmed", async () => {
    // Heartbeats are missed after 4 s, leases last 10 s: a 5 s stall of every instance alike.
    await three(10_000);
    for (const name of ["a", "b", "c"]) cluster.instance(name).host.changed();
    await cluster.waitFor(() => cluster.viewsAgree(), 5000, "views agree");
    const marked: string[] = [];
    const watch = (name: string) => {
      const { coordinator, host } = cluster.instance(name);
      for (const e of coordinator.endpoints(host.statuses()))
        if (/^not confirmed/.test(e.lastError ?? "")) marked.push(`${name}: ${e.id} (${e.instance})`);
    };
    for (const name of ["a", "b", "c"]) cluster.instance(name).coordinator.on("view", () => watch(name));
    for (const name of ["a", "b", "c"]) cluster.pause(name);
    await cluster.clock.advance(5000);
    for (const name of ["a", "b", "c"]) cluster.resume(name);
    await cluster
      .waitFor(
        () => {
          for (const name of ["a", "b", "c"]) watch(name);
          return false;
        },
        3000,
        "ticks after the stall",
      )
      .catch(() => {});
    expect(marked).toEqual([]);
    expect(cluster.settled()).toBe(true);
  });

  it("stopped gracefully: its handover is no lost instance", async () => {
    await three(2000);
    await cluster.stop("b");
    await cluster.waitFor(() => cluster.settled(), 5000, "b's endpoints held again");
    for (const name of ["a", "c"]) {
      expect(cluster.instance(name).logs.filter((line) => tookOver.test(line))).toEqual([]);
      expect(shownOf(cluster.instance(name), "b")).toEqual([]);
    }
  });

  it("restarted at once under its id: a warning that the id is still held, and the view shows it waiting", async () => {
    await three(2000);
    const had = [...cluster.owners()].filter(([, owner]) => owner === "a").length;
    cluster.kill("a");
    const again = await cluster.start("a-again", { instanceId: "a", noWait: true });
    const held = "warn cluster: this cluster.instanceId is still held, by this instance before a restart";
    await cluster.waitFor(() => again.logs.some((l) => l.startsWith(held)), 1000, "the warning");
    const seconds = Number(
      /ends in about (\d+) s/.exec(again.logs.find((l) => l.startsWith(held)) ?? "")?.[1],
    );
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(2);
    const waiting = again.coordinator.view().instances.find((i) => i.self);
    expect(waiting).toMatchObject({ id: "a", endpoints: 0, self: true });
    expect(waiting?.idHeldUntil).toBeGreaterThan(cluster.redis.time());
    await cluster.until(again.started);
    expect(again.logs).toContain("info cluster: the instance id is free; joining");
    expect(again.logs.filter((l) => l.startsWith("error"))).toEqual([]);
    expect(again.coordinator.view().instances.find((i) => i.self)).not.toHaveProperty("idHeldUntil");
    await cluster.waitFor(() => again.host.running.size > 0, 5000, "the new a taking its share");
    // Whoever took the killed a's endpoints said so, the new a among them: it watched the leases
    // its id left while it waited, so taking them back once they lapsed is no silent take.
    const back =
      /^warn cluster: the leases this instance id held before a restart ran out; took (\d+) of those endpoints back$/;
    const over =
      /^warn cluster: instance a stopped renewing its leases and they ran out; took (\d+) of its endpoints over$/;
    const said = () =>
      [again, cluster.instance("b"), cluster.instance("c")]
        .flatMap((i) => i.logs.flatMap((line) => (back.exec(line) ?? over.exec(line))?.[1] ?? []))
        .reduce((sum, n) => sum + Number(n), 0);
    await cluster.waitFor(() => said() >= had, 5000, "the takeover said").catch(() => {});
    expect(said()).toBe(had);
  });

  it("restarted at once under its id, alone: taking its endpoints back once their leases lapse is said", async () => {
    cluster = new TestCluster(endpoints, 2000);
    await cluster.startAll(["a"]);
    await cluster.waitFor(() => cluster.settled(), 5000, "every endpoint held");
    cluster.kill("a");
    const again = await cluster.start("a-again", { instanceId: "a", noWait: true });
    await cluster.until(again.started);
    const back = `warn cluster: the leases this instance id held before a restart ran out; took ${endpoints.length} of those endpoints back`;
    await cluster.waitFor(() => again.logs.includes(back), 5000, "the take said").catch(() => {});
    expect(again.logs).toContain(back);
    expect(again.host.running.size).toBe(endpoints.length);
  });

  it("started beside a live instance of its id: an error, and the start fails", async () => {
    await three(2000);
    const twin = await cluster.start("a2", { instanceId: "a", noWait: true });
    await expect(cluster.until(twin.started)).rejects.toMatchObject({ code: "DUPLICATE_INSTANCE" });
    // The rejection is the error (the server says it could not start): no line before it.
    expect(twin.logs.filter((l) => l.startsWith("error"))).toEqual([]);
    expect(twin.host.running.size).toBe(0);
  });

  it("started beside a live instance of its id while Redis was out of reach: an error once the other renews", async () => {
    await three(2000);
    cluster.redis.down = true;
    const twin = await cluster.start("a2", { instanceId: "a", noWait: true });
    // Redis out of reach: the start is over after one attempt, with nothing known of the id.
    await cluster.until(twin.started);
    cluster.redis.down = false;
    const held = "warn cluster: this cluster.instanceId is still held";
    await cluster.waitFor(() => twin.logs.some((l) => l.startsWith(held)), 2000, "the warning");
    const duplicate =
      "error cluster: another running instance has this cluster.instanceId; this one runs nothing while it is there (give each instance its own id)";
    await cluster.waitFor(() => twin.logs.includes(duplicate), 2000, "the error");
    // Said once, however long the other runs.
    await cluster.waitFor(() => false, 3000, "a while").catch(() => {});
    expect(twin.logs.filter((l) => l.startsWith("error"))).toEqual([duplicate]);
    expect(twin.host.running.size).toBe(0);
    expect(cluster.instance("a").host.running.size).toBeGreaterThan(0);
  });

  it("joined, then its id taken by another process while it was paused: shown locked out, not starting", async () => {
    await three(2000);
    const a = cluster.instance("a");
    cluster.pause("a");
    // Past its lease, another process takes the id and joins.
    await cluster.clock.advance(3000);
    const twin = await cluster.start("a2", { instanceId: "a" });
    cluster.resume("a");
    const duplicate = "error cluster: another running instance has this cluster.instanceId";
    await cluster.waitFor(() => a.logs.some((l) => l.startsWith(duplicate)), 3000, "the error");
    const self = a.coordinator.view().instances.find((i) => i.self);
    expect(self).toMatchObject({ id: "a", endpoints: 0 });
    // Not "starting": it is not waiting for its id to come free, another process has it.
    expect(self).not.toHaveProperty("idHeldUntil");
    expect(twin.logs.filter((l) => l.startsWith("error"))).toEqual([]);
  });
});
