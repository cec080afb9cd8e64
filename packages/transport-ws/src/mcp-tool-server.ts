import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  isJSONRPCNotification,
  isJSONRPCRequest,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  ListToolsRequestSchema,
  McpError,
  type Notification,
  type Request,
  ResultSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import {
  type ToolCallOptions,
  type ToolDescriptor,
  type ToolProgress,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { notificationDispatch, requestDispatch, setBaseRequestHandler } from "@xiaozhi-connect/sdk-bridge";
import WebSocket from "ws";
import { DeadlineSweep } from "./deadline-sweep.js";
import { IdMultiplexer } from "./id-multiplexer.js";
import {
  answerForInvalidFrame,
  type JsonRpcErrorAnswer,
  oneLineSchemaError,
  parseErrorAnswer,
} from "./jsonrpc-errors.js";
import { fitResult } from "./result-budget.js";
import {
  answer,
  failure,
  handled,
  report,
  runTool,
  type ServedLink,
  type ToolServerOptions,
  write,
} from "./served-link.js";
import { ToolChangeFeed } from "./tool-change-feed.js";
import { settledTools, toolListFingerprint, wireTool } from "./tools-publisher.js";
import { readFrame, refuseFrame } from "./websocket-transport.js";

// One JSON-schema validator for every MCP server of the process: the SDK otherwise builds one per server.
let sharedValidator: AjvJsonSchemaValidator | undefined;

const withoutOutputSchema = (tool: ToolDescriptor): ToolDescriptor => {
  const { outputSchema: _, ...rest } = wireTool(tool);
  return rest;
};

const connectionClosed = (): McpError => new McpError(ErrorCode.ConnectionClosed, "Connection closed");

/**
 * One MCP server from the SDK for every socket of a factory (the Xiaozhi side is the MCP client):
 * `tools/list` from each link's ToolSource, `tools/call` through it with a deadline and upstream
 * cancellation, and initialize, ping, -32601 and request validation as the SDK does them. Sockets
 * share it by request id (see `IdMultiplexer`), so an endpoint costs its socket and not a server of
 * its own; a message the server starts names its link through the send's `relatedRequestId`.
 *
 * Each frame is validated once, by the SDK: a request's envelope by its request guard, its params by
 * the request schema; other messages by the server's own message guards. Results from a ToolSource
 * are not validated again (an MCP service's results were validated by the SDK client that received
 * them). A frame the SDK refuses is answered as JSON-RPC 2.0 asks when it deserves an answer,
 * reported as an `error` event, and dropped; the socket stays up.
 */
export class SharedToolServer {
  readonly #server: Server;
  readonly #transport: Transport;
  readonly #ids = new IdMultiplexer<ServedLink>();
  readonly #feed = new ToolChangeFeed<ServedLink>();
  /** The SDK's dispatch of a request checked already; undefined when this SDK has none. */
  readonly #dispatch: ((request: JSONRPCRequest) => void) | undefined;
  /** The same for a notification. */
  readonly #notify: ((notification: JSONRPCNotification) => void) | undefined;
  /** Set while the SDK reads a frame: its refusal of the frame comes back through `onerror`. */
  #refused = false;
  #reading = false;
  /** Running calls' deadlines, each with how its call ends when it expires. */
  readonly #deadlines = new DeadlineSweep<number, (result: CallToolResult) => void>((unique, end) =>
    this.#expire(unique, end),
  );

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
      // A result cut to fit cannot promise to match an output schema, and clients that check one
      // would refuse it: links with a result bound are offered tools without one.
      const bounded = (link.maxResultBytes ?? 0) > 0;
      return { tools: list.map(bounded ? withoutOutputSchema : wireTool) as Tool[] };
    });
    // The SDK's Server checks a tools/call twice and its result once more; the Protocol's own
    // registration checks the request once, and a ToolSource's results come checked.
    setBaseRequestHandler(this.#server, CallToolRequestSchema, async (request, extra) => {
      const started = performance.now();
      const unique = extra.requestId as number;
      const link = this.#linkOf(unique);
      const { name, _meta: meta } = request.params;
      const extras: Omit<ToolCallOptions, "signal"> = {};
      const agentId = meta?.agentId;
      if (link.caller) {
        const known =
          typeof agentId === "string" || (typeof agentId === "number" && Number.isFinite(agentId));
        Object.assign(extras, { caller: known ? { ...link.caller, agentId } : link.caller });
      }
      const token = meta?.progressToken;
      if (token !== undefined) {
        // Relayed under the agent's own token, on the request's link only, before the answer.
        Object.assign(extras, {
          onProgress: (progress: ToolProgress) =>
            extra
              .sendNotification({
                method: "notifications/progress",
                params: { ...progress, progressToken: token },
              })
              .catch((error: unknown) => report(link, error)),
        });
      }
      const result = await this.#call(link, unique, name, request.params.arguments, extra.signal, extras);
      const id = this.#ids.incoming(unique)?.id ?? unique;
      const fitted = fitResult(result, id, link.maxResultBytes ?? 0);
      handled(link, "tools/call", result.isError !== true, started, name, fitted.truncated);
      return fitted.result;
    });
    this.#transport = {
      start: async () => {},
      close: async () => {},
      send: (message, options) => this.#send(message, options),
    };
    void this.#server.connect(this.#transport);
    this.#dispatch = requestDispatch(this.#server);
    this.#notify = notificationDispatch(this.#server);
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
    for (const unique of this.#ids.dropIncoming(link)) {
      this.#deadlines.clear(unique);
      this.#deliver({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: unique, reason: "connection closed" },
      });
    }
    // The last calls went with their socket: no deadline timer stays behind (shutdown included).
    if (this.#deadlines.size === 0) this.#deadlines.stop();
    const dropped = this.#ids.dropOutgoing(link);
    if (dropped.length > 0) {
      const { code, message } = connectionClosed();
      for (const id of dropped) this.#deliver({ jsonrpc: "2.0", id, error: { code, message } });
    }
  }

  /** Links being served; for leak checks. */
  get size(): number {
    return this.#feed.size;
  }

  /** Requests in flight either way; for leak checks. */
  get pending(): number {
    return this.#ids.pending;
  }

  /** Sends a notification the provider starts to one link. */
  notify(link: ServedLink, notification: Notification): Promise<void> {
    return this.#ids.route(link, (route) =>
      this.#server.notification(notification, { relatedRequestId: route }),
    );
  }

  /** Sends a request the provider starts to one link; it fails when the link closes first. */
  request(link: ServedLink, request: Request, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.#ids.route(link, (route) =>
      this.#server.request(request, ResultSchema, { relatedRequestId: route, ...(signal ? { signal } : {}) }),
    );
  }

  /** Sends `notifications/tools/list_changed` to one link. */
  listChanged(link: ServedLink): void {
    this.notify(link, { method: "notifications/tools/list_changed" }).catch((error: unknown) =>
      report(link, error),
    );
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
    const unique = this.#ids.admit(link, id as string | number);
    frame.id = unique;
    if (this.#deliverChecked(frame, isJSONRPCRequest, this.#dispatch)) return;
    this.#ids.withdraw(unique);
    frame.id = id;
    this.#refuse(link, answerForInvalidFrame(frame), "not JSON-RPC");
  }

  #notification(link: ServedLink, frame: Record<string, unknown>): void {
    const params = frame.params as Record<string, unknown> | undefined;
    if (frame.method === "notifications/cancelled" && typeof params === "object" && params !== null) {
      // Only this link's own requests can be cancelled by it.
      const unique = this.#ids.uniqueOf(link, params.requestId);
      if (unique === undefined) return;
      params.requestId = unique;
      if (this.#deliverChecked(frame, isJSONRPCNotification, this.#notify)) {
        // The SDK answers nothing for a cancelled request.
        this.#deadlines.clear(unique);
        this.#ids.settle(unique);
        return;
      }
    } else if (this.#deliverChecked(frame, isJSONRPCNotification, this.#notify)) {
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
    if (!this.#ids.answered(link, frame.id)) {
      this.#refuse(link, undefined, "a response to no request");
      return;
    }
    if (!this.#deliver(frame as JSONRPCMessage)) this.#refuse(link, undefined, "not JSON-RPC");
  }

  /**
   * Hands a request or a notification to the SDK; false when the SDK refused it. The SDK's message
   * guards run one after another (response? error? request? notification?), and each miss costs a
   * schema failure; a frame checked once by the guard of its kind goes straight to the server's
   * dispatch of that kind. Without the dispatch it takes the message handler like any message.
   */
  #deliverChecked<T extends JSONRPCMessage>(
    frame: Record<string, unknown>,
    guard: (value: unknown) => value is T,
    dispatch: ((message: T) => void) | undefined,
  ): boolean {
    if (!guard(frame)) return false;
    if (!dispatch) return this.#deliver(frame);
    dispatch(frame);
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
    if ("method" in message) {
      if ("id" in message) {
        link = this.#ids.linkFor(options?.relatedRequestId);
        if (link?.socket.readyState !== WebSocket.OPEN) {
          throw new XiaozhiError("NOT_CONNECTED", "socket is not open");
        }
        this.#ids.sent(message.id as number, link);
      } else if (message.method === "notifications/cancelled") {
        // The SDK gave up on a request it sent (its timeout or the caller's signal).
        link = this.#ids.abandon(
          (message.params as { requestId?: unknown } | undefined)?.requestId as number,
        );
      } else {
        link = this.#ids.linkFor(options?.relatedRequestId);
      }
    } else {
      const entry = this.#ids.settle(message.id as number);
      // A request cancelled or whose link closed: nobody is waiting for the answer.
      if (!entry) return;
      // The SDK builds each answer for this send only; it goes out with the id it came with.
      (message as { id: string | number }).id = entry.id;
      // The SDK answers a request whose params fail its schema with -32603 and a dump: -32602, one line.
      answer(entry.link, "error" in message ? oneLineSchemaError(message) : message);
      return;
    }
    if (!link) throw new XiaozhiError("NOT_CONNECTED", "socket is not open");
    await write(link, message);
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
    extras: Omit<ToolCallOptions, "signal">,
  ): Promise<CallToolResult> {
    return new Promise((resolve) => {
      if (this.#ids.incoming(unique)) this.#deadlines.track(unique, this.options.callTimeout, resolve);
      const settle = (result: CallToolResult) => {
        this.#deadlines.clear(unique);
        resolve(result);
      };
      runTool(link, name, args, signal, settle, extras);
    });
  }

  /**
   * Answers a call that ran past its deadline, cancels it in the SDK (which aborts its signal) and
   * ends its handler with the same answer.
   */
  #expire(unique: number, end: (result: CallToolResult) => void): void {
    // Whatever the SDK sends for this request from now on finds no entry and is dropped.
    const entry = this.#ids.settle(unique);
    if (!entry) return;
    const result = failure(
      new XiaozhiError("TIMEOUT", `tool call timed out after ${this.options.callTimeout} ms`),
    );
    answer(entry.link, { jsonrpc: "2.0", id: entry.id, result });
    const reason = (result.content[0] as { text: string }).text;
    this.#deliver({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: unique, reason },
    });
    end(result);
  }

  #linkOf(uniqueId: string | number): ServedLink {
    const entry = this.#ids.incoming(uniqueId as number);
    if (!entry) throw connectionClosed();
    return entry.link;
  }

  /** Answers a frame the SDK cannot take (when it deserves an answer) and drops it; the socket stays. */
  #refuse(link: ServedLink, answer: JsonRpcErrorAnswer | undefined, reason: string): void {
    report(link, refuseFrame(link.socket, answer, reason));
  }
}
