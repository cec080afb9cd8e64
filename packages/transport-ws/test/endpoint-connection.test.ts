import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ManagerEventMap } from "@xiaozhi-connect/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  XiaozhiConnectionManager,
  type XiaozhiConnectionManagerOptions,
  xiaozhiConnectionFactory,
} from "../src/index.js";
import { type CloudSession, SimulatedXiaozhiCloud } from "../src/testing/index.js";
import { captureLogger, eventsOf, TestTools, untilEvent } from "./helpers.js";

const token = (n: number) => `tok-secret-${n}-eyJhbGciOiJIUzI1NiJ9`;

let cloud: SimulatedXiaozhiCloud;
let tools: TestTools;
let logger: ReturnType<typeof captureLogger>;
const managers: XiaozhiConnectionManager[] = [];

beforeEach(async () => {
  cloud = await SimulatedXiaozhiCloud.start();
  tools = new TestTools();
  logger = captureLogger();
});

afterEach(async () => {
  for (const manager of managers.splice(0)) await manager.cleanup();
  await cloud.stop();
  // No test may leak a token into the logs it produced.
  expect(logger.lines.join("\n")).not.toMatch(/tok-secret/);
});

function start(tokens: number[], options: XiaozhiConnectionManagerOptions = {}) {
  const factory = xiaozhiConnectionFactory({
    heartbeatInterval: 5000,
    heartbeatTimeout: 5000,
    ...options.transport,
  });
  const manager = new XiaozhiConnectionManager({
    connectionFactory: factory,
    logger,
    backoff: { initialDelay: 50, maxDelay: 200 },
    // The product's 10 s: a connect (upgrade and initialize against the cloud in this process) that
    // a loaded machine slows past 2 s must not count as failed where a test asserts it connected.
    connectTimeout: 10_000,
    ...options,
  });
  managers.push(manager);
  const ready = manager.initialize(
    tokens.map((n) => cloud.endpointUrl(token(n))),
    tools,
  );
  return { manager, factory, ready: ready.then(() => manager.connect()) };
}

describe("XiaozhiEndpointConnection against a simulated cloud", () => {
  it("serves several endpoints concurrently with real MCP traffic", async () => {
    const { manager, ready } = start([1, 2, 3, 4, 5]);
    await ready;
    expect(manager.getConnectionStatus().every((s) => s.connected)).toBe(true);
    const sessions = await Promise.all([1, 2, 3, 4, 5].map((n) => cloud.waitForSession(token(n))));
    const lists = await Promise.all(sessions.map((s) => s.listTools()));
    for (const list of lists)
      expect(list.map((t) => t.name)).toEqual(["calc__add", "calc__echo", "slow__wait"]);
    const results = await Promise.all(sessions.map((s, i) => s.callTool("calc__add", { a: i, b: 10 })));
    expect(results.map((r) => (r.content[0] as { text: string }).text)).toEqual([
      "10",
      "11",
      "12",
      "13",
      "14",
    ]);
    await untilEvent(
      eventsOf(manager, "initialized"),
      () => manager.getConnectionStatus().every((s) => s.initialized),
      2000,
      "initialized",
    );
  });

  it("answers every fixture frame as the Xiaozhi side sends it, and keeps the socket up", async () => {
    cloud.configure(token(1), { driver: "raw" });
    const { manager, ready } = start([1]);
    await ready;
    const session = await cloud.waitForSession(token(1));
    const fixtures = readFileSync(join(import.meta.dirname, "fixtures", "xiaozhi-frames.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { frame?: Record<string, unknown>; raw?: string; note?: string });
    expect(fixtures.length).toBeGreaterThanOrEqual(13);
    const answers: Record<string, unknown>[] = [];
    for (const fixture of fixtures) {
      const before = session.received.length;
      session.sendRaw(fixture.raw ?? fixture.frame);
      const isRequest = fixture.frame !== undefined && "id" in fixture.frame;
      if (isRequest) {
        await session.until(() => session.received.length > before, 3000);
        const answer = session.received[before] as Record<string, unknown>;
        expect(answer.id).toStrictEqual(fixture.frame?.id);
        answers.push(answer);
      } else if (fixture.raw !== undefined) {
        // A frame that is not JSON is answered -32700 with a null id, and the socket stays.
        await session.until(() => session.received.length > before, 3000);
        expect(session.received[before]).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
      } else {
        // Notifications are never answered: a ping right after proves it.
        session.sendRaw({ jsonrpc: "2.0", id: "probe", method: "ping" });
        await session.until(() => session.received.length > before, 3000);
        expect(session.received[before]).toEqual({ jsonrpc: "2.0", id: "probe", result: {} });
      }
    }
    const byMethod = (method: string) =>
      fixtures.flatMap((f, i) => (f.frame?.method === method && "id" in (f.frame ?? {}) ? [i] : []));
    const resultOf = (i: number) => {
      const requests = fixtures.slice(0, i + 1).filter((f) => f.frame && "id" in f.frame).length;
      return answers[requests - 1] as { result?: Record<string, unknown>; error?: { code: number } };
    };
    for (const i of byMethod("initialize")) {
      expect(resultOf(i).result).toMatchObject({
        protocolVersion: "2024-11-05",
        capabilities: { tools: { listChanged: true } },
      });
    }
    for (const i of byMethod("tools/list")) {
      expect((resultOf(i).result?.tools as { name: string }[] | undefined)?.map((t) => t.name)).toContain(
        "calc__add",
      );
    }
    const calls = byMethod("tools/call").map((i) => resultOf(i).result as { content: { text: string }[] });
    expect(calls.map((c) => c.content[0]?.text)).toEqual(["5", "2", "你好"]);
    expect(resultOf(byMethod("resources/list")[0] as number).error?.code).toBe(-32601);
    expect(tools.calls).toEqual(["calc__add", "calc__add", "calc__echo"]);
    expect(session.open).toBe(true);
    expect(manager.getConnectionStatus()[0]?.connected).toBe(true);
  });

  it("is initialized by a cloud that sends the handshake as fixed frames", async () => {
    cloud.configure(token(1), { driver: "handshake" });
    const { manager, ready } = start([1]);
    await ready;
    const session = await cloud.waitForSession(token(1));
    await session.ready;
    expect(session.received[0]).toMatchObject({ id: 0, result: { protocolVersion: "2024-11-05" } });
    await untilEvent(
      eventsOf(manager, "initialized"),
      () => manager.getConnectionStatus()[0]?.initialized === true,
      2000,
      "initialized",
    );
  });

  it("sends a provider's notifications and requests to its own agent only", async () => {
    cloud.configure(token(1), { driver: "raw" });
    cloud.configure(token(2), { driver: "raw" });
    const { manager, ready } = start([1, 2]);
    await ready;
    const [one, two] = await Promise.all([cloud.waitForSession(token(1)), cloud.waitForSession(token(2))]);
    const connection = manager.getConnection(cloud.endpointUrl(token(1)));
    await connection?.notify("notifications/tools/list_changed");
    await one.until(() => one.received.length === 1, 2000);
    expect(one.received[0]).toEqual({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    const answered = connection?.request("roots/list");
    await one.until(() => one.received.length === 2, 2000);
    const request = one.received[1] as { id: number; method: string };
    expect(request.method).toBe("roots/list");
    one.sendRaw({ jsonrpc: "2.0", id: request.id, result: { roots: [] } });
    expect(await answered).toEqual({ roots: [] });
    expect(two.received).toEqual([]);
  });

  it("answers every frame that deserves an answer as JSON-RPC 2.0 asks, and keeps the socket up", async () => {
    cloud.configure(token(1), { driver: "raw" });
    const { manager, ready } = start([1]);
    await ready;
    const session = await cloud.waitForSession(token(1));
    const answered: [frame: unknown, id: unknown, code: number][] = [
      ["{not json", null, -32700],
      ["42", null, -32600],
      [{ id: 5, method: "ping" }, 5, -32600],
      [[{ jsonrpc: "2.0", id: 1, method: "ping" }], null, -32600],
      [{ jsonrpc: "2.0", id: true, method: "ping" }, null, -32600],
      [{ jsonrpc: "2.0", id: { a: 1 }, method: "ping" }, null, -32600],
      [{ jsonrpc: "2.0", id: 6, method: 17 }, 6, -32600],
      [{ jsonrpc: "2.0", id: 11, method: "tools/call", params: [1, 2] }, 11, -32602],
      [{ jsonrpc: "2.0", id: 12, method: "tools/call", params: { arguments: {} } }, 12, -32602],
      [{ jsonrpc: "2.0", id: 13, method: "tools/call", params: { name: 5 } }, 13, -32602],
      [{ jsonrpc: "2.0", id: 1.5, method: "ping" }, 1.5, -32600],
      [{ jsonrpc: "2.0", id: 2 ** 60, method: "ping" }, 2 ** 60, -32600],
    ];
    for (const [frame, id, code] of answered) {
      const before = session.received.length;
      session.sendRaw(frame);
      await session.until(() => session.received.length > before, 3000);
      const answer = session.received[before] as { id: unknown; error: { code: number; message: string } };
      expect({ frame, id: answer.id, code: answer.error?.code }).toEqual({ frame, id, code });
      expect(answer.error.message).not.toContain("\n");
      expect(answer.error.message.length).toBeLessThan(200);
    }
    // Valid ids of any sign are served; notifications and stray responses are never answered.
    const silent: unknown[] = [
      { jsonrpc: "2.0", method: "notifications/whatever", params: [1] },
      { jsonrpc: "2.0", id: 3, result: 5 },
      { jsonrpc: "2.0", id: 4, error: "nope" },
    ];
    for (const frame of silent) {
      const before = session.received.length;
      session.sendRaw(frame);
      session.sendRaw({ jsonrpc: "2.0", id: -7, method: "ping" });
      await session.until(() => session.received.length > before, 3000);
      expect(session.received[before]).toEqual({ jsonrpc: "2.0", id: -7, result: {} });
    }
    const before = session.received.length;
    session.sendRaw({
      jsonrpc: "2.0",
      id: 0,
      method: "tools/call",
      params: { name: "calc__add", arguments: { a: 1, b: 2 } },
    });
    await session.until(() => session.received.length > before, 3000);
    expect(session.received[before]).toMatchObject({ id: 0, result: { content: [{ text: "3" }] } });
    expect(session.open).toBe(true);
    expect(manager.getConnectionStatus()[0]?.connected).toBe(true);
  });

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

  it("sends tools/list_changed to every endpoint when the tools change", async () => {
    const { manager, ready } = start([1, 2, 3]);
    await ready;
    const sessions = await Promise.all([1, 2, 3].map((n) => cloud.waitForSession(token(n))));
    await untilEvent(
      eventsOf(manager, "initialized"),
      () => manager.getConnectionStatus().every((s) => s.initialized),
      2000,
      "initialized",
    );
    tools.change([{ name: "clock__now", inputSchema: { type: "object" } }]);
    await Promise.all(sessions.map((s: CloudSession) => s.until(() => s.toolsChanged === 1)));
    // This cloud lists only at connect, so each agent got the new list by a republish.
    for (const n of [1, 2, 3]) await cloud.untilTools(token(n), (held) => held?.join() === "clock__now");
  });

  it("detects a black-holed link within heartbeatInterval + heartbeatTimeout and reconnects when it heals", async () => {
    const interval = 300;
    const timeout = 300;
    const { manager, ready } = start([1, 2], {
      transport: { heartbeatInterval: interval, heartbeatTimeout: timeout },
      connectTimeout: 400,
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
    await ready;
    const status = manager.getEndpointStatus(cloud.endpointUrl(token(1)));
    expect(status).toMatchObject({ state: "reconnecting", lastError: "not connected within 200 ms" });
    expect(manager.getEndpointStatus(cloud.endpointUrl(token(2)))?.connected).toBe(true);
    cloud.configure(token(1), { hangUpgrade: false });
    await untilEvent(
      eventsOf(manager, "stateChanged"),
      () => manager.getConnectionStatus().every((s) => s.connected),
      5000,
      "connected after the hang",
    );
  });

  it("works through a slow cloud", async () => {
    cloud.configure(token(1), { latencyMs: 80 });
    const { ready } = start([1]);
    await ready;
    const session = await cloud.waitForSession(token(1));
    const started = Date.now();
    expect((await session.callTool("calc__add", { a: 20, b: 22 })).content).toEqual([
      { type: "text", text: "42" },
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
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

  it("cancels the tool upstream on notifications/cancelled and on the call timeout", async () => {
    const { ready } = start([1], { transport: { callTimeout: 300 } });
    await ready;
    const session = await cloud.waitForSession(token(1));
    const controller = new AbortController();
    const cancelled = session.callTool("slow__wait", {}, { signal: controller.signal });
    await tools.started(1);
    controller.abort("agent went away");
    await expect(cancelled).rejects.toThrow();
    await tools.cancelled(1);
    const timedOut = await session.callTool("slow__wait", {});
    expect(timedOut).toMatchObject({
      isError: true,
      content: [{ type: "text", text: "tool call timed out after 300 ms" }],
    });
    expect(tools.aborted).toHaveLength(2);
  });

  it("leaves a finished call's signal alone, so nothing upstream hears a late cancellation", async () => {
    const { ready } = start([1]);
    await ready;
    const session = await cloud.waitForSession(token(1));
    // The call's `finally` runs before its answer is sent, so a late abort would already show here.
    await session.callTool("calc__add", { a: 1, b: 2 });
    expect(tools.signals).toHaveLength(1);
    expect(tools.signals[0]?.aborted).toBe(false);
  });

  it("closes a removed endpoint with 1000 and leaves the others untouched", async () => {
    const { manager, ready } = start([1, 2]);
    await ready;
    const [one, two] = await Promise.all([cloud.waitForSession(token(1)), cloud.waitForSession(token(2))]);
    await manager.removeEndpoint(cloud.endpointUrl(token(1)));
    expect(await one?.closed).toEqual({ code: 1000, reason: "endpoint removed" });
    expect(two?.open).toBe(true);
    expect(cloud.upgrades.get(token(2))).toBe(1);
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
