import { describe, expect, it, vi } from "vitest";
import { ConnectionManager, type ConnectionManagerOptions } from "./connection-manager.js";
import { settle, setup, useFakeTimers } from "./connection-manager.test-helpers.js";
import { resolveEndpoint } from "./endpoint.js";
import { XiaozhiError } from "./errors.js";
import { nothingAnswered } from "./host-recovery.js";
import { type MemoryConnection, MemoryNetwork } from "./testing/memory-connection.js";

useFakeTimers();

describe("recovery after an outage", () => {
  const on = (host: string, n: number) => `wss://${host}/mcp/?token=secret-token-${n}`;

  it("brings the waiting endpoints of a host that is back forward, spread over the window", async () => {
    // The largest jitter draw every time: each endpoint waits its full, grown ceiling.
    const { network, manager } = setup({ random: () => 0.999, recoveryWindow: 2000 });
    const a = [1, 2, 3, 4, 5].map((n) => on("a.test", n));
    const b = on("b.test", 9);
    const auth = on("a.test", 7);
    for (const url of [...a, b]) network.behave(url, { connect: "refuse" });
    network.behave(auth, { connect: "reject-auth" });
    await manager.initialize([...a, b, auth]);
    const connecting = manager.connect();
    // Five failed attempts each: the next waits are near the 32 s ceiling.
    for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(40_000);
    await connecting;
    const status = (url: string) => manager.getEndpointStatus(resolveEndpoint(url).id);
    expect(status(a[1] as string)?.state).toBe("reconnecting");
    expect((status(a[1] as string)?.nextReconnectAt ?? 0) - Date.now()).toBeGreaterThan(20_000);
    expect(status(auth)?.state).toBe("failed");

    // The host comes back; the first endpoint to try connects and its siblings follow within 2 s.
    for (const url of [...a, b]) network.behave(url, { connect: "open" });
    const first = a[0] as string;
    const back = manager.reconnect(first);
    await settle();
    await back;
    const now = Date.now();
    for (const url of a.slice(1)) {
      expect(status(url)?.state).toBe("reconnecting");
      const due = (status(url)?.nextReconnectAt ?? 0) - now;
      expect(due).toBeGreaterThanOrEqual(0);
      expect(due).toBeLessThan(2000);
    }
    // Another host, and an endpoint that retrying cannot help, are left alone.
    expect((status(b)?.nextReconnectAt ?? 0) - now).toBeGreaterThan(20_000);
    expect(status(auth)?.state).toBe("failed");
    await vi.advanceTimersByTimeAsync(2000);
    for (const url of a) expect(status(url)?.state).toBe("connected");
    expect(status(a[1] as string)?.reconnectAttempts).toBeGreaterThan(0);
    await manager.cleanup();
  });

  /** Endpoints of a.test (and one of b.test) refused five times over: their waits are near 32 s. */
  async function outage(count: number, options: Partial<ConnectionManagerOptions<MemoryConnection>> = {}) {
    const network = new MemoryNetwork({ probe: true });
    const manager = new ConnectionManager<MemoryConnection>({
      connectionFactory: network.factory,
      random: () => 0.999,
      ...options,
    });
    const a = Array.from({ length: count }, (_, i) => on("a.test", i + 1));
    const b = on("b.test", 9);
    for (const url of [...a, b]) network.behave(url, { connect: "refuse" });
    await manager.initialize([...a, b]);
    const connecting = manager.connect();
    for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(40_000);
    await connecting;
    const status = (url: string) => manager.getEndpointStatus(resolveEndpoint(url).id);
    const connects = () => network.all.reduce((sum, c) => sum + c.connects, 0);
    return { network, manager, a, b, status, connects };
  }

  it("probes a host whose every endpoint is refused and brings them back as soon as it answers", async () => {
    const { network, manager, a, b, status } = await outage(3);
    expect((status(a[0] as string)?.nextReconnectAt ?? 0) - Date.now()).toBeGreaterThan(20_000);
    expect(network.probes).toBeGreaterThan(0);

    // The host is back; within a probe interval and a few ms every endpoint of it is connected.
    for (const url of a) network.behave(url, { connect: "open" });
    await vi.advanceTimersByTimeAsync(500 + 3 * 2);
    for (const url of a) expect(status(url)?.state).toBe("connected");
    // The host that stays down is still waiting on its backoff, and still probed.
    expect(status(b)?.state).toBe("reconnecting");
    const probes = network.probes;
    await vi.advanceTimersByTimeAsync(2000);
    expect(network.probes).toBeGreaterThan(probes);
    expect(status(b)?.state).toBe("reconnecting");
    await manager.cleanup();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("takes a host that is back at most connectConcurrency attempts at a time, not in one burst", async () => {
    const { network, manager, a, status } = await outage(8, { connectConcurrency: 2 });
    let underWay = 0;
    let peak = 0;
    manager.on("connecting", () => {
      underWay++;
      peak = Math.max(peak, underWay);
    });
    const settled = () => underWay--;
    manager.on("connected", settled);
    manager.on("connectFailed", settled);
    // A probe finds the host back and brings all eight forward within 16 ms; each handshake takes
    // 100 ms there, so without turns all eight would be under way at once (a burst whose connects
    // a small accept queue drops).
    for (const url of a) network.behave(url, { connect: "open", latencyMs: 100 });
    await vi.advanceTimersByTimeAsync(500 + 8 * 2 + 4 * 100 + 10);
    for (const url of a) expect(status(url)?.state).toBe("connected");
    expect(peak).toBe(2);
    await manager.cleanup();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("probes a host that answers but refuses the links once, until one of them connects", async () => {
    const { network, manager, a, b, status, connects } = await outage(2);
    const removed = manager.removeEndpoint(b);
    await settle();
    await removed;
    for (const url of a) network.behave(url, { hostAnswers: true });
    // Refused again after the probe brought them forward: from then on only the backoff retries.
    await vi.advanceTimersByTimeAsync(40_000);
    const probes = network.probes;
    const before = connects();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(network.probes).toBe(probes);
    // About one attempt per endpoint per minute: the 60 s ceiling of the backoff, no more.
    expect(connects() - before).toBeLessThanOrEqual(2 * 11);
    expect(status(a[0] as string)?.state).toBe("reconnecting");

    // Once a link connected, the host's next outage is probed again.
    for (const url of a) network.behave(url, { connect: "open", hostAnswers: undefined });
    const back = manager.reconnect(a[0] as string);
    await settle();
    await back;
    await vi.advanceTimersByTimeAsync(2000);
    for (const url of a) expect(status(url)?.state).toBe("connected");
    for (const url of a) network.behave(url, { connect: "refuse" });
    network.dropAll();
    await vi.advanceTimersByTimeAsync(5000);
    expect(network.probes).toBeGreaterThan(probes);
    await manager.cleanup();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("probes a host that answered and refused again once an attempt finds it gone, and brings it back", async () => {
    const { network, manager, a, b, status } = await outage(2);
    const removed = manager.removeEndpoint(b);
    await settle();
    await removed;
    // The host answers and refuses (a server error in the handshake): probed once, then the backoff.
    for (const url of a) network.behave(url, { hostAnswers: true });
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    const probes = network.probes;
    // Then it goes away altogether: the next attempt finds nothing answering, and it is probed again.
    for (const url of a) network.behave(url, { hostAnswers: undefined });
    await vi.advanceTimersByTimeAsync(90_000);
    expect(network.probes).toBeGreaterThan(probes);
    expect((status(a[0] as string)?.nextReconnectAt ?? 0) - Date.now()).toBeGreaterThan(5000);
    // Back: within a probe interval and a few ms, not after the grown backoff.
    for (const url of a) network.behave(url, { connect: "open" });
    await vi.advanceTimersByTimeAsync(500 + 2 * 2);
    for (const url of a) expect(status(url)?.state).toBe("connected");
    await manager.cleanup();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("tells an attempt that found nothing answering by its error's code, not by the words with it", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(
      nothingAnswered(new XiaozhiError("CONNECT_FAILED", "connect ECONNREFUSED", { cause: refused })),
    ).toBe(true);
    expect(
      nothingAnswered(Object.assign(new Error("getaddrinfo ENOTFOUND x.test"), { code: "ENOTFOUND" })),
    ).toBe(true);
    // A server's close reason may say anything; the host answered.
    const closed = new XiaozhiError(
      "CONNECT_FAILED",
      "closed during handshake (1013 ECONNREFUSED connection refused)",
    );
    expect(nothingAnswered(closed)).toBe(false);
    expect(nothingAnswered(undefined)).toBe(false);
  });

  it("probes nothing with probeInterval 0 or recoveryWindow 0", async () => {
    for (const options of [{ probeInterval: 0 }, { recoveryWindow: 0 }]) {
      const { network, manager } = await outage(2, options);
      expect(network.probes).toBe(0);
      await manager.cleanup();
    }
  });

  it("does nothing with recoveryWindow 0", async () => {
    const { network, manager } = setup({ random: () => 0.999, recoveryWindow: 0 });
    const a = [1, 2].map((n) => on("a.test", n));
    for (const url of a) network.behave(url, { connect: "refuse" });
    await manager.initialize(a);
    const connecting = manager.connect();
    for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(40_000);
    await connecting;
    for (const url of a) network.behave(url, { connect: "open" });
    const back = manager.reconnect(a[0] as string);
    await settle();
    await back;
    const waiting = manager.getEndpointStatus(resolveEndpoint(a[1] as string).id);
    expect((waiting?.nextReconnectAt ?? 0) - Date.now()).toBeGreaterThan(2000);
    await manager.cleanup();
  });
});
