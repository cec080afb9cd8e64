import { afterEach, describe, expect, it } from "vitest";
import { ConnectionManager } from "./connection-manager.js";
import { createConnectionManagerSingleton } from "./singleton.js";
import { MemoryNetwork } from "./testing/memory-connection.js";
import { untilEvent } from "./testing/until-event.js";

const network = new MemoryNetwork();
const options = { connectionFactory: network.factory };
const singleton = createConnectionManagerSingleton(() => options);

afterEach(async () => {
  await singleton.cleanup();
});

describe("connection manager singleton", () => {
  it("gives concurrent first callers one instance", async () => {
    const all = await Promise.all(Array.from({ length: 20 }, () => singleton.getInstance()));
    expect(new Set(all).size).toBe(1);
    expect(all[0]).toBeInstanceOf(ConnectionManager);
    expect(singleton.getCurrentInstance()).toBe(all[0]);
    // An instance exists, but nobody has initialized it yet: one meaning for both questions.
    expect(singleton.isInitialized()).toBe(false);
    expect(singleton.getStatus()).toMatchObject({ hasInstance: true, initialized: false });
    await all[0]?.initialize([]);
    expect(singleton.isInitialized()).toBe(true);
    expect(singleton.getStatus().initialized).toBe(true);
  });

  it("reports status and cleans up the instance", async () => {
    expect(singleton.getStatus()).toEqual({
      hasInstance: false,
      initialized: false,
      endpoints: [],
      connected: 0,
    });
    const manager = await singleton.getInstance();
    await manager.initialize(["ws://127.0.0.1:1/mcp?token=a"]);
    await manager.connect();
    expect(singleton.getStatus()).toMatchObject({ hasInstance: true, initialized: true, connected: 1 });
    await singleton.cleanup();
    expect(singleton.getCurrentInstance()).toBeNull();
    expect(manager.getConnectionStatus()).toEqual([]);
    expect(network.openCount).toBe(0);
  });

  it("waits for another caller to create the instance, or times out", async () => {
    const waiting = singleton.waitForInitialization(1000);
    const created = await singleton.getInstance();
    expect(await waiting).toBe(created);
    expect(await singleton.waitForInitialization()).toBe(created);
    await singleton.cleanup();
    await expect(singleton.waitForInitialization(10)).rejects.toMatchObject({ code: "TIMEOUT" });
  });

  it("joins a creation in flight when waiting", async () => {
    const creating = singleton.getInstance();
    const waiting = singleton.waitForInitialization(1000);
    expect(await waiting).toBe(await creating);
  });

  it("force-reinitializes into a fresh instance and resets without leaking", async () => {
    const first = await singleton.getInstance();
    await first.initialize(["ws://127.0.0.1:1/mcp?token=b"]);
    await first.connect();
    const second = await singleton.forceReinitialize();
    expect(second).not.toBe(first);
    expect(first.getConnectionStatus()).toEqual([]);
    await second.initialize(["ws://127.0.0.1:1/mcp?token=c"]);
    await second.connect();
    const removed = (wake: () => void) => second.on("removed", wake);
    singleton.reset();
    expect(singleton.getCurrentInstance()).toBeNull();
    // reset() cleans up in the background; its end is when the last link is removed.
    await untilEvent(removed, () => second.getConnectionStatus().length === 0, 2000, "background cleanup");
    expect(second.getConnectionStatus()).toEqual([]);
    expect(network.openCount).toBe(0);
  });

  it("needs options on first use when it has no defaults", async () => {
    const bare = createConnectionManagerSingleton();
    await expect(bare.getInstance()).rejects.toMatchObject({ code: "NOT_CONFIGURED" });
    const made = await bare.getInstance(options);
    expect(await bare.getInstance()).toBe(made);
    await bare.cleanup();
  });
});
