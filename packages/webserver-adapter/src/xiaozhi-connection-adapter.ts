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
import type { ClusterCoordinator, ClusterView } from "./cluster.js";
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
  /** In cluster mode: this instance, Redis, and every instance of the cluster. */
  readonly cluster?: ClusterView;
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
  /** Cluster mode: the instances, or who holds what, changed. */
  cluster: ClusterView;
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
  "republishing",
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
  configure?(settings: { readonly toolsHold?: number }): void;
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
  #subscribed = false;
  /** Joining the cluster, once. */
  #joined: Promise<void> | undefined;
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
  /** The `cluster` block the process started with: a change applies at the next start. */
  readonly #clusterAtStart: string | undefined;
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
    @inject(ClusterToken) readonly cluster: ClusterCoordinator | null,
  ) {
    this.#config = config;
    this.#clusterAtStart = JSON.stringify(config.cluster);
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
    if (!this.#subscribed) this.#subscribe();
    if (this.cluster) await this.#joinCluster(this.cluster);
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
   * to the tool source. In cluster mode the list becomes the cluster's (every instance applies it)
   * and this instance runs its share.
   */
  async initializeXiaozhiConnection(
    mcpEndpoint: XiaozhiConfig["mcpEndpoint"],
    tools?: ToolSource | readonly ToolDescriptor[],
  ): Promise<void> {
    if (tools !== undefined) {
      this.#toolSourceChosen = true;
      this.manager.setToolSource(Array.isArray(tools) ? this.#fixed(tools) : (tools as ToolSource));
    }
    const cluster = this.cluster;
    if (cluster) {
      if (!this.#subscribed) this.#subscribe();
      await this.#joinCluster(cluster);
      // The list change is Redis's compare-and-set; only applying it takes the lock (see addEndpoint).
      await cluster.update(() => endpointEntries(mcpEndpoint));
      await this.#serially(() => this.#applyCluster());
    } else await this.applyConfig({ ...this.#config, mcpEndpoint: mcpEndpoint ?? [] });
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
  async #prepare(next: XiaozhiConfig, quiet = false): Promise<() => Promise<void>> {
    const connection = withConnectionDefaults(next.connection);
    // Absent fields take their defaults, so deleting a field from the file undoes it.
    const strategyName = next.connection?.loadBalanceStrategy;
    const strategy =
      strategyName === this.#strategyName
        ? undefined
        : strategyName === undefined
          ? this.defaultStrategy
          : this.strategies.create(strategyName);
    const cluster = this.cluster;
    if (!quiet && JSON.stringify(next.cluster) !== this.#clusterAtStart) {
      this.logger.warn("the cluster block changed: it applies when the server restarts");
    }
    if (cluster && !quiet && JSON.stringify(next.mcpEndpoint) !== JSON.stringify(this.#config.mcpEndpoint)) {
      this.logger.warn(
        "cluster mode: mcpEndpoint in the file only seeds an empty cluster; change endpoints through the dashboard, the API or xiaozhi-connect endpoint",
      );
    }
    // In cluster mode the endpoint list is the cluster's, and this instance runs what it holds.
    const { endpoints: listed, skipped } = selectEndpoints(
      cluster ? (cluster.entries as XiaozhiConfig["mcpEndpoint"]) : next.mcpEndpoint,
    );
    const ids = listed.map((endpoint) => resolveEndpoint(endpoint).id);
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
      this.#catalog.configure?.({ toolsHold: connection.toolsHold });
      if (!quiet)
        for (const { endpoint, reason } of skipped)
          this.logger.warn({ endpoint, reason }, "skipping endpoint");
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
      if (listed.length === 0 && !quiet)
        this.logger.warn("no valid Xiaozhi endpoint configured; not connecting");
      // Read the leases at the last moment: one lost while services started is not connected.
      const endpoints = cluster ? listed.filter((_, i) => cluster.holds(ids[i] as string)) : listed;
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
      else if (quiet) this.logger.debug(summary, "cluster: endpoints applied");
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
    const cluster = this.cluster;
    if (cluster) {
      // The cluster's list: a compare-and-set in Redis, so of N concurrent adds on any instances one
      // wins. It runs outside the lock: a change waiting on Redis never holds up applying leases.
      await cluster.update(
        (entries) => {
          const raw: Record<string, unknown> = { mcpEndpoint: entries };
          addEndpointEntry(raw, endpoint);
          return raw.mcpEndpoint as unknown[];
        },
        { key: `add:${endpoint.id}` },
      );
      return this.#serially(async () => {
        await this.#applyCluster();
        const status = cluster.endpoint(endpoint.id, this.manager.getEndpointStatus(endpoint.id));
        if (!status) throw new XiaozhiError("INVALID_ENDPOINT", "the endpoint could not be added");
        return status;
      });
    }
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
  async removeEndpoint(id: string): Promise<boolean> {
    const cluster = this.cluster;
    if (cluster) {
      // True too when a retry finds that an earlier attempt whose outcome was unknown removed it.
      const removed = await cluster.update(
        (entries) => {
          const raw: Record<string, unknown> = { mcpEndpoint: entries };
          return removeEndpointEntry(raw, id) ? (raw.mcpEndpoint as unknown[]) : undefined;
        },
        { key: `remove:${id}` },
      );
      await this.#serially(() => this.#applyCluster());
      return removed;
    }
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

  /**
   * Drops and reopens one endpoint's link now; throws `UNKNOWN_ENDPOINT`. In cluster mode an
   * endpoint held by another instance is reconnected there.
   */
  async reconnect(id: string): Promise<EndpointStatus> {
    const cluster = this.cluster;
    if (cluster && !this.manager.getEndpointStatus(id)) {
      const status = cluster.endpoint(id, undefined);
      if (status && (await cluster.reconnect(id))) return status;
    }
    return this.manager.reconnect(id);
  }

  /** Whether `id` names an endpoint (in cluster mode: of the cluster, wherever it runs). */
  hasEndpoint(id: string): boolean {
    return (
      this.manager.getEndpointStatus(id) !== undefined || this.cluster?.endpoint(id, undefined) !== undefined
    );
  }

  /**
   * Every endpoint. In cluster mode: every endpoint of the cluster, each with `instance`, the
   * instance holding it (`null` while none does).
   */
  endpoints(): EndpointStatus[] {
    const local = this.manager.getConnectionStatus();
    return this.cluster ? this.cluster.endpoints(local) : local;
  }

  /** The endpoints this process runs (in cluster mode: those it holds). */
  localEndpoints(): EndpointStatus[] {
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
      ...(this.cluster ? { cluster: this.cluster.view() } : {}),
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
    // The links are closed: now the leases go, and the other instances take the endpoints at once.
    await this.cluster?.stop();
    this.factory.dispose?.();
    this.health.dispose?.();
    this.#events.emit("closed", { at: this.now() });
    this.#events.removeAllListeners();
  }

  #subscribe(): void {
    this.#subscribed = true;
    const cluster = this.cluster;
    const publish = ({ id }: { id: string }) => {
      const status = this.manager.getEndpointStatus(id);
      if (!status) return;
      cluster?.touch();
      this.#events.emit("endpoint", cluster?.endpoint(id, status) ?? status);
    };
    for (const event of endpointEvents) this.#unsubscribe.push(this.manager.on(event, publish));
    const history = this.history;
    const score = (id: string) => this.manager.getEndpointStatus(id)?.healthScore ?? 0;
    this.#unsubscribe.push(
      this.manager.on("rtt", ({ id, name, ms, at }) => {
        this.#events.emit("sample", { id, point: history.sample(id, name, score(id), ms, at) });
      }),
      this.manager.on("stateChanged", ({ id, name, from, to, at }) => {
        const status = this.manager.getEndpointStatus(id);
        if (to === "connected") history.transition(id, name, true, undefined, at);
        // A republish reopens the link at once: the agent's tools changed, the link never failed.
        else if (status?.republishing) return;
        else if (from === "connected" || to === "failed" || to === "reconnecting")
          history.transition(id, name, false, status?.lastError, at);
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
        cluster?.touch();
        // Handed to another instance, it stays in the cluster's list.
        const elsewhere = cluster?.endpoint(id, undefined);
        if (elsewhere) this.#events.emit("endpoint", elsewhere);
        else this.#events.emit("removed", { id });
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

  /**
   * Joins the cluster before the first apply, so the endpoint list is the cluster's and this
   * instance connects only what it holds. Lease changes are applied as they come; a lost lease
   * closes its link at once, without waiting for a config change under way.
   */
  #joinCluster(cluster: ClusterCoordinator): Promise<void> {
    this.#joined ??= this.#join(cluster);
    return this.#joined;
  }

  async #join(cluster: ClusterCoordinator): Promise<void> {
    let pending = false;
    const apply = () => {
      if (pending || this.#closed) return;
      pending = true;
      void this.#serially(async () => {
        pending = false;
        await this.#applyCluster();
      }).catch((error) =>
        this.logger.error({ err: redact(describeError(error)) }, "cluster: could not apply"),
      );
    };
    // What the dashboard shows of other instances: only the entries that changed are sent.
    const shown = new Map<string, string>();
    const refresh = () => {
      if (this.#closed) return;
      const now = new Set<string>();
      for (const status of this.endpoints()) {
        now.add(status.id);
        const text = JSON.stringify(status);
        if (shown.get(status.id) === text) continue;
        shown.set(status.id, text);
        if (!this.manager.getEndpointStatus(status.id)) this.#events.emit("endpoint", status);
      }
      for (const id of shown.keys()) {
        if (now.has(id)) continue;
        shown.delete(id);
        if (!this.manager.getEndpointStatus(id)) this.#events.emit("removed", { id });
      }
      this.#events.emit("cluster", cluster.view());
    };
    this.#unsubscribe.push(
      cluster.on("changed", () => {
        apply();
        refresh();
      }),
      cluster.on("view", refresh),
    );
    await cluster.start({
      statuses: () => this.manager.getConnectionStatus(),
      drop: async (ids) => {
        await Promise.allSettled(ids.map((id) => this.manager.removeEndpoint(id)));
      },
      reconnect: (id) => void this.manager.reconnect(id).catch(() => {}),
    });
    const view = cluster.view();
    this.logger.info(
      {
        instance: cluster.instanceId,
        instances: view.instances.length,
        endpoints: view.version ? cluster.entries.length : 0,
      },
      view.reachable
        ? "cluster mode: joined; the endpoint list is the cluster's, and the file's mcpEndpoint only seeds an empty cluster"
        : "cluster mode: Redis is out of reach; nothing runs here until it answers",
    );
  }

  /** Applies the cluster's list and this instance's leases. Inside `#serially`. */
  async #applyCluster(): Promise<void> {
    const commit = await this.#prepare(this.#config, true);
    await commit();
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
