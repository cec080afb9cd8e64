import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { CloudSession } from "./cloud-session.js";
import { TcpRelay } from "./tcp-relay.js";

/** How the cloud treats the providers connecting with one token. */
export interface TokenBehavior {
  /** Answer the upgrade with this HTTP status (401, 403, 500…) instead of accepting. */
  readonly rejectStatus?: number;
  /** With `rejectStatus`, a `Retry-After` header of this many seconds. */
  readonly retryAfter?: number;
  /** Accept the TCP connection but never answer the upgrade. */
  readonly hangUpgrade?: boolean;
  /** Never answer WebSocket pings. */
  readonly noPong?: boolean;
  /** Delay every frame the cloud sends by this many ms. */
  readonly latencyMs?: number;
  /**
   * Accept the upgrade, then close the socket with this code a few ms later without initializing,
   * as self-hosted servers treat a bad token (1008).
   */
  readonly closeAfterAccept?: number;
  /**
   * `sdk` (default): a real MCP SDK Client drives the session and initializes at once. `raw`: the
   * test sends frames itself. `handshake`: raw, but the cloud sends `initialize` at once and
   * `notifications/initialized` when it is answered, as fixed frames, like a broker that is not an
   * SDK client; its CPU per session stays small (for benchmarks of the provider's side).
   */
  readonly driver?: "sdk" | "raw" | "handshake";
  /**
   * `false` (default): the agent lists tools once, right after `initialize`, and ignores
   * `notifications/tools/list_changed` (records it), as xiaozhi.me and self-hosted servers do.
   * `true`: it lists again on every `list_changed`, as editors and desktop MCP clients do.
   */
  readonly relists?: boolean;
}

export interface SimulatedCloudOptions {
  /** Put a black-hole-capable TCP relay in front; endpoint URLs then point at the relay. Default true. */
  readonly relay?: boolean;
  /** Client name sent in `initialize`; default `xz-mcp-broker` like xiaozhi.me. */
  readonly clientName?: string;
  /** How every token is treated unless `configure` says otherwise (e.g. `{ driver: "raw" }`). */
  readonly behavior?: TokenBehavior;
}

/**
 * A Xiaozhi cloud on loopback for tests and demos: WebSocket endpoints at `/mcp/?token=…` where each
 * provider connection is driven by the real MCP SDK Client, with fault injection (reject at upgrade,
 * close with a code, drop, stop answering pings, black-hole through a TCP relay, slow frames, restart).
 */
export class SimulatedXiaozhiCloud {
  readonly #behaviors = new Map<string, TokenBehavior>();
  readonly #sessions = new Set<CloudSession>();
  /** Open sessions per token. */
  readonly #open = new Map<string, number>();
  readonly #sessionWaiters = new Set<() => void>();
  /** Woken whenever an agent's tools may have changed: a list, a socket opened or closed. */
  readonly #toolWaiters = new Set<() => void>();
  readonly #countListeners = new Set<(token: string, open: number) => void>();
  readonly #hanging = new Set<Duplex>();
  readonly #wss = new WebSocketServer({ noServer: true, autoPong: false, perMessageDeflate: false });
  readonly #clientName: string;
  #http: Server | undefined;
  #port = 0;
  /** Upgrade requests seen per token, accepted or not. */
  readonly upgrades = new Map<string, number>();
  readonly relay: TcpRelay | undefined;

  readonly #defaults: TokenBehavior;

  private constructor(options: SimulatedCloudOptions) {
    this.#clientName = options.clientName ?? "xz-mcp-broker";
    this.#defaults = options.behavior ?? {};
    this.relay = options.relay === false ? undefined : new TcpRelay(() => this.#port);
  }

  /** Starts a cloud on 127.0.0.1 at a random port. */
  static async start(options: SimulatedCloudOptions = {}): Promise<SimulatedXiaozhiCloud> {
    const cloud = new SimulatedXiaozhiCloud(options);
    await cloud.#listen(0);
    await cloud.relay?.start();
    return cloud;
  }

  get port(): number {
    return this.#port;
  }

  /** The endpoint URL a provider should use for `token` (through the relay when there is one). */
  endpointUrl(token: string): string {
    return `ws://127.0.0.1:${this.relay?.port ?? this.#port}/mcp/?token=${encodeURIComponent(token)}`;
  }

  /** Sets how the cloud treats `token` from now on (merged over what was set). */
  configure(token: string, behavior: TokenBehavior): void {
    this.#behaviors.set(token, { ...this.#behaviors.get(token), ...behavior });
  }

  /** Open sessions, of one token or all. */
  sessions(token?: string): CloudSession[] {
    return [...this.#sessions].filter((s) => s.open && (token === undefined || s.token === token));
  }

  /** Resolves with the first open session of `token` (initialized unless raw), waiting up to `timeoutMs`. */
  async waitForSession(token: string, timeoutMs = 5000): Promise<CloudSession> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const session = this.sessions(token)[0];
      if (session) {
        await session.ready;
        return session;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no session for the token within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#sessionWaiters.add(done);
      }).finally(() => this.#sessionWaiters.clear());
    }
  }

  /**
   * Calls `listener` with a token's number of open sessions each time it changes: how a test sees
   * two providers hold one endpoint at once. Returns the unsubscribe function.
   */
  onSessionCount(listener: (token: string, open: number) => void): () => void {
    this.#countListeners.add(listener);
    return () => this.#countListeners.delete(listener);
  }

  /** Counted as sessions come and go: a count per change stays cheap with ten thousand tokens. */
  #countChanged(token: string, by: number): void {
    const open = (this.#open.get(token) ?? 0) + by;
    if (open > 0) this.#open.set(token, open);
    else this.#open.delete(token);
    for (const listener of this.#countListeners) listener(token, open);
  }

  /**
   * The names of the tools the agent of `token` holds: those its open sockets listed (an agent
   * with several sockets on one token holds them all). Undefined while no open socket has listed.
   */
  toolsOf(token: string): string[] | undefined {
    let names: Set<string> | undefined;
    for (const session of this.sessions(token)) {
      if (!session.tools) continue;
      names ??= new Set();
      for (const tool of session.tools) names.add(tool.name);
    }
    return names && [...names].sort();
  }

  /**
   * Resolves once the tools the agent of `token` holds satisfy `predicate` (given the sorted names,
   * or undefined while it holds none), re-checked at every list and every socket opened or closed;
   * rejects after `timeoutMs` with what it held then.
   */
  async untilTools(
    token: string,
    predicate: (names: string[] | undefined) => boolean,
    timeoutMs = 10_000,
  ): Promise<string[] | undefined> {
    const check = () => predicate(this.toolsOf(token));
    if (check()) return this.toolsOf(token);
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.#toolWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#toolWaiters.delete(wake);
        reject(new Error(`the agent held ${JSON.stringify(this.toolsOf(token))} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#toolWaiters.add(wake);
    });
    return this.toolsOf(token);
  }

  #toolsMayHaveChanged(): void {
    for (const wake of this.#toolWaiters) wake();
  }

  /** Closes every session of `token` with a code. */
  close(token: string, code = 4004, reason = "Internal server error"): void {
    for (const session of this.sessions(token)) session.close(code, reason);
  }

  /** Drops every session of `token` without a close frame. */
  drop(token: string): void {
    for (const session of this.sessions(token)) session.terminate();
  }

  /** Black-holes `token`'s links (all when none is given) in the relay. */
  blackhole(token?: string): void {
    this.#requireRelay().blackhole(token);
  }

  heal(token?: string): void {
    this.#requireRelay().heal(token);
  }

  /**
   * Restarts the whole cloud: every socket is dropped (or closed with `code`), the listener goes
   * away for `downtimeMs`, then comes back on the same port.
   */
  async restart(options: { downtimeMs?: number; code?: number } = {}): Promise<void> {
    const port = this.#port;
    await this.#shutdown(options.code);
    if (options.downtimeMs) await new Promise((resolve) => setTimeout(resolve, options.downtimeMs));
    await this.#listen(port);
  }

  /** Stops everything: sessions, listener, relay. */
  async stop(): Promise<void> {
    await this.#shutdown();
    await this.relay?.stop();
  }

  #requireRelay(): TcpRelay {
    if (!this.relay) throw new Error("this cloud was started without a relay");
    return this.relay;
  }

  async #listen(port: number): Promise<void> {
    const http = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    http.on("upgrade", (req, socket, head) => this.#upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(port, "127.0.0.1", () => resolve());
    });
    const address = http.address();
    this.#port = typeof address === "object" && address ? address.port : port;
    this.#http = http;
  }

  async #shutdown(code?: number): Promise<void> {
    for (const session of this.#sessions) {
      if (code === undefined) session.terminate();
      else session.close(code, "server restarting");
    }
    await Promise.all([...this.#sessions].map((s) => Promise.race([s.closed, sleep(1000)])));
    for (const session of this.#sessions) session.terminate();
    this.#sessions.clear();
    for (const socket of this.#hanging) socket.destroy();
    this.#hanging.clear();
    const http = this.#http;
    this.#http = undefined;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://cloud.invalid");
    const token = url.searchParams.get("token");
    if (!url.pathname.startsWith("/mcp") || !token) {
      refuse(socket, 404);
      return;
    }
    this.upgrades.set(token, (this.upgrades.get(token) ?? 0) + 1);
    const behavior = { ...this.#defaults, ...this.#behaviors.get(token) };
    if (behavior.rejectStatus) {
      refuse(socket, behavior.rejectStatus, behavior.retryAfter);
      return;
    }
    if (behavior.hangUpgrade) {
      this.#hanging.add(socket);
      socket.once("close", () => this.#hanging.delete(socket));
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (behavior.closeAfterAccept !== undefined) {
        const code = behavior.closeAfterAccept;
        ws.on("error", () => {});
        setTimeout(() => ws.close(code, "token rejected"), 5);
        return;
      }
      const session = new CloudSession(token, ws, behavior, this.#clientName, () =>
        this.#toolsMayHaveChanged(),
      );
      this.#sessions.add(session);
      this.#countChanged(token, 1);
      this.#toolsMayHaveChanged();
      void session.closed.then(() => {
        this.#sessions.delete(session);
        this.#countChanged(token, -1);
        this.#toolsMayHaveChanged();
      });
      for (const wake of this.#sessionWaiters) wake();
    });
  }
}

function refuse(socket: Duplex, status: number, retryAfter?: number): void {
  const wait = retryAfter === undefined ? "" : `Retry-After: ${retryAfter}\r\n`;
  socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\n${wait}Content-Length: 0\r\n\r\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
