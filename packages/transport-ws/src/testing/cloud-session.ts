import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  type CallToolResult,
  CallToolResultSchema,
  type Tool,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { WebSocket } from "ws";
import { WebSocketTransport } from "../websocket-transport.js";
import type { TokenBehavior } from "./simulated-cloud.js";

const initializeFrame = (clientName: string) =>
  `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":${JSON.stringify(clientName)},"version":"0.0.1"}}}`;
const initializedFrame = '{"jsonrpc":"2.0","method":"notifications/initialized"}';

/** One provider socket as the cloud sees it. */
export class CloudSession {
  /** Frames received in raw mode, parsed. */
  readonly received: unknown[] = [];
  /** How many `notifications/tools/list_changed` arrived (acted on only by a cloud that re-lists). */
  toolsChanged = 0;
  /** The tools the agent holds from this socket: what it listed last; undefined until it listed. */
  tools: Tool[] | undefined;
  /** How many times the agent listed tools on this socket. */
  lists = 0;
  /** Resolves with the agent's first list (sdk driver; it lists right after `initialize`). */
  readonly listed: Promise<Tool[]>;
  /** The close code and reason the provider sent, once closed. */
  closedWith: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves once the SDK client finished `initialize` (sdk driver only). */
  readonly ready: Promise<void>;
  readonly client: Client | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(
    readonly token: string,
    readonly socket: WebSocket,
    behavior: TokenBehavior,
    clientName: string,
    private readonly onListed: () => void = () => {},
  ) {
    this.closed = new Promise((resolve) => {
      socket.once("close", (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
      });
    });
    socket.on("error", () => {});
    socket.on("ping", (data) => {
      if (!behavior.noPong && socket.readyState === WebSocket.OPEN) socket.pong(data);
    });
    if (behavior.driver === "raw" || behavior.driver === "handshake") {
      this.client = undefined;
      const handshake = behavior.driver === "handshake";
      let answered!: () => void;
      this.ready = handshake ? new Promise((resolve) => (answered = resolve)) : Promise.resolve();
      socket.on("message", (data) => {
        let frame: unknown;
        try {
          frame = JSON.parse(data.toString());
        } catch {
          frame = data.toString();
        }
        this.received.push(frame);
        if (handshake && (frame as { id?: unknown }).id === 0 && this.received.length === 1) {
          this.sendRaw(initializedFrame);
          answered();
        }
        for (const wake of this.#waiters) wake();
      });
      if (handshake) this.sendRaw(initializeFrame(clientName));
      this.listed = new Promise(() => {});
      return;
    }
    const client = new Client(
      { name: clientName, version: "0.0.1" },
      { capabilities: { sampling: {}, roots: { listChanged: false } } },
    );
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      this.toolsChanged++;
      for (const wake of this.#waiters) wake();
      if (behavior.relists) void this.listTools().catch(() => {});
    });
    client.onerror = () => {};
    this.client = client;
    const transport = new WebSocketTransport(socket, { sendDelayMs: () => behavior.latencyMs ?? 0 });
    this.ready = client.connect(transport);
    this.ready.catch(() => {});
    // The real side's one list, right after initialize (it waits as long as the provider takes).
    this.listed = this.ready.then(() => this.listTools());
    this.listed.catch(() => {});
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Lists the tools now and holds the answer, as the self-hosted console's refresh does. A real
   * agent lists only at connect: to see what it holds, read `tools` (or the cloud's `toolsOf`).
   */
  async listTools(): Promise<Tool[]> {
    await this.ready;
    const { tools } = await this.#client().listTools(undefined, { timeout: 300_000 });
    this.tools = tools;
    this.lists++;
    for (const wake of this.#waiters) wake();
    this.onListed();
    return tools;
  }

  /** Calls a tool as a Xiaozhi agent would; `timeout` is the cloud's own deadline (default 300 s). */
  async callTool(
    name: string,
    args: Record<string, unknown> = {},
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<CallToolResult> {
    await this.ready;
    return (await this.#client().callTool({ name, arguments: args }, CallToolResultSchema, {
      timeout: options.timeout ?? 300_000,
      ...(options.signal ? { signal: options.signal } : {}),
    })) as CallToolResult;
  }

  /** Sends a frame as is (raw mode): an object is serialised, a string goes verbatim. */
  sendRaw(frame: unknown): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Resolves when `predicate` holds, re-checked on every frame or notification; rejects after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }

  /** The cloud closes this socket with a code (4004 "Internal server error" by default). */
  close(code = 4004, reason = "Internal server error"): void {
    this.socket.close(code, reason);
  }

  /** The cloud drops this socket without a close frame. */
  terminate(): void {
    this.socket.terminate();
  }

  #client(): Client {
    if (!this.client) throw new Error("this session is raw: use sendRaw()");
    return this.client;
  }
}
