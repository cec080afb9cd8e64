import { describe, expect, it } from "vitest";
import { cloud, start, token, tools, useSimulatedCloud } from "./endpoint-connection.harness.js";

useSimulatedCloud();

describe("XiaozhiEndpointConnection against a simulated cloud", () => {
  it("closes a removed endpoint with 1000 and leaves the others untouched", async () => {
    const { manager, ready } = start([1, 2]);
    await ready;
    const [one, two] = await Promise.all([cloud.waitForSession(token(1)), cloud.waitForSession(token(2))]);
    await manager.removeEndpoint(cloud.endpointUrl(token(1)));
    expect(await one?.closed).toEqual({ code: 1000, reason: "endpoint removed" });
    expect(two?.open).toBe(true);
    expect(cloud.upgrades.get(token(2))).toBe(1);
  });

  it("closes an endpoint a new list leaves out with the reason the caller gives", async () => {
    const { manager, ready } = start([1, 2]);
    await ready;
    const [one, two] = await Promise.all([cloud.waitForSession(token(1)), cloud.waitForSession(token(2))]);
    const { settled } = manager.apply([cloud.endpointUrl(token(2))], () => "held by another instance");
    await settled;
    expect(await one?.closed).toEqual({ code: 1000, reason: "held by another instance" });
    expect(two?.open).toBe(true);
  });

  it("leaves no socket, heartbeat or tool subscription behind after cleanup", async () => {
    // Pings run every 50 ms, so the heartbeat is busy at cleanup; a pong late on a loaded machine
    // must not end a link here (this test is not about dead links).
    const { manager, factory, ready } = start([1, 2, 3], {
      transport: { heartbeatInterval: 50, heartbeatTimeout: 60_000 },
    });
    await ready;
    const sessions = await Promise.all([1, 2, 3].map((n) => cloud.waitForSession(token(n))));
    expect(factory.heartbeat.size).toBe(3);
    await manager.cleanup();
    const closes = await Promise.all(sessions.map((s) => s.closed));
    expect(closes.map((c) => c.code)).toEqual([1000, 1000, 1000]);
    expect(factory.heartbeat.size).toBe(0);
    expect(tools.listenerCount).toBe(0);
    expect(manager.listenerCount()).toBe(0);
  });
});

describe("XiaozhiConnectionManagerSingleton", () => {
  it("builds a WebSocket manager with no options and connects through it", async () => {
    const { XiaozhiConnectionManagerSingleton } = await import("../src/index.js");
    const [a, b] = await Promise.all([
      XiaozhiConnectionManagerSingleton.getInstance(),
      XiaozhiConnectionManagerSingleton.getInstance(),
    ]);
    expect(a).toBe(b);
    await a?.initialize([cloud.endpointUrl(token(9))], tools);
    await a?.connect();
    const session = await cloud.waitForSession(token(9));
    expect((await session.callTool("calc__add", { a: 2, b: 2 })).content).toEqual([
      { type: "text", text: "4" },
    ]);
    await XiaozhiConnectionManagerSingleton.cleanup();
    expect((await session.closed).code).toBe(1000);
  });
});
