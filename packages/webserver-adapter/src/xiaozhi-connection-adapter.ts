import { dirname } from "node:path";
import type { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  type Connection,
  type ConnectionFactory,
  type ConnectionManager,
  describeError,
  Emitter,
  type EndpointStatus,
  type HealthScorer,
  type Logger,
  type ManagerEventMap,
  maskEndpoint,
  redact,
  resolveEndpoint,
  type Strategy,
  type ToolDescriptor,
  type ToolSource,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import {
  type CustomTools,
  type ExposedTool,
  type PreparedServices,
  type ServiceConfig,
  type ServiceStatus,
  serviceOf,
  type ToolSwitches,
  toolNameSeparator,
  transportKind,
} from "@xiaozhi-connect/mcp-services";
import { inject, injectable } from "tsyringe";
import {
  addEndpointEntry,
  customToolsOf,
  endpointEntries,
  endpointToAdd,
  entryIdOf,
  managerSettingsOf,
  removeEndpointEntry,
  removeServiceEntry,
  selectEndpoints,
  servicesOf,
  serviceToWrite,
  setServiceEntry,
  setToolSwitch,
  toolSwitchesOf,
  transportOptionsOf,
  withConnectionDefaults,
  type XiaozhiConfig,
} from "./config.js";
import type { ConfigFile, ConfigStatus } from "./config-file.js";
import { ActivityHistory, type CallRecord, type HistoryPoint, type ToolStats } from "./history.js";
import {
  ClockToken,
  ConfigFileToken,
  ConfigToken,
  ConnectionFactoryToken,
  ConnectionManagerToken,
  HealthScorerToken,
  LoggerToken,
  StrategyRegistryToken,
  StrategyToken,
  ToolSourceToken,
} from "./tokens.js";

/** A tool as the API lists it. */
export interface ToolInfo {
  readonly name: string;
  readonly description: string;
  readonly service: string;
  readonly enabled: boolean;
  /** Why it cannot run here (an unsupported customMCP handler, a missing credential). */
  readonly unavailable?: string;
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
  /** A service's state changed (starting, up, down, restart scheduled). */
  services: { readonly services: readonly ServiceInfo[] };
  /** An endpoint's round trip was measured: the new point of its chart. */
  sample: { readonly id: string; readonly point: HistoryPoint };
  /** An agent called a tool: the call (never its arguments or result) and the tool's statistics. */
  call: { readonly call: CallRecord; readonly stats?: ToolStats };
  /** The adapter is shutting down; streams end. */
  closed: { readonly at: number };
}

/** What the history and the metrics call a tool no service offers. */
const unknownTool = "(unknown tool)";

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
 * What the adapter uses of a tool source beyond core's `ToolSource`, when it is there. The built-in
 * `McpServiceManager` has all of it; a third party's source may have none, and reload and shutdown
 * still work. Nothing is detected by class.
 */
interface ServiceCatalog {
  prepare?(
    services: Record<string, ServiceConfig>,
    toolSwitches?: ToolSwitches,
    custom?: CustomTools,
  ): PreparedServices;
  start?(): Promise<void>;
  status?(): ServiceStatus[];
  allTools?(): readonly ExposedTool[];
  onStatusChanged?(listener: () => void): () => void;
  restart?(name: string): Promise<boolean>;
}

/** How a service is configured, as the API shows it: never `env` or header values. */
export interface ServiceConfigView {
  readonly type: "stdio" | "sse" | "streamable-http" | "replicated";
  readonly command?: string;
  readonly args?: readonly string[];
  readonly cwd?: string;
  /** Masked. */
  readonly url?: string;
  readonly replicas?: number;
  /** Names of the environment variables set, not their values. */
  readonly env?: readonly string[];
  /** Names of the headers sent, not their values. */
  readonly headers?: readonly string[];
}

/** A service as the API lists it: its status and how the config file describes it. */
export interface ServiceInfo extends ServiceStatus {
  /** Absent for services the tool source runs that the config does not list (customMCP). */
  readonly config?: ServiceConfigView;
}

/**
 * What a WebServer talks to: connects the configured Xiaozhi endpoints with the seed's
 * `initializeXiaozhiConnection`, applies config changes as diffs, adds and removes endpoints
 * (persisting them to the config file), and reports status and live events with masked URLs.
 *
 * There is one path for config: starting applies the config to an empty state, and a reload, an
 * API change and `applyConfig` apply theirs the same way. Each first validates and builds what the
 * config needs (strategy, services, endpoints) and only then changes what runs, so a config that
 * cannot be applied is rejected whole and the running one stays.
 */
@injectable()
export class XiaozhiConnectionAdapter {
  readonly #events = new Emitter<AdapterEventMap>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly startedAt: number;
  #config: XiaozhiConfig;
  /** The strategy name in force; `undefined` while the injected strategy is used. */
  #strategyName: string | undefined;
  #started = false;
  #closed = false;
  #cleanup: Promise<void> | undefined;
  #applying: Promise<unknown> = Promise.resolve();
  /** Set once a caller chose the tools (`initializeXiaozhiConnection(…, tools)`). */
  #toolSourceChosen = false;
  #servicesStarted: Promise<void> = Promise.resolve();
  /** Why the last `applyConfig` without a file was refused; the file keeps its own. */
  #lastError: string | null = null;
  #loadedAt: number;
  readonly #catalog: ServiceCatalog;
  /** RTT, health, up/down periods and tool calls over time, in bounded memory. */
  readonly history: ActivityHistory;
  /** Names of the tools offered now; calls of other names are recorded as an unknown tool. */
  #toolNames = new Set<string>();

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
    @inject(StrategyToken) private readonly strategy: Strategy,
  ) {
    this.#config = config;
    this.startedAt = now();
    this.#loadedAt = this.startedAt;
    this.#catalog = tools as ToolSource & ServiceCatalog;
    this.history = new ActivityHistory({ now });
  }

  get config(): XiaozhiConfig {
    return this.#config;
  }

  /** Settles once every service's first start attempt has (endpoints never wait for it). */
  get servicesStarted(): Promise<void> {
    return this.#servicesStarted;
  }

  on<K extends keyof AdapterEventMap>(event: K, listener: (payload: AdapterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Applies the config to the empty state (services start, endpoints connect, both at once) and,
   * with a config file, follows its changes. Resolves once every endpoint's first attempt has
   * settled; services come up in the background (see `servicesStarted`) and agents hear of their
   * tools through `tools/list_changed`. Throws `INVALID_CONFIG`, `UNKNOWN_STRATEGY`… for a config
   * that cannot run, having started nothing.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#subscribe();
    await this.applyConfig(this.#config);
    await this.#refreshToolNames();
    this.file?.watch(
      (config) => this.applyConfig(config),
      (status) => this.#events.emit("config", status),
    );
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
    if (tools !== undefined) {
      this.#toolSourceChosen = true;
      this.manager.setToolSource(Array.isArray(tools) ? this.#fixed(tools) : (tools as ToolSource));
    }
    await this.applyConfig({ ...this.#config, mcpEndpoint: mcpEndpoint ?? [] });
    await this.#refreshToolNames();
  }

  async #refreshToolNames(): Promise<ToolInfo[]> {
    const tools = await this.listTools();
    this.#toolNames = new Set(tools.map((t) => t.name));
    return tools;
  }

  /**
   * Applies a config as a diff: timings and strategy, services and tool switches, then endpoints
   * (unchanged ones keep their sockets). Everything is validated and built first; a config that
   * cannot be applied throws and changes nothing. Calls run one after another, so a reload and an
   * API change never interleave.
   */
  applyConfig(next: XiaozhiConfig): Promise<void> {
    return this.#serially(async () => {
      let commit: () => Promise<void>;
      try {
        commit = await this.#prepare(next);
      } catch (error) {
        this.#lastError = redact(describeError(error));
        throw error;
      }
      this.#lastError = null;
      this.#loadedAt = this.now();
      await commit();
    });
  }

  /** Runs config changes one at a time, so a check and the change it guards cannot interleave. */
  #serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#applying.then(task);
    this.#applying = run.catch(() => {});
    return run;
  }

  /**
   * Checks and builds everything `next` needs, changing nothing; returns the change to make. Throws
   * for an unknown strategy, a service that cannot be built, or an endpoint that cannot be one.
   */
  async #prepare(next: XiaozhiConfig): Promise<() => Promise<void>> {
    const connection = withConnectionDefaults(next.connection);
    // Absent fields take their defaults, so deleting a field from the file undoes it.
    const strategyName = next.connection?.loadBalanceStrategy;
    const strategy =
      strategyName === this.#strategyName
        ? undefined
        : strategyName === undefined
          ? this.defaultStrategy
          : this.strategies.create(strategyName);
    const { endpoints, skipped } = selectEndpoints(next.mcpEndpoint);
    for (const endpoint of endpoints) resolveEndpoint(endpoint);
    const baseDir = this.file ? dirname(this.file.path) : undefined;
    const services = this.#catalog.prepare?.(
      servicesOf(next, baseDir),
      toolSwitchesOf(next),
      customToolsOf(next),
    );
    const first = !this.manager.isRunning && !this.manager.isInitialized;
    return async () => {
      if (this.#closed) return;
      this.#config = next;
      this.#strategyName = strategyName;
      this.manager.configure({ ...managerSettingsOf(connection), ...(strategy ? { strategy } : {}) });
      this.factory.configure?.({ ...transportOptionsOf(connection) });
      this.health.configure?.(next.health ?? {});
      for (const { endpoint, reason } of skipped) this.logger.warn({ endpoint, reason }, "skipping endpoint");
      if (services) {
        const { started } = await services.commit();
        const { added, removed, changed, unchanged } = services.diff;
        if (!first && added.length + removed.length + changed.length > 0) {
          this.logger.info({ added, removed, changed, unchanged: unchanged.length }, "services updated");
        }
        if (this.#closed) return;
        // Endpoints never wait for services: their tools reach agents through list_changed.
        this.#servicesStarted = first && this.#catalog.start ? this.#catalog.start() : started;
        void this.#servicesStarted.then(() => this.#events.emit("services", { services: this.services() }));
      }
      if (!services && first && this.#catalog.start) this.#servicesStarted = this.#catalog.start();
      if (!this.#toolSourceChosen && !this.manager.isInitialized) this.manager.setToolSource(this.tools);
      if (endpoints.length === 0) this.logger.warn("no valid Xiaozhi endpoint configured; not connecting");
      // A reload is a diff against what runs: unchanged endpoints keep their sockets.
      const diff = this.manager.isInitialized
        ? await this.manager.reconcile(endpoints)
        : await this.manager.initialize(endpoints);
      if (this.#closed) return;
      // A running manager connects what reconcile added; one that never ran starts now.
      if (!this.manager.isRunning && endpoints.length > 0) await this.manager.connect();
      const summary = {
        added: diff.added.length,
        removed: diff.removed.length,
        changed: diff.changed.length,
        unchanged: diff.unchanged.length,
      };
      if (first)
        this.logger.info({ endpoints: endpoints.length }, `managing ${endpoints.length} Xiaozhi endpoint(s)`);
      else this.logger.info(summary, "config applied");
      this.#events.emit("config", this.configStatus());
    };
  }

  /** The strategy used while the config names none: the injected one (round-robin by default). */
  get defaultStrategy(): Strategy {
    return this.strategy;
  }

  /**
   * Adds an endpoint, connects it and saves it (normalised, as `{url, name}` when named) in the
   * config file. Throws
   * `INVALID_ENDPOINT` for a URL that cannot be one, `DUPLICATE_ENDPOINT` for one already there
   * however it is spelled. The check runs in the same serial step as the change, so of N concurrent
   * adds of one URL exactly one succeeds.
   */
  async addEndpoint(url: string, name?: string): Promise<EndpointStatus> {
    const endpoint = endpointToAdd(url, name);
    return this.#serially(async () => {
      if (this.manager.getEndpointStatus(endpoint.id)) {
        throw new XiaozhiError("DUPLICATE_ENDPOINT", `endpoint ${endpoint.id} already exists`);
      }
      await this.#change((raw) => addEndpointEntry(raw, endpoint));
      const status = this.manager.getEndpointStatus(endpoint.id);
      if (!status) throw new XiaozhiError("INVALID_ENDPOINT", "the endpoint could not be added");
      return status;
    });
  }

  /** Closes an endpoint with 1000 and removes it from the config file; false when unknown. */
  removeEndpoint(id: string): Promise<boolean> {
    return this.#serially(async () => {
      const running = this.manager.getEndpointStatus(id) !== undefined;
      const configured = endpointEntries(this.#config.mcpEndpoint).some((e) => entryIdOf(e) === id);
      // Not running and not in the running config: only the file can still list it.
      if (!running && !configured && !this.file) return false;
      let listed = false;
      await this.#change((raw) => {
        listed = removeEndpointEntry(raw, id);
      });
      return listed || running;
    });
  }

  /**
   * Switches one tool (`<service>__<tool>`) on or off: writes `mcpServerConfig.<service>.tools.<tool>
   * .enable` by the same atomic, field-preserving path as endpoints and applies it live (agents get
   * `tools/list_changed`). Throws `UNKNOWN_TOOL` for a tool no service offers.
   */
  setToolEnabled(name: string, enabled: boolean): Promise<ToolInfo> {
    return this.#serially(async () => {
      const known = (await this.listTools()).find((tool) => tool.name === name);
      if (!known) throw new XiaozhiError("UNKNOWN_TOOL", `no tool ${name.slice(0, 200)}`);
      const tool = name.slice(known.service.length + toolNameSeparator.length);
      await this.#change((raw) => setToolSwitch(raw, known.service, tool, enabled));
      return { ...known, enabled };
    });
  }

  /** Drops and reopens one endpoint's link now; throws `UNKNOWN_ENDPOINT`. */
  reconnect(id: string): Promise<EndpointStatus> {
    return this.manager.reconnect(id);
  }

  endpoints(): EndpointStatus[] {
    return this.manager.getConnectionStatus();
  }

  /** Every tool with its service; disabled ones too when the tool source knows them. */
  async listTools(): Promise<ToolInfo[]> {
    if (this.#catalog.allTools) {
      return this.#catalog.allTools().map((t) => ({
        name: t.name,
        description: t.description ?? "",
        service: t.service,
        enabled: t.enabled,
        ...(t.unavailable === undefined ? {} : { unavailable: t.unavailable }),
      }));
    }
    return (await this.tools.listTools()).map((t) => ({
      name: t.name,
      description: t.description ?? "",
      service: serviceOf(t.name),
      enabled: true,
    }));
  }

  /** Services behind the tools, when the tool source reports them, with their config. */
  services(): ServiceInfo[] {
    const configured = (this.#config.mcpServers ?? {}) as Record<string, ServiceConfig>;
    return (this.#catalog.status?.() ?? []).map((status) => {
      const entry = Object.hasOwn(configured, status.name) ? configured[status.name] : undefined;
      return entry ? { ...status, config: configView(entry) } : status;
    });
  }

  /**
   * Adds a service to `mcpServers` (atomically, keeping every other field and comment) and starts
   * it; its tools reach agents through `tools/list_changed`. Throws `INVALID_CONFIG` for a bad name
   * or entry, `DUPLICATE_SERVICE` for a name in use.
   */
  addService(name: string, entry: unknown): Promise<ServiceInfo> {
    return this.#writeService(name, entry, true);
  }

  /**
   * Replaces a service's entry and restarts it with it. `env` and `headers`, which the API never
   * shows, are kept unless given. Throws `UNKNOWN_SERVICE`, `INVALID_CONFIG`.
   */
  updateService(name: string, entry: unknown): Promise<ServiceInfo> {
    return this.#writeService(name, entry, false);
  }

  #writeService(name: string, entry: unknown, create: boolean): Promise<ServiceInfo> {
    const checked = serviceToWrite(name, entry);
    return this.#serially(async () => {
      await this.#change((raw) => setServiceEntry(raw, name, checked, create));
      return this.#service(name);
    });
  }

  /** Stops a service and removes it from `mcpServers`; false when the config has no such service. */
  removeService(name: string): Promise<boolean> {
    return this.#serially(async () => {
      let removed = false;
      await this.#change((raw) => {
        removed = removeServiceEntry(raw, name);
      });
      return removed;
    });
  }

  /** Restarts one service now, also after it gave up; throws `UNKNOWN_SERVICE`. */
  async restartService(name: string): Promise<ServiceInfo> {
    if (!(await this.#catalog.restart?.(name))) {
      throw new XiaozhiError("UNKNOWN_SERVICE", `no service ${name.slice(0, 100)}`);
    }
    return this.#service(name);
  }

  #service(name: string): ServiceInfo {
    const found = this.services().find((s) => s.name === name);
    if (!found) throw new XiaozhiError("UNKNOWN_SERVICE", `no service ${name.slice(0, 100)}`);
    return found;
  }

  configStatus(): ConfigStatus {
    return this.file?.status() ?? { path: null, loadedAt: this.#loadedAt, lastError: this.#lastError };
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

  /**
   * Stops following the file, closes every endpoint with 1000, stops the services, and disposes of
   * the connection factory, the health scorer and the tool source (whichever have `dispose`).
   */
  cleanup(): Promise<void> {
    this.#cleanup ??= this.#cleanUp();
    return this.#cleanup;
  }

  async #cleanUp(): Promise<void> {
    this.#closed = true;
    this.file?.close();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    // First cut short whatever runs (attempts, handshakes), then let a config change under way
    // finish, and clean up again whatever it got to start.
    await Promise.all([this.manager.cleanup(), this.tools.dispose?.()]);
    await this.#applying;
    await Promise.all([this.manager.cleanup(), this.tools.dispose?.()]);
    this.factory.dispose?.();
    this.health.dispose?.();
    this.#events.emit("closed", { at: this.now() });
    this.#events.removeAllListeners();
  }

  #subscribe(): void {
    const publish = ({ id }: { id: string }) => {
      const status = this.manager.getEndpointStatus(id);
      if (status) this.#events.emit("endpoint", status);
    };
    for (const event of endpointEvents) this.#unsubscribe.push(this.manager.on(event, publish));
    const history = this.history;
    const score = (id: string) => this.manager.getEndpointStatus(id)?.healthScore ?? 0;
    this.#unsubscribe.push(
      this.manager.on("rtt", ({ id, name, ms, at }) => {
        this.#events.emit("sample", { id, point: history.sample(id, name, score(id), ms, at) });
      }),
      this.manager.on("stateChanged", ({ id, name, from, to, at }) => {
        if (to === "connected") history.transition(id, name, true, undefined, at);
        else if (from === "connected" || to === "failed" || to === "reconnecting")
          history.transition(id, name, false, this.manager.getEndpointStatus(id)?.lastError, at);
        history.sample(id, name, score(id), undefined, at);
      }),
      this.manager.on("handled", ({ id, name, method, tool, ok, ms, at }) => {
        if (method !== "tools/call" || tool === undefined) return;
        const record: CallRecord = {
          at,
          endpoint: id,
          ...(name === undefined ? {} : { agent: name }),
          // An agent may call any name; only offered tools get their own statistics and labels.
          tool: this.#toolNames.has(tool) ? tool : unknownTool,
          ms: Math.round(ms * 10) / 10,
          ok,
        };
        this.#events.emit("call", history.call(record));
      }),
      this.manager.on("removed", ({ id }) => {
        history.forget(id);
        this.#events.emit("removed", { id });
      }),
      this.tools.onToolsChanged(
        () => void this.#refreshToolNames().then((tools) => this.#events.emit("tools", { tools })),
      ),
    );
    const offServices = this.#catalog.onStatusChanged?.(() =>
      this.#events.emit("services", { services: this.services() }),
    );
    if (offServices) this.#unsubscribe.push(offServices);
  }

  /** Edits the raw config (the file's, or the running one's) and applies it. Inside `#serially`. */
  async #change(edit: (raw: Record<string, unknown>) => void): Promise<void> {
    if (this.file) {
      await this.file.update(edit, (config) => this.#prepare(config));
      return;
    }
    const raw = structuredClone(this.#config) as Record<string, unknown>;
    edit(raw);
    const commit = await this.#prepare(raw as XiaozhiConfig);
    await commit();
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

function configView(entry: ServiceConfig): ServiceConfigView {
  if ("replicas" in entry) return { type: "replicated", replicas: entry.replicas.length };
  if ("command" in entry) {
    return {
      type: "stdio",
      command: redact(entry.command),
      ...(entry.args === undefined ? {} : { args: entry.args.map((a) => redact(a)) }),
      ...(entry.cwd === undefined ? {} : { cwd: entry.cwd }),
      ...(entry.env === undefined ? {} : { env: Object.keys(entry.env) }),
    };
  }
  return {
    // The schema has checked the URL, so its kind can be read.
    type: transportKind(entry),
    url: maskEndpoint(entry.url),
    ...(entry.headers === undefined ? {} : { headers: Object.keys(entry.headers) }),
  };
}
