import { describe, expect, it, vi } from "vitest";
import { connected, id, settle, setup, url, useFakeTimers } from "./connection-manager.test-helpers.js";

useFakeTimers();

describe("add, remove, reconcile", () => {
  it("adds endpoints live, refuses duplicates and removes with a 1000 close", async () => {
    const { network, manager } = setup();
    await connected(manager, [url(1)]);
    const added = manager.addEndpoint(url(2));
    await settle();
    expect((await added).state).toBe("connected");
    await expect(manager.addEndpoint(url(2))).rejects.toMatchObject({ code: "DUPLICATE_ENDPOINT" });
    const closed: number[] = [];
    network.connection(url(2))?.on("closed", (e) => closed.push(e.code));
    expect(await manager.removeEndpoint(url(2))).toBe(true);
    expect(await manager.removeEndpoint(url(2))).toBe(false);
    expect(closed).toEqual([1000]);
    expect(manager.getConnectionStatus().map((s) => s.id)).toEqual([id(1)]);
    await manager.cleanup();
  });

  it("cancels a scheduled retry and its timer when the endpoint is removed", async () => {
    const { network, manager } = setup();
    network.behave(url(1), { connect: "refuse" });
    await connected(manager, [url(1)]);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("reconnecting");
    expect(vi.getTimerCount()).toBe(1);
    await manager.removeEndpoint(id(1));
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(network.connection(url(1))?.connects).toBe(1);
    await manager.cleanup();
  });

  it("removes an endpoint whose connect is in flight without leaving its link open", async () => {
    const { network, manager } = setup();
    network.behave(url(1), { latencyMs: 1000 });
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await vi.advanceTimersByTimeAsync(10);
    await manager.removeEndpoint(id(1));
    await done;
    await vi.advanceTimersByTimeAsync(5000);
    expect(network.openCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("reconcile applies a diff and keeps unchanged connection objects and links", async () => {
    const { network, manager } = setup();
    await manager.initialize([url(1), url(2), { url: url(3), data: { tools: ["calc__add"] } }]);
    let done = manager.connect();
    await settle();
    await done;
    const kept = network.connection(url(1));
    const reweighted = network.connection(url(2));
    const reshaped = network.connection(url(3));
    const result = manager.reconcile([
      url(1),
      { url: url(2), weight: 3 },
      { url: url(3), data: { tools: ["calc__mul"] } },
      url(4),
    ]);
    await settle();
    expect(await result).toEqual({
      added: [id(4)],
      removed: [],
      changed: [id(3)],
      unchanged: [id(1), id(2)],
    });
    expect(network.connection(url(1))).toBe(kept);
    expect(kept).toMatchObject({ connects: 1, closes: 0 });
    expect(network.connection(url(2))).toBe(reweighted);
    expect(manager.getEndpointStatus(id(2))?.weight).toBe(3);
    expect(network.connection(url(3))).not.toBe(reshaped);
    expect(reshaped?.closes).toBe(1);
    expect(network.connection(url(3))?.endpoint.data).toEqual({ tools: ["calc__mul"] });
    expect(manager.getConnectionStatus().every((s) => s.connected)).toBe(true);

    done = manager.reconcile([url(4), url(4)]).then(() => {});
    await settle();
    await done;
    expect(manager.getConnectionStatus().map((s) => s.id)).toEqual([id(4)]);
    expect(kept?.closes).toBe(1);
    expect(network.openCount).toBe(1);
    await manager.cleanup();
  });

  it("lists endpoints in the order of the list applied last, moving none of their links", async () => {
    const { network, manager } = setup();
    await connected(manager, [url(1), url(2), url(3), url(4)]);
    const order = () => manager.getConnectionStatus().map((s) => s.id);
    const links = [1, 2, 3, 4].map((n) => network.connection(url(n)));
    // Re-ordered, and the one whose data changed (a new connection) keeps its place in the list.
    const done = manager.reconcile([url(3), { url: url(1), data: { tools: ["calc__add"] } }, url(4), url(2)]);
    await settle();
    expect((await done).changed).toEqual([id(1)]);
    expect(order()).toEqual([id(3), id(1), id(4), id(2)]);
    for (const n of [2, 3, 4]) expect(network.connection(url(n))).toBe(links[n - 1]);
    for (const n of [2, 3, 4]) expect(network.connection(url(n))?.closes).toBe(0);
    // Dispatch reaches each of the four once in four calls, the replaced one included.
    const picked: string[] = [];
    for (let i = 0; i < 4; i++) picked.push(await manager.dispatch(async (c) => c.endpoint.id));
    expect([...picked].sort()).toEqual([id(1), id(2), id(3), id(4)].sort());
    await manager.cleanup();
  });

  it("apply makes the list the manager's at once and lets links settle after; a replaced link opens after the old closed", async () => {
    const { network, manager } = setup({ connectTimeout: 5000 });
    await connected(manager, [url(1), { url: url(2), data: "a" }]);
    network.behave(url(3), { connect: "hang" });
    const events: string[] = [];
    for (const name of ["added", "removed"] as const) {
      manager.on(name, (e) => events.push(`${name} ${e.id === id(2) ? "2" : e.id === id(3) ? "3" : "1"}`));
    }
    const old = network.connection(url(2));
    const { result, settled } = manager.apply([{ url: url(2), data: "b" }, url(3)]);
    // Synchronously: the list is the new one, though nothing has closed or connected yet.
    expect(result).toEqual({ added: [id(3)], removed: [id(1)], changed: [id(2)], unchanged: [] });
    expect(manager.getConnectionStatus().map((s) => s.id)).toEqual([id(2), id(3)]);
    let finished = false;
    void settled.then(() => {
      finished = true;
    });
    await settle();
    // The hanging endpoint holds up `settled`, and nothing else.
    expect(finished).toBe(false);
    expect(old?.closes).toBe(1);
    expect(network.connection(url(2))?.endpoint.data).toBe("b");
    expect(manager.getEndpointStatus(id(2))?.state).toBe("connected");
    // A new endpoint is announced at once; a replaced one after its old link's removal.
    expect(events).toEqual(["added 3", "removed 1", "removed 2", "added 2"]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(finished).toBe(true);
    await manager.cleanup();
  });
});
