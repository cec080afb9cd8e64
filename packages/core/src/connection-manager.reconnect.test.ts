import { describe, expect, it, vi } from "vitest";
import {
  connected,
  id,
  ManualScorer,
  settle,
  setup,
  url,
  useFakeTimers,
} from "./connection-manager.test-helpers.js";

useFakeTimers();

describe("drop detection and reconnect", () => {
  it("notices a drop at once and reconnects after the jittered backoff", async () => {
    const { network, manager } = setup();
    await connected(manager, [url(1)]);
    const events: string[] = [];
    for (const name of ["disconnected", "reconnectScheduled", "connecting", "connected"] as const) {
      manager.on(name, () => events.push(name));
    }
    network.connection(url(1))?.drop(4004, "Internal server error");
    // Synchronously: no stale "connected" flag.
    expect(manager.isAnyConnected()).toBe(false);
    expect(manager.getEndpointStatus(id(1))).toMatchObject({
      state: "reconnecting",
      connected: false,
      reconnectAttempts: 1,
      lastError: "closed 4004 Internal server error",
    });
    expect(manager.getEndpointStatus(id(1))?.nextReconnectAt).toBe(Date.now() + 500);
    await vi.advanceTimersByTimeAsync(499);
    expect(manager.isAnyConnected()).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(manager.isAnyConnected()).toBe(true);
    expect(events).toEqual(["disconnected", "reconnectScheduled", "connecting", "connected"]);
    expect(network.connection(url(1))?.connects).toBe(2);
    await manager.cleanup();
  });

  it("reopens a link closed to republish tools at once: no backoff, no error, no attempt, no health cost", async () => {
    const scorer = new ManualScorer();
    const { network, manager } = setup({ autoReconnect: false, healthScorer: scorer });
    await connected(manager, [url(1)]);
    const events: string[] = [];
    for (const name of [
      "disconnected",
      "reconnectScheduled",
      "republishing",
      "connecting",
      "connected",
    ] as const) {
      manager.on(name, (e) =>
        events.push(name === "republishing" ? `${name}:${(e as { cause: string }).cause}` : name),
      );
    }
    const seen: boolean[] = [];
    manager.on("stateChanged", ({ id: changed }) =>
      seen.push(manager.getEndpointStatus(changed)?.republishing ?? false),
    );
    network.connection(url(1))?.republish("remembered");
    // Before any timer runs: already reopening, flagged as a republish, not as trouble.
    expect(manager.getEndpointStatus(id(1))).toMatchObject({
      state: "connecting",
      republishing: true,
      reconnectAttempts: 0,
      lastError: undefined,
    });
    await settle();
    expect(manager.getEndpointStatus(id(1))).toMatchObject({ state: "connected", republishing: false });
    expect(events).toEqual(["republishing:remembered", "connecting", "connected"]);
    expect(seen).toEqual([true, false]);
    expect(network.connection(url(1))?.connects).toBe(2);
    expect(scorer.observed.filter(([, kind]) => kind === "closed")).toEqual([]);
    // A real drop afterwards is still a drop (and, without autoReconnect, stays down).
    network.connection(url(1))?.drop(4004, "Internal server error");
    expect(manager.getEndpointStatus(id(1))).toMatchObject({ state: "disconnected", republishing: false });
    await manager.cleanup();
  });

  it("counts a failed reopen after a republish like any failed attempt", async () => {
    const { network, manager } = setup();
    await connected(manager, [url(1)]);
    network.behave(url(1), { connect: "refuse" });
    network.connection(url(1))?.republish();
    await settle();
    expect(manager.getEndpointStatus(id(1))).toMatchObject({
      state: "reconnecting",
      republishing: false,
      reconnectAttempts: 1,
      lastError: "connection refused",
    });
    await manager.cleanup();
  });

  it("grows the delay per failed attempt up to the cap", async () => {
    const { network, manager } = setup();
    network.behave(url(1), { connect: "refuse" });
    const delays: number[] = [];
    manager.on("reconnectScheduled", (e) => delays.push(e.delayMs));
    await connected(manager, [url(1)]);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    // random() is 0.5: half of 1, 2, 4 … 60 s.
    expect(delays.slice(0, 9)).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    await manager.cleanup();
  });

  it("resets the attempt counter only after the link stayed up for minUptime", async () => {
    const { network, manager } = setup({ minUptime: 10_000 });
    const delays: number[] = [];
    manager.on("reconnectScheduled", (e) => delays.push(e.delayMs));
    await connected(manager, [url(1)]);
    // Flapping: up for 1 s each time, so the counter keeps growing.
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(1000);
      network.connection(url(1))?.drop();
      await vi.advanceTimersByTimeAsync(delays.at(-1) ?? 0);
    }
    expect(delays).toEqual([500, 1000, 2000]);
    expect(manager.getEndpointStatus(id(1))?.reconnectAttempts).toBe(3);
    // Stable for minUptime: status shows the reset, and the next drop starts from the first delay.
    // The reconnect itself took 1 ms (a zero-delay timer), hence 10 001.
    await vi.advanceTimersByTimeAsync(10_001);
    expect(manager.getEndpointStatus(id(1))?.reconnectAttempts).toBe(0);
    network.connection(url(1))?.drop();
    expect(delays.at(-1)).toBe(500);
    await manager.cleanup();
  });

  it("gives up as failed after maxReconnectAttempts", async () => {
    const { network, manager } = setup({ maxReconnectAttempts: 3 });
    network.behave(url(1), { connect: "refuse" });
    await connected(manager, [url(1)]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(network.connection(url(1))?.connects).toBe(4);
    expect(manager.getEndpointStatus(id(1))).toMatchObject({ state: "failed", reconnectAttempts: 3 });
    expect(manager.getEndpointStatus(id(1))?.lastError).toMatch(
      /gave up after 3 reconnect attempts: connection refused/,
    );
    // A manual reconnect starts over once the far side is fixed.
    network.behave(url(1), { connect: "open" });
    const reconnected = manager.reconnect(id(1));
    await settle();
    expect((await reconnected).state).toBe("connected");
    await manager.cleanup();
  });

  it("stops on a non-retryable close (1008 policy violation)", async () => {
    const { network, manager } = setup();
    await connected(manager, [url(1)]);
    network.connection(url(1))?.drop(1008, "invalid token", false);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(manager.getEndpointStatus(id(1))).toMatchObject({
      state: "failed",
      lastError: "closed 1008 invalid token",
    });
    expect(network.connection(url(1))?.connects).toBe(1);
    await manager.cleanup();
  });

  it("tries a rejected token again every authRetryInterval, failed meanwhile, until the far side takes it", async () => {
    const { network, manager } = setup({ authRetryInterval: 60_000 });
    network.behave(url(1), { connect: "reject-auth" });
    await connected(manager, [url(1)]);
    const status = manager.getEndpointStatus(id(1));
    expect(status?.state).toBe("failed");
    const due = (status?.nextReconnectAt ?? 0) - Date.now();
    expect(due).toBeGreaterThan(59_000);
    expect(due).toBeLessThanOrEqual(60_000);
    await vi.advanceTimersByTimeAsync(due - 1);
    expect(network.connection(url(1))?.connects).toBe(1);
    await vi.advanceTimersByTimeAsync(2);
    // Rejected again: failed again, the next try as far off.
    expect(network.connection(url(1))?.connects).toBe(2);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("failed");
    network.behave(url(1), { connect: "open" });
    await vi.advanceTimersByTimeAsync(60_000);
    await settle();
    expect(manager.getEndpointStatus(id(1))).toMatchObject({ state: "connected", connected: true });
    // An auth close of an open link is the same.
    network.connection(url(1))?.drop(1008, "invalid token", false);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("failed");
    await vi.advanceTimersByTimeAsync(60_000);
    await settle();
    expect(manager.getEndpointStatus(id(1))?.state).toBe("connected");
    expect(network.connection(url(1))?.connects).toBe(4);
    // 0: never again by itself.
    manager.configure({ authRetryInterval: 0 });
    network.connection(url(1))?.drop(1008, "invalid token", false);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(network.connection(url(1))?.connects).toBe(4);
    expect(vi.getTimerCount()).toBe(0);
    await manager.cleanup();
  });

  it("waits a rejected token's ±20%, from the start of the backoff, and never past a timer's longest wait", async () => {
    const due = (manager: ReturnType<typeof setup>["manager"]) =>
      (manager.getEndpointStatus(id(1))?.nextReconnectAt ?? 0) - Date.now();
    for (const [random, wait] of [
      [0, 48_000],
      [0.999, 71_976],
    ] as const) {
      const { network, manager } = setup({ authRetryInterval: 60_000, random: () => random });
      network.behave(url(1), { connect: "reject-auth" });
      await connected(manager, [url(1)]);
      expect(due(manager)).toBeGreaterThan(wait - 10);
      expect(due(manager)).toBeLessThanOrEqual(wait);
      await manager.cleanup();
    }
    // Two refusals, then the token rejected: its try later meets a refusal and backs off from the
    // start, not past maxReconnectAttempts.
    const { network, manager } = setup({ authRetryInterval: 60_000, maxReconnectAttempts: 2 });
    network.behave(url(1), { connect: "refuse" });
    await connected(manager, [url(1)]);
    await vi.advanceTimersByTimeAsync(1_000);
    network.behave(url(1), { connect: "reject-auth" });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("failed");
    network.behave(url(1), { connect: "refuse" });
    await vi.advanceTimersByTimeAsync(due(manager) + 1);
    expect(manager.getEndpointStatus(id(1))).toMatchObject({ state: "reconnecting", reconnectAttempts: 1 });
    await manager.cleanup();
    // A wait longer than a timer takes (2³¹ − 1 ms) is cut to it, not fired at once.
    const long = setup({ authRetryInterval: 3_000_000_000 });
    long.network.behave(url(1), { connect: "reject-auth" });
    await connected(long.manager, [url(1)]);
    expect(due(long.manager)).toBeLessThanOrEqual(2 ** 31 - 1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(long.network.connection(url(1))?.connects).toBe(1);
    // Switched off while one is due: it stays failed.
    long.manager.configure({ authRetryInterval: 0 });
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(long.network.connection(url(1))?.connects).toBe(1);
    expect(long.manager.getEndpointStatus(id(1))?.state).toBe("failed");
    await long.manager.cleanup();
  });

  it("stays disconnected without autoReconnect", async () => {
    const { network, manager } = setup({ autoReconnect: false });
    await connected(manager, [url(1)]);
    network.connection(url(1))?.drop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("disconnected");
    expect(vi.getTimerCount()).toBe(0);
    await manager.cleanup();
  });

  it("never runs two loops for one endpoint", async () => {
    const { network, manager } = setup();
    network.behave(url(1), { latencyMs: 100 });
    await manager.initialize([url(1)]);
    const a = manager.connect();
    const b = manager.connect();
    const c = manager.reconnect(id(1));
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([a, b, c]);
    expect(network.connection(url(1))?.connects).toBe(1);
    await manager.cleanup();
  });

  it("reconnects a connected endpoint on request with a clean 1000 close", async () => {
    const { network, manager } = setup();
    await connected(manager, [url(1)]);
    const disconnected: unknown[] = [];
    manager.on("disconnected", (e) => disconnected.push(e));
    const again = manager.reconnect(url(1));
    await settle();
    expect((await again).state).toBe("connected");
    expect(network.connection(url(1))).toMatchObject({ connects: 2, closes: 1 });
    expect(disconnected).toEqual([]);
    await expect(manager.reconnect("ep-unknown")).rejects.toMatchObject({ code: "UNKNOWN_ENDPOINT" });
    await manager.cleanup();
  });

  it("disconnect closes everything and connect starts it again", async () => {
    const { network, manager } = setup();
    await manager.initialize([url(1), url(2)]);
    let done = manager.connect();
    await settle();
    await done;
    await manager.disconnect();
    expect(network.openCount).toBe(0);
    expect(manager.getConnectionStatus().map((s) => s.state)).toEqual(["disconnected", "disconnected"]);
    expect(vi.getTimerCount()).toBe(0);
    done = manager.connect();
    await settle();
    await done;
    expect(network.openCount).toBe(2);
    await manager.cleanup();
  });

  it("abandons an attempt in flight when the manager disconnects", async () => {
    const { network, manager } = setup();
    network.behave(url(1), { latencyMs: 1000 });
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await vi.advanceTimersByTimeAsync(10);
    await manager.disconnect();
    await done;
    await vi.advanceTimersByTimeAsync(5000);
    expect(network.openCount).toBe(0);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("disconnected");
    expect(vi.getTimerCount()).toBe(0);
    await manager.cleanup();
  });
});
