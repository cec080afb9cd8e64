import type {
  CloseInfo,
  Connection,
  ConnectionEventMap,
  ConnectionFactory,
  ConnectionState,
  RepublishCause,
} from "../connection.js";
import { Emitter, type Observer } from "../emitter.js";
import type { ResolvedEndpoint } from "../endpoint.js";
import { XiaozhiError } from "../errors.js";
import type { ToolSource } from "../tool-source.js";

/** How the simulated far side answers the next connect attempts of one URL. */
export interface MemoryBehavior {
  /** `open` (default), `refuse` (retryable), `reject-auth` (not retryable), `hang` (until aborted). */
  readonly connect?: "open" | "refuse" | "reject-auth" | "hang";
  /** Delay before the outcome, in ms; default 0. */
  readonly latencyMs?: number;
  /**
   * After an open, how long the far side takes to initialize the link, in ms (default 0): the
   * connection emits `opened` at once and `connect()` resolves after this.
   */
  readonly readyMs?: number;
  /** Round trip reported by `ping`; default 1. */
  readonly rttMs?: number;
  /** When true, `notify` and `request` fail with `SEND_FAILED` as if the socket broke mid-send. */
  readonly sendFails?: boolean;
  /**
   * Overrides what a host probe says (by default: answers unless `connect` is `refuse` or `hang`).
   * With `true`, a refused connect is refused as by a host that answered: a close in the handshake.
   */
  readonly hostAnswers?: boolean;
}

/**
 * An in-memory Connection with a far side the test controls through {@link MemoryNetwork}.
 * It follows the Connection contract exactly, so lifecycle tests need no sockets.
 */
export class MemoryConnection implements Connection {
  readonly specificationVersion = "v1" as const;
  readonly #events = new Emitter<ConnectionEventMap>();
  #state: ConnectionState = "disconnected";
  /** Notifications and requests that reached the far side, in order. */
  readonly sent: { method: string; params?: Record<string, unknown> }[] = [];
  connects = 0;
  closes = 0;

  constructor(
    readonly endpoint: ResolvedEndpoint,
    private readonly network: MemoryNetwork,
    readonly tools: ToolSource,
  ) {}

  get id() {
    return this.endpoint.id;
  }
  /** What behaviours are keyed by: the URL, or the id of an endpoint without one. */
  get #key() {
    return this.endpoint.url ?? this.endpoint.id;
  }
  get state() {
    return this.#state;
  }
  get initialized() {
    return this.#state === "connected";
  }
  get rttMs() {
    return this.#state === "connected" ? (this.network.behavior(this.#key).rttMs ?? 1) : undefined;
  }

  on<K extends keyof ConnectionEventMap>(event: K, listener: (payload: ConnectionEventMap[K]) => void) {
    return this.#events.on(event, listener);
  }

  observe(observer: Observer<ConnectionEventMap>): () => void {
    return this.#events.observe(observer);
  }

  listenerCount(): number {
    return this.#events.listenerCount();
  }

  async connect(signal: AbortSignal): Promise<void> {
    if (this.#state === "connected") return;
    this.connects++;
    this.#state = "connecting";
    const behavior = this.network.behavior(this.#key);
    try {
      await wait(behavior.connect === "hang" ? Number.POSITIVE_INFINITY : (behavior.latencyMs ?? 0), signal);
    } catch (error) {
      this.#state = "disconnected";
      throw error;
    }
    if (behavior.connect === "refuse") {
      this.#state = "disconnected";
      // Refused at the door, as a TCP connect is (`ECONNREFUSED`), unless the host answers: then
      // as a server that refuses once connected, with a close.
      if (behavior.hostAnswers) {
        throw new XiaozhiError("CONNECT_FAILED", "closed during handshake (1013 connection refused)");
      }
      throw new XiaozhiError("CONNECT_FAILED", "connection refused", {
        cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      });
    }
    if (behavior.connect === "reject-auth") {
      this.#state = "disconnected";
      throw new XiaozhiError("AUTH_REJECTED", "endpoint rejected the token (401)", { status: 401 });
    }
    if (behavior.readyMs) {
      this.#events.emit("opened", { at: Date.now() });
      try {
        await wait(behavior.readyMs, signal);
      } catch (error) {
        this.#state = "disconnected";
        throw error;
      }
    }
    this.#state = "connected";
    this.network.opened(this);
  }

  async close(code = 1000, reason = ""): Promise<void> {
    if (this.#state !== "connected") {
      this.#state = "stopped";
      return;
    }
    this.closes++;
    this.#end({ code, reason, retryable: true, at: Date.now() }, "stopped");
  }

  async ping(signal?: AbortSignal): Promise<number> {
    if (this.#state !== "connected") throw new XiaozhiError("NOT_CONNECTED", "not connected");
    const ms = this.rttMs ?? 1;
    await wait(0, signal);
    this.#events.emit("rtt", { ms, at: Date.now() });
    return ms;
  }

  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    if (this.#state !== "connected") throw new XiaozhiError("NOT_CONNECTED", "not connected");
    if (this.network.behavior(this.#key).sendFails) throw new XiaozhiError("SEND_FAILED", "send failed");
    this.sent.push(params === undefined ? { method } : { method, params });
  }

  async request(method: string, params?: Record<string, unknown>): Promise<unknown> {
    await this.notify(method, params);
    return { ok: true, endpoint: this.id };
  }

  /** The far side ends the link (a drop as the manager sees it). */
  drop(code = 1006, reason = "", retryable = true): void {
    if (this.#state !== "connected") return;
    this.#end({ code, reason, retryable, at: Date.now() }, "disconnected");
  }

  /** The connection closes its own link so the agent lists changed tools (1000, `republishing tools`). */
  republish(cause: RepublishCause = "no-relist"): void {
    if (this.#state !== "connected") return;
    this.closes++;
    this.#end(
      { code: 1000, reason: "republishing tools", retryable: true, at: Date.now(), republish: cause },
      "disconnected",
    );
  }

  /** The far side's request was answered here (`tool` for a `tools/call`). */
  answered(method: string, ok = true, ms = 1, tool?: string): void {
    this.#events.emit("handled", { method, ok, ms, at: Date.now(), ...(tool === undefined ? {} : { tool }) });
  }

  /** The far side sends a frame. */
  receiveFrame(): void {
    this.#events.emit("frame", { at: Date.now() });
  }

  #end(info: CloseInfo, state: ConnectionState): void {
    this.#state = state;
    this.network.closed(this);
    this.#events.emit("closed", info);
  }
}

/**
 * The simulated far side of many MemoryConnections: set behaviours per URL, drop links, and count
 * what happened. `network.factory` is the ConnectionFactory to give a manager.
 */
export class MemoryNetwork {
  readonly #behaviors = new Map<string, MemoryBehavior>();
  readonly #open = new Set<MemoryConnection>();
  readonly all: MemoryConnection[] = [];
  /** Host probes made so far (with `{ probe: true }`). */
  probes = 0;

  readonly factory: ConnectionFactory<MemoryConnection> = (endpoint, context) => {
    const connection = new MemoryConnection(endpoint, this, context.tools);
    this.all.push(connection);
    return connection;
  };

  /**
   * With `probe`, the factory can probe hosts: a host answers unless the endpoint's behaviour is
   * `refuse` (rejects) or `hang` (until aborted).
   */
  constructor(options: { readonly probe?: boolean } = {}) {
    if (!options.probe) return;
    this.factory.probe = async (endpoint, signal) => {
      this.probes++;
      const { connect, hostAnswers } = this.behavior(endpoint.url ?? endpoint.id);
      if (hostAnswers !== undefined) {
        if (hostAnswers) return;
        throw new XiaozhiError("CONNECT_FAILED", "connection refused (simulated)");
      }
      if (connect === "hang") await wait(Number.POSITIVE_INFINITY, signal);
      if (connect === "refuse") throw new XiaozhiError("CONNECT_FAILED", "connection refused (simulated)");
    };
  }

  /** Sets how `url` answers from now on (merged over the current behaviour). */
  behave(url: string, behavior: MemoryBehavior): void {
    this.#behaviors.set(url, { ...this.#behaviors.get(url), ...behavior });
  }

  behavior(url: string): MemoryBehavior {
    return this.#behaviors.get(url) ?? {};
  }

  /** Open links right now. */
  get openCount(): number {
    return this.#open.size;
  }

  /** The latest connection object built for `url`. */
  connection(url: string): MemoryConnection | undefined {
    return this.all.findLast((c) => c.endpoint.url === url);
  }

  /** Drops every open link at once, as when the whole cloud restarts. */
  dropAll(code = 1006, reason = "cloud restarted"): void {
    for (const connection of [...this.#open]) connection.drop(code, reason);
  }

  opened(connection: MemoryConnection): void {
    this.#open.add(connection);
  }

  closed(connection: MemoryConnection): void {
    this.#open.delete(connection);
  }
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      if (timer !== undefined) clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, ms)
      : undefined;
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
