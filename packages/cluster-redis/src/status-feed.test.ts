import type { EndpointStatus } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { status } from "../test/statuses.js";
import type { StatusChangeMessage } from "./messages.js";
import { StatusFeed } from "./status-feed.js";
import type { StatusChange } from "./stores.js";

/**
 * A feed over `statuses`, with what it saved and how often it only kept the copy alive; `byId`
 * gives it a way to read one endpoint, and counts the reads of all and of one.
 */
function feed(statuses: EndpointStatus[], byId = false) {
  const feed = new StatusFeed();
  const reads = { all: 0, one: [] as string[] };
  const saved: { change: StatusChange; message: StatusChangeMessage }[] = [];
  let keeps = 0;
  let failing = false;
  const store = {
    async save(change: StatusChange, text: string) {
      if (failing) throw new Error("Redis: down");
      saved.push({ change, message: JSON.parse(text) });
    },
    async keep() {
      keeps++;
    },
  };
  return {
    feed,
    saved,
    keeps: () => keeps,
    fail: (on: boolean) => {
      failing = on;
    },
    reads,
    send: (now: number) =>
      feed.send(
        now,
        1000,
        "a",
        () => {
          reads.all++;
          return statuses;
        },
        store,
        byId
          ? (id) => {
              reads.one.push(id);
              return statuses.find((s) => s.id === id);
            }
          : undefined,
      ),
  };
}

// The same cases reading every status at once, and (told the endpoints that changed) one at a time.
describe.each([
  ["", false],
  [", reading one endpoint at a time", true],
])("StatusFeed%s", (_, byId) => {
  it("publishes everything first, then only what changed, and nothing while steady", async () => {
    const list = [status("e1"), status("e2"), status("e3")];
    const f = feed(list, byId);
    await f.send(0);
    expect(f.saved.map((s) => s.message)).toEqual([
      { t: "status-change", by: "a", v: 1, full: true, endpoints: list },
    ]);
    // Steady: no publish; once a lease the stored copy is kept alive.
    await f.send(100);
    f.feed.touch();
    await f.send(200);
    await f.send(1000);
    expect(f.saved).toHaveLength(1);
    expect(f.keeps()).toBe(1);
    // One link drops, one endpoint goes: only those.
    list[1] = status("e2", { state: "reconnecting", connected: false });
    list.pop();
    f.feed.touch();
    await f.send(1100);
    expect(f.saved[1]?.message).toEqual({
      t: "status-change",
      by: "a",
      v: 2,
      endpoints: [list[1]],
      gone: ["e3"],
    });
    expect(f.saved[1]?.change).toEqual({
      version: 2,
      full: false,
      set: [["e2", JSON.stringify(list[1])]],
      gone: ["e3"],
    });
    expect(f.feed.version).toBe(2);
  });

  it("RTT and health go out when they moved enough at two looks in a row, a lease apart", async () => {
    const list = [status("e1"), status("e2"), status("e3")];
    const f = feed(list, byId);
    await f.send(0);
    list[0] = status("e1", { rttMs: 55 });
    list[1] = status("e2", { rttMs: 200 });
    list[2] = status("e3", { rttMs: 300 });
    f.feed.touch();
    await f.send(500);
    // Not at a change between looks, nor at the first look that finds them moved.
    await f.send(1000);
    expect(f.saved).toHaveLength(1);
    expect(f.keeps()).toBe(1);
    // e3's was one slow ping: back by the next look, it is never published.
    list[2] = status("e3", { rttMs: 45 });
    await f.send(2000);
    // 40 → 55 ms is within half and 20 ms; 40 → 200 is not, and held.
    expect(f.saved).toHaveLength(2);
    expect(f.saved[1]?.message.endpoints).toEqual([list[1]]);
    list[0] = status("e1", { healthScore: 85 });
    await f.send(3000);
    expect(f.saved).toHaveLength(2);
    await f.send(4000);
    expect(f.saved[2]?.message.endpoints).toEqual([list[0]]);
  });

  it("an endpoint ejected or readmitted goes out at the next look, with no second look", async () => {
    const health = (score: number, ejected: boolean) => ({
      score,
      ejected,
      parts: { failures: score - 100 },
    });
    const list = [status("e1", { healthScore: 90, health: health(90, false) })];
    const f = feed(list, byId);
    await f.send(0);
    list[0] = status("e1", { healthScore: 88, health: { ...health(88, true), ejectedUntil: 5000 } });
    await f.send(1000);
    expect(f.saved[1]?.message.endpoints).toEqual([list[0]]);
    // Its parts and time moving within the ejection are no news; the readmission is.
    list[0] = status("e1", { healthScore: 87, health: { ...health(87, true), ejectedUntil: 6000 } });
    await f.send(2000);
    expect(f.saved).toHaveLength(2);
    list[0] = status("e1", { healthScore: 87, health: health(87, false) });
    await f.send(3000);
    expect(f.saved.map((s) => s.message.endpoints)).toEqual([
      expect.anything(),
      [expect.anything()],
      [list[0]],
    ]);
  });

  it("an endpoint published for a change between looks has its drift measured from then", async () => {
    const list = [status("e1")];
    const f = feed(list, byId);
    await f.send(0);
    list[0] = status("e1", { rttMs: 200 });
    await f.send(1000);
    // It drops and comes back, published with the RTT it has then.
    list[0] = status("e1", { rttMs: 200, reconnectAttempts: 1 });
    f.feed.touch();
    await f.send(1500);
    expect(f.saved[1]?.message.endpoints).toEqual([list[0]]);
    // Its RTT moves from that copy: the first look to find it counts as the first.
    list[0] = status("e1", { rttMs: 40, reconnectAttempts: 1 });
    await f.send(2000);
    expect(f.saved).toHaveLength(2);
    await f.send(3000);
    expect(f.saved[2]?.message.endpoints).toEqual([list[0]]);
  });

  it("a field that appears, goes or changes is a change; one set to undefined is no field", async () => {
    const list = [status("e1"), status("e2"), status("e3"), status("e4")];
    const f = feed(list, byId);
    await f.send(0);
    list[0] = status("e1", { lastError: "refused" });
    list[1] = status("e2", { inflight: 2 });
    list[2] = status("e3", {
      lastError: undefined,
      lastFrameAt: 5,
      health: { score: 100, ejected: false, parts: {} },
    });
    f.feed.touch();
    await f.send(100);
    expect(f.saved[1]?.message.endpoints).toEqual([list[0], list[1]]);
    list[0] = status("e1");
    f.feed.touch();
    await f.send(200);
    expect(f.saved[2]?.message.endpoints).toEqual([list[0]]);
  });

  it("after a failed save, everything goes again", async () => {
    const list = [status("e1"), status("e2")];
    const f = feed(list, byId);
    await f.send(0);
    list[0] = status("e1", { state: "failed", connected: false });
    f.feed.touch();
    f.fail(true);
    await expect(f.send(100)).rejects.toThrow("down");
    f.fail(false);
    await f.send(200);
    expect(f.saved[1]?.message).toMatchObject({ v: 2, full: true, endpoints: list });
  });
});

describe("StatusFeed told which endpoints changed", () => {
  it("reads only those, until the look once a lease", async () => {
    const list = [status("e1"), status("e2"), status("e3"), status("e4")];
    const f = feed(list, true);
    await f.send(0);
    expect(f.reads).toEqual({ all: 1, one: [] });
    // e2 drops, e3 goes, e4 is said to change but shows the same: only those three are read.
    list[1] = status("e2", { state: "reconnecting", connected: false });
    list.splice(2, 1);
    for (const id of ["e2", "e3", "e4"]) f.feed.touch(id);
    await f.send(100);
    expect(f.reads).toEqual({ all: 1, one: ["e2", "e3", "e4"] });
    expect(f.saved[1]?.message).toEqual({
      t: "status-change",
      by: "a",
      v: 2,
      endpoints: [list[1]],
      gone: ["e3"],
    });
    // Nothing told: nothing read, nothing sent. Told of one that shows the same: nothing sent.
    await f.send(200);
    f.feed.touch("e1");
    await f.send(300);
    expect(f.saved).toHaveLength(2);
    expect(f.reads.all).toBe(1);
    // The look once a lease reads every endpoint published, one at a time, and measures against
    // what the changes left published: e2 as it dropped, e3 gone. e4's RTT moved, and still has at
    // the next look.
    list[2] = status("e4", { rttMs: 300 });
    f.reads.one.length = 0;
    await f.send(1000);
    expect(f.reads).toEqual({ all: 1, one: ["e1", "e2", "e4"] });
    expect(f.saved).toHaveLength(2);
    await f.send(2000);
    expect(f.reads.all).toBe(1);
    expect(f.saved[2]?.message).toEqual({ t: "status-change", by: "a", v: 3, endpoints: [list[2]] });
    // One said to have changed at a look once a lease is read once; one that went is gone.
    list.push(status("e5"));
    list.splice(0, 1);
    f.feed.touch("e5");
    f.reads.one.length = 0;
    await f.send(3000);
    expect(f.reads.one).toEqual(["e1", "e2", "e4", "e5"]);
    expect(f.saved[3]?.message).toEqual({
      t: "status-change",
      by: "a",
      v: 4,
      endpoints: [list[2]],
      gone: ["e1"],
    });
    // Every tenth lease, a look at all the host shows: one no touch told of is found then.
    list.push(status("e6"));
    for (const now of [4000, 5000, 6000, 7000, 8000, 9000]) await f.send(now);
    expect(f.reads.all).toBe(1);
    expect(f.saved).toHaveLength(4);
    await f.send(10_000);
    expect(f.reads.all).toBe(2);
    expect(f.saved[4]?.message.endpoints).toEqual([list[3]]);
  });

  it("a change it is not told the endpoint of, or no way to read one, reads all", async () => {
    const list = [status("e1"), status("e2")];
    const f = feed(list, true);
    await f.send(0);
    list[0] = status("e1", { state: "failed", connected: false });
    f.feed.touch();
    await f.send(100);
    expect(f.reads).toEqual({ all: 2, one: [] });
    expect(f.saved[1]?.message.endpoints).toEqual([list[0]]);

    const g = feed(list);
    await g.send(0);
    list[1] = status("e2", { inflight: 3 });
    g.feed.touch("e2");
    await g.send(100);
    expect(g.reads.all).toBe(2);
    expect(g.saved[1]?.message.endpoints).toEqual([list[1]]);
  });

  it("after a failed save of a change, everything goes again", async () => {
    const list = [status("e1"), status("e2")];
    const f = feed(list, true);
    await f.send(0);
    list[0] = status("e1", { state: "failed", connected: false });
    f.feed.touch("e1");
    f.fail(true);
    await expect(f.send(100)).rejects.toThrow("down");
    f.fail(false);
    await f.send(200);
    expect(f.saved[1]?.message).toMatchObject({ v: 2, full: true, endpoints: list });
  });
});
