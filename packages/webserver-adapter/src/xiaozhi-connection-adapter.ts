import type { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  ConnectError,
  type Connection,
  type ConnectionFactory,
  type ConnectionManager,
  Emitter,
  type EndpointStatus,
  endpointId,
  type HealthScorer,
  type Logger,
  type ManagerEventMap,
  normalizeEndpointUrl,
  serviceOf,
  type ToolDescriptor,
  type ToolSource,
} from "@xiaozhi-connect/core";
import { McpServiceManager, type ServiceStatus } from "@xiaozhi-connect/mcp-services";
import type { XiaozhiTransportOptions } from "@xiaozhi-connect/transport-ws";
import { inject, injectable } from "tsyringe";
import {
  managerSettingsOf,
  selectEndpoints,
  servicesOf,
  toolSwitchesOf,
  transportOptionsOf,
  whyInvalid,
  withConnectionDefaults,
  type XiaozhiConfig,
} from "./config.js";
import type { ConfigFile, ConfigStatus } from "./config-file.js";
import {
  ClockToken,
  ConfigFileToken,
  ConfigToken,
  ConnectionFactoryToken,
  ConnectionManagerToken,
  HealthScorerToken,
  LoggerToken,
  StrategyRegistryToken,
  ToolSourceToken,
} from "./tokens.js";

/** A tool as the API lists it. */
export interface ToolInfo {
  readonly name: string;
  readonly description: string;
  readonly service: string;
  readonly enabled: boolean;
}

/** `GET /api/status`. */
export interface AdapterStatus {
  readonly version: string;
  readonly startedAt: number;
  readonly config: ConfigStatus;
  readonly endpoints: { readonly total: number; readonly connected: number };
}

/** What the event stream and the dashboard hear about. */
export interface AdapterEventMap {
  /** An endpoint's status changed (state, health, attempt…). */
  endpoint: EndpointStatus;
  removed: { readonly id: string };
  tools: { readonly tools: readonly ToolInfo[] };
  config: ConfigStatus;
  /** The adapter is shutting down; streams end. */
  closed: { readonly at: number };
}

const endpointEvents: readonly (keyof ManagerEventMap)[] = [
  "added",
  "stateChanged",
  "connecting",
  "connected",
  "initialized",
  "connectFailed",
  "disconnected",
  "reconnectScheduled",
  "failed",
];

/**
 * What a WebServer talks to: connects the configured Xiaozhi endpoints with the seed's
 * `initializeXiaozhiConnection`, applies config changes as diffs, adds and removes endpoints
 * (persisting them to the config file), and reports status and live events with masked URLs.
 */
@injectable()
export class XiaozhiConnectionAdapter {
  readonly #events = new Emitter<AdapterEventMap>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly startedAt: number;
  #config: XiaozhiConfig;
  #started = false;
  #closed = false;
  #applying: Promise<unknown> = Promise.resolve();
  /** The tool source when it is the built-in service manager, which config changes reach. */
  readonly #services: McpServiceManager | undefined;

  constructor(
    @inject(ConnectionManagerToken) readonly manager: ConnectionManager<Connection>,
    @inject(ToolSourceToken) readonly tools: ToolSource,
    @inject(StrategyRegistryToken) private readonly strategies: StrategyRegistry,
    @inject(ConnectionFactoryToken) private readonly factory: ConnectionFactory<Connection>,
    @inject(LoggerToken) private readonly logger: Logger,
    @inject(ConfigToken) config: XiaozhiConfig,
    @inject(ConfigFileToken) private readonly file: ConfigFile | null,
    @inject(ClockToken) private readonly now: () => number,
    @inject(HealthScorerToken) private readonly health: HealthScorer,
  ) {
    this.#config = config;
    this.startedAt = now();
    this.#services = tools instanceof McpServiceManager ? tools : undefined;
  }

  get config(): XiaozhiConfig {
    return this.#config;
  }

  on<K extends keyof AdapterEventMap>(event: K, listener: (payload: AdapterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Starts the tool services, connects the configured endpoints and, with a config file, follows
   * its changes. Resolves once every endpoint's first attempt has settled.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#subscribe();
    await this.#services?.start();
    this.file?.watch(
      (config) => void this.applyConfig(config).catch((error) => this.#configRejected(error)),
      () => this.#events.emit("config", this.configStatus()),
    );
    await this.initializeXiaozhiConnection(this.#config.mcpEndpoint ?? []);
  }

  /**
   * The seed's entry point. `mcpEndpoint` may be one URL or a list (strings or `{url,…}`
   * objects). Placeholders (`<请填写...>`), empty and non-ws(s) entries are skipped with a warning
   * that names them masked; with no valid endpoint it warns and returns without throwing. `tools`
   * defaults to the adapter's live tool source; a fixed list is served as given and its calls go
   * to the tool source.
   */
  async initializeXiaozhiConnection(
    mcpEndpoint: XiaozhiConfig["mcpEndpoint"],
    tools?: ToolSource | readonly ToolDescriptor[],
  ): Promise<void> {
    this.#config = { ...this.#config, mcpEndpoint: mcpEndpoint ?? [] };
    const { endpoints, skipped } = selectEndpoints(mcpEndpoint);
    for (const { endpoint, reason } of skipped) {
      this.logger.warn({ endpoint, reason }, "skipping endpoint");
    }
    if (endpoints.length === 0) {
      this.logger.warn("no valid Xiaozhi endpoint configured; not connecting");
      return;
    }
    const source = tools === undefined ? this.tools : Array.isArray(tools) ? this.#fixed(tools) : tools;
    this.manager.setServiceManager(source as ToolSource);
    await this.manager.initialize(endpoints);
    await this.manager.connect();
    this.logger.info({ endpoints: endpoints.length }, `managing ${endpoints.length} Xiaozhi endpoint(s)`);
  }

  /**
   * Applies a new config as a diff: timings and strategy first, then services and tool switches,
   * then endpoints (unchanged ones keep their sockets). Calls run one after another, so a reload
   * and an API change never interleave.
   */
  applyConfig(next: XiaozhiConfig): Promise<void> {
    return this.#serially(() => this.#apply(next));
  }

  /** Runs config changes one at a time, so a check and the change it guards cannot interleave. */
  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#applying.then(task);
    this.#applying = run.catch(() => {});
    return run;
  }

  async #apply(next: XiaozhiConfig): Promise<void> {
    const previous = this.#config;
    this.#config = next;
    // Absent fields take their defaults, so deleting a field from the file undoes it.
    const connection = withConnectionDefaults(next.connection);
    const strategyName = connection.loadBalanceStrategy ?? "round-robin";
    const previousStrategy = previous.connection?.loadBalanceStrategy ?? "round-robin";
    this.manager.configure({
      ...managerSettingsOf(connection),
      ...(strategyName !== previousStrategy ? { strategy: this.strategies.create(strategyName) } : {}),
    });
    const configurable = this.factory as { configure?: (options: XiaozhiTransportOptions) => void };
    configurable.configure?.(transportOptionsOf(connection));
    if (this.#services) {
      if (JSON.stringify(previous.mcpServerConfig) !== JSON.stringify(next.mcpServerConfig)) {
        this.#services.setToolSwitches(toolSwitchesOf(next));
      }
      const services = await this.#services.reconcile(servicesOf(next));
      if (services.added.length + services.removed.length + services.changed.length > 0) {
        this.logger.info({ ...services, unchanged: services.unchanged.length }, "services updated");
      }
    }
    const { endpoints, skipped } = selectEndpoints(next.mcpEndpoint);
    for (const { endpoint, reason } of skipped) this.logger.warn({ endpoint, reason }, "skipping endpoint");
    if (!this.manager.isInitialized) this.manager.setServiceManager(this.tools);
    const diff = await this.manager.initialize(endpoints);
    // A running manager connects what reconcile added; one that never ran starts now.
    if (!this.manager.isRunning) await this.manager.connect();
    this.logger.info(
      {
        added: diff.added.length,
        removed: diff.removed.length,
        changed: diff.changed.length,
        unchanged: diff.unchanged.length,
      },
      "config applied",
    );
    this.#events.emit("config", this.configStatus());
  }

  /**
   * Adds an endpoint, connects it and saves it (normalised) in the config file. Throws
   * `INVALID_ENDPOINT` for a URL that cannot be one, `DUPLICATE_ENDPOINT` for one already there
   * however it is spelled. The check runs in the same serial step as the change, so of N concurrent
   * adds of one URL exactly one succeeds.
   */
  async addEndpoint(url: string): Promise<EndpointStatus> {
    const trimmed = typeof url === "string" ? url.trim() : "";
    const reason = whyInvalid(trimmed);
    if (reason) throw new ConnectError("INVALID_ENDPOINT", `endpoint URL is ${reason}`);
    const normalized = normalizeEndpointUrl(trimmed);
    const id = endpointId(normalized);
    return this.#serially(async () => {
      const duplicate = () => new ConnectError("DUPLICATE_ENDPOINT", `endpoint ${id} already exists`);
      if (this.manager.getEndpointStatus(id)) throw duplicate();
      // The file is the source of truth: the change goes through it, then applies as any reload does.
      const next = await this.#changeEndpoints((list) => {
        if (list.some((entry) => entryId(entry) === id)) throw duplicate();
        return [...list, normalized];
      });
      await this.#apply(next);
      const status = this.manager.getEndpointStatus(id);
      if (!status) throw new ConnectError("INVALID_ENDPOINT", "the endpoint could not be added");
      return status;
    });
  }

  /** Closes an endpoint with 1000 and removes it from the config file; false when unknown. */
  removeEndpoint(id: string): Promise<boolean> {
    return this.#serially(async () => {
      let listed = false;
      const next = await this.#changeEndpoints((list) => {
        const kept = list.filter((entry) => entryId(entry) !== id);
        listed = kept.length < list.length;
        return kept;
      });
      if (!listed && !this.manager.getEndpointStatus(id)) return false;
      await this.#apply(next);
      return true;
    });
  }

  /** Drops and reopens one endpoint's link now; throws `UNKNOWN_ENDPOINT`. */
  reconnect(id: string): Promise<EndpointStatus> {
    return this.manager.reconnect(id);
  }

  endpoints(): EndpointStatus[] {
    return this.manager.getConnectionStatus();
  }

  /** Every tool with its service; disabled ones too when the service manager knows them. */
  async listTools(): Promise<ToolInfo[]> {
    if (this.#services) {
      return this.#services.allTools().map((t) => ({
        name: t.name,
        description: t.description ?? "",
        service: t.service,
        enabled: t.enabled,
      }));
    }
    return (await this.tools.listTools()).map((t) => ({
      name: t.name,
      description: t.description ?? "",
      service: serviceOf(t.name),
      enabled: true,
    }));
  }

  /** Services behind the tools, when the tool source is the built-in service manager. */
  services(): ServiceStatus[] {
    return this.#services?.status() ?? [];
  }

  configStatus(): ConfigStatus {
    return this.file?.status() ?? { path: null, loadedAt: this.startedAt, lastError: null };
  }

  status(version: string): AdapterStatus {
    const endpoints = this.endpoints();
    return {
      version,
      startedAt: this.startedAt,
      config: this.configStatus(),
      endpoints: { total: endpoints.length, connected: endpoints.filter((e) => e.connected).length },
    };
  }

  /** Stops following the file, closes every endpoint with 1000 and stops the services. */
  async cleanup(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.file?.close();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await this.manager.cleanup();
    await this.#services?.stop();
    (this.health as { dispose?: () => void }).dispose?.();
    this.#events.emit("closed", { at: this.now() });
    this.#events.removeAllListeners();
  }

  #subscribe(): void {
    const publish = ({ id }: { id: string }) => {
      const status = this.manager.getEndpointStatus(id);
      if (status) this.#events.emit("endpoint", status);
    };
    for (const event of endpointEvents) this.#unsubscribe.push(this.manager.on(event, publish));
    this.#unsubscribe.push(
      this.manager.on("removed", ({ id }) => this.#events.emit("removed", { id })),
      this.tools.onToolsChanged(
        () => void this.listTools().then((tools) => this.#events.emit("tools", { tools })),
      ),
    );
  }

  /** Edits `mcpEndpoint` in the file (atomically, from what is on disk now) or in memory. */
  async #changeEndpoints(edit: (list: EndpointEntry[]) => EndpointEntry[]): Promise<XiaozhiConfig> {
    if (this.file) {
      return this.file.update((raw) => {
        raw.mcpEndpoint = edit(listOf(raw.mcpEndpoint));
      });
    }
    return { ...this.#config, mcpEndpoint: edit(listOf(this.#config.mcpEndpoint)) };
  }

  #configRejected(error: unknown): void {
    this.logger.warn({ err: String(error) }, "config change could not be applied");
    this.#events.emit("config", this.configStatus());
  }

  #fixed(tools: readonly ToolDescriptor[]): ToolSource {
    return {
      listTools: () => tools,
      callTool: (name, args, options) => this.tools.callTool(name, args, options),
      onToolsChanged: () => () => {},
    };
  }
}

type EndpointEntry = NonNullable<Extract<XiaozhiConfig["mcpEndpoint"], unknown[]>>[number];

function listOf(value: unknown): EndpointEntry[] {
  if (value === undefined || value === null || value === "") return [];
  return (Array.isArray(value) ? [...value] : [value]) as EndpointEntry[];
}

function entryId(entry: unknown): string | undefined {
  const url = typeof entry === "string" ? entry : (entry as { url?: unknown } | null)?.url;
  return typeof url === "string" ? endpointId(url) : undefined;
}
