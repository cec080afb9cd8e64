import type { Observer, Subscribable } from "./emitter.js";
import type { ResolvedEndpoint } from "./endpoint.js";
import type { Logger } from "./logger.js";
import type { ToolSource } from "./tool-source.js";

/**
 * The state of an endpoint link. A `Connection` itself moves between `disconnected`, `connecting`,
 * `connected` and `stopped`; the manager adds `reconnecting` (a retry is scheduled) and `failed`
 * (quick retries stopped: attempts exhausted, or an auth/policy rejection, which is tried again
 * only every `authRetryInterval`).
 */
export type ConnectionState =
  | "connecting"
  | "connected"
  | "reconnecting"
  | "disconnected"
  | "failed"
  | "stopped";

/** Every {@link ConnectionState}, in the order a link usually meets them. */
export const connectionStates: readonly ConnectionState[] = Object.keys({
  connecting: true,
  connected: true,
  reconnecting: true,
  disconnected: true,
  failed: true,
  stopped: true,
} satisfies Record<ConnectionState, true>) as ConnectionState[];

/**
 * Why a connection closed its own link to republish its tools: `no-relist` (the agent did not
 * re-list after `tools/list_changed`), `remembered` (this agent is known to list only at connect),
 * `forced` (configured to republish by reconnecting).
 */
export type RepublishCause = "no-relist" | "remembered" | "forced";

/** Why an open link ended. */
export interface CloseInfo {
  /** WebSocket close code (1006 when the link died without one). */
  readonly code: number;
  readonly reason: string;
  /** False for closes no retry can fix (1008 policy violation, auth). */
  readonly retryable: boolean;
  readonly at: number;
  /**
   * Set when the connection closed the link itself so that its agent, which reads the tool list
   * only at connect, lists the changed tools: the manager reconnects at once, without backoff,
   * and counts it neither as a failure nor against the endpoint's health.
   */
  readonly republish?: RepublishCause;
}

/** Events every Connection emits. */
export interface ConnectionEventMap {
  /** An open link ended, whoever closed it. Emitted once per successful `connect()`. */
  closed: CloseInfo;
  /** A frame arrived from the far side (liveness signal for health scoring). */
  frame: { readonly at: number };
  /** A round trip was measured (heartbeat pong, ping reply). */
  rtt: { readonly ms: number; readonly at: number };
  /** The far side completed MCP initialization on this link. */
  initialized: { readonly at: number };
  /**
   * Optional: the link is open (the WebSocket upgrade was answered) while `connect()` still waits
   * for the far side to initialize it. The manager lets the next attempt start then.
   */
  opened: { readonly at: number };
  /** A request from the far side was answered; `tool` names the tool of a `tools/call`. */
  handled: {
    readonly method: string;
    readonly tool?: string;
    readonly ok: boolean;
    readonly ms: number;
    readonly at: number;
    /** Set when the result was cut to fit the endpoint's `maxResultBytes`: its size before and after, in bytes. */
    readonly truncated?: { readonly from: number; readonly to: number };
  };
  /** A non-fatal problem (malformed frame, failed notification); the link stays up. */
  error: { readonly error: Error; readonly at: number };
}

/**
 * One endpoint link: the contract a transport implements. The same object is reused across
 * reconnects: `connect()` may be called again after a close. Implementations never reconnect by
 * themselves; the manager decides.
 */
export interface Connection extends Subscribable<ConnectionEventMap> {
  /** The version of this contract the implementation follows. */
  readonly specificationVersion: "v1";
  readonly id: string;
  readonly state: ConnectionState;
  /** True once the far side finished `initialize` on the current link. */
  readonly initialized?: boolean | undefined;
  /** Last measured round-trip time in ms, if any. */
  readonly rttMs?: number | undefined;
  /** Epoch ms of the last frame received on the current link. */
  readonly lastFrameAt?: number | undefined;
  /**
   * Opens the link. Resolves when it is usable; rejects with an `XiaozhiError` whose `retryable`
   * says whether to try again (any other error counts as retryable). Aborting `signal` abandons the
   * attempt, releases its socket, and rejects with the signal's reason. Resolves at once when open.
   */
  connect(signal: AbortSignal): Promise<void>;
  /**
   * Closes the link (default code 1000) and resolves when it is closed. Idempotent: on a link that
   * is not open it resolves at once. A close the manager asked for still emits `closed`.
   */
  close(code?: number, reason?: string): Promise<void>;
  /**
   * Measures a round trip to the far side; resolves with a finite number of ms. Rejects
   * `NOT_CONNECTED` when the link is not open or closes before the answer, never resolves `NaN`;
   * rejects with the signal's reason when `signal` aborts.
   */
  ping(signal?: AbortSignal): Promise<number>;
  /**
   * Subscribes one object to every event it has a method for (`closed(info)`, `rtt(payload)`, …)
   * and returns the function that unsubscribes; optional. A manager watching thousands of
   * connections uses it when present (one object per connection instead of a listener per event)
   * and `on` otherwise.
   */
  observe?(observer: Observer<ConnectionEventMap>): () => void;
  /** Sends a request the provider starts (server → client); optional. */
  request?(
    method: string,
    params?: Record<string, unknown>,
    options?: { signal?: AbortSignal },
  ): Promise<unknown>;
  /** Sends a notification; optional. Rejects `NOT_CONNECTED`/`SEND_FAILED` when it cannot leave. */
  notify?(method: string, params?: Record<string, unknown>): Promise<void>;
}

/** What a factory gets besides the endpoint. */
export interface ConnectionContext {
  /** The tools this connection serves; changes are announced through `onToolsChanged`. */
  readonly tools: ToolSource;
  readonly logger: Logger;
}

/**
 * Builds the connection for an endpoint. Called once per endpoint, not per reconnect. A plain function
 * is a complete factory; the optional members let whoever owns it (the adapter, on every config
 * change and at shutdown) reach what the factory shares between its connections.
 */
export interface ConnectionFactory<C extends Connection = Connection> {
  (endpoint: ResolvedEndpoint, context: ConnectionContext): C;
  /**
   * Applies new transport settings (heartbeat and call timings, in ms, as the config names them) at
   * once where it can and to links opened from now on. Unknown settings are ignored.
   */
  configure?(settings: Readonly<Record<string, unknown>>): void;
  /** Releases what the factory shares (timers, pools); called once, after every connection closed. */
  dispose?(): void;
  /**
   * Checks cheaply that `endpoint`'s host answers at all (a TCP connect for WebSocket), without
   * opening a link; resolves when it does, rejects when it does not or `signal` aborts. A manager
   * uses it while every endpoint of a host is refused, to bring them forward when the host is back.
   */
  probe?(endpoint: ResolvedEndpoint, signal: AbortSignal): Promise<void>;
}
