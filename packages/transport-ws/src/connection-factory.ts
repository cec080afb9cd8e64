import {
  type ConnectionContext,
  type ConnectionFactory,
  ConnectionManager,
  type ConnectionManagerOptions,
  checkOption,
  createConnectionManagerSingleton,
  type EndpointInput,
  type EndpointStatus,
  type ListApplied,
  msRule as ms,
  type OptionRule,
  positiveMsRule as positiveMs,
  type ReconcileResult,
  type ResolvedEndpoint,
  shownValue,
  type ToolSource,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { defaultHeartbeat, HeartbeatWheel } from "./heartbeat.js";
import { defaultMaxResultBytes, minMaxResultBytes } from "./result-budget.js";
import { tcpProbe } from "./tcp-probe.js";
import type { ToolsChangedMode } from "./tools-publisher.js";
import { type XiaozhiConnectionOptions, XiaozhiEndpointConnection } from "./xiaozhi-endpoint-connection.js";

/**
 * Transport settings; every field has a default. Times in ms, finite and above 0 unless a field
 * says otherwise; a value out of range throws `INVALID_CONFIG` from the factory and `configure`.
 */
export interface XiaozhiTransportOptions {
  /** WebSocket ping period; default 30000. */
  readonly heartbeatInterval?: number;
  /** An unanswered ping ends the link after this; default 10000. */
  readonly heartbeatTimeout?: number;
  /** Tool-call deadline; default 300000 (Infinity: none). */
  readonly callTimeout?: number;
  /** Largest inbound frame in bytes, a whole number; default 1048576. */
  readonly maxPayload?: number;
  /** Wait for the far side's close frame; default 2000, 0: none. */
  readonly closeTimeout?: number;
  /** A new link counts as connected once initialized or open this long without a close; default 1000, 0: at once. */
  readonly readyGrace?: number;
  readonly serverInfo?: { readonly name: string; readonly version: string };
  /** How agents learn of changed tools: `auto` (default), `notify` or `reconnect` (see `ToolsChangedMode`). */
  readonly toolsChanged?: ToolsChangedMode;
  /** `auto`: wait this long for the agent to re-list before republishing by reconnecting; default 2000 (0 or more). */
  readonly relistGrace?: number;
  /** Republishes of one endpoint: 5 at once, then one per this many ms; default 10000. */
  readonly republishInterval?: number;
  /** A republish waits at most this long for the link's running calls; default 30000 (0 or more). */
  readonly drainTimeout?: number;
  /** A `tools/list` waits at most this long for services still starting for the first time; default 5000 (0 or more). */
  readonly toolsWait?: number;
  /**
   * Largest `tools/call` answer in bytes; larger results are cut to fit. Default 8192; 0: no limit;
   * else a whole number of at least `minMaxResultBytes`.
   */
  readonly maxResultBytes?: number;
}

/** A ConnectionFactory for Xiaozhi endpoints, with its shared heartbeat and live settings. */
export interface XiaozhiConnectionFactory extends ConnectionFactory<XiaozhiEndpointConnection> {
  /** The one heartbeat timer behind every socket this factory made. */
  readonly heartbeat: HeartbeatWheel;
  /** Applies new settings: heartbeat timings at once, the rest to links opened from now on. */
  configure(options: XiaozhiTransportOptions): void;
  /** Stops the shared heartbeat; for shutdown, once every connection is closed. */
  dispose(): void;
}

/** What a factory uses for every transport setting it is not given (heartbeat: `defaultHeartbeat`). */
export const defaultTransportOptions = Object.freeze({
  callTimeout: 300_000,
  maxPayload: 1024 * 1024,
  closeTimeout: 2000,
  readyGrace: 1000,
  serverInfo: Object.freeze({ name: "xiaozhi-connect", version: "0.0.0" }),
  toolsChanged: "auto" as ToolsChangedMode,
  relistGrace: 2000,
  republishInterval: 10_000,
  drainTimeout: 30_000,
  toolsWait: 5000,
  maxResultBytes: defaultMaxResultBytes,
});

/** Why a Xiaozhi connection cannot dial `endpoint`, or undefined when it can. */
function whyUndialable(endpoint: ResolvedEndpoint): string | undefined {
  const url = endpoint.url;
  if (url === undefined) return "a Xiaozhi endpoint needs a URL";
  // A resolved URL is normalised: it starts with its scheme, lower-cased. The message never
  // quotes the URL, whose query holds the endpoint's token.
  return url.startsWith("ws://") || url.startsWith("wss://")
    ? undefined
    : "endpoint URL is not a ws:// or wss:// URL";
}

/**
 * Throws `INVALID_ENDPOINT` for the first input with no URL or one whose scheme is not ws or wss.
 * Only the scheme is read, off the text: the rest is core's to check as it takes the list, and
 * parsing ten thousand URLs once more on every apply is not free.
 */
function refuseUndialable(inputs: readonly EndpointInput[]): void {
  for (const input of inputs) {
    const url = typeof input === "string" ? input : input.url;
    const scheme =
      typeof url === "string" ? /^\s*([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() : undefined;
    const reason =
      url === undefined
        ? "a Xiaozhi endpoint needs a URL"
        : scheme === undefined || scheme === "ws" || scheme === "wss"
          ? undefined
          : "endpoint URL is not a ws:// or wss:// URL";
    if (reason !== undefined) throw new XiaozhiError("INVALID_ENDPOINT", reason);
  }
}

/**
 * The connection of an endpoint no WebSocket can reach, given to the factory by a manager that did
 * not refuse it up front (a plain `ConnectionManager`, the singleton): each connect fails with a
 * permanent `INVALID_ENDPOINT`, so the manager marks it `failed` with the reason instead of
 * retrying what no retry can fix.
 */
class UndialableConnection extends XiaozhiEndpointConnection {
  readonly #reason: string;

  constructor(
    endpoint: ResolvedEndpoint,
    context: ConnectionContext,
    options: XiaozhiConnectionOptions,
    reason: string,
  ) {
    super(endpoint, context, options);
    this.#reason = reason;
  }

  override connect(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return Promise.reject(new XiaozhiError("INVALID_ENDPOINT", this.#reason));
  }
}

const transportRules: { readonly [K in keyof XiaozhiTransportOptions]-?: OptionRule } = {
  heartbeatInterval: positiveMs,
  heartbeatTimeout: positiveMs,
  // A call given Infinity is never swept: no deadline.
  callTimeout: [(v) => typeof v === "number" && v > 0, "a number of ms above 0 (Infinity: none)"],
  maxPayload: [(v) => Number.isInteger(v) && (v as number) > 0, "a whole number of bytes above 0"],
  closeTimeout: ms,
  readyGrace: ms,
  serverInfo: [
    (v) => {
      const info = v as { name?: unknown; version?: unknown } | null;
      return (
        typeof info === "object" &&
        info !== null &&
        typeof info.name === "string" &&
        typeof info.version === "string"
      );
    },
    "{ name, version } of two strings",
  ],
  toolsChanged: [
    (v) => v === "auto" || v === "notify" || v === "reconnect",
    '"auto", "notify" or "reconnect"',
  ],
  relistGrace: ms,
  // The republish budget refills by elapsed time over this: 0 would divide by zero.
  republishInterval: positiveMs,
  drainTimeout: ms,
  toolsWait: ms,
  // A smaller bound leaves no room for a result and the note that it was cut.
  maxResultBytes: [
    (v) => v === 0 || (Number.isInteger(v) && (v as number) >= minMaxResultBytes),
    `0 (no limit) or a whole number of bytes, ${minMaxResultBytes} or more`,
  ],
};

/**
 * Throws `INVALID_CONFIG` naming the first option `options` sets out of its range, and its value,
 * before anything uses them. Options left `undefined` keep their value; unknown ones are ignored.
 */
function checkTransportOptions(options: XiaozhiTransportOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `transport options must be an object, got ${shownValue(options)}`,
    );
  }
  for (const [name, rule] of Object.entries(transportRules)) {
    const value = (options as Readonly<Record<string, unknown>>)[name];
    if (value !== undefined) checkOption(name, rule, value);
  }
}

/**
 * Builds the factory that makes one `XiaozhiEndpointConnection` per endpoint. Throws
 * `INVALID_CONFIG` for an option out of its range. An endpoint a WebSocket cannot reach (no URL,
 * or not ws:// or wss://) gets a connection whose every connect fails for good with
 * `INVALID_ENDPOINT`, so it ends `failed` rather than retrying; `XiaozhiConnectionManager` refuses
 * such endpoints before it takes them.
 */
export function xiaozhiConnectionFactory(options: XiaozhiTransportOptions = {}): XiaozhiConnectionFactory {
  checkTransportOptions(options);
  const heartbeat = new HeartbeatWheel({
    interval: options.heartbeatInterval ?? defaultHeartbeat.interval,
    timeout: options.heartbeatTimeout ?? defaultHeartbeat.timeout,
  });
  // Connections read this object on every link, so configure() reaches links opened later.
  const settings: { -readonly [K in keyof XiaozhiConnectionOptions]: XiaozhiConnectionOptions[K] } = {
    heartbeat,
    callTimeout: options.callTimeout ?? defaultTransportOptions.callTimeout,
    maxPayload: options.maxPayload ?? defaultTransportOptions.maxPayload,
    closeTimeout: options.closeTimeout ?? defaultTransportOptions.closeTimeout,
    readyGrace: options.readyGrace ?? defaultTransportOptions.readyGrace,
    serverInfo: options.serverInfo ?? defaultTransportOptions.serverInfo,
    toolsChanged: options.toolsChanged ?? defaultTransportOptions.toolsChanged,
    relistGrace: options.relistGrace ?? defaultTransportOptions.relistGrace,
    republishInterval: options.republishInterval ?? defaultTransportOptions.republishInterval,
    drainTimeout: options.drainTimeout ?? defaultTransportOptions.drainTimeout,
    toolsWait: options.toolsWait ?? defaultTransportOptions.toolsWait,
    maxResultBytes: options.maxResultBytes ?? defaultTransportOptions.maxResultBytes,
  };
  const factory = ((endpoint, context) => {
    const reason = whyUndialable(endpoint);
    return reason === undefined
      ? new XiaozhiEndpointConnection(endpoint, context, settings)
      : new UndialableConnection(endpoint, context, settings, reason);
  }) as XiaozhiConnectionFactory;
  return Object.assign(factory, {
    heartbeat,
    probe: tcpProbe,
    configure(next: XiaozhiTransportOptions) {
      checkTransportOptions(next);
      heartbeat.configure({
        ...(next.heartbeatInterval === undefined ? {} : { interval: next.heartbeatInterval }),
        ...(next.heartbeatTimeout === undefined ? {} : { timeout: next.heartbeatTimeout }),
      });
      if (next.callTimeout !== undefined) settings.callTimeout = next.callTimeout;
      if (next.maxPayload !== undefined) settings.maxPayload = next.maxPayload;
      if (next.closeTimeout !== undefined) settings.closeTimeout = next.closeTimeout;
      if (next.readyGrace !== undefined) settings.readyGrace = next.readyGrace;
      if (next.serverInfo !== undefined) settings.serverInfo = next.serverInfo;
      if (next.toolsChanged !== undefined) settings.toolsChanged = next.toolsChanged;
      if (next.relistGrace !== undefined) settings.relistGrace = next.relistGrace;
      if (next.republishInterval !== undefined) settings.republishInterval = next.republishInterval;
      if (next.drainTimeout !== undefined) settings.drainTimeout = next.drainTimeout;
      if (next.toolsWait !== undefined) settings.toolsWait = next.toolsWait;
      if (next.maxResultBytes !== undefined) settings.maxResultBytes = next.maxResultBytes;
    },
    dispose() {
      heartbeat.stop();
    },
  });
}

export interface XiaozhiConnectionManagerOptions
  extends Omit<ConnectionManagerOptions<XiaozhiEndpointConnection>, "connectionFactory"> {
  /** Defaults to `xiaozhiConnectionFactory(transport)`. */
  readonly connectionFactory?: ConnectionFactory<XiaozhiEndpointConnection>;
  readonly transport?: XiaozhiTransportOptions;
}

/**
 * The ConnectionManager wired to Xiaozhi WebSocket endpoints, under xiaozhi-client's name for it.
 * Beside core's checks it refuses, with `INVALID_ENDPOINT` and before anything changes, an endpoint
 * that is not a ws:// or wss:// URL, however it is given (`initialize`, `addEndpoint`, `reconcile`,
 * `apply`).
 */
export class XiaozhiConnectionManager extends ConnectionManager<XiaozhiEndpointConnection> {
  constructor(options: XiaozhiConnectionManagerOptions = {}) {
    const { transport, connectionFactory, ...rest } = options;
    super({ ...rest, connectionFactory: connectionFactory ?? xiaozhiConnectionFactory(transport) });
  }

  /** As `ConnectionManager.initialize`; an endpoint that is not ws:// or wss:// throws `INVALID_ENDPOINT`. */
  override async initialize(
    endpoints: readonly EndpointInput[],
    tools?: ToolSource,
  ): Promise<ReconcileResult> {
    // Checked before the tool source is set, so a refused list changes nothing at all.
    refuseUndialable(endpoints);
    return super.initialize(endpoints, tools);
  }

  /** As `ConnectionManager.addEndpoint`; one that is not ws:// or wss:// throws `INVALID_ENDPOINT`. */
  override async addEndpoint(input: EndpointInput): Promise<EndpointStatus> {
    refuseUndialable([input]);
    return super.addEndpoint(input);
  }

  /**
   * As `ConnectionManager.apply`; an endpoint that is not ws:// or wss:// throws `INVALID_ENDPOINT`.
   * `reconcile` applies its list through here.
   */
  override apply(desired: readonly EndpointInput[], removedBecause?: (id: string) => string): ListApplied {
    refuseUndialable(desired);
    return super.apply(desired, removedBecause);
  }
}

/**
 * One XiaozhiConnectionManager per process, as xiaozhi-client's singleton of that name; over
 * WebSocket endpoints by default.
 */
export const XiaozhiConnectionManagerSingleton = createConnectionManagerSingleton<XiaozhiEndpointConnection>(
  () => ({
    connectionFactory: xiaozhiConnectionFactory(),
  }),
);
