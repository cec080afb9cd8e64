import type { ManagerEventMap } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { cloud, start, token, useSimulatedCloud } from "./endpoint-connection.harness.js";
import { eventsOf, untilEvent } from "./helpers.js";

useSimulatedCloud();

describe("XiaozhiEndpointConnection against a simulated cloud", () => {
  it("detects a black-holed link within heartbeatInterval + heartbeatTimeout and reconnects when it heals", async () => {
    // Long enough that a stall of the loop (the cloud runs in this process) cannot drop token 2 too.
    const interval = 1000;
    const timeout = 1000;
    const { manager, ready } = start([1, 2], {
      transport: { heartbeatInterval: interval, heartbeatTimeout: timeout },
    });
    await ready;
    await cloud.waitForSession(token(1));
    const dropped: ManagerEventMap["disconnected"][] = [];
    manager.on("disconnected", (e) => dropped.push(e));
    const holedAt = Date.now();
    cloud.blackhole(token(1));
    await untilEvent(
      eventsOf(manager, "disconnected"),
      () => dropped.length > 0,
      5000,
      "black hole detected",
    );
    const detectedIn = (dropped[0]?.at ?? 0) - holedAt;
    // Slack covers timer lateness on a loaded machine; the precise figure is in `pnpm bench`.
    expect(detectedIn).toBeLessThanOrEqual(interval + timeout + 500);
    expect(dropped[0]).toMatchObject({ code: 1006, reason: "heartbeat timeout: no pong" });
    expect(manager.getEndpointStatus(cloud.endpointUrl(token(2)))?.connected).toBe(true);
    cloud.heal(token(1));
    await untilEvent(
      eventsOf(manager, "stateChanged"),
      () => manager.getConnectionStatus().every((s) => s.connected),
      5000,
      "reconnected",
    );
    const session = await cloud.waitForSession(token(1));
    expect((await session.callTool("calc__add", { a: 1, b: 2 })).content).toEqual([
      { type: "text", text: "3" },
    ]);
  });

  it("notices a far side that stops answering pings", async () => {
    cloud.configure(token(1), { noPong: true });
    const { manager, ready } = start([1], {
      transport: { heartbeatInterval: 100, heartbeatTimeout: 100 },
      autoReconnect: false,
    });
    await ready;
    await untilEvent(
      eventsOf(manager, "stateChanged"),
      () => manager.getConnectionStatus()[0]?.state === "disconnected",
      3000,
      "dead link noticed",
    );
    expect(manager.getConnectionStatus()[0]?.lastError).toBe("closed 1006 heartbeat timeout: no pong");
  });

  it("measures round trips from the heartbeat and on demand", async () => {
    const { manager, ready } = start([1], { transport: { heartbeatInterval: 50, heartbeatTimeout: 1000 } });
    await ready;
    await untilEvent(
      eventsOf(manager, "rtt"),
      () => manager.getConnectionStatus()[0]?.rttMs !== undefined,
      2000,
      "heartbeat rtt",
    );
    const rtt = await manager.getConnection(cloud.endpointUrl(token(1)))?.ping();
    expect(rtt).toBeGreaterThan(0);
    expect(rtt).toBeLessThan(1000);
  });

  it("rejects ping with NOT_CONNECTED when the link closes first or is not open, never NaN", async () => {
    cloud.configure(token(1), { noPong: true });
    const { manager, ready } = start([1]);
    await ready;
    const connection = manager.getConnection(cloud.endpointUrl(token(1)));
    const pending = connection?.ping();
    cloud.drop(token(1));
    await expect(pending).rejects.toMatchObject({ code: "NOT_CONNECTED" });
    await manager.disconnect();
    await expect(connection?.ping()).rejects.toMatchObject({ code: "NOT_CONNECTED" });
  });
});
