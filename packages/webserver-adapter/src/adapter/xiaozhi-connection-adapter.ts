import type { StrategyRegistry } from "@xiaozhi-connect/balancer";
import type {
  Connection,
  ConnectionFactory,
  ConnectionManager,
  EndpointStatus,
  HealthScorer,
  Logger,
  Strategy,
  ToolDescriptor,
  ToolSource,
} from "@xiaozhi-connect/core";
import { settleLogged } from "@xiaozhi-connect/core/internal";
import { inject, injectable } from "tsyringe";
import type { ClusterCoordinator } from "../cluster.js";
import type { ConfigFile, ConfigStatus } from "../config/config-file.js";
import { endpointIdOf, endpointToAdd } from "../config/endpoints.js";
import type { XiaozhiConfig } from "../config/schema.js";
import {
  ClockToken,
  ClusterToken,
  ConfigFileToken,
  ConfigToken,
  ConnectionFactoryToken,
  ConnectionManagerToken,
  HealthScorerToken,
  LoggerToken,
  StrategyRegistryToken,
  StrategyToken,
  ToolSourceToken,
} from "../di/tokens.js";
import { ActivityHistory } from "../history/activity-history.js";
import { CallLog } from "../history/call-log.js";
import { ClientAdmin, type McpClientInfo, type McpClientLimits } from "./client-admin.js";
import { ClusterEndpointDirectory } from "./cluster-endpoint-directory.js";
import { ConfigApplier } from "./config-applier.js";
import { type DirectoryHost, type EndpointDirectory, FileEndpointDirectory } from "./endpoint-directory.js";
import { type AdapterEventMap, EventFeed, unknownTool } from "./event-feed.js";
import { ServiceAdmin } from "./service-admin.js";
import { ToolLimits } from "./tool-limits.js";
import type { AdapterStatus, ServiceCatalog, ServiceInfo, ToolInfo } from "./views.js";

/**
 * What a WebServer talks to: connects the configured Xiaozhi endpoints
 * (`initializeXiaozhiConnection`), applies config changes as diffs, adds and removes endpoints and
 * services (writing them to the config file), and reports status and live events with masked URLs.
 *
 * A facade over parts with one job each: the `ConfigApplier` owns the running config and is its one
 * path of change; an `EndpointDirectory` says where the endpoint list lives (the file, or a cluster in
 * Redis) and which endpoints run here; `ServiceAdmin` manages services and tools; the `EventFeed`
 * carries every event to the API, the dashboard, the metrics and the history.
 */
@injectable()
export class XiaozhiConnectionAdapter {
  readonly startedAt: number;
  /** RTT, health, up/down periods and tool calls over time, in bounded memory. */
  readonly history: ActivityHistory;
  /** The opt-in log of tool calls' arguments and results, for debugging; off by default. */
  readonly callLog: CallLog;
  readonly #feed = new EventFeed();
  readonly #applier: ConfigApplier;
  readonly #directory: EndpointDirectory;
  readonly #admin: ServiceAdmin;
  readonly #clients: ClientAdmin;
  readonly #catalog: ServiceCatalog;
  #started = false;
  #joined: Promise<void> | undefined;
  #closed = false;
  #cleanup: Promise<void> | undefined;
  /** Names of the tools offered now; calls of other names are recorded as an unknown tool. */
  #toolNames = new Set<string>();
  readonly #limits: ToolLimits;

  constructor(
    @inject(ConnectionManagerToken) readonly manager: ConnectionManager<Connection>,
    @inject(ToolSourceToken) readonly tools: ToolSource,
    @inject(StrategyRegistryToken) strategies: StrategyRegistry,
    @inject(ConnectionFactoryToken) private readonly factory: ConnectionFactory<Connection>,
    @inject(LoggerToken) private readonly logger: Logger,
    @inject(ConfigToken) config: XiaozhiConfig,
    @inject(ConfigFileToken) private readonly file: ConfigFile | null,
    @inject(ClockToken) private readonly now: () => number,
    @inject(HealthScorerToken) private readonly health: HealthScorer,
    @inject(StrategyToken) private readonly strategy: Strategy,
    @inject(ClusterToken) readonly cluster: ClusterCoordinator | null,
  ) {
    this.startedAt = now();
    this.history = new ActivityHistory({ now });
    this.callLog = new CallLog({ now });
    this.#catalog = tools as ToolSource & ServiceCatalog;
    this.#directory = cluster ? new ClusterEndpointDirectory(cluster) : new FileEndpointDirectory();
    this.#limits = new ToolLimits({
      tools,
      logger,
      config: () => this.config,
      directory: this.#directory,
      select: (list) => this.#applier.select(list),
      names: () => new Map(this.endpoints().map((e) => [e.id, e.name])),
    });
    this.#applier = new ConfigApplier(config, {
      manager,
      factory,
      health,
      tools,
      catalog: this.#catalog,
      strategies,
      strategy,
      directory: this.#directory,
      file,
      logger,
      now,
      wrapTools: (source) => this.callLog.wrap(source),
      onStatus: (status) => {
        if (!this.#closed) this.#limits.check();
        this.#feed.emit("config", status);
      },
    });
    this.#admin = new ServiceAdmin(tools, this.#catalog, this.#applier);
    this.#clients = new ClientAdmin(this.#applier);
    this.#feed.follow({
      manager,
      history: this.history,
      directory: this.#directory,
      offers: (name) => this.#toolNames.has(name),
    });
    this.#feed.hold(
      tools.onToolsChanged(
        () =>
          void this.#refreshToolNames().then((list) => {
            if (!this.#closed) this.#limits.check();
            this.#feed.emit("tools", { tools: list });
          }),
      ),
    );
    this.#feed.hold(
      this.#catalog.onStatusChanged?.(() => this.#feed.emit("services", { services: this.services() })),
    );
  }

  get config(): XiaozhiConfig {
    return this.#applier.config;
  }

  /** Settles once every service's first start attempt has (endpoints never wait for it). */
  get servicesStarted(): Promise<void> {
    return this.#applier.servicesStarted;
  }

  /** The strategy used while the config names none: the injected one (round-robin by default). */
  get defaultStrategy(): Strategy {
    return this.strategy;
  }

  on<K extends keyof AdapterEventMap>(event: K, listener: (payload: AdapterEventMap[K]) => void): () => void {
    return this.#feed.on(event, listener);
  }

  /**
   * Applies the config to the empty state (services start, endpoints connect, both at once) and,
   * with a config file, follows its changes. Resolves once every endpoint's first attempt has
   * settled. Throws `INVALID_CONFIG`, `UNKNOWN_STRATEGY`… for a config that cannot run, having
   * started nothing.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#join();
    await this.#applier.apply(this.#applier.config, "start");
    await this.#refreshToolNames();
    this.file?.watch((read) => this.#applier.applyRead(read));
    void this.servicesStarted.then(() => this.#feed.emit("services", { services: this.services() }));
  }

  /**
   * The entry point users of the original design know. `mcpEndpoint` may be one URL or a list
   * (strings or `{url,…}` objects). Placeholders (`<请填写...>`), empty and non-ws(s) entries are
   * skipped with a warning that names them masked; with no valid endpoint it warns and returns
   * without throwing. `tools` defaults to the adapter's live tool source; a fixed list is served as
   * given and its calls go to the tool source. In cluster mode the list becomes the cluster's (every
   * instance applies it) and this instance runs its share.
   */
  async initializeXiaozhiConnection(
    mcpEndpoint: XiaozhiConfig["mcpEndpoint"],
    tools?: ToolSource | readonly ToolDescriptor[],
  ): Promise<void> {
    if (tools !== undefined) {
      this.#applier.chooseTools(Array.isArray(tools) ? this.#fixed(tools) : (tools as ToolSource));
    }
    await this.#join();
    await this.#directory.replace(mcpEndpoint);
    await this.#refreshToolNames();
  }

  /**
   * Applies a config as a diff: timings and strategy, services and tool switches, then endpoints
   * (unchanged ones keep their sockets). A config that cannot be applied throws and changes nothing.
   */
  applyConfig(next: XiaozhiConfig): Promise<void> {
    return this.#applier.apply(next, "code");
  }

  /**
   * Adds an endpoint, connects it and saves it (normalised, as `{url, name}` when named). Throws
   * `INVALID_ENDPOINT` for a URL that cannot be one, `DUPLICATE_ENDPOINT` for one already there
   * however it is spelled; of N concurrent adds of one URL exactly one succeeds.
   */
  addEndpoint(url: string, name?: string): Promise<EndpointStatus> {
    return this.#directory.add(endpointToAdd(url, name));
  }

  /** Closes an endpoint (by id or URL, as below) with 1000 and removes it; false when unknown. */
  removeEndpoint(idOrUrl: string): Promise<boolean> {
    return this.#directory.remove(endpointIdOf(idOrUrl));
  }

  /** Drops and reopens a link now (elsewhere in a cluster); throws `UNKNOWN_ENDPOINT`. */
  async reconnect(idOrUrl: string): Promise<EndpointStatus> {
    const id = endpointIdOf(idOrUrl);
    if (!this.manager.getEndpointStatus(id)) {
      const status = this.#directory.endpoint(id, undefined);
      if (status && (await this.#directory.reconnectElsewhere(id))) return status;
    }
    return this.manager.reconnect(id);
  }

  /** Whether `idOrUrl` names an endpoint (in cluster mode: of the cluster, wherever it runs). */
  hasEndpoint(idOrUrl: string): boolean {
    const id = endpointIdOf(idOrUrl);
    return this.#directory.endpoint(id, this.manager.getEndpointStatus(id)) !== undefined;
  }

  /**
   * Every endpoint. In cluster mode: every endpoint of the cluster, each with `instance`, the
   * instance holding it (`null` while none does).
   */
  endpoints(): EndpointStatus[] {
    return this.#directory.endpoints(this.manager.getConnectionStatus());
  }

  /** The endpoints this process runs (in cluster mode: those it holds). */
  localEndpoints(): EndpointStatus[] {
    return this.manager.getConnectionStatus();
  }

  /** {@inheritDoc ServiceAdmin.listTools} */
  listTools(): Promise<ToolInfo[]> {
    return this.#admin.listTools();
  }

  /** The MCP clients allowed on `/mcp`, without their tokens. */
  clients(): McpClientInfo[] {
    return this.#clients.list();
  }

  /** {@inheritDoc ClientAdmin.add} */
  addClient(name: string, limits?: McpClientLimits): Promise<{ client: McpClientInfo; token: string }> {
    return this.#clients.add(name, limits);
  }

  /** {@inheritDoc ClientAdmin.remove} */
  removeClient(name: string): Promise<boolean> {
    return this.#clients.remove(name);
  }

  /**
   * Records a tool call an MCP client made on `/mcp`, beside the agents' calls: in recent calls
   * and history as `client:<name>`, and in the call metrics.
   */
  recordClientCall(client: string, tool: string, ms: number, ok: boolean): void {
    this.#feed.emit(
      "call",
      this.history.call({
        at: this.now(),
        endpoint: `client:${client}`,
        agent: client,
        tool: this.#toolNames.has(tool) ? tool : unknownTool,
        ms: Math.round(ms * 10) / 10,
        ok,
      }),
    );
  }

  /** {@inheritDoc ServiceAdmin.setToolEnabled} */
  setToolEnabled(name: string, enabled: boolean): Promise<ToolInfo> {
    return this.#admin.setToolEnabled(name, enabled);
  }

  /** {@inheritDoc ServiceAdmin.services} */
  services(): ServiceInfo[] {
    return this.#admin.services();
  }

  /** {@inheritDoc ServiceAdmin.addService} */
  addService(name: string, entry: unknown): Promise<ServiceInfo> {
    return this.#admin.addService(name, entry);
  }

  /** {@inheritDoc ServiceAdmin.updateService} */
  updateService(name: string, entry: unknown): Promise<ServiceInfo> {
    return this.#admin.updateService(name, entry);
  }

  /** {@inheritDoc ServiceAdmin.removeService} */
  removeService(name: string): Promise<boolean> {
    return this.#admin.removeService(name);
  }

  /** {@inheritDoc ServiceAdmin.restartService} */
  restartService(name: string): Promise<ServiceInfo> {
    return this.#admin.restartService(name);
  }

  configStatus(): ConfigStatus {
    return this.#applier.status();
  }

  /** The adapter's status; `endpoints` when the caller has just read them (they are counted). */
  status(version: string, endpoints: readonly EndpointStatus[] = this.endpoints()): AdapterStatus {
    const view = this.#directory.view();
    const toolFilters = this.#limits.filters();
    const toolBudget = this.#limits.budgets();
    return {
      version,
      startedAt: this.startedAt,
      config: this.configStatus(),
      endpoints: { total: endpoints.length, connected: endpoints.filter((e) => e.connected).length },
      ...(toolFilters ? { toolFilters } : {}),
      ...(toolBudget ? { toolBudget } : {}),
      ...(view ? { cluster: view } : {}),
    };
  }

  /**
   * Stops following the file, closes every endpoint with 1000, and disposes of the tool source (once:
   * it stops the services), factory and scorer that have `dispose`; one that throws is only logged.
   */
  cleanup(): Promise<void> {
    this.#cleanup ??= this.#cleanUp();
    return this.#cleanup;
  }

  async #cleanUp(): Promise<void> {
    this.#closed = true;
    this.file?.close();
    // In a cluster the others take the endpoints a batch at a time while the services still answer.
    await this.#directory.drain().catch(() => {});
    // No change commits once the applier closes, so one dispose of the tool source (its contract)
    // still stops what a change under way started; the links that change had begun close again.
    const applying = this.#applier.close();
    const disposing = settleLogged(this.logger, "the tool source's dispose", () => this.tools.dispose?.());
    await Promise.all([applying, this.manager.cleanup(), disposing]);
    await this.manager.cleanup();
    // The links are closed: now the leases go, and the other instances take the endpoints at once.
    await settleLogged(this.logger, "stopping the endpoint directory", () => this.#directory.stop());
    await settleLogged(this.logger, "the connection factory's dispose", () => this.factory.dispose?.());
    await settleLogged(this.logger, "the health scorer's dispose", () => this.health.dispose?.());
    this.#feed.close(this.now());
  }

  /** Starts the directory once (joins the cluster), before the first apply. */
  #join(): Promise<void> {
    this.#joined ??= this.#directory.start(this.#host());
    return this.#joined;
  }

  #host(): DirectoryHost {
    const applier = this.#applier;
    return {
      manager: this.manager,
      feed: this.#feed,
      logger: this.logger,
      config: () => applier.config,
      hasFile: this.file !== null,
      serially: (task) => applier.serially(task),
      change: (edit) => applier.change(edit),
      apply: (config) => applier.applyNow(config, "code"),
      reapply: () => applier.applyNow(applier.config, "cluster"),
      // Not once the stop began: the cluster hands over what runs here, and nothing re-applies.
      reapplySoon: () => {
        if (!this.#closed) applier.reapplySoon();
      },
      closed: () => this.#closed,
    };
  }

  async #refreshToolNames(): Promise<ToolInfo[]> {
    const list = await this.listTools();
    this.#toolNames = new Set(list.map((t) => t.name));
    return list;
  }

  #fixed(tools: readonly ToolDescriptor[]): ToolSource {
    return {
      specificationVersion: "v1",
      listTools: () => tools,
      callTool: (name, args, options) => this.tools.callTool(name, args, options),
      onToolsChanged: () => () => {},
    };
  }
}
