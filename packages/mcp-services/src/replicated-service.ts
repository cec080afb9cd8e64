import { type CallToolResult, ErrorCode, McpError, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  ConnectError,
  type Connection,
  type ConnectionEventMap,
  ConnectionManager,
  type ConnectionState,
  Emitter,
  type HealthScorer,
  type Logger,
  type ResolvedEndpoint,
  silentLogger,
} from "@xiaozhi-connect/core";
import { healthScorer } from "@xiaozhi-connect/health";
import { McpService, type McpServiceOptions, noDeadline, type ServiceState } from "./mcp-service.js";
import type { ReplicaConfig, ReplicatedServiceConfig } from "./service-config.js";

const connectionStates: Readonly<Record<ServiceState, ConnectionState>> = {
  up: "connected",
  starting: "connecting",
  down: "disconnected",
  stopped: "stopped",
};

/** One replica of a service as a core `Connection`, so a ConnectionManager can supervise it. */
export class ReplicaConnection implements Connection {
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
      restart: false,
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

  async connect(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const abandon = () => void this.service.stop();
    signal.addEventListener("abort", abandon, { once: true });
    try {
      await this.service.start();
    } finally {
      signal.removeEventListener("abort", abandon);
    }
    signal.throwIfAborted();
    if (this.service.state !== "up") {
      throw new ConnectError("CONNECT_FAILED", this.service.lastError ?? "replica did not start");
    }
  }

  close(): Promise<void> {
    return this.service.stop();
  }

  async ping(signal?: AbortSignal): Promise<number> {
    const ms = await this.service.ping(signal);
    this.#events.emit("rtt", { ms, at: Date.now() });
    return ms;
  }

  callTool(name: string, args: Record<string, unknown> | undefined, signal: AbortSignal) {
    return this.service.callTool(name, args, signal);
  }
}

export interface ReplicatedServiceOptions extends Omit<McpServiceOptions, "restart" | "onClosed"> {
  readonly strategies?: StrategyRegistry;
  /** Scores replicas and ejects failing ones; default a fresh `healthScorer()`. */
  readonly healthScorer?: HealthScorer;
}

/** The state of one replica for status pages. */
export interface ReplicaStatus {
  readonly index: number;
  readonly state: ConnectionState;
  readonly healthScore: number;
  readonly inflight: number;
  readonly lastError?: string;
}

/**
 * A service with several interchangeable replicas. A core ConnectionManager keeps each replica
 * up (restarts with backoff), a Strategy with health scoring picks one per call, and a call
 * moves to another replica only when it provably never reached the first, or when the tool says
 * it is idempotent (`annotations.idempotentHint`). Nothing else runs twice.
 */
export class ReplicatedService {
  readonly #manager: ConnectionManager<ReplicaConnection>;
  readonly #replicas: readonly string[];
  readonly #health: HealthScorer;
  readonly #ownsHealth: boolean;
  readonly #onToolsChanged: (() => void) | undefined;
  #stopped = true;
  #announced = "[]";

  constructor(
    readonly name: string,
    readonly config: ReplicatedServiceConfig,
    options: ReplicatedServiceOptions = {},
  ) {
    if (config.replicas.length === 0) {
      throw new ConnectError("INVALID_CONFIG", `service ${name} declares an empty replicas list`);
    }
    const strategies = options.strategies ?? StrategyRegistry.withBuiltins();
    const strategy = strategies.create(config.strategy ?? "least-inflight");
    this.#ownsHealth = options.healthScorer === undefined;
    this.#health = options.healthScorer ?? healthScorer();
    const logger: Logger = options.logger ?? silentLogger;
    const replicaUrl = (index: number) => `replica://${encodeURIComponent(name)}/${index}`;
    this.#replicas = config.replicas.map((_, index) => replicaUrl(index));
    const indexOf = (endpoint: ResolvedEndpoint) => this.#replicas.indexOf(endpoint.url);
    this.#manager = new ConnectionManager<ReplicaConnection>({
      strategy,
      healthScorer: this.#health,
      logger,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.minUptime === undefined ? {} : { minUptime: options.minUptime }),
      connectionFactory: (endpoint) => {
        const index = indexOf(endpoint);
        const replica = config.replicas[index];
        if (!replica) throw new ConnectError("INVALID_CONFIG", `unknown replica ${endpoint.masked}`);
        return new ReplicaConnection(endpoint.id, index, name, replica, {
          ...options,
          logger,
          onToolsChanged: () => this.#toolsMayHaveChanged(),
        });
      },
    });
    this.#onToolsChanged = options.onToolsChanged;
    this.#manager.on("stateChanged", () => this.#toolsMayHaveChanged());
  }

  get state(): ServiceState {
    if (this.#stopped) return "stopped";
    const states = this.#manager.getConnections().map((c) => c.service.state);
    if (states.includes("up")) return "up";
    return states.includes("starting") ? "starting" : "down";
  }

  /** The tools of a replica that is up (replicas serve the same tools); empty while none is. */
  get tools(): readonly Tool[] {
    return this.#upReplica()?.service.tools ?? [];
  }

  get lastError(): string | undefined {
    if (this.state === "up") return undefined;
    return this.#manager.getConnectionStatus().find((s) => s.lastError)?.lastError;
  }

  replicas(): ReplicaStatus[] {
    return this.#manager.getConnectionStatus().map((status) => {
      const connection = this.#manager.getConnection(status.id);
      return {
        index: connection?.index ?? -1,
        state: status.state,
        healthScore: status.healthScore,
        inflight: status.inflight,
        ...(status.lastError === undefined ? {} : { lastError: status.lastError }),
      };
    });
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#manager.initialize(this.#replicas);
    await this.#manager.connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#manager.cleanup();
    if (this.#ownsHealth) (this.#health as { dispose?: () => void }).dispose?.();
  }

  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    const idempotent = this.tools.find((t) => t.name === name)?.annotations?.idempotentHint === true;
    // Without the hint only the manager's own failover runs: it retries only never-reached calls.
    const tries = idempotent ? this.#replicas.length : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#manager.dispatch((replica, deadline) => replica.callTool(name, args, deadline), {
          signal,
          timeout: noDeadline,
        });
      } catch (error) {
        if (attempt >= tries || signal.aborted || !diedUnderCall(error)) throw error;
        // The replica died under the call, which may have run; the tool says running it again is safe.
      }
    }
  }

  /** Tells the listener only when the offered list really changed, not on every replica flap. */
  #toolsMayHaveChanged(): void {
    const now = JSON.stringify(this.tools);
    if (now === this.#announced) return;
    this.#announced = now;
    this.#onToolsChanged?.();
  }

  #upReplica(): ReplicaConnection | undefined {
    return this.#manager.getConnections().find((c) => c.service.state === "up");
  }
}

/** The SDK's error for a request whose connection closed before the answer came. */
function diedUnderCall(error: unknown): boolean {
  return error instanceof McpError && error.code === ErrorCode.ConnectionClosed;
}
