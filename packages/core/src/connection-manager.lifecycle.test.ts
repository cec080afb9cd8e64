import { describe, expect, it, vi } from "vitest";
import type { ManagerEventMap } from "./connection-manager.js";
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

describe("connect", () => {
  it("connects every endpoint concurrently; a hanging one delays no other", async () => {
    const { network, manager } = setup({ connectTimeout: 5000 });
    network.behave(url(2), { connect: "hang" });
    await manager.initialize([url(1), url(2), url(3)]);
    let settled = false;
    const done = manager.connect().then(() => {
      settled = true;
    });
    await settle();
    const states = () => Object.fromEntries(manager.getConnectionStatus().map((s) => [s.id, s.state]));
    expect(states()).toEqual({ [id(1)]: "connected", [id(2)]: "connecting", [id(3)]: "connected" });
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(5000);
    await done;
    const hung = manager.getEndpointStatus(id(2));
    expect(hung?.state).toBe("reconnecting");
    expect(hung?.lastError).toMatch(/not connected within 5000 ms/);
    expect(manager.isAnyConnected()).toBe(true);
    await manager.cleanup();
  });

  it("isolates failures: an auth rejection ends failed without retries while the others connect", async () => {
    // Tried again only every authRetryInterval (5 min by default): never, here.
    const { network, manager } = setup({ authRetryInterval: 0 });
    network.behave(url(2), { connect: "reject-auth" });
    const failed: ManagerEventMap["failed"][] = [];
    manager.on("failed", (e) => failed.push(e));
    await connected(manager, [url(1), url(2)]);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(network.connection(url(2))?.connects).toBe(1);
    expect(manager.getEndpointStatus(id(2))).toMatchObject({ state: "failed", connected: false });
    expect(failed).toHaveLength(1);
    expect(failed[0]?.reason).toMatch(/401/);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("connected");
    expect(vi.getTimerCount()).toBe(0);
    await manager.cleanup();
  });

  it("accepts a single endpoint and resolves at once when nothing is configured", async () => {
    const { manager } = setup();
    await manager.initialize([]);
    await manager.connect();
    expect(manager.isAnyConnected()).toBe(false);
    expect(manager.isInitialized).toBe(true);
    await manager.cleanup();
    expect(manager.isInitialized).toBe(false);
  });

  it("rejects invalid endpoints before changing anything", async () => {
    const { manager } = setup();
    await manager.initialize([url(1)]);
    await expect(manager.reconcile([url(2), "not a url"])).rejects.toMatchObject({
      code: "INVALID_ENDPOINT",
    });
    await expect(manager.addEndpoint({ url: url(3), weight: 0 })).rejects.toMatchObject({
      code: "INVALID_ENDPOINT",
    });
    await expect(manager.addEndpoint("  ")).rejects.toMatchObject({ code: "INVALID_ENDPOINT" });
    // Half of a UTF-16 pair is not text: an id goes to Redis as JSON in cluster mode.
    await expect(manager.addEndpoint({ url: url(4), id: "ep-\ud800" })).rejects.toMatchObject({
      code: "INVALID_ENDPOINT",
    });
    await manager.addEndpoint({ url: url(5), id: "ep-😀" });
    expect(manager.getConnectionStatus().map((s) => s.id)).toEqual([id(1), "ep-😀"]);
    await manager.cleanup();
  });
});

describe("first connects in waves", () => {
  it("has at most connectConcurrency first attempts under way; one that hangs holds its place a second", async () => {
    const { network, manager } = setup({ connectConcurrency: 2, connectTimeout: 5000 });
    network.behave(url(1), { connect: "hang" });
    network.behave(url(2), { connect: "hang" });
    for (const n of [3, 4, 5]) network.behave(url(n), { latencyMs: 100 });
    await manager.initialize([1, 2, 3, 4, 5].map(url));
    const done = manager.connect();
    await settle();
    const tried = () => [1, 2, 3, 4, 5].filter((n) => (network.connection(url(n))?.connects ?? 0) > 0);
    expect(tried()).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(990);
    expect(tried()).toEqual([1, 2]);
    // The hanging two give up their places after a second: the rest go, two at a time.
    await vi.advanceTimersByTimeAsync(20);
    expect(tried()).toEqual([1, 2, 3, 4]);
    await vi.advanceTimersByTimeAsync(100);
    expect(tried()).toEqual([1, 2, 3, 4, 5]);
    await vi.advanceTimersByTimeAsync(5000);
    await done;
    for (const n of [3, 4, 5]) expect(manager.getEndpointStatus(id(n))?.state).toBe("connected");
    await manager.cleanup();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("frees an attempt's place once its link is open: a far side that initializes late holds nobody back", async () => {
    const { network, manager } = setup({ connectConcurrency: 1 });
    const all = [1, 2, 3, 4];
    for (const n of all) network.behave(url(n), { latencyMs: 10, readyMs: 5000 });
    await manager.initialize(all.map(url));
    const done = manager.connect();
    // Each opens after 10 ms and is initialized 5 s later; holding a place until then (or its
    // second) would let the fourth start only after three seconds.
    await vi.advanceTimersByTimeAsync(100);
    expect(all.map((n) => network.connection(url(n))?.connects)).toEqual([1, 1, 1, 1]);
    expect(manager.getConnectionStatus().filter((s) => s.connected)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(5000);
    await done;
    expect(manager.getConnectionStatus().every((s) => s.connected)).toBe(true);
    await manager.cleanup();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("drops a retry waiting its turn once the endpoint was reconnected meanwhile, even if that gave up", async () => {
    const { network, manager } = setup({ connectConcurrency: 1, connectTimeout: 30_000, random: () => 0 });
    network.behave(url(1), { connect: "refuse" });
    network.behave(url(2), { connect: "hang" });
    await manager.initialize([url(1), url(2)]);
    const done = manager.connect();
    // 1 is refused at once and retries at once (no jitter); 2 hangs and holds the one place a second.
    await settle();
    const connects = () => network.connection(url(1))?.connects;
    expect(connects()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(network.connection(url(2))?.connects).toBe(1);
    // 1's retry waits its turn behind 2. Retrying is switched off and a reconnect asked for: it is
    // refused again and gives up.
    manager.configure({ maxReconnectAttempts: 0 });
    const again = manager.reconnect(url(1));
    await settle();
    await again;
    expect(connects()).toBe(2);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("failed");
    // 2's place frees after its second: the retry that waited must not try 1 again.
    await vi.advanceTimersByTimeAsync(2000);
    expect(connects()).toBe(2);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("failed");
    const cleaned = manager.cleanup();
    await settle();
    await Promise.all([cleaned, done]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not start an endpoint removed while it waited its turn", async () => {
    const { network, manager } = setup({ connectConcurrency: 1 });
    network.behave(url(1), { latencyMs: 100 });
    await manager.initialize([url(1), url(2)]);
    const done = manager.connect();
    await settle();
    const removed = manager.removeEndpoint(url(2));
    await vi.advanceTimersByTimeAsync(200);
    await Promise.all([done, removed]);
    expect(network.connection(url(2))?.connects ?? 0).toBe(0);
    expect(manager.getEndpointStatus(id(1))?.state).toBe("connected");
    await manager.cleanup();
  });

  it("applies a changed connectConcurrency to attempts already waiting", async () => {
    const { network, manager } = setup({ connectConcurrency: 3 });
    const all = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    for (const n of all) network.behave(url(n), { latencyMs: 100 });
    await manager.initialize(all.map(url));
    const done = manager.connect();
    await settle();
    const tried = () => all.filter((n) => (network.connection(url(n))?.connects ?? 0) > 0);
    expect(tried()).toEqual([1, 2, 3]);
    // Lowered while six wait: the three that settle make room for one.
    manager.configure({ connectConcurrency: 1 });
    await vi.advanceTimersByTimeAsync(110);
    expect(tried()).toEqual([1, 2, 3, 4]);
    // Raised: the next place that frees lets four go.
    manager.configure({ connectConcurrency: 4 });
    await vi.advanceTimersByTimeAsync(100);
    expect(tried()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await vi.advanceTimersByTimeAsync(500);
    await done;
    for (const n of all) expect(manager.getEndpointStatus(id(n))?.state).toBe("connected");
    await manager.cleanup();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("lets every first attempt go at once with connectConcurrency 0", async () => {
    const { network, manager } = setup({ connectConcurrency: 0 });
    for (const n of [1, 2, 3]) network.behave(url(n), { connect: "hang" });
    await manager.initialize([1, 2, 3].map(url));
    void manager.connect();
    await settle();
    expect([1, 2, 3].map((n) => network.connection(url(n))?.connects)).toEqual([1, 1, 1]);
    const cleaned = manager.cleanup();
    await settle();
    await cleaned;
  });
});

describe("lookup", () => {
  it("finds an endpoint by its id or by its URL as typed; an id it does not have stays unknown", async () => {
    const { manager } = setup();
    await manager.initialize([url(1)]);
    expect(manager.getEndpointStatus(id(1))?.id).toBe(id(1));
    // Scheme and host in capitals, a blank before it: the same endpoint.
    expect(manager.getEndpointStatus(`  ${url(1).replace("wss://cloud.test", "WSS://CLOUD.TEST")}`)?.id).toBe(
      id(1),
    );
    // As the URL parser reads it: a leading control character dropped, a tab inside ignored.
    expect(manager.getEndpointStatus(`\u0001${url(1).replace("wss", "w\tss")}`)?.id).toBe(id(1));
    expect(manager.getConnection(url(1))).toBe(manager.getConnections()[0]);
    expect(manager.getEndpointStatus("ep-000000000000")).toBeUndefined();
    expect(manager.getEndpointStatus(url(2))).toBeUndefined();
    await manager.removeEndpoint(id(1));
    expect(manager.getEndpointStatus(id(1))).toBeUndefined();
    expect(manager.getEndpointStatus(url(1))).toBeUndefined();
    await manager.cleanup();
  });
});

describe("cleanup", () => {
  it("leaves no timer and no listener behind, whatever state each endpoint is in", async () => {
    const scorer = new ManualScorer();
    const { network, manager } = setup({ healthScorer: scorer });
    network.behave(url(2), { connect: "refuse" });
    network.behave(url(3), { connect: "hang" });
    network.behave(url(4), { connect: "reject-auth" });
    manager.on("stateChanged", () => {});
    await manager.initialize([url(1), url(2), url(3), url(4)]);
    void manager.connect();
    await settle();
    const slow = manager.dispatch(() => new Promise(() => {}), { timeout: 60_000 }).catch(() => {});
    expect(vi.getTimerCount()).toBeGreaterThanOrEqual(3);
    const listenersBefore = network.all.reduce((n, c) => n + c.listenerCount(), 0);
    expect(listenersBefore).toBeGreaterThan(0);
    await manager.cleanup();
    await vi.advanceTimersByTimeAsync(60_000);
    await slow;
    expect(vi.getTimerCount()).toBe(0);
    expect(network.all.reduce((n, c) => n + c.listenerCount(), 0)).toBe(0);
    expect(manager.listenerCount()).toBe(0);
    expect(scorer.listeners.size).toBe(0);
    expect(network.openCount).toBe(0);
    expect(manager.getConnectionStatus()).toEqual([]);
  });
});
