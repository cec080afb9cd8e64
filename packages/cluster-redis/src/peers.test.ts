import type { EndpointStatus } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { status } from "../test/statuses.js";
import type { StatusChangeMessage } from "./messages.js";
import { Peers } from "./peers.js";
import type { LiveMember, StoredStatus } from "./stores.js";

describe("Peers, following another instance's changes", () => {
  const member = (statusVersion?: number) => ({ statusVersion }) as LiveMember;
  const live = (version?: number) =>
    new Map<string, LiveMember>([
      ["self", member()],
      ["b", member(version)],
    ]);
  const change = (v: number, endpoints: EndpointStatus[], more: Partial<StatusChangeMessage> = {}) =>
    ({ t: "status-change", by: "b", v, endpoints, ...more }) as StatusChangeMessage;
  const stored = (version: number, endpoints: EndpointStatus[]): StoredStatus => ({
    version,
    endpoints: endpoints.map((e) => JSON.stringify(e)),
  });

  it("the hosts it has links up to follow each change, counted per link", async () => {
    const peers = new Peers({ self: "self", changed: () => {} });
    const at = (id: string, host: string, patch: Partial<EndpointStatus> = {}) =>
      status(id, { url: `wss://${host}/mcp/?token=<masked:${id}>`, ...patch });
    const down = { state: "reconnecting", connected: false } as const;
    await peers.update(live(1), 0, async (ids) =>
      ids.map(() => stored(1, [at("e1", "one.example"), at("e2", "one.example"), at("e3", "two.example")])),
    );
    expect(peers.reachedHosts()).toEqual(new Set(["one.example", "two.example"]));
    // One of two links to a host drops: it is still reached; then the other, and it is not.
    peers.heard(change(2, [at("e1", "one.example", down)]));
    expect(peers.reachedHosts()).toEqual(new Set(["one.example", "two.example"]));
    peers.heard(change(3, [at("e2", "one.example", down)], { gone: ["e3"] }));
    expect(peers.reachedHosts()).toEqual(new Set());
    // A link back up, and an endpoint moved to another host with its link up.
    peers.heard(change(4, [at("e1", "one.example"), at("e2", "three.example")]));
    expect(peers.reachedHosts()).toEqual(new Set(["one.example", "three.example"]));
    peers.heard(change(5, [at("e1", "two.example")]));
    expect(peers.reachedHosts()).toEqual(new Set(["two.example", "three.example"]));
    // The same endpoint twice in one change, and an unknown one gone: counted once, nothing below 0.
    peers.heard(change(6, [at("e2", "three.example"), at("e2", "three.example", down)], { gone: ["e9"] }));
    expect(peers.reachedHosts()).toEqual(new Set(["two.example"]));
  });

  it("a change from an instance it knew nothing of shows what that change holds", () => {
    const peers = new Peers({ self: "self", changed: () => {} });
    peers.live.set("b", member());
    const url = (id: string) => `wss://one.example/mcp/?token=<masked:${id}>`;
    peers.heard(
      change(3, [status("e1", { url: url("e1") }), status("e2", { url: url("e2") })], { gone: ["e2"] }),
    );
    expect(peers.status("b", "e1")?.state).toBe("connected");
    expect(peers.status("b", "e2")).toBeUndefined();
    expect(peers.reachedHosts()).toEqual(new Set(["one.example"]));
  });

  it("applies changes in order; after a gap, reads the stored copy once", async () => {
    const peers = new Peers({ self: "self", changed: () => {} });
    const reads: string[][] = [];
    let copy: StoredStatus | undefined = stored(1, [status("e1"), status("e2")]);
    const read = async (ids: readonly string[]) => {
      reads.push([...ids]);
      return ids.map(() => copy);
    };
    // Joined: its stored copy is read.
    await peers.update(live(1), 0, read);
    expect(reads).toEqual([["b"]]);
    expect(peers.status("b", "e2")?.state).toBe("connected");
    peers.heard(change(2, [status("e2", { state: "failed", connected: false })], { gone: ["e1"] }));
    expect(peers.status("b", "e2")?.state).toBe("failed");
    expect(peers.status("b", "e1")).toBeUndefined();
    await peers.update(live(2), 1000, read);
    expect(reads).toHaveLength(1);
    // 3 is missed: 4 is shown at once, and the stored copy is read on the next heartbeat.
    peers.heard(change(4, [status("e4")]));
    expect(peers.status("b", "e4")?.state).toBe("connected");
    copy = stored(4, [status("e2"), status("e3"), status("e4")]);
    await peers.update(live(4), 2000, read);
    expect(reads.at(-1)).toEqual(["b"]);
    expect(peers.status("b", "e3")?.state).toBe("connected");
    expect(peers.status("b", "e2")?.state).toBe("connected");
    // An old or repeated change is ignored.
    peers.heard(change(4, [status("e2", { state: "failed", connected: false })]));
    expect(peers.status("b", "e2")?.state).toBe("connected");
    await peers.update(live(4), 3000, read);
    expect(reads).toHaveLength(2);
  });

  it("a stored copy older than a change heard meanwhile is not taken; a lost change is found from the heartbeat", async () => {
    const peers = new Peers({ self: "self", changed: () => {} });
    let copy = stored(1, [status("e1")]);
    let during = () => {};
    const read = async (ids: readonly string[]) => {
      during();
      return ids.map(() => copy);
    };
    // A change arrives while the joined instance's copy is read: the copy is older and is not taken.
    during = () => peers.heard(change(2, [status("e1", { state: "failed", connected: false })]));
    await peers.update(live(2), 0, read);
    expect(peers.status("b", "e1")?.state).toBe("failed");
    during = () => {};
    copy = stored(2, [status("e1", { state: "failed", connected: false }), status("e5")]);
    await peers.update(live(2), 1000, read);
    expect(peers.status("b", "e5")?.state).toBe("connected");
    // Version 3 is announced but never heard: read after two heartbeats.
    copy = stored(3, [status("e6")]);
    await peers.update(live(3), 2000, read);
    expect(peers.status("b", "e6")).toBeUndefined();
    await peers.update(live(3), 3000, read);
    expect(peers.status("b", "e6")?.state).toBe("connected");
    expect(peers.status("b", "e1")).toBeUndefined();
  });

  it("a new process under the same id is read anew, its versions counted from the start", async () => {
    const peers = new Peers({ self: "self", changed: () => {} });
    const member = (incarnation: string, statusVersion: number) =>
      ({ incarnation, statusVersion }) as LiveMember;
    const at = (incarnation: string, version: number) =>
      new Map<string, LiveMember>([
        ["self", member("s", 0)],
        ["b", member(incarnation, version)],
      ]);
    let copy = stored(50, [status("e1")]);
    const read = async (ids: readonly string[]) => ids.map(() => copy);
    await peers.update(at("old", 50), 0, read);
    expect(peers.status("b", "e1")?.state).toBe("connected");
    // The new process's first change is older by number than what the old one sent.
    peers.heard(change(1, [status("e2")], { full: true }));
    copy = stored(1, [status("e2")]);
    await peers.update(at("new", 1), 1000, read);
    expect(peers.status("b", "e1")).toBeUndefined();
    expect(peers.status("b", "e2")?.state).toBe("connected");
    peers.heard(change(2, [status("e3")]));
    expect(peers.status("b", "e3")?.state).toBe("connected");
  });

  it("a stored copy the earlier process under the same id saved is not taken for the new one's", async () => {
    const peers = new Peers({ self: "self", changed: () => {} });
    const at = (incarnation: string, statusVersion: number) =>
      new Map<string, LiveMember>([
        ["self", { incarnation: "s", statusVersion: 0 } as LiveMember],
        ["b", { incarnation, statusVersion } as LiveMember],
      ]);
    // The new process has not saved yet: what Redis has is the old one's, version 50.
    let copy: StoredStatus | undefined = { ...stored(50, [status("e1")]), incarnation: "old" };
    const read = async (ids: readonly string[]) => ids.map(() => copy);
    await peers.update(at("new", 0), 0, read);
    expect(peers.status("b", "e1")).toBeUndefined();
    // It saved and announced its first change: read at the next heartbeat, and followed from there.
    copy = { ...stored(1, [status("e2")]), incarnation: "new" };
    await peers.update(at("new", 1), 1000, read);
    expect(peers.status("b", "e2")?.state).toBe("connected");
    peers.heard(change(2, [status("e3")]));
    expect(peers.status("b", "e3")?.state).toBe("connected");
  });

  it("a whole status from an older version replaces what was known", () => {
    const peers = new Peers({ self: "self", changed: () => {} });
    peers.heard(change(1, [status("e1")], { full: true }));
    peers.heard({ t: "status", by: "b", endpoints: [status("e2")] });
    expect(peers.status("b", "e1")).toBeUndefined();
    expect(peers.status("b", "e2")?.state).toBe("connected");
  });
});
