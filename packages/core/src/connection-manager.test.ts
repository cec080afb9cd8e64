import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ConnectionManager,
  type ConnectionManagerOptions,
  type ManagerEventMap,
} from "./connection-manager.js";
import { resolveEndpoint } from "./endpoint.js";
import { XiaozhiError } from "./errors.js";
import type { HealthObservation, HealthScorer } from "./health.js";
import type { Logger } from "./logger.js";
import type { Strategy } from "./strategy.js";
import { type MemoryConnection, MemoryNetwork } from "./testing/memory-connection.js";
import type { ToolSource } from "./tool-source.js";

const url = (n: number) => `wss://cloud.test/mcp/?token=secret-token-${n}`;
const id = (n: number) => resolveEndpoint(url(n)).id;

function setup(options: Partial<ConnectionManagerOptions<MemoryConnection>> = {}) {
  const network = new MemoryNetwork();
  const manager = new ConnectionManager<MemoryConnection>({
    connectionFactory: network.factory,
    random: () => 0.5,
    ...options,
  });
  return { network, manager };
}

/** Lets pending promises and zero-delay timers run without moving time meaningfully. */
const settle = () => vi.advanceTimersByTimeAsync(1);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

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
    const { network, manager } = setup();
    network.behave(url(2), { connect: "reject-auth" });
    const failed: ManagerEventMap["failed"][] = [];
    manager.on("failed", (e) => failed.push(e));
    await manager.initialize([url(1), url(2)]);
    const done = manager.connect();
    await settle();
    await done;
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

describe("drop detection and reconnect", () => {
  it("notices a drop at once and reconnects after the jittered backoff", async () => {
    const { network, manager } = setup();
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    // random() is 0.5: half of 1, 2, 4 … 60 s.
    expect(delays.slice(0, 9)).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    await manager.cleanup();
  });

  it("resets the attempt counter only after the link stayed up for minUptime", async () => {
    const { network, manager } = setup({ minUptime: 10_000 });
    const delays: number[] = [];
    manager.on("reconnectScheduled", (e) => delays.push(e.delayMs));
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
    network.connection(url(1))?.drop(1008, "invalid token", false);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(manager.getEndpointStatus(id(1))).toMatchObject({
      state: "failed",
      lastError: "closed 1008 invalid token",
    });
    expect(network.connection(url(1))?.connects).toBe(1);
    await manager.cleanup();
  });

  it("stays disconnected without autoReconnect", async () => {
    const { network, manager } = setup({ autoReconnect: false });
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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

describe("add, remove, reconcile", () => {
  it("adds endpoints live, refuses duplicates and removes with a 1000 close", async () => {
    const { network, manager } = setup();
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
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

  it("apply makes the list the manager's at once and lets links settle after; a replaced link opens after the old closed", async () => {
    const { network, manager } = setup({ connectTimeout: 5000 });
    await manager.initialize([url(1), { url: url(2), data: "a" }]);
    const done = manager.connect();
    await settle();
    await done;
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

describe("dispatch and broadcast", () => {
  async function connected(n: number, options: Partial<ConnectionManagerOptions<MemoryConnection>> = {}) {
    const ctx = setup(options);
    await ctx.manager.initialize(Array.from({ length: n }, (_, i) => url(i + 1)));
    const done = ctx.manager.connect();
    await settle();
    await done;
    return ctx;
  }

  it("spreads operations with the strategy (round-robin by default)", async () => {
    const { manager } = await connected(3);
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) picks.push(await manager.dispatch(async (c) => c.id));
    expect(picks.filter((p) => p === id(1))).toHaveLength(2);
    expect(new Set(picks).size).toBe(3);
    await manager.cleanup();
  });

  it("fails over at once when the operation provably never reached the connection", async () => {
    const { network, manager } = await connected(2);
    network.behave(url(1), { sendFails: true });
    const reached: string[] = [];
    for (let i = 0; i < 4; i++) {
      const value = await manager.dispatch(async (c) => {
        await c.notify("notifications/message", { i });
        reached.push(c.id);
        return c.id;
      });
      expect(value).toBe(id(2));
    }
    expect(reached).toEqual([id(2), id(2), id(2), id(2)]);
    expect(network.connection(url(1))?.sent).toEqual([]);
    await manager.cleanup();
  });

  it("never retries an operation that may have reached its connection", async () => {
    const { manager } = await connected(2);
    let runs = 0;
    await expect(
      manager.dispatch(async () => {
        runs++;
        throw new Error("tool exploded after receiving the call");
      }),
    ).rejects.toThrow("tool exploded");
    expect(runs).toBe(1);
    await manager.cleanup();
  });

  it("reports NO_HEALTHY_CONNECTION with the last failure as cause", async () => {
    const { network, manager } = await connected(2);
    network.behave(url(1), { sendFails: true });
    network.behave(url(2), { sendFails: true });
    const error = await manager.dispatch((c) => c.notify("x")).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "NO_HEALTHY_CONNECTION",
      message: "no healthy connection left after 2 failed",
    });
    expect((error as XiaozhiError).cause).toMatchObject({ code: "SEND_FAILED" });
    network.dropAll();
    await expect(manager.dispatch(async () => 1)).rejects.toMatchObject({ code: "NO_HEALTHY_CONNECTION" });
    await manager.cleanup();
  });

  it("dispatches to a healthy link within the same turn after another drops", async () => {
    const { network, manager } = await connected(2);
    network.connection(url(1))?.drop();
    const picks = await Promise.all([1, 2, 3].map(() => manager.dispatch(async (c) => c.id)));
    expect(picks).toEqual([id(2), id(2), id(2)]);
    await manager.cleanup();
  });

  it("aborts at the deadline and on the caller's signal", async () => {
    const { manager } = await connected(1);
    const slow = manager.dispatch(
      (_c, signal) =>
        new Promise((_r, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      {
        timeout: 1000,
      },
    );
    const expectation = expect(slow).rejects.toMatchObject({ code: "TIMEOUT" });
    await vi.advanceTimersByTimeAsync(1000);
    await expectation;
    const controller = new AbortController();
    const aborted = manager.dispatch(() => new Promise(() => {}), { signal: controller.signal });
    controller.abort(new Error("caller gave up"));
    await expect(aborted).rejects.toThrow("caller gave up");
    const pre = new AbortController();
    pre.abort();
    await expect(manager.dispatch(async () => 1, { signal: pre.signal })).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(vi.getTimerCount()).toBe(0);
    expect(manager.getEndpointStatus(id(1))?.inflight).toBe(0);
    await manager.cleanup();
  });

  it("broadcasts to every connected endpoint and reports each outcome", async () => {
    const { network, manager } = await connected(3);
    network.behave(url(2), { sendFails: true });
    network.connection(url(3))?.drop();
    const results = await manager.broadcast((c) => c.notify("notifications/tools/list_changed"));
    expect(results.map((r) => [r.id, r.ok])).toEqual([
      [id(1), true],
      [id(2), false],
    ]);
    expect(network.connection(url(1))?.sent).toEqual([{ method: "notifications/tools/list_changed" }]);
    await manager.cleanup();
  });

  it("falls back safely when a third-party strategy returns a foreign candidate", async () => {
    const rogue: Strategy = {
      specificationVersion: "v1",
      name: "rogue",
      select: () => ({ id: "nope" }) as never,
    };
    const { manager } = await connected(2, { strategy: rogue });
    expect(await manager.dispatch(async (c) => c.id)).toBe(id(1));
    manager.configure({ strategy: { specificationVersion: "v1", name: "last", select: (c) => c.at(-1) } });
    expect(manager.strategy.name).toBe("last");
    expect(await manager.dispatch(async (c) => c.id)).toBe(id(2));
    await manager.cleanup();
  });

  it("passes the affinity key, attempt and panic flag to the strategy", async () => {
    const contexts: unknown[] = [];
    const spy: Strategy = {
      specificationVersion: "v1",
      name: "spy",
      select: (candidates, context) => {
        contexts.push(context);
        return candidates[0];
      },
    };
    const { manager } = await connected(1, { strategy: spy });
    await manager.dispatch(async () => 1, { key: "agent-7" });
    expect(contexts[0]).toMatchObject({ attempt: 0, panic: false, key: "agent-7" });
    await manager.cleanup();
  });
});

/** A scorer the test drives by hand, to check how the manager consumes one. */
class ManualScorer implements HealthScorer {
  readonly specificationVersion = "v1" as const;
  readonly observed: [string, HealthObservation["kind"]][] = [];
  readonly ejected = new Set<string>();
  readonly listeners = new Set<(id: string, ejected: boolean, reason: string) => void>();
  observe(id: string, o: HealthObservation) {
    this.observed.push([id, o.kind]);
  }
  score(id: string) {
    return this.ejected.has(id) ? 10 : 90;
  }
  isEjected(id: string) {
    return this.ejected.has(id);
  }
  report(id: string) {
    return { score: this.score(id), ejected: this.isEjected(id), parts: { base: 90 } };
  }
  remove(id: string) {
    this.ejected.delete(id);
  }
  eject(id: string, ejected = true) {
    if (ejected) this.ejected.add(id);
    else this.ejected.delete(id);
    for (const l of this.listeners) l(id, ejected, "test");
  }
  onEjectionChanged(listener: (id: string, ejected: boolean, reason: string) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

describe("health scoring", () => {
  it("feeds observations, skips ejected connections and spreads over all in panic", async () => {
    const scorer = new ManualScorer();
    const { network, manager } = setup({ healthScorer: scorer });
    await manager.initialize([url(1), url(2), url(3)]);
    const done = manager.connect();
    await settle();
    await done;
    const rtts: ManagerEventMap["rtt"][] = [];
    manager.on("rtt", (event) => rtts.push(event));
    const ping = network.connection(url(1))?.ping();
    await settle();
    expect(await ping).toBe(1);
    // The round trip carries the scorer's score, as the status shows it.
    expect(rtts).toEqual([expect.objectContaining({ id: id(1), healthScore: 90 })]);
    expect(manager.getEndpointStatus(id(1))?.healthScore).toBe(90);
    network.connection(url(1))?.receiveFrame();
    // An answered request (a tool call the link carried) counts as a success of the link.
    network.connection(url(1))?.answered("tools/call", false, 3, "calc__add");
    expect(scorer.observed).toEqual(
      expect.arrayContaining([
        [id(1), "connected"],
        [id(1), "rtt"],
        [id(1), "frame"],
        [id(1), "success"],
      ]),
    );
    scorer.eject(id(1));
    expect(manager.getHealthyConnections().map((c) => c.id)).toEqual([id(2), id(3)]);
    expect(manager.getConnections().map((c) => c.id)).toEqual([id(1), id(2), id(3)]);
    expect(manager.getEndpointStatus(id(1))).toMatchObject({ healthScore: 10, health: { ejected: true } });
    const picks = new Set<string>();
    for (let i = 0; i < 6; i++) picks.add(await manager.dispatch(async (c) => c.id));
    expect(picks).toEqual(new Set([id(2), id(3)]));
    // Two of three ejected: below the 50 % panic threshold, so all connected ones serve again.
    scorer.eject(id(2));
    const panicPicks = new Set<string>();
    for (let i = 0; i < 6; i++) panicPicks.add(await manager.dispatch(async (c) => c.id));
    expect(panicPicks.size).toBe(3);
    await manager
      .dispatch(async () => {
        throw new XiaozhiError("SEND_FAILED", "x");
      })
      .catch(() => {});
    expect(scorer.observed.some(([, kind]) => kind === "failure")).toBe(true);
    await manager.cleanup();
    expect(scorer.listeners.size).toBe(0);
  });
});

describe("tool source", () => {
  it("tells every connection when the tool source is replaced or changes", async () => {
    const { network, manager } = setup();
    await manager.initialize([url(1), url(2)]);
    let changes = 0;
    for (const c of network.all) c.tools.onToolsChanged(() => changes++);
    let fire: () => void = () => {};
    const source: ToolSource = {
      specificationVersion: "v1",
      listTools: () => [{ name: "calc__add", inputSchema: { type: "object" } }],
      callTool: async () => ({ content: [{ type: "text", text: "5" }] }),
      onToolsChanged: (l) => {
        fire = l;
        return () => {
          fire = () => {};
        };
      },
    };
    manager.setServiceManager(source);
    expect(changes).toBe(2);
    fire();
    expect(changes).toBe(4);
    expect(await manager.tools.listTools()).toHaveLength(1);
    expect(
      await manager.tools.callTool("calc__add", {}, { signal: new AbortController().signal }),
    ).toMatchObject({
      content: [{ text: "5" }],
    });
    await manager.cleanup();
    fire();
    expect(changes).toBe(4);
  });
});

describe("status and events", () => {
  it("returns frozen snapshots, never live internals", async () => {
    const { network, manager } = setup();
    await manager.initialize([url(1)]);
    const done = manager.connect();
    await settle();
    await done;
    const before = manager.getConnectionStatus()[0];
    expect(Object.isFrozen(before)).toBe(true);
    expect(before).toMatchObject({
      connected: true,
      initialized: true,
      healthScore: 100,
      rttMs: 1,
      reconnectAttempts: 0,
    });
    network.connection(url(1))?.drop();
    expect(before?.connected).toBe(true);
    expect(manager.getConnectionStatus()[0]).toMatchObject({
      connected: false,
      healthScore: 0,
      rttMs: undefined,
    });
    await manager.cleanup();
  });

  it("never puts a token in an event, a status or a log line", async () => {
    const lines: string[] = [];
    const log = (o: unknown, m?: string) => lines.push(JSON.stringify([o, m]));
    const logger: Logger = { debug: log, info: log, warn: log, error: log };
    const { network, manager } = setup({ logger });
    const events: string[] = [];
    for (const name of [
      "added",
      "connecting",
      "connected",
      "disconnected",
      "reconnectScheduled",
      "failed",
      "connectFailed",
      "removed",
      "stateChanged",
    ] as const) {
      manager.on(name, (e) => events.push(JSON.stringify(e)));
    }
    network.behave(url(2), { connect: "reject-auth" });
    await manager.initialize([url(1), url(2)]);
    const done = manager.connect();
    await settle();
    await done;
    network.connection(url(1))?.drop(4004, `relay said token=secret-token-1 is bad`);
    await vi.advanceTimersByTimeAsync(1000);
    await manager.removeEndpoint(url(1));
    const everything = [...lines, ...events, JSON.stringify(manager.getConnectionStatus())].join("\n");
    expect(lines.length).toBeGreaterThan(3);
    expect(events.length).toBeGreaterThan(8);
    expect(everything).not.toMatch(/secret-token/);
    expect(everything).toContain("<masked:");
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

describe("names, round trips and answered requests", () => {
  it("carries an endpoint's name in status, events and logs; renaming never reconnects", async () => {
    vi.useRealTimers();
    const lines: Record<string, unknown>[] = [];
    const log = (object: Record<string, unknown> | string) => {
      if (typeof object !== "string") lines.push(object);
    };
    const logger: Logger = { debug: log, info: log, warn: log, error: log };
    const { network, manager } = setup({ logger });
    const seen: ManagerEventMap["handled"][] = [];
    const rtts: ManagerEventMap["rtt"][] = [];
    manager.on("handled", (event) => seen.push(event));
    manager.on("rtt", (event) => rtts.push(event));
    await manager.initialize([{ url: url(1), name: " kitchen " }, url(2)]);
    await manager.connect();
    expect(manager.getEndpointStatus(id(1))?.name).toBe("kitchen");
    expect(manager.getEndpointStatus(id(2))?.name).toBeUndefined();
    expect(lines).toContainEqual(expect.objectContaining({ name: "kitchen", id: id(1) }));

    const connection = network.connection(url(1)) as MemoryConnection;
    await connection.ping();
    connection.answered("tools/call", false, 12, "calc__add");
    connection.answered("tools/list");
    expect(rtts).toEqual([
      expect.objectContaining({ id: id(1), name: "kitchen", ms: expect.any(Number), healthScore: 100 }),
    ]);
    expect(seen).toEqual([
      expect.objectContaining({
        id: id(1),
        name: "kitchen",
        method: "tools/call",
        tool: "calc__add",
        ok: false,
        ms: 12,
      }),
      expect.objectContaining({ method: "tools/list", ok: true }),
    ]);
    expect(seen[1]).not.toHaveProperty("tool");

    const attempts: string[] = [];
    manager.on("connecting", (event) => attempts.push(event.id));
    const result = await manager.reconcile([{ url: url(1), name: "hall" }, url(2)]);
    expect(result.unchanged).toContain(id(1));
    expect(manager.getEndpointStatus(id(1))?.name).toBe("hall");
    expect(network.connection(url(1))).toBe(connection);
    expect(connection.state).toBe("connected");
    expect(attempts).toEqual([]);
    expect(() => resolveEndpoint({ url: url(3), name: 3 as unknown as string })).toThrow(
      /name must be a string/,
    );
    await manager.cleanup();
  });

  it("dates the last error, so a page can show how old it is", async () => {
    vi.useRealTimers();
    const { network, manager } = setup();
    await manager.initialize([url(1)]);
    await manager.connect();
    expect(manager.getEndpointStatus(id(1))?.lastErrorAt).toBeUndefined();
    const before = Date.now();
    (network.connection(url(1)) as MemoryConnection).drop(4004, "Internal server error");
    const status = manager.getEndpointStatus(id(1));
    expect(status?.lastError).toBe("closed 4004 Internal server error");
    expect(status?.lastErrorAt).toBeGreaterThanOrEqual(before);
    await manager.cleanup();
  });
});

describe("connections without observe()", () => {
  it("are watched through on(): drops, answers and cleanup work the same", async () => {
    vi.useRealTimers();
    const network = new MemoryNetwork();
    const connections: MemoryConnection[] = [];
    // A third-party connection that implements only the required `on`.
    const factory = ((endpoint, context) => {
      const connection = network.factory(endpoint, context);
      connections.push(connection);
      return new Proxy(connection, {
        get(target, key) {
          if (key === "observe") return undefined;
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    }) as ConnectionManagerOptions<MemoryConnection>["connectionFactory"];
    const manager = new ConnectionManager<MemoryConnection>({
      connectionFactory: factory,
      random: () => 0.5,
      backoff: { initialDelay: 1, maxDelay: 1 },
    });
    const seen: ManagerEventMap["handled"][] = [];
    manager.on("handled", (event) => seen.push(event));
    await manager.initialize([url(1)]);
    await manager.connect();
    const connection = connections[0] as MemoryConnection;
    expect(connection.listenerCount()).toBe(6);
    connection.answered("tools/list");
    expect(seen).toEqual([expect.objectContaining({ id: id(1), method: "tools/list", ok: true })]);
    const reconnected = new Promise((resolve) => manager.on("connected", resolve));
    connection.drop(4004, "Internal server error");
    await reconnected;
    expect(manager.getEndpointStatus(id(1))?.connected).toBe(true);
    await manager.cleanup();
    expect(connection.listenerCount()).toBe(0);
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
