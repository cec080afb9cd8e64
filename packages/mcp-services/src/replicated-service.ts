import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  ConnectionManager,
  type HealthScorer,
  type Strategy,
  silentLogger,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { raceAbort } from "@xiaozhi-connect/core/internal";
import { healthScorer } from "@xiaozhi-connect/health";
import { type CallExtras, noDeadline, type ServiceState } from "./mcp-service.js";
import { ReplicaConnection } from "./replica-connection.js";
import { ReplicaDrains } from "./replica-drains.js";
import {
  changesInPlace,
  firstReplicas,
  handshakeTimeoutOf,
  nextReplicas,
  type ReplicaPlan,
  replicaEndpoints,
  replicaId,
  serviceLogger,
} from "./replica-plan.js";
import {
  defaultDrainLimit,
  defaultToolsHold,
  type PreparedChange,
  type ReplicaStatus,
  type ReplicatedServiceOptions,
  type ServiceSettings,
} from "./replicated-options.js";
import {
  isReplicated,
  type ReplicaConfig,
  type ReplicatedServiceConfig,
  type ServiceConfig,
} from "./service-config.js";
import { callerReason, callFailure, diedUnderCall, ownStrategyOf } from "./service-errors.js";
import { ToolsHold } from "./tools-hold.js";

/**
 * A service under supervision: one replica for a plain service, several interchangeable ones for a
 * replicated one. A core ConnectionManager keeps each replica up (restarts with backoff, a deadline
 * on every handshake), a Strategy with health scoring picks one per call, and a call moves to
 * another replica only when it provably never reached the first, or when the tool says it is
 * idempotent (`annotations.idempotentHint`). Nothing else runs twice.
 */
export class ReplicatedService {
  readonly #manager: ConnectionManager<ReplicaConnection>;
  /** The replicas, each with its index (the `n` of its id `<service>#<n>`), entry and weight. */
  #plan: ReplicaPlan;
  #config: ServiceConfig;
  readonly #health: HealthScorer;
  readonly #ownsHealth: boolean;
  readonly #onStatusChanged: (() => void) | undefined;
  /** True when the config declares `replicas`; a plain service is supervised as one replica. */
  readonly replicated: boolean;
  readonly #strategies: StrategyRegistry;
  /** The strategy the service's own config names, which no global default overrides. */
  #ownStrategy: string | undefined;
  /** The default strategy it was last given, used while its config names none. */
  #defaultStrategy: string;
  /** Replicas whose entries were removed, stopping once their calls in flight have ended. */
  readonly #drains: ReplicaDrains;
  #stopped = true;
  #restarts = 0;
  /**
   * The first start while it runs, or the start of replicas added while none of the service's own
   * was up: what a `tools/list` (see `ToolSource.ready`) and a call wait for.
   */
  #firstStart: Promise<void> | undefined;
  /** The tools as offered, kept listed a while when no replica is up (see `toolsHold`). */
  readonly #tools: ToolsHold;

  constructor(
    readonly name: string,
    config: ServiceConfig,
    options: ReplicatedServiceOptions = {},
  ) {
    this.#plan = firstReplicas(name, config);
    const connectTimeout = handshakeTimeoutOf(name, config);
    this.#config = config;
    this.replicated = isReplicated(config);
    this.#tools = new ToolsHold(options.toolsHold ?? defaultToolsHold, {
      live: () => this.#upReplica()?.service.tools,
      stopped: () => this.#stopped,
      onChanged: options.onToolsChanged,
    });
    this.#drains = new ReplicaDrains(options.drainLimit ?? defaultDrainLimit, () => {
      this.#tools.changed();
      options.onStatusChanged?.();
    });
    this.#strategies = options.strategies ?? StrategyRegistry.withBuiltins();
    this.#ownStrategy = (isReplicated(config) && config.strategy) || undefined;
    this.#defaultStrategy = options.strategy ?? "least-inflight";
    const strategy = ownStrategyOf(name, this.#ownStrategy, () =>
      this.#strategies.create(this.#ownStrategy ?? this.#defaultStrategy),
    );
    this.#ownsHealth = options.healthScorer === undefined;
    this.#health = options.healthScorer ?? healthScorer();
    if (options.health) this.#health.configure?.(options.health);
    const logger = serviceLogger(options.logger ?? silentLogger, name);
    this.#manager = new ConnectionManager<ReplicaConnection>({
      strategy,
      healthScorer: this.#health,
      logger,
      connectTimeout,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.minUptime === undefined ? {} : { minUptime: options.minUptime }),
      ...(options.random === undefined ? {} : { random: options.random }),
      // Replicas are endpoints known by id; the factory gets each one's index as opaque data.
      connectionFactory: (endpoint) => {
        const index = endpoint.data as number;
        const replica = this.#plan.slots.find((slot) => slot.index === index)?.config as ReplicaConfig;
        return new ReplicaConnection(endpoint.id, index, name, replica, {
          ...options,
          logger,
          onToolsChanged: () => this.#tools.changed(),
        });
      },
    });
    this.#onStatusChanged = options.onStatusChanged;
    this.#manager.on("stateChanged", () => {
      this.#tools.changed();
      options.onStatusChanged?.();
    });
    this.#manager.on("reconnectScheduled", () => {
      this.#restarts++;
      options.onStatusChanged?.();
    });
  }

  /** The config the service runs with, the last one applied in place included. */
  get config(): ServiceConfig {
    return this.#config;
  }

  get state(): ServiceState {
    if (this.#stopped) return "stopped";
    const states = this.#manager.getConnections().map((c) => c.service.state);
    if (states.includes("up")) return "up";
    // Its first start is under way before any replica's is: that is starting, not down.
    return states.includes("starting") || this.#firstStart !== undefined ? "starting" : "down";
  }

  /**
   * The tools of a replica that is up (replicas serve the same tools); while none is, those of a
   * removed one still up and draining (so replacing every replica keeps them listed), else those of
   * the last one up during `toolsHold`, else none.
   */
  get tools(): readonly Tool[] {
    return this.#tools.tools;
  }

  /**
   * The first start while it is under way, or the start of replicas added while none of the
   * service's own was up (every replica replaced); undefined once it settled (or before `start()`).
   */
  get firstStart(): Promise<void> | undefined {
    return this.#firstStart;
  }

  /**
   * Applies new settings: how long a restarting service keeps its tools listed (from the next drop
   * on), the default strategy (unless the service names its own; from the next call on), and the
   * replicas' scoring and ejection settings. Throws `UNKNOWN_STRATEGY` for a name not registered.
   */
  configure(settings: ServiceSettings): void {
    if (settings.toolsHold !== undefined) this.#tools.ms = settings.toolsHold;
    if (settings.strategy !== undefined) {
      this.#defaultStrategy = settings.strategy;
      this.#useStrategy();
    }
    if (settings.health) this.#health.configure?.(settings.health);
  }

  /**
   * Checks a new config for this service and, when the running service can take it in place,
   * returns the change to commit; undefined when it cannot, and the service is to be rebuilt. In
   * place: a replicated service whose new entry is replicated too and differs only in `strategy`,
   * `handshakeTimeout` and `replicas`. Committed, the strategy picks from the next call (the same
   * name keeps its instance), the handshake deadline applies from the next handshake, and the
   * replicas change as a diff (see `ReplicatedServiceConfig.replicas`): a weight applies to the
   * next pick, a replica whose entry stayed keeps its process, id and calls in flight, a removed
   * one drains (see `drainLimit`). While no replica of its own is up, lists and calls wait for the
   * added ones as for a first start. Throws (`INVALID_CONFIG`, `UNKNOWN_STRATEGY`) for a config
   * that cannot run, changing nothing.
   */
  prepareChange(config: ServiceConfig): PreparedChange | undefined {
    if (!this.replicated || !changesInPlace(this.#config, config)) return undefined;
    const own = (config as ReplicatedServiceConfig).strategy || undefined;
    const timeout = handshakeTimeoutOf(this.name, config);
    const running = this.#plan;
    const planned = nextReplicas(this.name, running, config);
    const strategy = own ?? this.#defaultStrategy;
    const made =
      strategy === this.strategy
        ? undefined
        : ownStrategyOf(this.name, own, () => this.#strategies.create(strategy));
    return {
      commit: () => {
        // Planned again when another change came first: the ids to keep are those running now.
        const plan = this.#plan === running ? planned : nextReplicas(this.name, this.#plan, config);
        if (timeout !== this.#manager.settings.connectTimeout) {
          this.#manager.configure({ connectTimeout: timeout });
        }
        this.#config = config;
        this.#ownStrategy = own;
        this.#useStrategy(made);
        const settled = this.#applyPlan(plan);
        this.#onStatusChanged?.();
        return settled;
      },
    };
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
    await Promise.allSettled(
      this.#plan.slots.map((slot) => this.#manager.reconnect(replicaId(this.name, slot.index))),
    );
  }

  /** Its replicas, then the removed ones still draining (see `ReplicaStatus.draining`). */
  replicas(): ReplicaStatus[] {
    const own = this.#manager.getConnectionStatus().map((status): ReplicaStatus => {
      const connection = this.#manager.getConnection(status.id);
      return {
        index: connection?.index ?? -1,
        state: status.state,
        healthScore: status.healthScore,
        inflight: status.inflight,
        ...(status.lastError === undefined ? {} : { lastError: status.lastError }),
      };
    });
    return [...own, ...this.#drains.statuses()];
  }

  start(): Promise<void> {
    this.#stopped = false;
    const first = (async () => {
      await this.#manager.initialize(replicaEndpoints(this.name, this.#plan.slots, this.replicated));
      await this.#manager.connect();
    })();
    this.#awaitStart(first);
    return first;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#firstStart = undefined;
    this.#tools.release();
    // Removed replicas still running calls stop now, with the rest.
    await Promise.allSettled([this.#manager.cleanup(), this.#drains.cut()]);
    if (this.#ownsHealth) (this.#health as { dispose?: () => void }).dispose?.();
  }

  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    signal: AbortSignal,
    extras?: CallExtras,
  ): Promise<CallToolResult> {
    // Every replica was replaced: the call waits for the new ones, as at a first start.
    const starting = this.#firstStart;
    if (starting && !this.#ownUp()) await raceAbort(starting, signal);
    if (this.#tools.holding && !this.#upReplica()) {
      // Listed from before the drop: say so rather than "no healthy connection".
      const why = this.lastError ? `: ${callerReason(this.lastError)}` : "";
      throw new XiaozhiError("NOT_CONNECTED", `service ${this.name} is restarting${why}`);
    }
    const idempotent = this.tools.find((t) => t.name === name)?.annotations?.idempotentHint === true;
    // Without the hint only the manager's own failover runs: it retries only never-reached calls.
    const tries = idempotent ? this.#plan.slots.length : 1;
    // The caller is the affinity key: a strategy that keeps a key on one replica keeps each agent there.
    const key = extras?.caller?.endpointId;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#manager.dispatch(
          (replica, deadline) => replica.callTool(name, args, deadline, extras),
          { signal, timeout: noDeadline, ...(key === undefined ? {} : { key }) },
        );
      } catch (error) {
        if (attempt >= tries || signal.aborted || !diedUnderCall(error)) throw callFailure(this, error);
        // The replica died under the call, which may have run; the tool says running it again is safe.
      }
    }
  }

  /**
   * Picks with the strategy the config names, else the default one; the name running keeps its
   * instance, and with it the strategy's state (a cursor). `made` is one made for that name already.
   */
  #useStrategy(made?: Strategy): void {
    const name = this.#ownStrategy ?? this.#defaultStrategy;
    if (name === this.#manager.strategy.name) return;
    this.#manager.configure({ strategy: made?.name === name ? made : this.#strategies.create(name) });
  }

  /**
   * Runs `plan`'s replicas: kept ones as they are (a new weight applies to the next pick), removed
   * ones retired (they stop once their calls in flight have ended), added ones started. Resolves
   * once the added ones' first attempts have settled.
   */
  #applyPlan(plan: ReplicaPlan): Promise<void> {
    const kept = new Set(plan.slots.map((slot) => slot.index));
    const running = new Set(this.#plan.slots.map((slot) => slot.index));
    const connection = (index: number) => this.#manager.getConnection(replicaId(this.name, index));
    const retired = [...running].filter((index) => !kept.has(index)).flatMap((i) => connection(i) ?? []);
    this.#plan = plan;
    // Stopped, nothing runs: the next start starts the replicas of the plan.
    if (this.#stopped) return Promise.resolve();
    // Retired before they leave the list: one still up stands for the service until one of its own is.
    this.#drains.retire(retired);
    this.#manager.apply(replicaEndpoints(this.name, plan.slots, this.replicated));
    const added = [...kept].filter((index) => !running.has(index));
    const starting = Promise.all(added.map((index) => connection(index)?.firstAttempt)).then(() => {});
    if (added.length > 0 && !this.#ownUp()) this.#awaitStart(starting);
    return starting;
  }

  /** Makes `start` one that lists and calls wait for (see `firstStart`), until it settles. */
  #awaitStart(start: Promise<void>): void {
    const pending = this.#firstStart;
    const first = pending ? Promise.allSettled([pending, start]).then(() => {}) : start;
    this.#firstStart = first;
    void first.finally(() => {
      if (this.#firstStart === first) this.#firstStart = undefined;
    });
  }

  /** A replica that is up: one of its own, else a removed one still draining. */
  #upReplica(): ReplicaConnection | undefined {
    return this.#ownUp() ?? this.#drains.up();
  }

  #ownUp(): ReplicaConnection | undefined {
    return this.#manager.getConnections().find((c) => c.service.state === "up");
  }
}
