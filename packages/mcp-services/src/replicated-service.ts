import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  type BackoffOptions,
  ConnectionManager,
  type ConnectionState,
  type EndpointDescriptor,
  type HealthScorer,
  type Logger,
  silentLogger,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { healthScorer } from "@xiaozhi-connect/health";
import { type CallExtras, type McpServiceOptions, noDeadline, type ServiceState } from "./mcp-service.js";
import { ReplicaConnection } from "./replica-connection.js";
import {
  defaultHandshakeTimeout,
  isReplicated,
  type ReplicaConfig,
  type ServiceConfig,
} from "./service-config.js";
import { callerReason, callFailure, diedUnderCall, ownStrategyOf } from "./service-errors.js";

export interface ReplicatedServiceOptions extends Omit<McpServiceOptions, "onClosed"> {
  /** Restart backoff; default 1 s ×2 up to 60 s, full jitter. */
  readonly backoff?: Partial<BackoffOptions>;
  /** A replica that stays up this long resets its backoff; default 10000 ms. */
  readonly minUptime?: number;
  /** Uniform random in [0, 1) for the backoff's jitter; default Math.random. */
  readonly random?: () => number;
  readonly strategies?: StrategyRegistry;
  /** Called whenever a replica's state changes (starting, up, down, restart scheduled). */
  readonly onStatusChanged?: () => void;
  /** Scores replicas and ejects failing ones; default a fresh `healthScorer()`. */
  readonly healthScorer?: HealthScorer;
  /**
   * How long a service that was up keeps its tools listed while it is down and restarting, in ms;
   * default 30000, 0 drops them at once. A crash followed by a restart then changes no agent's
   * list (agents that read the list only at connect would be reconnected for nothing); calls
   * meanwhile fail with "restarting".
   */
  readonly toolsHold?: number;
  /**
   * The strategy of a replicated service that names none (`strategy` in its config wins); default
   * `least-inflight`. Looked up in `strategies`.
   */
  readonly strategy?: string;
  /** Scoring and ejection settings for the replicas' own scorer (the config's `health` block). */
  readonly health?: Readonly<Record<string, unknown>>;
}

/** What `configure` may change on a running service. */
export interface ServiceSettings {
  readonly toolsHold?: number;
  readonly strategy?: string;
  readonly health?: Readonly<Record<string, unknown>>;
}

/** How long a restarting service keeps its tools listed unless told otherwise, ms. */
export const defaultToolsHold = 30_000;

/** The state of one replica for status pages. */
export interface ReplicaStatus {
  readonly index: number;
  readonly state: ConnectionState;
  readonly healthScore: number;
  readonly inflight: number;
  readonly lastError?: string;
}

/**
 * A service under supervision: one replica for a plain service, several interchangeable ones for a
 * replicated one. A core ConnectionManager keeps each replica up (restarts with backoff, a deadline
 * on every handshake), a Strategy with health scoring picks one per call, and a call moves to
 * another replica only when it provably never reached the first, or when the tool says it is
 * idempotent (`annotations.idempotentHint`). Nothing else runs twice.
 */
export class ReplicatedService {
  readonly #manager: ConnectionManager<ReplicaConnection>;
  readonly #replicas: readonly EndpointDescriptor[];
  readonly #health: HealthScorer;
  readonly #ownsHealth: boolean;
  readonly #onToolsChanged: (() => void) | undefined;
  /** True when the config declares `replicas`; a plain service is supervised as one replica. */
  readonly replicated: boolean;
  readonly #strategies: StrategyRegistry;
  /** The strategy the service's own config names, which no global default overrides. */
  readonly #ownStrategy: string | undefined;
  #stopped = true;
  #announced = "[]";
  #restarts = 0;
  /** The first start while it runs: what a `tools/list` may wait for (see `ToolSource.ready`). */
  #firstStart: Promise<void> | undefined;
  #toolsHold: number;
  /** The tools of the last replica up, kept while the service restarts (see `toolsHold`). */
  #held: readonly Tool[] | undefined;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  /** The hold ran out during this outage: no new one until a replica is up again. */
  #holdExpired = false;
  /** The list last announced, as `#announced` says it in JSON. */
  #announcedTools: readonly Tool[] = [];

  constructor(
    readonly name: string,
    readonly config: ServiceConfig,
    options: ReplicatedServiceOptions = {},
  ) {
    const replicas = isReplicated(config) ? config.replicas : [config];
    if (replicas.length === 0) {
      throw new XiaozhiError("INVALID_CONFIG", `service ${name} declares an empty replicas list`);
    }
    this.replicated = isReplicated(config);
    this.#toolsHold = options.toolsHold ?? defaultToolsHold;
    this.#strategies = options.strategies ?? StrategyRegistry.withBuiltins();
    this.#ownStrategy = (isReplicated(config) && config.strategy) || undefined;
    const strategy = ownStrategyOf(name, this.#ownStrategy, () =>
      this.#strategies.create(this.#ownStrategy ?? options.strategy ?? "least-inflight"),
    );
    this.#ownsHealth = options.healthScorer === undefined;
    this.#health = options.healthScorer ?? healthScorer();
    if (options.health) this.#health.configure?.(options.health);
    const logger = serviceLogger(options.logger ?? silentLogger, name);
    // Replicas are endpoints known by id; the factory gets each one's index as opaque data.
    this.#replicas = replicas.map((_, index) => ({
      id: `${name}#${index}`,
      label: replicas.length > 1 ? `${name} replica ${index}` : name,
      data: index,
    }));
    this.#manager = new ConnectionManager<ReplicaConnection>({
      strategy,
      healthScorer: this.#health,
      logger,
      connectTimeout: config.handshakeTimeout ?? defaultHandshakeTimeout,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.minUptime === undefined ? {} : { minUptime: options.minUptime }),
      ...(options.random === undefined ? {} : { random: options.random }),
      connectionFactory: (endpoint) => {
        const index = endpoint.data as number;
        const replica = replicas[index] as ReplicaConfig;
        return new ReplicaConnection(endpoint.id, index, name, replica, {
          ...options,
          logger,
          onToolsChanged: () => this.#toolsMayHaveChanged(),
        });
      },
    });
    this.#onToolsChanged = options.onToolsChanged;
    this.#manager.on("stateChanged", () => {
      this.#toolsMayHaveChanged();
      options.onStatusChanged?.();
    });
    this.#manager.on("reconnectScheduled", () => {
      this.#restarts++;
      options.onStatusChanged?.();
    });
  }

  get state(): ServiceState {
    if (this.#stopped) return "stopped";
    const states = this.#manager.getConnections().map((c) => c.service.state);
    if (states.includes("up")) return "up";
    // Its first start is under way before any replica's is: that is starting, not down.
    return states.includes("starting") || this.#firstStart !== undefined ? "starting" : "down";
  }

  /**
   * The tools of a replica that is up (replicas serve the same tools); while none is, those of the
   * last one up during `toolsHold`, else none.
   */
  get tools(): readonly Tool[] {
    return this.#upReplica()?.service.tools ?? this.#held ?? [];
  }

  /** The first start while it is under way; undefined once it settled (or before `start()`). */
  get firstStart(): Promise<void> | undefined {
    return this.#firstStart;
  }

  /**
   * Applies new settings: how long a restarting service keeps its tools listed (from the next drop
   * on), the default strategy (unless the service names its own; from the next call on), and the
   * replicas' scoring and ejection settings. Throws `UNKNOWN_STRATEGY` for a name not registered.
   */
  configure(settings: ServiceSettings): void {
    if (settings.toolsHold !== undefined) this.#toolsHold = settings.toolsHold;
    // The same name keeps the instance it has, and with it the strategy's state (a cursor).
    const strategy = settings.strategy;
    if (
      strategy !== undefined &&
      this.#ownStrategy === undefined &&
      strategy !== this.#manager.strategy.name
    ) {
      this.#manager.configure({ strategy: this.#strategies.create(strategy) });
    }
    if (settings.health) this.#health.configure?.(settings.health);
  }

  /** The name of the strategy that picks this service's replicas. */
  get strategy(): string {
    return this.#manager.strategy.name;
  }

  /** Why the service is down, as specific as its replicas know (stderr tail, spawn error, address). */
  get lastError(): string | undefined {
    if (this.state === "up") return undefined;
    for (const connection of this.#manager.getConnections()) {
      if (connection.service.lastError) return connection.service.lastError;
    }
    return this.#manager.getConnectionStatus().find((s) => s.lastError)?.lastError;
  }

  /** Restarts since the service was started, over all its replicas. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Epoch ms since which a replica has been up without a break; undefined while none is. */
  get upSince(): number | undefined {
    let since: number | undefined;
    for (const status of this.#manager.getConnectionStatus()) {
      if (status.connected && status.lastConnected !== undefined)
        since = since === undefined ? status.lastConnected : Math.min(since, status.lastConnected);
    }
    return since;
  }

  /**
   * Stops every replica's process (or link) and starts it again now, also after it gave up; the
   * restart counter counts it (state changes report it to the status listener). Resolves once every replica's attempt has settled.
   */
  async restart(): Promise<void> {
    if (this.#stopped) return;
    this.#restarts++;
    await Promise.allSettled(this.#replicas.map((replica) => this.#manager.reconnect(replica.id as string)));
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

  start(): Promise<void> {
    this.#stopped = false;
    const first = (async () => {
      await this.#manager.initialize(this.#replicas);
      await this.#manager.connect();
    })();
    this.#firstStart = first;
    void first.finally(() => {
      if (this.#firstStart === first) this.#firstStart = undefined;
    });
    return first;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#firstStart = undefined;
    this.#release();
    await this.#manager.cleanup();
    if (this.#ownsHealth) (this.#health as { dispose?: () => void }).dispose?.();
  }

  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal,
    extras?: CallExtras,
  ): Promise<CallToolResult> {
    if (this.#held && !this.#upReplica()) {
      // Listed from before the drop: say so rather than "no healthy connection".
      const why = this.lastError ? `: ${callerReason(this.lastError)}` : "";
      throw new XiaozhiError("NOT_CONNECTED", `service ${this.name} is restarting${why}`);
    }
    const idempotent = this.tools.find((t) => t.name === name)?.annotations?.idempotentHint === true;
    // Without the hint only the manager's own failover runs: it retries only never-reached calls.
    const tries = idempotent ? this.#replicas.length : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#manager.dispatch(
          (replica, deadline) => replica.callTool(name, args, deadline, extras),
          {
            signal,
            timeout: noDeadline,
          },
        );
      } catch (error) {
        if (attempt >= tries || signal.aborted || !diedUnderCall(error)) throw callFailure(this, error);
        // The replica died under the call, which may have run; the tool says running it again is safe.
      }
    }
  }

  /** Tells the listener only when the offered list really changed, not on every replica flap. */
  #toolsMayHaveChanged(): void {
    this.#hold();
    const tools = this.tools;
    const now = JSON.stringify(tools);
    if (now === this.#announced) return;
    this.#announced = now;
    this.#announcedTools = tools;
    this.#onToolsChanged?.();
  }

  /**
   * Keeps the tools of the last replica up while none is and the service restarts: from the drop
   * until a replica is up again, the service stops, or `toolsHold` has passed (then they go).
   */
  #hold(): void {
    if (this.#stopped || this.#upReplica()) {
      this.#release();
      this.#holdExpired = false;
      return;
    }
    if (this.#held !== undefined || this.#holdExpired || this.#toolsHold <= 0) return;
    if (this.#announcedTools.length === 0) return;
    this.#held = this.#announcedTools;
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = undefined;
      this.#held = undefined;
      this.#holdExpired = true;
      this.#toolsMayHaveChanged();
    }, this.#toolsHold);
    this.#holdTimer.unref?.();
  }

  #release(): void {
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    this.#held = undefined;
  }

  #upReplica(): ReplicaConnection | undefined {
    return this.#manager.getConnections().find((c) => c.service.state === "up");
  }
}

/** The manager's log lines, about a service rather than an endpoint. */
function serviceLogger(logger: Logger, service: string): Logger {
  const wrap =
    (level: keyof Logger) =>
    (object: Record<string, unknown> | string, message?: string): void => {
      if (typeof object === "string") {
        logger[level]({ service }, object.replace(/^endpoint\b/, "service"));
        return;
      }
      const { endpoint, id: _id, ...rest } = object;
      const replica = typeof endpoint === "string" ? Number(endpoint.split(" ").pop()) : Number.NaN;
      logger[level](
        { service, ...(Number.isInteger(replica) ? { replica } : {}), ...rest },
        message?.replace(/^endpoint\b/, "service"),
      );
    };
  return { debug: wrap("debug"), info: wrap("info"), warn: wrap("warn"), error: wrap("error") };
}
