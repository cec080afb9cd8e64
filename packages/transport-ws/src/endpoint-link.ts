import type {
  ConnectionEventMap,
  Emitter,
  RepublishCause,
  ToolCaller,
  ToolSource,
} from "@xiaozhi-connect/core";
import { XiaozhiError } from "@xiaozhi-connect/core";
import WebSocket from "ws";
import type { HeartbeatHandle, HeartbeatTarget } from "./heartbeat.js";
import type { SharedToolServer } from "./mcp-tool-server.js";
import type { ServedLink } from "./served-link.js";
import type { PublishedLink, ToolsPublisher } from "./tools-publisher.js";

/** What a link calls back into: the connection it belongs to. */
export interface LinkOwner {
  /** Keeps the agent's tool list current across the connection's links. */
  readonly publisher: ToolsPublisher;
  /** The agent behind the links, as tools see it in `_meta`. */
  readonly caller?: ToolCaller;
  /** Largest `tools/call` answer in bytes, read at each answer so a reload reaches the next call. */
  readonly maxResultBytes: number;
  /** A pong arrived: the round trip in ms. */
  rtt(ms: number): void;
  socketError(error: Error): void;
  /** The socket closed, with the far side's code and reason. */
  closed(link: Link, code: number, reason: string): void;
  /** The publisher asks to close the link so that its agent lists the tools again. */
  republish(link: Link, cause: RepublishCause): void;
}

/** Settles one `ping()`: with the round trip in ms, or with why there will be none. */
type PingWaiter = (outcome: number | XiaozhiError) => void;

const linkKey = Symbol("xiaozhi-connect.link");

type LinkedSocket = WebSocket & { [linkKey]: Link };

const linkOf = (socket: WebSocket): Link => (socket as LinkedSocket)[linkKey];

// Listeners shared by every socket (they find their link on the socket): an idle link costs no
// closures of its own.
function onMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  const link = linkOf(this);
  const at = Date.now();
  link.lastFrameAt = at;
  link.heartbeat.alive();
  link.events.emit("frame", { at });
  link.server.receive(link, data, isBinary);
}

function onPong(this: WebSocket): void {
  const link = linkOf(this);
  const ms = performance.now() - (link.pingStartedAt ?? link.heartbeatPingAt);
  link.pingStartedAt = undefined;
  link.owner.rtt(ms);
  link.heartbeat.alive();
  link.settlePings(ms);
  link.events.emit("rtt", { ms, at: Date.now() });
}

function onError(this: WebSocket, error: Error): void {
  const link = linkOf(this);
  // ws closes such a link with 1009 itself, then reports an abnormal 1006: keep what happened.
  if ((error as { code?: unknown }).code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") link.tooBig = true;
  link.owner.socketError(error);
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const link = linkOf(this);
  link.owner.closed(link, code, reason.toString());
}

/** One open socket of a connection: what it needs and nothing more. */
export class Link implements ServedLink, HeartbeatTarget, PublishedLink {
  initialized = false;
  lastFrameAt = Date.now();
  incoming = 0;
  outgoing = 0;
  listed: string | undefined;
  /** Set once the publisher closed this link to republish, with why. */
  republishing: RepublishCause | undefined;
  pingStartedAt: number | undefined;
  heartbeatPingAt = 0;
  closedBy: { code: number; reason: string } | undefined;
  deadReason: string | undefined;
  /** Set when a frame came in over `maxPayload`, which ends the link. */
  tooBig = false;
  heartbeat!: HeartbeatHandle;
  #pingWaiters: Set<PingWaiter> | undefined;

  constructor(
    readonly socket: WebSocket,
    readonly owner: LinkOwner,
    readonly tools: ToolSource,
    readonly events: Emitter<ConnectionEventMap>,
    readonly server: SharedToolServer,
  ) {}

  // Read from the owner: an idle link keeps no copy or closure of its own.
  get caller(): ToolCaller | undefined {
    return this.owner.caller;
  }

  get maxResultBytes(): number {
    return this.owner.maxResultBytes;
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Starts hearing the socket: frames, pongs, errors and its close. */
  listen(): void {
    (this.socket as LinkedSocket)[linkKey] = this;
    this.socket.on("message", onMessage);
    this.socket.on("pong", onPong);
    this.socket.on("error", onError);
    this.socket.once("close", onClose);
  }

  /** Stops hearing the socket (a late error is swallowed); pings still waiting fail. */
  unlisten(): void {
    this.socket.removeAllListeners();
    this.socket.on("error", () => {});
    // Built only when a ping waits: an error's stack costs more than the rest of a close.
    if (this.#pingWaiters)
      this.settlePings(new XiaozhiError("NOT_CONNECTED", "the link closed before the ping was answered"));
  }

  /** Pings now and resolves with the round trip in ms; pings already waiting share the pong. */
  measure(signal?: AbortSignal): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const waiter: PingWaiter = (ms) => {
        signal?.removeEventListener("abort", onAbort);
        if (typeof ms === "number") resolve(ms);
        else reject(ms);
      };
      const onAbort = () => {
        this.#pingWaiters?.delete(waiter);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pingWaiters ??= new Set();
      this.#pingWaiters.add(waiter);
      this.pingStartedAt ??= started;
      this.socket.ping();
    });
  }

  settlePings(outcome: number | XiaozhiError): void {
    const waiters = this.#pingWaiters;
    if (!waiters) return;
    this.#pingWaiters = undefined;
    for (const waiter of waiters) waiter(outcome);
  }

  onListed(): void {
    this.owner.publisher.listed(this);
  }

  onToolsChanged(): void {
    this.owner.publisher.changed(this);
  }

  onIdle(): void {
    this.owner.publisher.idle(this);
  }

  sendListChanged(): void {
    this.server.listChanged(this);
  }

  republish(cause: RepublishCause): void {
    this.owner.republish(this, cause);
  }

  /** A heartbeat ping. */
  ping(): void {
    this.heartbeatPingAt = performance.now();
    this.pingStartedAt ??= this.heartbeatPingAt;
    this.socket.ping();
  }

  expired(): void {
    this.deadReason = "heartbeat timeout: no pong";
    this.socket.terminate();
  }
}
