import {
  type ConnectionFactory,
  ConnectionManager,
  type ConnectionManagerOptions,
  createConnectionManagerSingleton,
} from "@xiaozhi-connect/core";
import { defaultHeartbeat, HeartbeatWheel } from "./heartbeat.js";
import { defaultMaxResultBytes } from "./result-budget.js";
import { tcpProbe } from "./tcp-probe.js";
import type { ToolsChangedMode } from "./tools-publisher.js";
import { type XiaozhiConnectionOptions, XiaozhiEndpointConnection } from "./xiaozhi-endpoint-connection.js";

/** Transport settings; every field has a default. Times in ms. */
export interface XiaozhiTransportOptions {
  /** WebSocket ping period; default 30000. */
  readonly heartbeatInterval?: number;
  /** An unanswered ping ends the link after this; default 10000. */
  readonly heartbeatTimeout?: number;
  /** Tool-call deadline; default 300000. */
  readonly callTimeout?: number;
  /** Largest inbound frame in bytes; default 1048576. */
  readonly maxPayload?: number;
  /** Wait for the far side's close frame; default 2000. */
  readonly closeTimeout?: number;
  /** A new link counts as connected once initialized or open this long without a close; default 1000. */
  readonly readyGrace?: number;
  readonly serverInfo?: { readonly name: string; readonly version: string };
  /** How agents learn of changed tools: `auto` (default), `notify` or `reconnect` (see `ToolsChangedMode`). */
  readonly toolsChanged?: ToolsChangedMode;
  /** `auto`: wait this long for the agent to re-list before republishing by reconnecting; default 2000. */
  readonly relistGrace?: number;
  /** Republishes of one endpoint: 5 at once, then one per this many ms; default 10000. */
  readonly republishInterval?: number;
  /** A republish waits at most this long for the link's running calls; default 30000. */
  readonly drainTimeout?: number;
  /** A `tools/list` waits at most this long for services still starting for the first time; default 5000. */
  readonly toolsWait?: number;
  /** Largest `tools/call` answer in bytes; larger results are cut to fit. Default 8192; 0: no limit. */
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

/** Builds the factory that makes one `XiaozhiEndpointConnection` per endpoint. */
export function xiaozhiConnectionFactory(options: XiaozhiTransportOptions = {}): XiaozhiConnectionFactory {
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
  const factory = ((endpoint, context) =>
    new XiaozhiEndpointConnection(endpoint, context, settings)) as XiaozhiConnectionFactory;
  return Object.assign(factory, {
    heartbeat,
    probe: tcpProbe,
    configure(next: XiaozhiTransportOptions) {
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

/** The ConnectionManager wired to Xiaozhi WebSocket endpoints, under xiaozhi-client's name for it. */
export class XiaozhiConnectionManager extends ConnectionManager<XiaozhiEndpointConnection> {
  constructor(options: XiaozhiConnectionManagerOptions = {}) {
    const { transport, connectionFactory, ...rest } = options;
    super({ ...rest, connectionFactory: connectionFactory ?? xiaozhiConnectionFactory(transport) });
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
