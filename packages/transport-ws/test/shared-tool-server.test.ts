import { type ConnectionEventMap, Emitter } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { type ServedLink, SharedToolServer } from "../src/internal.js";
import { TestTools, until } from "./helpers.js";

/** One real socket pair on loopback: `link` is the provider's end, `peer` plays the Xiaozhi side. */
interface Pair {
  readonly link: ServedLink;
  readonly peer: WebSocket;
  /** Frames the peer received, parsed. */
  readonly received: Record<string, unknown>[];
  readonly errors: string[];
  /** How many times the server told this link its tools may have changed. */
  readonly changes: { count: number };
  send(frame: unknown): void;
  /** Resolves with the next frame the peer receives whose id is `id`. */
  answer(id: unknown): Promise<Record<string, unknown>>;
}

const servers: WebSocketServer[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function pair(server: SharedToolServer, tools: TestTools): Promise<Pair> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  servers.push(wss);
  await new Promise((resolve) => wss.once("listening", resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
  const peer = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  sockets.push(peer);
  await new Promise((resolve) => peer.once("open", resolve));
  const socket = await accepted;
  sockets.push(socket);
  const events = new Emitter<ConnectionEventMap>();
  const errors: string[] = [];
  events.on("error", ({ error }) => errors.push(error.message));
  const changes = { count: 0 };
  const link: ServedLink = {
    socket,
    tools,
    events,
    initialized: false,
    incoming: 0,
    outgoing: 0,
    listed: undefined,
    onListed: () => {},
    onToolsChanged: () => {
      changes.count++;
    },
    onIdle: () => {},
  };
  socket.on("message", (data, isBinary) => server.receive(link, data, isBinary));
  socket.once("close", () => server.remove(link));
  server.add(link);
  const received: Record<string, unknown>[] = [];
  const waiters: { id: unknown; resolve: (frame: Record<string, unknown>) => void }[] = [];
  peer.on("message", (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>;
    received.push(frame);
    const index = waiters.findIndex((waiter) => waiter.id === frame.id);
    if (index >= 0) waiters.splice(index, 1)[0]?.resolve(frame);
  });
  return {
    link,
    peer,
    received,
    errors,
    changes,
    send: (frame) => peer.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    answer: (id) => new Promise((resolve) => waiters.push({ id, resolve })),
  };
}

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
    await until(() => tools.calls.length === 1, 2000, "slow call started");
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
    await until(() => tools.aborted.length === 1, 2000, "a's call cancelled");
    // The SDK answers nothing for a cancelled request; nothing stays pending either.
    await until(() => server.pending === 0, 2000, "nothing pending");
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
      const before = a.received.length;
      a.send(frame);
      await until(() => a.received.length > before, 2000, `answer to ${JSON.stringify(frame)}`);
      expect(a.received[before]).toMatchObject({ jsonrpc: "2.0", error: { code } });
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
    const answered = server.request(a.link, { method: "roots/list" });
    await until(() => a.received.some((frame) => frame.method === "roots/list"), 2000, "request sent");
    const request = a.received.find((frame) => frame.method === "roots/list") as { id: number };
    // The other socket cannot answer it.
    b.send({ jsonrpc: "2.0", id: request.id, result: { roots: ["wrong"] } });
    a.send({ jsonrpc: "2.0", id: request.id, result: { roots: [] } });
    expect(await answered).toEqual({ roots: [] });
    expect(b.received.some((frame) => frame.method === "roots/list")).toBe(false);

    const lost = server.request(a.link, { method: "roots/list" });
    const running = a.answer("call");
    a.send(call("call", "slow__wait"));
    await until(() => tools.calls.length === 1, 2000, "call started");
    a.peer.close();
    await expect(lost).rejects.toMatchObject({ code: -32000 });
    // The call its socket started is cancelled: the tool's signal aborts.
    await until(() => tools.aborted.length === 1, 2000, "call cancelled");
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
    a.link.events.on("initialized", ({ at }) => initialized.push(at));
    a.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await until(() => a.link.initialized, 2000, "initialized");
    expect(initialized).toHaveLength(1);
    expect(tools.listenerCount).toBe(1);
    // One subscription for both links; three changes in a row reach each link once.
    tools.change([]);
    tools.change(tools.tools);
    tools.change([]);
    await until(() => a.changes.count > 0 && b.changes.count > 0, 2000, "links told");
    expect([a.changes.count, b.changes.count]).toEqual([1, 1]);
    server.listChanged(a.link);
    await until(
      () => a.received.some((frame) => frame.method === "notifications/tools/list_changed"),
      2000,
      "list_changed",
    );
    const probe = b.answer("probe");
    b.send({ jsonrpc: "2.0", id: "probe", method: "ping" });
    await probe;
    expect(b.received.some((frame) => frame.method === "notifications/tools/list_changed")).toBe(false);
    a.peer.close();
    b.peer.close();
    await until(() => server.size === 0, 2000, "both removed");
    expect(tools.listenerCount).toBe(0);
  });
});
