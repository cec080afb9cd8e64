import { type ConnectionEventMap, Emitter } from "@xiaozhi-connect/core";
import WebSocket, { WebSocketServer } from "ws";
import type { ServedLink, SharedToolServer } from "../src/internal.js";
import type { TestTools } from "./helpers.js";

/** One real socket pair on loopback: `link` is the provider's end, `peer` plays the Xiaozhi side. */
export interface Pair {
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
  /** Resolves with the next frame the peer receives that `match` accepts (any frame by default). */
  next(match?: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves once the server told this link its tools may have changed. */
  changed(): Promise<void>;
}

/** The servers and sockets pairs opened; `closePairs` ends them. */
const servers: WebSocketServer[] = [];
const sockets: WebSocket[] = [];

/** Ends every pair opened so far. */
export async function closePairs(): Promise<void> {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
}

/** Opens a socket pair and serves its provider's end with `server`, tools from `tools`. */
export async function pair(server: SharedToolServer, tools: TestTools): Promise<Pair> {
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
  const changeWaiters: (() => void)[] = [];
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
      for (const wake of changeWaiters.splice(0)) wake();
    },
    onIdle: () => {},
  };
  socket.on("message", (data, isBinary) => server.receive(link, data, isBinary));
  socket.once("close", () => server.remove(link));
  server.add(link);
  const received: Record<string, unknown>[] = [];
  const waiters: {
    match: (frame: Record<string, unknown>) => boolean;
    resolve: (frame: Record<string, unknown>) => void;
  }[] = [];
  peer.on("message", (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>;
    received.push(frame);
    const index = waiters.findIndex((waiter) => waiter.match(frame));
    if (index >= 0) waiters.splice(index, 1)[0]?.resolve(frame);
  });
  const next = (match: (frame: Record<string, unknown>) => boolean = () => true) =>
    new Promise<Record<string, unknown>>((resolve) => waiters.push({ match, resolve }));
  return {
    link,
    peer,
    received,
    errors,
    changes,
    send: (frame) => peer.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    answer: (id) => next((frame) => frame.id === id),
    next,
    changed: () => new Promise<void>((resolve) => changeWaiters.push(resolve)),
  };
}
