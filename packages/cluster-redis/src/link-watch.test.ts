import type { EndpointStatus } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { hostOf, LinkWatch } from "./link-watch.js";

const status = (id: string, connected: boolean, state = connected ? "connected" : "reconnecting") =>
  ({
    id,
    url: `wss://api.example/mcp/?token=<masked:${id}>`,
    state,
    connected,
    initialized: connected,
    reconnectAttempts: 0,
    republishing: false,
    healthScore: 0,
    weight: 1,
    inflight: 0,
  }) as EndpointStatus;

describe("LinkWatch", () => {
  it("gives up a link down for half a lease while others reach its host, never one that failed for good", () => {
    const watch = new LinkWatch(2000);
    const held = ["e1", "e2"];
    const links = [status("e1", false), status("e2", false, "failed")];
    const reached = (host: string) => host === "api.example";
    expect(watch.observe(0, held, links, reached)).toEqual(new Set());
    expect(watch.observe(999, held, links, reached)).toEqual(new Set());
    expect(watch.observe(1000, held, links, reached)).toEqual(new Set(["e1"]));
    expect(watch.observe(1000, held, links, () => false)).toEqual(new Set());
    expect(watch.observe(1100, held, [status("e1", true), links[1] as EndpointStatus], reached)).toEqual(
      new Set(),
    );
  });

  it("counts a link down from its first attempt, not while it waits its turn to connect", () => {
    const watch = new LinkWatch(2000);
    const reached = () => true;
    const queued = status("e1", false, "disconnected");
    // Thousands started at once connect in waves: the last wave waits longer than half a lease.
    expect(watch.observe(0, ["e1"], [queued], reached)).toEqual(new Set());
    expect(watch.observe(5000, ["e1"], [queued], reached)).toEqual(new Set());
    const trying = status("e1", false, "connecting");
    expect(watch.observe(6000, ["e1"], [trying], reached)).toEqual(new Set());
    expect(watch.observe(6999, ["e1"], [trying], reached)).toEqual(new Set());
    expect(watch.observe(7000, ["e1"], [trying], reached)).toEqual(new Set(["e1"]));
    // A look skipped while the link waited (nothing changed) looks again once its attempt began.
    const calm = new LinkWatch(2000);
    expect(calm.observeChanged("0:1", 0, ["e1"], () => [queued], reached)).toEqual(new Set());
    expect(calm.observeChanged("0:1", 5000, ["e1"], () => [queued], reached)).toEqual(new Set());
    expect(calm.observeChanged("1:1", 5000, ["e1"], () => [trying], reached)).toEqual(new Set());
    expect(calm.observeChanged("1:1", 6000, ["e1"], () => [trying], reached)).toEqual(new Set(["e1"]));
    // Once it failed or was up, a link that is disconnected is down.
    const dropped = { ...queued, lastError: "closed" } as EndpointStatus;
    const other = new LinkWatch(2000);
    expect(other.observe(0, ["e1"], [dropped], reached)).toEqual(new Set());
    expect(other.observe(1000, ["e1"], [dropped], reached)).toEqual(new Set(["e1"]));
  });

  it("stays off what it gave up, four leases at first and twice as long each time again", () => {
    const watch = new LinkWatch(1000);
    // Another link to the host is up here: only the endpoint is avoided.
    watch.observe(0, ["e1", "e2"], [status("e1", false), status("e2", true)], () => true);
    watch.gaveUp(["e1"], 0);
    expect(watch.avoiding(3999)).toEqual({ endpoints: new Set(["e1"]), hosts: new Set() });
    expect(watch.avoiding(4000).endpoints).toEqual(new Set());
    watch.gaveUp(["e1"], 5000);
    expect(watch.avoiding(12_999).endpoints).toEqual(new Set(["e1"]));
    expect(watch.avoiding(13_000).endpoints).toEqual(new Set());
    // A link that stayed up for a lease clears the record.
    watch.observe(20_000, ["e1"], [status("e1", true)], () => true);
    watch.observe(21_000, ["e1"], [status("e1", true)], () => true);
    watch.gaveUp(["e1"], 22_000);
    expect(watch.avoiding(25_999).endpoints).toEqual(new Set(["e1"]));
    expect(watch.avoiding(26_000).endpoints).toEqual(new Set());
  });

  it("stays off a whole host when no link to it is up here", () => {
    const watch = new LinkWatch(1000);
    watch.observe(0, ["e1", "e2"], [status("e1", false), status("e2", false)], () => true);
    watch.gaveUp(["e1", "e2"], 600);
    expect(watch.avoiding(700)).toEqual({ endpoints: new Set(), hosts: new Set(["api.example"]) });
    // One give-up of two endpoints is one strike: four leases.
    expect(watch.avoiding(4599).hosts).toEqual(new Set(["api.example"]));
    expect(watch.avoiding(4600).hosts).toEqual(new Set());
  });

  it("reads the host of a masked URL", () => {
    expect(hostOf("wss://api.xiaozhi.me/mcp/?token=<masked:ab12>")).toBe("api.xiaozhi.me");
    expect(hostOf("not a url")).toBeUndefined();
  });

  it("skips a look while every link held was up and nothing changed; never while one is down", () => {
    const watch = new LinkWatch(2000);
    let looks = 0;
    const links = [status("e1", true), status("e2", true)];
    const local = () => {
      looks++;
      return links;
    };
    const reached = () => true;
    expect(watch.observeChanged("1", 0, ["e1", "e2"], local, reached)).toEqual(new Set());
    expect(watch.observeChanged("1", 500, ["e1", "e2"], local, reached)).toEqual(new Set());
    expect(looks).toBe(1);
    // A link went down (the stamp moves with it): looked at every time until it is back.
    links[0] = status("e1", false);
    watch.observeChanged("2", 600, ["e1", "e2"], local, reached);
    watch.observeChanged("2", 1000, ["e1", "e2"], local, reached);
    expect(watch.observeChanged("2", 1600, ["e1", "e2"], local, reached)).toEqual(new Set(["e1"]));
    expect(looks).toBe(4);
  });

  it("skips looks after a give-up of an endpoint held elsewhere since; looks until a record can be cleared", () => {
    const watch = new LinkWatch(2000);
    let looks = 0;
    let links = [status("e1", false), status("e2", true)];
    const local = () => {
      looks++;
      return links;
    };
    const reached = () => true;
    watch.observeChanged("1", 0, ["e1", "e2"], local, reached);
    expect(watch.observeChanged("1", 1000, ["e1", "e2"], local, reached)).toEqual(new Set(["e1"]));
    watch.gaveUp(["e1"], 1000);
    // e1 went to another instance: what is held here is up, so the looks stop, and the record stays.
    links = [status("e2", true)];
    looks = 0;
    for (const at of [1100, 1500, 9000]) watch.observeChanged("2", at, ["e2"], local, reached);
    expect(looks).toBe(1);
    expect(watch.avoiding(1100).endpoints).toEqual(new Set(["e1"]));
    // Held here again and up: looked at until it was up for a lease, which clears the record.
    links = [status("e1", true), status("e2", true)];
    looks = 0;
    for (const at of [10_000, 11_000, 12_000, 13_000, 14_000]) {
      watch.observeChanged("3", at, ["e1", "e2"], local, reached);
    }
    expect(looks).toBe(3);
    watch.gaveUp(["e1"], 14_000);
    // Cleared: this give-up counts as a first one again, four leases.
    expect(watch.avoiding(21_999).endpoints).toEqual(new Set(["e1"]));
    expect(watch.avoiding(22_000).endpoints).toEqual(new Set());
  });
});
