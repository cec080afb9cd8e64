import {
  type CloseInfo,
  type Connection,
  type ConnectionContext,
  type ConnectionEventMap,
  type ConnectionState,
  describeError,
  Emitter,
  type Logger,
  type Observer,
  type RepublishCause,
  type ResolvedEndpoint,
  redact,
  type ToolCaller,
  type ToolSource,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import WebSocket from "ws";
import { classifyClose, classifyUpgradeStatus } from "./close-codes.js";
import { Link, type LinkOwner } from "./endpoint-link.js";
import type { HeartbeatWheel } from "./heartbeat.js";
import { SharedToolServer } from "./mcp-tool-server.js";
import { type PublishSettings, ToolsPublisher } from "./tools-publisher.js";

/** Per-connection settings; the factory fills the defaults and may change them later. Times in ms. */
export interface XiaozhiConnectionOptions extends PublishSettings {
  /** Shared heartbeat for every socket of a factory. */
  readonly heartbeat: HeartbeatWheel;
  /** A tool call still running after this is cancelled upstream and answered with an error; default 300000. */
  readonly callTimeout: number;
  /** Largest inbound frame in bytes; default 1 MiB. */
  readonly maxPayload: number;
  /** How long `close()` waits for the far side's close frame before cutting the socket; default 2000. */
  readonly closeTimeout: number;
  /**
   * A new link counts as connected once the far side initializes it, or once it has stayed open
   * this long without a close: a server that accepts a bad token and closes it (1008) a few ms
   * later is then a failed connect, not a connected link. Default 1000; 0 counts it at once.
   */
  readonly readyGrace: number;
  /** Name and version announced in `initialize`. */
  readonly serverInfo: { readonly name: string; readonly version: string };
  /**
   * Largest `tools/call` answer sent to the agent, in bytes; a larger result is cut to fit (see
   * `fitResult`). Default 8192, Xiaozhi's limit; 0 turns it off. An endpoint's data may override it.
   */
  readonly maxResultBytes: number;
}

/**
 * What an endpoint's opaque `data` may carry for its transport, beside what other factories read
 * there (a tool filter): `maxResultBytes` overrides the factory's setting for that endpoint.
 */
export interface EndpointTransportData {
  readonly maxResultBytes?: number;
}

/**
 * A Xiaozhi MCP endpoint link: a `ws` client to the endpoint URL served by the factory's one MCP
 * server from the SDK (the Xiaozhi side is the MCP client). Serves the tools of its ToolSource, pings
 * on the shared heartbeat, and reports every close with its code and whether retrying can help.
 * Never reconnects by itself: the ConnectionManager decides.
 */
export class XiaozhiEndpointConnection implements Connection {
  readonly specificationVersion = "v1" as const;
  readonly #events: Emitter<ConnectionEventMap>;
  readonly #logger: Logger;
  readonly #tools: ToolSource;
  /** Keeps the agent's tool list current across this endpoint's links. */
  readonly #publisher: ToolsPublisher;
  #state: ConnectionState = "disconnected";
  #link: Link | undefined;
  #rttMs: number | undefined;
  /** What this connection's links call back into. */
  readonly #owner: LinkOwner;

  // What links call back into, as methods of one object per connection: an idle endpoint costs
  // no closures for them.
  // The connection's publisher too: one object, not two.
  static readonly #Owner = class extends ToolsPublisher implements LinkOwner {
    #caller: ToolCaller | undefined;
    constructor(readonly connection: XiaozhiEndpointConnection) {
      super(connection.options);
    }
    get publisher(): ToolsPublisher {
      return this;
    }
    get caller(): ToolCaller {
      const endpoint = this.connection.endpoint;
      this.#caller ??= {
        endpointId: endpoint.id,
        ...(endpoint.name === undefined ? {} : { name: endpoint.name }),
      };
      return this.#caller;
    }
    get maxResultBytes(): number {
      // The endpoint's own `maxResultBytes` (carried in its data) wins over the factory's setting.
      const own = (this.connection.endpoint.data as EndpointTransportData | undefined)?.maxResultBytes;
      return typeof own === "number" ? own : this.connection.options.maxResultBytes;
    }
    rtt(ms: number): void {
      this.connection.#rttMs = ms;
    }
    socketError(error: Error): void {
      const connection = this.connection;
      connection.#logger.debug(
        { endpoint: connection.endpoint.masked, err: redact(describeError(error)) },
        "socket error",
      );
    }
    closed(link: Link, code: number, reason: string): void {
      this.connection.#detach(link, code, reason);
    }
    republish(link: Link, cause: RepublishCause): void {
      this.connection.#republish(link, cause);
    }
  };

  constructor(
    readonly endpoint: ResolvedEndpoint,
    context: ConnectionContext,
    private readonly options: XiaozhiConnectionOptions,
  ) {
    this.#logger = context.logger;
    this.#tools = context.tools;
    this.#events = new Emitter((error) =>
      this.#logger.error({ endpoint: endpoint.masked, err: redact(describeError(error)) }, "listener threw"),
    );
    const owner = new XiaozhiEndpointConnection.#Owner(this);
    this.#owner = owner;
    this.#publisher = owner;
  }

  get id(): string {
    return this.endpoint.id;
  }
  get state(): ConnectionState {
    return this.#state;
  }
  get initialized(): boolean {
    return this.#link?.initialized ?? false;
  }
  get rttMs(): number | undefined {
    return this.#link ? this.#rttMs : undefined;
  }
  get lastFrameAt(): number | undefined {
    return this.#link?.lastFrameAt;
  }

  /** Whether this endpoint's agent re-lists after `list_changed`; undefined until it was seen. */
  get relists(): boolean | undefined {
    return this.#publisher.relists;
  }

  on<K extends keyof ConnectionEventMap>(
    event: K,
    listener: (payload: ConnectionEventMap[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  observe(observer: Observer<ConnectionEventMap>): () => void {
    return this.#events.observe(observer);
  }

  /** Listeners held on this connection; for leak checks. */
  listenerCount(): number {
    return this.#events.listenerCount();
  }

  connect(signal: AbortSignal): Promise<void> {
    if (this.#link) return Promise.resolve();
    signal.throwIfAborted();
    const url = this.endpoint.url;
    if (!url) return Promise.reject(new XiaozhiError("INVALID_ENDPOINT", "a Xiaozhi endpoint needs a URL"));
    this.#state = "connecting";
    return new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(url, {
        maxPayload: this.options.maxPayload,
        perMessageDeflate: false,
      });
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        socket.removeAllListeners();
        // An error listener stays so a late socket error cannot crash the process.
        socket.on("error", () => {});
        socket.terminate();
        this.#state = "disconnected";
        reject(error);
      };
      const onAbort = () => fail(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once("unexpected-response", (request, response) => {
        const status = response.statusCode ?? 0;
        response.resume();
        request.destroy();
        const retryAfter = response.headers["retry-after"];
        fail(classifyUpgradeStatus(status, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter));
      });
      socket.on("error", (error) =>
        fail(new XiaozhiError("CONNECT_FAILED", redact(describeError(error)), { cause: error })),
      );
      socket.once("close", (code, reason) =>
        fail(
          new XiaozhiError(
            "CONNECT_FAILED",
            `closed during handshake (${code} ${redact(reason.toString())})`,
          ),
        ),
      );
      socket.once("open", () => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        socket.removeAllListeners();
        const link = this.#attach(socket);
        this.#events.emit("opened", { at: Date.now() });
        this.#confirm(link, signal).then(
          () => {
            this.#state = "connected";
            resolve();
          },
          (error: unknown) => {
            this.#state = "disconnected";
            reject(error);
          },
        );
      });
    });
  }

  /** Resolves once the far side initialized the new link or it stayed open for `readyGrace`. */
  #confirm(link: Link, signal: AbortSignal): Promise<void> {
    const grace = this.options.readyGrace;
    if (grace <= 0 || link.initialized) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: unknown) => {
        clearTimeout(timer);
        offInitialized();
        offClosed();
        signal.removeEventListener("abort", onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const timer = setTimeout(() => settle(), grace);
      const offInitialized = this.#events.on("initialized", () => settle());
      const offClosed = this.#events.on("closed", (info) =>
        settle(
          new XiaozhiError(
            info.retryable ? "CONNECT_FAILED" : "AUTH_REJECTED",
            `closed right after connecting (${info.code}${info.reason ? ` ${info.reason}` : ""})`,
            { retryable: info.retryable, status: info.code },
          ),
        ),
      );
      const onAbort = () => {
        settle(signal.reason);
        link.socket.terminate();
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async close(code = 1000, reason = ""): Promise<void> {
    const link = this.#link;
    if (!link) {
      this.#state = "stopped";
      return;
    }
    link.closedBy = { code, reason };
    await this.#closeSocket(link, code, reason);
    this.#state = "stopped";
  }

  /** Closes a link's socket with a close frame; resolves once it is closed (cut after `closeTimeout`). */
  #closeSocket(link: Link, code: number, reason: string): Promise<void> {
    return new Promise<void>((resolve) => {
      link.socket.once("close", () => resolve());
      if (link.socket.readyState === WebSocket.OPEN) link.socket.close(code, reason);
      // A far side that never answers the close frame must not hold us up.
      const timer = setTimeout(() => link.socket.terminate(), this.options.closeTimeout);
      link.socket.once("close", () => clearTimeout(timer));
    });
  }

  async ping(signal?: AbortSignal): Promise<number> {
    const link = this.#link;
    if (!link || link.socket.readyState !== WebSocket.OPEN) {
      throw new XiaozhiError("NOT_CONNECTED", "not connected");
    }
    return link.measure(signal);
  }

  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    const link = this.#requireLink();
    await link.server.notify(link, params === undefined ? { method } : { method, params });
  }

  async request(method: string, params?: Record<string, unknown>, options?: { signal?: AbortSignal }) {
    const link = this.#requireLink();
    return link.server.request(link, params === undefined ? { method } : { method, params }, options?.signal);
  }

  #requireLink(): Link {
    if (!this.#link || this.#link.socket.readyState !== WebSocket.OPEN) {
      throw new XiaozhiError("NOT_CONNECTED", "not connected");
    }
    return this.#link;
  }

  #attach(socket: WebSocket): Link {
    const server = toolServerFor(this.options);
    const link = new Link(socket, this.#owner, this.#tools, this.#events, server);
    this.#link = link;
    this.#publisher.attach(link);
    link.heartbeat = this.options.heartbeat.register(link);
    link.listen();
    link.server.add(link);
    return link;
  }

  #detach(link: Link, code: number, reason: string): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    this.#publisher.detach(link);
    link.heartbeat.unregister();
    link.server.remove(link);
    link.unlisten();
    this.#state = link.closedBy ? "stopped" : "disconnected";
    const info: CloseInfo = link.deadReason
      ? { code: 1006, reason: link.deadReason, retryable: true, at: Date.now() }
      : link.tooBig
        ? {
            code: 1009,
            reason: `a message over ${this.options.maxPayload} bytes came in`,
            retryable: true,
            at: Date.now(),
          }
        : { ...classifyClose(code, redact(reason)), at: Date.now() };
    // Closed by us to republish: the manager reopens it at once (a drop in between stays a drop).
    const republished = link.republishing !== undefined && !link.deadReason && !link.closedBy;
    this.#events.emit("closed", republished ? { ...info, republish: link.republishing } : info);
  }

  /** Called by the publisher: the link is closed so that its agent lists the tools again. */
  #republish(link: Link, cause: RepublishCause): void {
    if (this.#link !== link || link.republishing !== undefined) return;
    link.republishing = cause;
    this.#logger.info(
      { endpoint: this.endpoint.masked, cause },
      "tools changed and the agent lists them only at connect: republishing",
    );
    void this.#closeSocket(link, republishCode, republishReason);
  }
}

/** The close a republish sends: a normal close whose reason the far side's logs show. */
const republishCode = 1000;
const republishReason = "republishing tools";

// One tool server per settings object, that is per factory; a new one when `serverInfo` changes.
const toolServers = new WeakMap<XiaozhiConnectionOptions, SharedToolServer>();

function toolServerFor(options: XiaozhiConnectionOptions): SharedToolServer {
  let server = toolServers.get(options);
  if (!server || server.options.serverInfo !== options.serverInfo) {
    server = new SharedToolServer(options);
    toolServers.set(options, server);
  }
  return server;
}
