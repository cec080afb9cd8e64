import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { SharedToolServer } from "../src/internal.js";
import { TestTools } from "./helpers.js";
import { closePairs, type Pair, pair } from "./socket-pair.js";

afterEach(closePairs);

const call = (id: unknown, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

describe("SharedToolServer", () => {
  it("serves many sockets with one SDK server and keeps each socket's request ids apart", async () => {
    const server = new SharedToolServer({
      serverInfo: { name: "t", version: "1" },
      callTimeout: 5000,
      toolsWait: 0,
    });
    const tools = new TestTools();
    const [a, b] = [await pair(server, tools), await pair(server, tools)] as [Pair, Pair];
    expect(server.size).toBe(2);

    // The same id on both sockets at once: a call that waits on one, an answer on the other.
    const slow = a.answer(7);
    a.send(call(7, "slow__wait"));
    await tools.started(1);
    const quick = b.answer(7);
    b.send(call(7, "calc__add", { a: 1, b: 2 }));
    expect(await quick).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { content: [{ type: "text", text: "3" }] },
    });

    // A cancel names a request of its own socket only: b's id 7 is done and a's must keep running.
    b.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 7 } });
    const probe = b.answer("probe");
    b.send({ jsonrpc: "2.0", id: "probe", method: "ping" });
    await probe;
    expect(tools.aborted).toEqual([]);
    a.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 7, reason: "gone" } });
    await tools.cancelled(1);
    // The SDK answers nothing for a cancelled request; nothing stays pending either (frames are
    // read in order: once a later ping is answered, the cancel was taken).
    const afterCancel = a.answer("after-cancel");
    a.send({ jsonrpc: "2.0", id: "after-cancel", method: "ping" });
    await afterCancel;
    expect(server.pending).toBe(0);
    void slow;
    expect(a.received.filter((frame) => frame.id === 7)).toEqual([]);

    // One id repeated on one socket while the first is running: both are answered with that id.
    const first = a.answer("r");
    const second = a.answer("r");
    a.send(call("r", "calc__echo", { text: "one" }));
    a.send(call("r", "calc__echo", { text: "two" }));
    const texts = (await Promise.all([first, second])).map(
      (frame) => (frame.result as { content: { text: string }[] }).content[0]?.text,
    );
    expect(texts.sort()).toEqual(["one", "two"]);
    expect(server.pending).toBe(0);
  });

  it("lets the SDK validate each frame and answers what it refuses, keeping the socket", async () => {
    const server = new SharedToolServer({
      serverInfo: { name: "t", version: "1" },
      callTimeout: 5000,
      toolsWait: 0,
    });
    const tools = new TestTools();
    const a = await pair(server, tools);
    const cases: [unknown, number][] = [
      ["{not json", -32700],
      [[1, 2], -32600],
      [{ jsonrpc: "1.0", id: 1, method: "ping" }, -32600],
      [{ jsonrpc: "2.0", id: 1.5, method: "ping" }, -32600],
      [{ jsonrpc: "2.0", id: true, method: "ping" }, -32600],
      [{ jsonrpc: "2.0", method: 5 }, -32600],
      [{ jsonrpc: "2.0", id: 2, method: "tools/call", params: { arguments: {} } }, -32602],
      [{ jsonrpc: "2.0", id: 3, method: "resources/list" }, -32601],
    ];
    for (const [frame, code] of cases) {
      const answer = a.next();
      a.send(frame);
      expect(await answer, JSON.stringify(frame)).toMatchObject({ jsonrpc: "2.0", error: { code } });
    }
    // Answers to requests nobody sent, and cancels of requests never made, are dropped unanswered.
    const before = a.received.length;
    a.send({ jsonrpc: "2.0", id: 999, result: {} });
    a.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "none" } });
    const probe = a.answer("probe");
    a.send({ jsonrpc: "2.0", id: "probe", method: "ping" });
    expect(await probe).toEqual({ jsonrpc: "2.0", id: "probe", result: {} });
    expect(a.received.length).toBe(before + 1);
    expect(a.errors.some((message) => message.includes("a response to no request"))).toBe(true);
    expect(a.peer.readyState).toBe(WebSocket.OPEN);
    expect(server.pending).toBe(0);
  });

  it("sends a provider's request to its socket only, and fails it when that socket closes", async () => {
    const server = new SharedToolServer({
      serverInfo: { name: "t", version: "1" },
      callTimeout: 5000,
      toolsWait: 0,
    });
    const tools = new TestTools();
    const [a, b] = [await pair(server, tools), await pair(server, tools)] as [Pair, Pair];
    const sent = a.next((frame) => frame.method === "roots/list");
    const answered = server.request(a.link, { method: "roots/list" });
    const request = (await sent) as { id: number };
    // The other socket cannot answer it.
    b.send({ jsonrpc: "2.0", id: request.id, result: { roots: ["wrong"] } });
    a.send({ jsonrpc: "2.0", id: request.id, result: { roots: [] } });
    expect(await answered).toEqual({ roots: [] });
    expect(b.received.some((frame) => frame.method === "roots/list")).toBe(false);

    const lost = server.request(a.link, { method: "roots/list" });
    const running = a.answer("call");
    a.send(call("call", "slow__wait"));
    await tools.started(1);
    a.peer.close();
    await expect(lost).rejects.toMatchObject({ code: -32000 });
    // The call its socket started is cancelled: the tool's signal aborts.
    await tools.cancelled(1);
    expect(server.pending).toBe(0);
    expect(server.size).toBe(1);
    void running;
  });

  it("tells each link of a source once per burst of changes, sends list_changed where asked, and leaves no subscription", async () => {
    const server = new SharedToolServer({
      serverInfo: { name: "t", version: "1" },
      callTimeout: 5000,
      toolsWait: 0,
    });
    const tools = new TestTools();
    const [a, b] = [await pair(server, tools), await pair(server, tools)] as [Pair, Pair];
    const initialized: number[] = [];
    const firstInitialized = new Promise((resolve) => a.link.events.on("initialized", resolve));
    a.link.events.on("initialized", ({ at }) => initialized.push(at));
    a.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    a.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await firstInitialized;
    // A second one is read (a ping after it is answered) and announces nothing.
    const probeInit = a.answer("probe-init");
    a.send({ jsonrpc: "2.0", id: "probe-init", method: "ping" });
    await probeInit;
    expect(a.link.initialized).toBe(true);
    expect(initialized).toHaveLength(1);
    expect(tools.listenerCount).toBe(1);
    // One subscription for both links; three changes in a row reach each link once.
    const told = Promise.all([a.changed(), b.changed()]);
    tools.change([]);
    tools.change(tools.tools);
    tools.change([]);
    await told;
    expect([a.changes.count, b.changes.count]).toEqual([1, 1]);
    const listChanged = a.next((frame) => frame.method === "notifications/tools/list_changed");
    server.listChanged(a.link);
    expect(await listChanged).toEqual({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    const probe = b.answer("probe");
    b.send({ jsonrpc: "2.0", id: "probe", method: "ping" });
    await probe;
    expect(b.received.some((frame) => frame.method === "notifications/tools/list_changed")).toBe(false);
    // The server lets go of a link when its socket closes (the pair's close listener).
    const removed = [a, b].map((p) => new Promise((resolve) => p.link.socket.once("close", resolve)));
    a.peer.close();
    b.peer.close();
    await Promise.all(removed);
    expect(server.size).toBe(0);
    expect(tools.listenerCount).toBe(0);
  });
});
