import type { Connection, ConnectionEventMap, ConnectionState } from "@xiaozhi-connect/core";
import { Emitter } from "@xiaozhi-connect/core";
import { type CallExtras, McpService, type McpServiceOptions, type ServiceState } from "./mcp-service.js";
import type { ReplicaConfig } from "./service-config.js";

const connectionStates: Readonly<Record<ServiceState, ConnectionState>> = {
  up: "connected",
  starting: "connecting",
  down: "disconnected",
  stopped: "stopped",
};

/** One replica of a service as a core `Connection`, so a ConnectionManager can supervise it. */
export class ReplicaConnection implements Connection {
  readonly specificationVersion = "v1" as const;
  readonly #events = new Emitter<ConnectionEventMap>();
  readonly service: McpService;

  constructor(
    readonly id: string,
    readonly index: number,
    name: string,
    config: ReplicaConfig,
    options: McpServiceOptions,
  ) {
    this.service = new McpService(name, config, {
      ...options,
      onClosed: (reason) =>
        this.#events.emit("closed", { code: 1006, reason, retryable: true, at: Date.now() }),
    });
  }

  get state(): ConnectionState {
    return connectionStates[this.service.state];
  }

  on<K extends keyof ConnectionEventMap>(event: K, listener: (payload: ConnectionEventMap[K]) => void) {
    return this.#events.on(event, listener);
  }

  /** Starts the replica's service; the signal (handshake deadline, stop) ends its process. */
  connect(signal: AbortSignal): Promise<void> {
    return this.service.start(signal);
  }

  close(): Promise<void> {
    return this.service.stop();
  }

  async ping(signal?: AbortSignal): Promise<number> {
    const ms = await this.service.ping(signal);
    this.#events.emit("rtt", { ms, at: Date.now() });
    return ms;
  }

  callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal,
    extras?: CallExtras,
  ) {
    return this.service.callTool(name, args, signal, extras);
  }
}
