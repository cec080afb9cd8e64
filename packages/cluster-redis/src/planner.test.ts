import { describe, expect, it } from "vitest";
import { LeaseTable } from "./lease-table.js";
import { type LeaseHolder, type Plan, plan, type Snapshot } from "./planner.js";

const listed = ["e1", "e2", "e3", "e4", "e5", "e6"];
const none = new Set<string>();

/**
 * A snapshot as the coordinator makes it: the leases in a lease table, with `own` (this process's
 * leases) and the `index` taken from it.
 */
function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  const at: Snapshot = {
    self: "a",
    tickMs: 100,
    listed: new Set(listed),
    settling: false,
    joining: false,
    live: new Map([
      ["a", none],
      ["b", none],
    ]),
    leases: new Map(),
    held: new Set(),
    unservable: none,
    freeSince: new Map(),
    ...over,
  };
  if ("own" in over) return at;
  return indexed(at);
}

/** `at` with its leases in a lease table, and `own` and `index` from it. */
function indexed(at: Snapshot): Snapshot {
  const table = new LeaseTable();
  for (const [id, lease] of at.leases) table.set(id, lease);
  return { ...at, leases: table, own: table.own(), index: table.index(at.listed) };
}

/**
 * What a plan does, each list in id order, with the owner of every listed endpoint: the same
 * whatever order a plan finds the endpoints in.
 */
function sorted(p: Plan, listedNow: ReadonlySet<string>): unknown {
  const owners = Object.fromEntries([...listedNow].sort().map((id) => [id, p.owners.get(id)]));
  const lists = [p.lost, p.adopt, p.release, p.acquire, p.owners.placed].map((ids) => [...ids].sort());
  return { lists, owners, freeSince: [...p.freeSince].sort(), why: p.why };
}

/** A small generator of the same numbers for the same seed (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function leases(entries: Record<string, string>, self = "a"): Map<string, LeaseHolder> {
  return new Map(
    Object.entries(entries).map(([id, instance]) => [id, { instance, mine: instance === self }]),
  );
}

describe("plan", () => {
  it("takes this instance's share of the free endpoints and leaves the rest to the other", () => {
    const p = plan(snapshot(), 0);
    expect(p.acquire).toHaveLength(3);
    const other = plan(snapshot({ self: "b" }), 0);
    expect([...p.acquire, ...other.acquire].sort()).toEqual(listed);
  });

  it("takes what the preferred instance leaves free after a wait that grows with rank", () => {
    const first = plan(snapshot(), 0);
    const theirs = listed.filter((id) => !first.acquire.includes(id));
    const later = plan(snapshot({ freeSince: first.freeSince }), 199);
    expect(later.acquire.filter((id) => theirs.includes(id))).toEqual([]);
    const after = plan(snapshot({ freeSince: first.freeSince }), 200);
    expect(after.acquire.sort()).toEqual(listed);
  });

  it("takes nothing while joining or while the list is settling, and holds still", () => {
    const held = new Set(["e1", "e2", "e3", "e4"]);
    const mine = leases({ e1: "a", e2: "a", e3: "a", e4: "a" });
    for (const state of [{ joining: true }, { settling: true }]) {
      const p = plan(snapshot({ ...state, held, leases: mine, listed: new Set(["e1", "e5", "e6"]) }), 0);
      expect(p.acquire).toEqual([]);
      expect(p.release).toEqual([]);
    }
  });

  it("places this instance's leases afresh while it is not live itself, and keeps them once it is", () => {
    const held = new Set(["e1", "e2", "e3"]);
    const all = leases({ e1: "a", e2: "a", e3: "a", e4: "b", e5: "b", e6: "b" });
    const notLive = plan(snapshot({ held, leases: all, live: new Map([["b", none]]) }), 0);
    expect([...notLive.owners.placed].sort()).toEqual(["e1", "e2", "e3"]);
    const live = plan(snapshot({ held, leases: all }), 0);
    expect(live.owners.placed).toEqual([]);
    expect(["e1", "e2", "e3"].map((id) => live.owners.get(id))).toEqual(["a", "a", "a"]);
  });

  it("hands over what another live instance should hold, and lets go of what is no longer listed", () => {
    const held = new Set(["e1", "e2", "e3", "e4", "e5", "e6", "gone"]);
    const all = leases({ e1: "a", e2: "a", e3: "a", e4: "a", e5: "a", e6: "a", gone: "a" });
    const p = plan(snapshot({ held, leases: all }), 0);
    expect(p.why).toMatchObject({ handover: 3, unlisted: 1 });
    expect(p.release).toContain("gone");
    expect(p.owners.get(p.release.find((id) => id !== "gone") as string)).toBe("b");
  });

  it("hands over at most a batch at a tick, and still lets go of everything no longer listed", () => {
    const held = new Set(["e1", "e2", "e3", "e4", "e5", "e6", "gone"]);
    const all = leases({ e1: "a", e2: "a", e3: "a", e4: "a", e5: "a", e6: "a", gone: "a" });
    const p = plan(snapshot({ held, leases: all, handoverBatch: 2 }), 0);
    expect(p.why).toMatchObject({ handover: 2, unlisted: 1 });
    expect(p.release).toHaveLength(3);
  });

  it("takes nothing a stopping instance still holds, and places it among the others to take at once", () => {
    // b is stopping: the coordinator leaves it out of `live`; its leases still hold.
    const live = new Map([["a", none]]);
    const p = plan(snapshot({ live, leases: leases({ e1: "b", e2: "b" }) }), 0);
    expect(p.acquire).not.toContain("e1");
    expect(p.owners.get("e1")).toBe("a");
    const released = plan(snapshot({ live, leases: leases({ e2: "b" }) }), 0);
    expect(released.acquire).toContain("e1");
  });

  it("takes what a stopping instance handed it at once, and leaves what it handed another", () => {
    const live = new Map([
      ["a", none],
      ["b", none],
    ]);
    const shares = plan(snapshot({ live }), 0);
    const mine = shares.acquire[0] as string;
    const theirs = listed.find((id) => !shares.acquire.includes(id)) as string;
    const given = new Map([
      [mine, "b"],
      [theirs, "a"],
    ]);
    const p = plan(snapshot({ live, given }), 0);
    expect(p.acquire).toContain(theirs);
    expect(p.acquire).not.toContain(mine);
    // Named for an instance that is gone or still joining: the shares decide, so a's own share is a's.
    for (const over of [{ live: new Map([["a", none]]) }, { joiningPeers: new Set(["b"]) }]) {
      const q = plan(snapshot({ live, given, ...over }), 0);
      expect(q.acquire).toContain(mine);
    }
  });

  it("hands nothing over while an endpoint let go waits to be taken, for 2 ticks at most", () => {
    const live = new Map([
      ["a", none],
      ["b", none],
      ["c", none],
    ]);
    const held = new Set(listed);
    const all = leases(Object.fromEntries(listed.map((id) => [id, "a"])));
    const shares = plan(snapshot({ live, held, leases: all }), 0);
    const toB = listed.filter((id) => shares.owners.get(id) === "b");
    const toC = listed.filter((id) => shares.owners.get(id) === "c");
    expect(toB.length).toBeGreaterThan(1);
    expect(toC.length).toBeGreaterThan(0);
    // One of b's share went free a tick ago and b has not taken it yet: c waits too.
    const [free] = toB as [string];
    const after = {
      live,
      held: new Set(listed.filter((id) => id !== free)),
      leases: new Map([...all].filter(([id]) => id !== free)),
      freeSince: new Map([[free, 0]]),
    };
    expect(plan(snapshot(after), 100).release).toEqual([]);
    // After 2 ticks the free endpoint no longer holds the rest up.
    const later = plan(snapshot(after), 200);
    expect(later.release.length).toBeGreaterThan(0);
    expect(later.release.every((id) => toB.includes(id) || toC.includes(id))).toBe(true);
  });

  it("hands the next batch over only once the last was taken, and none to an instance still joining", () => {
    const held = new Set(listed);
    const all = leases(Object.fromEntries(listed.map((id) => [id, "a"])));
    const first = plan(snapshot({ held, leases: all, handoverBatch: 1 }), 0);
    expect(first.why.handover).toBe(1);
    const [gone] = first.release as [string];
    const rest = new Map([...all].filter(([id]) => id !== gone));
    const after = { held: new Set([...held].filter((id) => id !== gone)), leases: rest, handoverBatch: 1 };
    // b has not taken it yet: nothing more goes.
    expect(plan(snapshot({ ...after, freeSince: new Map([[gone, 0]]) }), 100).why.handover).toBe(0);
    // b took it: the next one goes.
    const taken = new Map([...rest, [gone, { instance: "b", mine: false }]]);
    expect(plan(snapshot({ ...after, leases: taken }), 100).why.handover).toBe(1);
    expect(plan(snapshot({ ...after, leases: taken, joiningPeers: new Set(["b"]) }), 100).why.handover).toBe(
      0,
    );
  });

  it("takes at once what was let go of and a joining instance would own; at a cold start it waits for the joiner", () => {
    const live = new Map([
      ["a", none],
      ["b", none],
      ["c", none],
    ]);
    const joiningPeers = new Set(["c"]);
    // Never held: a and b leave c's share to it, which takes it itself once it has joined.
    const cold = [
      ...plan(snapshot({ live, joiningPeers }), 0).acquire,
      ...plan(snapshot({ self: "b", live, joiningPeers }), 0).acquire,
    ];
    const cShare = listed.filter((id) => !cold.includes(id));
    expect(cShare.length).toBeGreaterThan(0);
    expect(cShare.length).toBeLessThan(listed.length);
    // d stopped and let every endpoint go: a and b take all of it at once, none twice.
    const letGo = new Map(listed.map((id) => [id, "d"]));
    const a = plan(snapshot({ live, joiningPeers, letGo }), 0);
    const b = plan(snapshot({ self: "b", live, joiningPeers, letGo }), 0);
    expect([...a.acquire, ...b.acquire].sort()).toEqual(listed);
    expect(a.acquire.filter((id) => b.acquire.includes(id))).toEqual([]);
    // What a let go of (its share moved) goes to b, not back to a.
    const fromA = new Map(listed.map((id) => [id, "a"]));
    expect(
      plan(snapshot({ live, joiningPeers, letGo: fromA }), 0).acquire.filter((id) => cShare.includes(id)),
    ).toEqual([]);
    const toB = plan(snapshot({ self: "b", live, joiningPeers, letGo: fromA }), 0).acquire;
    expect(cShare.every((id) => toB.includes(id))).toBe(true);
  });

  it("closes the links of leases another instance holds now, with nothing to release", () => {
    const p = plan(snapshot({ held: new Set(["e1"]), leases: leases({ e1: "b" }) }), 0);
    expect(p.lost).toEqual(["e1"]);
    expect(p.release).toEqual([]);
  });

  it("runs a lease of its own it does not run yet, and releases one it should not have", () => {
    const own = leases({ e1: "a", e2: "a" });
    const p = plan(snapshot({ live: new Map([["a", none]]), leases: own, listed: new Set(["e1"]) }), 0);
    expect(p.adopt).toEqual(["e1"]);
    expect(p.release).toEqual(["e2"]);
    expect(p.why.stray).toBe(1);
  });

  it("without `own`, finds this process's leases by a pass over all of them, with the same plan", () => {
    const all = leases({ e1: "a", e2: "a", e3: "b", e4: "b", e6: "a" });
    const at = snapshot({
      live: new Map([["a", none]]),
      held: new Set(["e1"]),
      leases: all,
      listed: new Set(["e1", "e3", "e4", "e5", "e6"]),
    });
    expect(at.own).toEqual(new Set(["e1", "e2", "e6"]));
    const given = plan(at, 0);
    expect(given.adopt).toEqual(["e6"]);
    expect(given.release).toEqual(["e2"]);
    const { own: _, ...without } = at;
    const passed = plan(without, 0);
    expect(passed.adopt).toEqual(given.adopt);
    expect(passed.release).toEqual(given.release);
    expect(passed.why).toEqual(given.why);
    // With `own`, what it names is what the plan looks at: no pass over every lease is made.
    expect(plan({ ...at, own: new Set(["e1"]) }, 0).adopt).toEqual([]);
  });

  it("plans from the lease index what a pass over the list plans, whatever the leases and instances", () => {
    const next = random(33);
    const pick = <T>(from: readonly T[]): T => from[Math.floor(next() * from.length)] as T;
    const sometimes = (p: number) => next() < p;
    let grouped = 0;
    for (let round = 0; round < 300; round++) {
      const ids = Array.from({ length: 40 }, (_, i) => `e${i}`);
      const listedNow = new Set(ids.filter(() => sometimes(0.9)));
      // Instances that tick, others whose leases remain (stopped, or gone), and an earlier process of `a`.
      const names = ["a", "b", "c", "d", "e"].slice(0, 2 + Math.floor(next() * 4));
      const live = new Map(names.filter((n) => n === "a" || sometimes(0.8)).map((n) => [n, none]));
      // An instance that avoids an endpoint (listed or not), and this one not live.
      if (sometimes(0.15)) live.set("b", new Set([pick(ids)]));
      if (sometimes(0.08)) live.delete("a");
      // The table as the coordinator keeps it: following the list, changed lease by lease.
      const table = new LeaseTable();
      table.index(listedNow);
      const held = new Set<string>();
      for (const id of ids) {
        const r = next();
        // Mostly listed ones: a lease of one not listed turns the index off for the tick.
        if (!listedNow.has(id) && sometimes(0.95)) continue;
        if (sometimes(0.2)) table.set(id, { instance: pick(names), mine: sometimes(0.3) });
        if (r < 0.35) table.set(id, { instance: "a", mine: true });
        else if (r < 0.4) table.set(id, { instance: "a", mine: false });
        else if (r < 0.85) table.set(id, { instance: pick(names), mine: false });
        else table.delete(id);
        if (r < 0.3 || (r >= 0.85 && r < 0.9) || (r >= 0.4 && r < 0.45)) held.add(id);
      }
      const index = table.index(listedNow);
      // What it kept up to date is what a fresh look at the same leases finds.
      const fresh = new LeaseTable();
      for (const [id, lease] of table) fresh.set(id, lease);
      expect(new Set(index.unleased)).toEqual(new Set(fresh.index(listedNow).unleased));
      expect(index.unlisted).toBe(fresh.index(listedNow).unlisted);
      const joiningPeers = sometimes(0.2) ? new Set([pick(names)]) : undefined;
      const withIndex: Snapshot = {
        ...snapshot({ own: undefined }),
        listed: listedNow,
        live,
        leases: table,
        own: table.own(),
        index,
        held,
        settling: sometimes(0.05),
        joining: sometimes(0.05),
        freeSince: new Map([[pick(ids), 0]]),
        ...(sometimes(0.3) ? { handoverBatch: 1 + Math.floor(next() * 3) } : {}),
        ...(joiningPeers ? { joiningPeers } : {}),
        ...(sometimes(0.2) ? { given: new Map([[pick(ids), pick(names)]]) } : {}),
        ...(sometimes(0.2) ? { letGo: new Map([[pick(ids), pick(names)]]) } : {}),
      };
      const avoidsListed = [...live.values()].some((avoids) => [...avoids].some((id) => listedNow.has(id)));
      if (index.unlisted === 0 && live.has("a") && !avoidsListed) grouped++;
      const { own: _own, index: _index, ...passed } = withIndex;
      const now = pick([0, 150, 1000]);
      const planned = sorted(plan(withIndex, now), listedNow);
      expect(planned, `round ${round}`).toEqual(
        sorted(plan({ ...passed, own: table.own() }, now), listedNow),
      );
      expect(planned, `round ${round}`).toEqual(sorted(plan(passed, now), listedNow));
    }
    // Most rounds took the index's way; the rest the pass over the list.
    expect(grouped).toBeGreaterThan(150);
    expect(grouped).toBeLessThan(300);
  });

  it("during the grace after Redis came back, leaves another's endpoints to it", () => {
    const before = new Map(listed.map((id) => [id, "b"]));
    const p = plan(snapshot({ live: new Map([["a", none]]), grace: { until: 1000, before } }), 500);
    expect(p.acquire).toEqual([]);
    expect(
      plan(snapshot({ live: new Map([["a", none]]), grace: { until: 1000, before } }), 1000).acquire,
    ).toEqual(listed);
  });

  it("lets go of what it cannot serve, and stays off what it avoids unless everyone does", () => {
    const held = new Set(["e1"]);
    const p = plan(snapshot({ held, leases: leases({ e1: "a" }), unservable: new Set(["e1"]) }), 0);
    expect(p.release).toEqual(["e1"]);
    expect(p.why.unservable).toBe(1);
    const avoiding = new Map([
      ["a", new Set(listed)],
      ["b", none],
    ]);
    expect(plan(snapshot({ live: avoiding }), 0).acquire).toEqual([]);
    const everyone = new Map([["a", new Set(listed)]]);
    expect(plan(snapshot({ live: everyone }), 0).acquire.sort()).toEqual(listed);
  });
});
