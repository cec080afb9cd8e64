import { describe, expect, it } from "vitest";
import { cloud, start, token, useSimulatedCloud } from "./endpoint-connection.harness.js";
import { eventsOf, untilEvent } from "./helpers.js";

useSimulatedCloud();

describe("XiaozhiEndpointConnection against a simulated cloud", () => {
  it("counts a link accepted and then closed 1008 as failed, never as connected", async () => {
    cloud.configure(token(2), { closeAfterAccept: 1008 });
    cloud.configure(token(3), { driver: "raw" });
    const connected: string[] = [];
    const { manager, ready } = start([1, 2, 3], { transport: { readyGrace: 400 } });
    manager.on("connected", ({ id }) => connected.push(id));
    await ready;
    const [one, two, three] = manager.getConnectionStatus();
    expect(one).toMatchObject({ state: "connected", initialized: true });
    expect(two).toMatchObject({ state: "failed", connected: false });
    expect(two?.lastError).toMatch(/1008/);
    // A cloud that never initializes still counts once the link has stayed open for the grace.
    expect(three).toMatchObject({ state: "connected", initialized: false });
    expect(new Set(connected)).toEqual(new Set([one?.id, three?.id]));
    expect(cloud.upgrades.get(token(2))).toBe(1);
  });

  it("ends a 401 endpoint as failed without a retry storm while the others stay connected", async () => {
    cloud.configure(token(2), { rejectStatus: 401 });
    const { manager, ready } = start([1, 2, 3]);
    const retries: string[] = [];
    manager.on("reconnectScheduled", ({ id }) => retries.push(id));
    await ready;
    // `failed` is terminal: no retry is scheduled, so there is nothing to wait for.
    expect(retries).toEqual([]);
    expect(cloud.upgrades.get(token(2))).toBe(1);
    const status = manager.getEndpointStatus(cloud.endpointUrl(token(2)));
    expect(status).toMatchObject({ state: "failed", lastError: "endpoint rejected the token (HTTP 401)" });
    expect(manager.getConnectionStatus().filter((s) => s.connected)).toHaveLength(2);
  });

  it("abandons an upgrade that never completes at the connect timeout and keeps trying", async () => {
    cloud.configure(token(1), { hangUpgrade: true });
    const { manager, ready } = start([1, 2], { connectTimeout: 200 });
    // Read as it happens: on a busy machine the next attempt may be under way when `ready` settles.
    const failures: { id: string; reason: string; retryable: boolean }[] = [];
    manager.on("connectFailed", ({ id, reason, retryable }) => failures.push({ id, reason, retryable }));
    await ready;
    const hung = manager.getEndpointStatus(cloud.endpointUrl(token(1)))?.id;
    const other = () => manager.getEndpointStatus(cloud.endpointUrl(token(2)));
    await untilEvent(
      eventsOf(manager, "stateChanged"),
      () => other()?.connected === true,
      5000,
      "the other connected",
    );
    expect(failures.find((f) => f.id === hung)).toEqual({
      id: hung,
      reason: "not connected within 200 ms",
      retryable: true,
    });
    expect(manager.getEndpointStatus(cloud.endpointUrl(token(1)))?.connected).toBe(false);
    cloud.configure(token(1), { hangUpgrade: false });
    await untilEvent(
      eventsOf(manager, "stateChanged"),
      () => manager.getConnectionStatus().every((s) => s.connected),
      5000,
      "connected after the hang",
    );
  });

  it("retries a server error at upgrade and recovers once the cloud answers", async () => {
    cloud.configure(token(1), { rejectStatus: 500 });
    const { manager, ready } = start([1]);
    await ready;
    expect(manager.getConnectionStatus()[0]?.state).toBe("reconnecting");
    cloud.configure(token(1), { rejectStatus: 0 });
    await untilEvent(eventsOf(manager, "stateChanged"), () => manager.isAnyConnected(), 5000, "recovered");
    expect(cloud.upgrades.get(token(1))).toBeGreaterThanOrEqual(2);
  });

  it("waits as long as a refusal's Retry-After asks, not the backoff, and says so", async () => {
    cloud.configure(token(1), { rejectStatus: 503, retryAfter: 3 });
    const { manager } = start([1], { backoff: { initialDelay: 500, maxDelay: 60_000 } });
    const delays: number[] = [];
    manager.on("reconnectScheduled", ({ delayMs }) => delays.push(delayMs));
    await untilEvent(eventsOf(manager, "reconnectScheduled"), () => delays.length > 0, 5000, "a retry");
    // The first backoff is under half a second; the cloud asked for three, spread by up to a fifth.
    expect(delays[0]).toBeGreaterThanOrEqual(3000);
    expect(delays[0]).toBeLessThanOrEqual(3600);
    expect(manager.getConnectionStatus()[0]?.lastError).toBe(
      "endpoint answered the upgrade with HTTP 503 (retry after 3 s)",
    );
  });

  it("a Retry-After of 0 is no reason to retry at once: the backoff still grows", async () => {
    cloud.configure(token(1), { rejectStatus: 503, retryAfter: 0 });
    const { manager } = start([1], { backoff: { initialDelay: 100, maxDelay: 60_000 } });
    const delays: number[] = [];
    manager.on("reconnectScheduled", ({ delayMs }) => delays.push(delayMs));
    await untilEvent(eventsOf(manager, "reconnectScheduled"), () => delays.length >= 4, 10_000, "4 retries");
    // The backoff's full jitter under a ceiling that doubles (100, 200, 400, 800 ms), where
    // retrying at once would make every wait 0.
    expect(delays.slice(0, 4).some((d) => d > 0)).toBe(true);
    delays.slice(0, 4).forEach((d, i) => {
      expect(d).toBeLessThanOrEqual(100 * 2 ** i);
    });
  });

  it("classifies closes: 4004 and drops reconnect, 1008 fails", async () => {
    const { manager, ready } = start([1, 2, 3]);
    await ready;
    await Promise.all([1, 2, 3].map((n) => cloud.waitForSession(token(n))));
    const drops = new Map<string, string>();
    manager.on("disconnected", (e) => drops.set(e.id, `${e.code} ${e.reason}`));
    cloud.close(token(1), 4004, "Internal server error");
    cloud.drop(token(2));
    cloud.close(token(3), 1008, "invalid token");
    const status = (n: number) => manager.getEndpointStatus(cloud.endpointUrl(token(n)));
    await untilEvent(
      eventsOf(manager, "stateChanged"),
      () => status(3)?.state === "failed",
      3000,
      "1008 failed",
    );
    expect(status(3)?.lastError).toBe("closed 1008 invalid token");
    await untilEvent(eventsOf(manager, "disconnected"), () => drops.size === 3, 3000, "three drops seen");
    await untilEvent(
      eventsOf(manager, "stateChanged"),
      () => Boolean(status(1)?.connected && status(2)?.connected),
      5000,
      "reconnected",
    );
    expect(status(1)?.lastError).toBe("closed 4004 Internal server error");
    expect(status(2)?.lastError).toMatch(/^closed 1006/);
    expect(cloud.upgrades.get(token(3))).toBe(1);
  });

  it("names a frame over maxPayload as the reason a link ended (1009), and reconnects", async () => {
    const { manager, ready } = start([1, 2], { transport: { maxPayload: 64 * 1024 } });
    await ready;
    const session = await cloud.waitForSession(token(1));
    const drops: string[] = [];
    manager.on("disconnected", (e) => drops.push(`${e.code} ${e.reason}`));
    session.sendRaw({
      jsonrpc: "2.0",
      method: "notifications/message",
      params: { data: "x".repeat(100_000) },
    });
    const status = (n: number) => manager.getEndpointStatus(cloud.endpointUrl(token(n)));
    await untilEvent(eventsOf(manager, "disconnected"), () => drops.length === 1, 5000, "the drop");
    expect(drops).toEqual(["1009 a message over 65536 bytes came in"]);
    expect(await session.closed).toMatchObject({ code: 1009 });
    await untilEvent(eventsOf(manager, "stateChanged"), () => status(1)?.connected === true, 5000, "back");
    expect(status(1)?.lastError).toBe("closed 1009 a message over 65536 bytes came in");
    expect(status(2)?.connected).toBe(true);
  });

  it("recovers every endpoint after the whole cloud restarts", async () => {
    const { manager, ready } = start([1, 2, 3, 4]);
    await ready;
    await cloud.restart({ downtimeMs: 100 });
    await untilEvent(
      eventsOf(manager, "stateChanged"),
      () => manager.getConnectionStatus().every((s) => s.connected),
      5000,
      "all back",
    );
    const session = await cloud.waitForSession(token(4));
    expect((await session.callTool("calc__echo", { text: "back" })).content).toEqual([
      { type: "text", text: "back" },
    ]);
  });
});
