import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CloudSession } from "../src/testing/index.js";
import { cloud, start, token, tools, useSimulatedCloud } from "./endpoint-connection.harness.js";
import { eventsOf, untilEvent } from "./helpers.js";

useSimulatedCloud();

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
});
