import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { Protocol } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  isJSONRPCRequest,
  type JSONRPCMessage,
  type JSONRPCRequest,
  ListToolsRequestSchema,
  McpError,
  type Notification,
  type Request,
  ResultSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { describeError, redact, XiaozhiError } from "@xiaozhi-connect/core";
import WebSocket from "ws";
import { DeadlineSweep } from "./deadline-sweep.js";
import {
  answerForInvalidFrame,
  type JsonRpcErrorAnswer,
  oneLineSchemaError,
  parseErrorAnswer,
} from "./jsonrpc-errors.js";
import { answered, failure, handled, type ServedLink, type ToolServerOptions } from "./served-link.js";
import { ToolChangeFeed } from "./tool-change-feed.js";
import { settledTools, toolListFingerprint, wireTool } from "./tools-publisher.js";
import { readFrame, refuseFrame } from "./websocket-transport.js";

/** A request of the far side being answered: its link and the id it came with. */
interface Incoming {
  readonly link: ServedLink;
  readonly id: string | number;
  /** For a running tool call: when it times out (epoch ms), and how to end it then. */
  deadline?: number;
  timeout?: (result: CallToolResult) => void;
}

// One JSON-schema validator for every MCP server of the process: the SDK otherwise builds one per server.
let sharedValidator: AjvJsonSchemaValidator | undefined;

const connectionClosed = (): McpError => new McpError(ErrorCode.ConnectionClosed, "Connection closed");

/**
 * One MCP server from the SDK for every socket of a factory (the Xiaozhi side is the MCP client):
 * `tools/list` from each link's ToolSource, `tools/call` through it with a deadline and upstream
 * cancellation, and initialize, ping, -32601 and request validation as the SDK does them. Sockets
 * share it by request id: a request's id is swapped for one unique in the process on the way in and
 * back on the way out, so an endpoint costs its socket and not a server of its own.
 *
 * Each frame is validated once, by the SDK: a request's envelope by its request guard, its params by
 * the request schema; other messages by the server's own message guards. Results from a ToolSource
 * are not validated again (an MCP service's results were validated by the SDK client that received
 * them). A frame the SDK refuses is answered
 * as JSON-RPC 2.0 asks when it deserves an answer, reported as an `error` event, and dropped; the
 * socket stays up.
 */
export class SharedToolServer {
  readonly #server: Server;
  readonly #transport: Transport;
  readonly #incoming = new Map<number, Incoming>();
  /** Requests this server sent, by id, with the link they went to. */
  readonly #outgoing = new Map<number, ServedLink>();
  readonly #feed = new ToolChangeFeed<ServedLink>();
  #nextId = 1;
  /** The link a request or notification started here goes to (the SDK sends it synchronously). */
  #target: ServedLink | undefined;
  /** Set while the SDK reads a frame: its refusal of the frame comes back through `onerror`. */
  #refused = false;
  #reading = false;
  readonly #deadlines = new DeadlineSweep((now) => this.#expireDue(now));

  constructor(readonly options: ToolServerOptions) {
    sharedValidator ??= new AjvJsonSchemaValidator();
    this.#server = new Server(
      { name: options.serverInfo.name, version: options.serverInfo.version },
      { capabilities: { tools: { listChanged: true } }, jsonSchemaValidator: sharedValidator },
    );
    this.#server.onerror = () => {
      if (this.#reading) this.#refused = true;
    };
    this.#server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
      const started = performance.now();
      const link = this.#linkOf(extra.requestId);
      // An agent that reads the list once must not get it while a service is still starting.
      const list = await settledTools(link.tools, this.options.toolsWait);
      link.listed = toolListFingerprint(list);
      handled(link, "tools/list", true, started);
      link.onListed();
      return { tools: list.map(wireTool) as Tool[] };
    });
    // The SDK's Server checks a tools/call twice and its result once more; the Protocol's own
    // registration checks the request once, and a ToolSource's results come checked.
    Protocol.prototype.setRequestHandler.call(
      this.#server,
      CallToolRequestSchema,
      async (request: { params: { name: string; arguments?: Record<string, unknown> } }, extra) => {
        const started = performance.now();
        const unique = extra.requestId as number;
        const link = this.#linkOf(unique);
        const { name } = request.params;
        const result = await this.#call(link, unique, name, request.params.arguments, extra.signal);
        handled(link, "tools/call", result.isError !== true, started, name);
        return result;
      },
    );
    this.#transport = {
      start: async () => {},
      close: async () => {},
      send: (message, options) => this.#send(message, options),
    };
    void this.#server.connect(this.#transport);
  }

  /** Starts serving a socket that just opened. */
  add(link: ServedLink): void {
    this.#feed.add(link);
  }

  /**
   * Stops serving a socket that closed: calls it started are cancelled (the tool's signal aborts and
   * nothing is answered), and requests sent to it fail with "Connection closed".
   */
  remove(link: ServedLink): void {
    this.#feed.remove(link);
    if (link.incoming > 0) {
      for (const [id, entry] of this.#incoming) {
        if (entry.link !== link) continue;
        this.#incoming.delete(id);
        this.#deliver({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: id, reason: "connection closed" },
        });
      }
      link.incoming = 0;
      // The last calls went with their socket: no deadline timer stays behind (shutdown included).
      if (this.#incoming.size === 0) this.#deadlines.stop();
    }
    if (link.outgoing > 0) {
      const { code, message } = connectionClosed();
      for (const [id, target] of this.#outgoing) {
        if (target !== link) continue;
        this.#outgoing.delete(id);
        this.#deliver({ jsonrpc: "2.0", id, error: { code, message } });
      }
      link.outgoing = 0;
    }
  }

  /** Links being served; for leak checks. */
  get size(): number {
    return this.#feed.size;
  }

  /** Requests in flight either way; for leak checks. */
  get pending(): number {
    return this.#incoming.size + this.#outgoing.size;
  }

  /** Sends a notification the provider starts to one link. */
  notify(link: ServedLink, notification: Notification): Promise<void> {
    this.#target = link;
    try {
      return this.#server.notification(notification);
    } finally {
      this.#target = undefined;
    }
  }

  /** Sends a request the provider starts to one link; it fails when the link closes first. */
  request(link: ServedLink, request: Request, signal?: AbortSignal): Promise<Record<string, unknown>> {
    this.#target = link;
    try {
      return this.#server.request(request, ResultSchema, signal ? { signal } : undefined);
    } finally {
      this.#target = undefined;
    }
  }

  /** Reads one frame a link received. */
  receive(link: ServedLink, data: WebSocket.RawData, isBinary: boolean): void {
    const read = readFrame(data, isBinary);
    if (!read.ok) {
      this.#refuse(link, parseErrorAnswer, "not JSON");
      return;
    }
    const value = read.value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.#refuse(link, answerForInvalidFrame(value), "not JSON-RPC");
      return;
    }
    const frame = value as Record<string, unknown>;
    if (typeof frame.method === "string") {
      if ("id" in frame) this.#request(link, frame);
      else this.#notification(link, frame);
    } else if ("id" in frame && ("result" in frame || "error" in frame)) {
      this.#response(link, frame);
    } else {
      this.#refuse(link, answerForInvalidFrame(frame), "not JSON-RPC");
    }
  }

  #request(link: ServedLink, frame: Record<string, unknown>): void {
    const { id } = frame;
    // Ids are swapped for unique ones, so only ids the SDK would take are let in.
    if (typeof id !== "string" && !Number.isSafeInteger(id)) {
      this.#refuse(link, answerForInvalidFrame(frame), "not JSON-RPC");
      return;
    }
    const unique = this.#nextId++;
    this.#incoming.set(unique, { link, id: id as string | number });
    link.incoming++;
    frame.id = unique;
    if (this.#deliverRequest(frame)) return;
    this.#incoming.delete(unique);
    link.incoming--;
    frame.id = id;
    this.#refuse(link, answerForInvalidFrame(frame), "not JSON-RPC");
  }

  #notification(link: ServedLink, frame: Record<string, unknown>): void {
    const params = frame.params as Record<string, unknown> | undefined;
    if (frame.method === "notifications/cancelled" && typeof params === "object" && params !== null) {
      // Only this link's own requests can be cancelled by it.
      const unique = this.#uniqueIdOf(link, params.requestId);
      if (unique === undefined) return;
      params.requestId = unique;
      if (this.#deliver(frame as JSONRPCMessage)) {
        // The SDK answers nothing for a cancelled request.
        this.#incoming.delete(unique);
        answered(link);
        return;
      }
    } else if (this.#deliver(frame as JSONRPCMessage)) {
      if (frame.method === "notifications/initialized" && !link.initialized) {
        link.initialized = true;
        link.events.emit("initialized", { at: Date.now() });
      }
      return;
    }
    this.#refuse(link, undefined, "not JSON-RPC");
  }

  #response(link: ServedLink, frame: Record<string, unknown>): void {
    // A response is taken only from the link the request went to.
    if (typeof frame.id !== "number" || this.#outgoing.get(frame.id) !== link) {
      this.#refuse(link, undefined, "a response to no request");
      return;
    }
    this.#outgoing.delete(frame.id);
    link.outgoing--;
    if (!this.#deliver(frame as JSONRPCMessage)) this.#refuse(link, undefined, "not JSON-RPC");
  }

  /**
   * Hands a request to the SDK; false when the SDK refused it. The SDK's message guards run one
   * after another (response? error? request?), and each miss costs a schema failure; a request
   * checked once by the SDK's own request guard goes straight to the server's request dispatch.
   */
  #deliverRequest(frame: Record<string, unknown>): boolean {
    if (!isJSONRPCRequest(frame)) return false;
    const dispatch = (this.#server as unknown as { _onrequest?: (request: JSONRPCRequest) => void })
      ._onrequest;
    // The same path the SDK's own message handler takes for a request; should a release of the
    // SDK rename it, requests take that handler like every other message.
    if (typeof dispatch !== "function") return this.#deliver(frame);
    dispatch.call(this.#server, frame);
    return true;
  }

  /** Hands a message to the SDK; false when the SDK refused it. */
  #deliver(message: JSONRPCMessage): boolean {
    this.#reading = true;
    this.#refused = false;
    try {
      this.#transport.onmessage?.(message);
    } finally {
      this.#reading = false;
    }
    return !this.#refused;
  }

  async #send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    let link: ServedLink | undefined;
    let out: JSONRPCMessage = message;
    if ("method" in message) {
      if ("id" in message) {
        link = this.#target;
        if (link?.socket.readyState !== WebSocket.OPEN) {
          throw new XiaozhiError("NOT_CONNECTED", "socket is not open");
        }
        this.#outgoing.set(message.id as number, link);
        link.outgoing++;
      } else if (message.method === "notifications/cancelled") {
        // The SDK gave up on a request it sent (its timeout or the caller's signal).
        const id = (message.params as { requestId?: unknown } | undefined)?.requestId as number;
        link = this.#outgoing.get(id);
        if (link) {
          this.#outgoing.delete(id);
          link.outgoing--;
        }
      } else {
        const related = options?.relatedRequestId;
        link = related === undefined ? this.#target : this.#incoming.get(related as number)?.link;
      }
    } else {
      const entry = this.#incoming.get(message.id as number);
      // A request cancelled or whose link closed: nobody is waiting for the answer.
      if (!entry) return;
      this.#incoming.delete(message.id as number);
      link = entry.link;
      answered(link);
      // The SDK builds each answer for this send only; it goes out with the id it came with.
      (message as { id: string | number }).id = entry.id;
      // The SDK answers a request whose params fail its schema with -32603 and a dump: -32602, one line.
      if ("error" in message) out = oneLineSchemaError(message);
    }
    if (!link) throw new XiaozhiError("NOT_CONNECTED", "socket is not open");
    await this.#write(link, out);
  }

  #write(link: ServedLink, message: JSONRPCMessage): Promise<void> {
    const socket = link.socket;
    if (socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new XiaozhiError("NOT_CONNECTED", "socket is not open"));
    }
    const data = JSON.stringify(message);
    return new Promise<void>((resolve, reject) => {
      socket.send(data, (error) =>
        error
          ? reject(new XiaozhiError("SEND_FAILED", `send failed: ${error.message}`, { cause: error }))
          : resolve(),
      );
    });
  }

  /**
   * Runs one call with a deadline. The tool gets the SDK's signal for the request, so a cancel from
   * the far side or a closed link reaches it; at the deadline the far side is answered with an
   * error and the SDK is told the request is cancelled, which aborts that signal. A finished call's
   * signal is left alone: an SDK client upstream would otherwise send a late cancellation.
   */
  #call(
    link: ServedLink,
    unique: number,
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    const entry = this.#incoming.get(unique);
    return new Promise((resolve) => {
      if (entry) {
        entry.deadline = Date.now() + this.options.callTimeout;
        entry.timeout = resolve;
        this.#deadlines.arm(this.options.callTimeout);
      }
      const settle = (result: CallToolResult) => {
        if (entry) entry.deadline = undefined;
        resolve(result);
      };
      let call: Promise<unknown>;
      try {
        call = Promise.resolve(link.tools.callTool(name, args, { signal }));
      } catch (error) {
        call = Promise.reject(error);
      }
      call.then(
        (result) => settle(result as CallToolResult),
        (error: unknown) => settle(failure(error)),
      );
    });
  }

  /** Ends the calls past their deadline; returns how many still run. */
  #expireDue(now: number): number {
    let running = 0;
    for (const [unique, entry] of this.#incoming) {
      if (entry.deadline === undefined) continue;
      if (entry.deadline > now) {
        running++;
        continue;
      }
      entry.deadline = undefined;
      const result = failure(
        new XiaozhiError("TIMEOUT", `tool call timed out after ${this.options.callTimeout} ms`),
      );
      this.#expire(unique, result);
      entry.timeout?.(result);
    }
    return running;
  }

  /** Answers a call that ran past its deadline and cancels it in the SDK, which aborts its signal. */
  #expire(unique: number, result: CallToolResult): void {
    const entry = this.#incoming.get(unique);
    if (!entry) return;
    // Whatever the SDK sends for this request from now on finds no entry and is dropped.
    this.#incoming.delete(unique);
    answered(entry.link);
    this.#write(entry.link, { jsonrpc: "2.0", id: entry.id, result }).catch(() => {});
    const reason = (result.content[0] as { text: string }).text;
    this.#deliver({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: unique, reason },
    });
  }

  /** Sends `notifications/tools/list_changed` to one link. */
  listChanged(link: ServedLink): void {
    this.#target = link;
    try {
      this.#server.sendToolListChanged().catch((error: unknown) => this.#report(link, error));
    } finally {
      this.#target = undefined;
    }
  }

  #linkOf(uniqueId: string | number): ServedLink {
    const entry = this.#incoming.get(uniqueId as number);
    if (!entry) throw connectionClosed();
    return entry.link;
  }

  #uniqueIdOf(link: ServedLink, id: unknown): number | undefined {
    if (link.incoming === 0) return undefined;
    for (const [unique, entry] of this.#incoming) {
      if (entry.link === link && entry.id === id) return unique;
    }
    return undefined;
  }

  /** Answers a frame the SDK cannot take (when it deserves an answer) and drops it; the socket stays. */
  #refuse(link: ServedLink, answer: JsonRpcErrorAnswer | undefined, reason: string): void {
    this.#report(link, refuseFrame(link.socket, answer, reason));
  }

  #report(link: ServedLink, error: unknown): void {
    link.events.emit("error", { error: new Error(redact(describeError(error))), at: Date.now() });
  }
}
