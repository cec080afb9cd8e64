import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  type Logger,
  silentLogger,
  type ToolCallOptions,
  type ToolCallResult,
  type ToolDescriptor,
  type ToolSource,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import { raceAbort } from "@xiaozhi-connect/core/internal";
import { runCustomTool, unavailableReason } from "./custom-tools.js";
import type { ServiceState } from "./mcp-service.js";
import { sameConfig } from "./replica-plan.js";
import type {
  PreparedChange,
  ReplicaStatus,
  ReplicatedServiceOptions,
  ServiceSettings,
} from "./replicated-options.js";
import { ReplicatedService } from "./replicated-service.js";
import { type ServiceConfig, type ToolSwitches, toolTimeout } from "./service-config.js";
import {
  buildCatalog,
  type CustomTools,
  type ExposedTool,
  refusal,
  type ToolCatalog,
} from "./tool-catalog.js";

export interface McpServiceManagerOptions
  extends Omit<ReplicatedServiceOptions, "onToolsChanged" | "onStatusChanged"> {
  /** `mcpServerConfig`: per-tool enable switches. */
  readonly toolSwitches?: ToolSwitches | undefined;
  readonly logger?: Logger | undefined;
  /** Where replicated services find their strategy by name; default the built-ins. */
  readonly strategies?: StrategyRegistry | undefined;
}

/** What the status of one service looks like. */
export interface ServiceStatus {
  readonly name: string;
  readonly state: ServiceState;
  readonly tools: number;
  /** Why it is down: the child's stderr tail, `spawn … ENOENT`, the address that refused… */
  readonly lastError?: string;
  /** Restarts scheduled since it was started, over all its replicas. */
  readonly restarts: number;
  /** Epoch ms since which it has been up without a break; absent while it is not up. */
  readonly upSince?: number;
  /** Present for replicated services. */
  readonly replicas?: readonly ReplicaStatus[];
  /** Replicated services: the strategy that picks a replica per call. */
  readonly strategy?: string;
}

/**
 * What `reconcile` did, by service name. `changed` names every service whose entry changed, those
 * changed in place (see `ReplicatedService.prepareChange`) and those restarted alike.
 */
export interface ServicesDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  readonly unchanged: readonly string[];
}

/** A validated `mcpServers` change, not applied yet (see `McpServiceManager.prepare`). */
export interface PreparedServices {
  readonly diff: ServicesDiff;
  /**
   * Applies the change at once. `started` settles once the removed and restarted services have
   * stopped, and the first attempts have settled of the services started and of the replicas added
   * to services changed in place. Replicas removed from a service changed in place are not waited
   * for: they drain in the background (see `McpServiceManagerOptions.drainLimit`), listed in
   * `status()` as `draining` until they have stopped.
   */
  commit(): { readonly started: Promise<void> };
}

export { type CustomTools, customToolsService, type ExposedTool } from "./tool-catalog.js";

type Service = ReplicatedService;

/**
 * The ToolSource every endpoint serves (xiaozhi-client's MCPServiceManager). Aggregates the tools
 * of the configured MCP services as `<service>__<tool>`, hides and refuses disabled tools, and
 * tells its listeners whenever a service's list changes, crashes or comes back.
 */
export class McpServiceManager implements ToolSource {
  readonly specificationVersion = "v1" as const;
  readonly #services = new Map<string, Service>();
  readonly #listeners = new Set<() => void>();
  readonly #statusListeners = new Set<() => void>();
  readonly #options: McpServiceManagerOptions;
  #switches: ToolSwitches | undefined;
  #custom: CustomTools = { tools: [] };
  #running = false;
  /** Settings every service gets, those built later included. */
  #settings: ServiceSettings;
  #catalog: ToolCatalog | undefined;

  constructor(services: Readonly<Record<string, ServiceConfig>>, options: McpServiceManagerOptions = {}) {
    this.#options = options;
    this.#switches = options.toolSwitches;
    this.#settings = {
      ...(options.toolsHold === undefined ? {} : { toolsHold: options.toolsHold }),
      ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
      ...(options.health === undefined ? {} : { health: options.health }),
    };
    for (const [name, config] of Object.entries(services)) this.#add(name, config);
  }

  /** Starts every service at once; one failing service delays no other (it restarts in the background). */
  async start(): Promise<void> {
    this.#running = true;
    await Promise.allSettled([...this.#services.values()].map((s) => s.start()));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.allSettled([...this.#services.values()].map((s) => s.stop()));
  }

  /** The ToolSource contract's shutdown: stops every service. */
  dispose(): Promise<void> {
    return this.stop();
  }

  /**
   * Applies a new `mcpServers` map as a diff: removed services stop, new ones start (when the
   * manager runs), unchanged services (the same entry, its fields in whatever order) are not
   * touched. A changed replicated service whose entry differs only in `strategy`,
   * `handshakeTimeout` and `replicas` changes in place (its replicas as a diff of their own, see
   * `ReplicatedServiceConfig.replicas`); any other changed one restarts with its new config.
   * Resolves when `PreparedServices.commit`'s `started` does: once removed and restarted services
   * have stopped and the first attempts of what started (services, added replicas) have settled. A
   * replica removed from a service changed in place may then still be draining its calls (for at
   * most `drainLimit`).
   */
  async reconcile(services: Readonly<Record<string, ServiceConfig>>): Promise<ServicesDiff> {
    const prepared = this.prepare(services);
    await prepared.commit().started;
    return prepared.diff;
  }

  /**
   * Validates and builds what a new `mcpServers` map (and, when given, new tool switches) needs
   * without changing anything: throws (`INVALID_CONFIG`, `UNKNOWN_STRATEGY`) for a map that cannot
   * run. `commit()` then applies it without waiting for any process: it changes in place what can
   * be (see `reconcile`), stops removed and other changed services, starts the new ones (see
   * `PreparedServices.commit` for what `started` waits for) and tells listeners when the tools may
   * have changed. Prepared changes committed out of order apply as the last commit says: one
   * prepared in place for a service another commit has since rebuilt or removed builds the service
   * afresh from its entry.
   */
  prepare(
    services: Readonly<Record<string, ServiceConfig>>,
    toolSwitches?: ToolSwitches,
    custom?: CustomTools,
  ): PreparedServices {
    const diff: { added: string[]; removed: string[]; changed: string[]; unchanged: string[] } = {
      added: [],
      removed: [],
      changed: [],
      unchanged: [],
    };
    for (const name of this.#services.keys()) if (!Object.hasOwn(services, name)) diff.removed.push(name);
    for (const [name, config] of Object.entries(services)) {
      const current = this.#services.get(name);
      if (!current) diff.added.push(name);
      else if (sameConfig(current.config, config)) diff.unchanged.push(name);
      else diff.changed.push(name);
    }
    // Build first: a bad entry throws here, before anything running is touched.
    const inPlace = new Map<string, { readonly service: Service; readonly change: PreparedChange }>();
    for (const name of diff.changed) {
      const service = this.#services.get(name) as Service;
      const change = service.prepareChange(services[name] as ServiceConfig);
      if (change) inPlace.set(name, { service, change });
    }
    const rebuilt = diff.changed.filter((name) => !inPlace.has(name));
    const built = [...rebuilt, ...diff.added].map((name) =>
      this.#build(name, services[name] as ServiceConfig),
    );
    const builtWith = this.#settings;
    const switchesChanged =
      toolSwitches !== undefined && JSON.stringify(toolSwitches) !== JSON.stringify(this.#switches ?? {});
    const customChanged = custom !== undefined && JSON.stringify(custom) !== JSON.stringify(this.#custom);
    return {
      diff,
      commit: () => {
        // Prepared in place for an instance another commit has replaced or removed since: built
        // afresh from its config instead, so the last commit wins as for any other change.
        const stale = new Set(
          [...inPlace.keys()].filter((n) => this.#services.get(n) !== inPlace.get(n)?.service),
        );
        const fresh = [...stale].map((name) => this.#build(name, services[name] as ServiceConfig));
        const stopping = [...diff.removed, ...rebuilt, ...fresh.map((s) => s.name)].map((name) => {
          const service = this.#services.get(name);
          this.#services.delete(name);
          return service?.stop();
        });
        for (const service of built) {
          // Settings given between prepare and commit (a new default strategy) are theirs too.
          if (this.#settings !== builtWith) service.configure(this.#settings);
          this.#services.set(service.name, service);
        }
        for (const service of fresh) this.#services.set(service.name, service);
        if (switchesChanged) this.#switches = toolSwitches;
        if (customChanged && custom) {
          this.#custom = custom;
          for (const tool of custom.tools) {
            const reason = unavailableReason(tool, custom.platforms);
            if (reason) this.#options.logger?.warn({ tool: tool.name, reason }, "custom tool unavailable");
          }
        }
        // Changed in place: the service says so itself if its tools change.
        const changing = [...inPlace].flatMap(([name, { change }]) =>
          stale.has(name) ? [] : [change.commit()],
        );
        // Started before listeners hear of the change, so a list asked for now waits for them.
        const starting = this.#running ? [...built, ...fresh].map((s) => s.start()) : [];
        if (stopping.length > 0 || built.length > 0 || switchesChanged || customChanged) this.#changed();
        const started = Promise.allSettled([...stopping, ...changing, ...starting]).then(() => {});
        return { started };
      },
    };
  }

  /**
   * Applies new settings to every service, running or to come: `toolsHold` (ms a restarting
   * service keeps its tools listed), `strategy` (the default for replicated services that name
   * none; throws `UNKNOWN_STRATEGY` before changing anything) and `health` (the replicas' scoring
   * and ejection settings).
   */
  configure(settings: ServiceSettings): void {
    if (settings.strategy !== undefined) {
      (this.#options.strategies ?? StrategyRegistry.withBuiltins()).create(settings.strategy);
    }
    this.#settings = { ...this.#settings, ...settings };
    for (const service of this.#services.values()) service.configure(settings);
  }

  /**
   * While a service is in its first start, a promise that settles when every such start has (up
   * or failed); undefined when none is. A `tools/list` waits for it (bounded by the transport), so
   * an agent that lists only at connect is not given a list a starting service is missing from.
   */
  ready(): Promise<void> | undefined {
    const pending: Promise<void>[] = [];
    for (const service of this.#services.values()) {
      const first = service.firstStart;
      if (first) pending.push(first);
    }
    return pending.length === 0 ? undefined : Promise.allSettled(pending).then(() => {});
  }

  /** Replaces the per-tool switches; listeners hear about it. */
  setToolSwitches(switches: ToolSwitches | undefined): void {
    this.#switches = switches;
    this.#changed();
  }

  status(): ServiceStatus[] {
    return [...this.#services.values()].map((s) => ({
      name: s.name,
      state: s.state,
      tools: s.tools.length,
      restarts: s.restarts,
      ...(s.upSince === undefined ? {} : { upSince: s.upSince }),
      ...(s.lastError === undefined ? {} : { lastError: s.lastError }),
      ...(s.replicated ? { replicas: s.replicas(), strategy: s.strategy } : {}),
    }));
  }

  /**
   * Restarts one service now (its process, or its link for a remote one), also after it gave up.
   * Resolves false for a service not configured, else once the restart attempt has settled.
   */
  async restart(name: string): Promise<boolean> {
    const service = this.#services.get(name);
    if (!service) return false;
    await service.restart();
    return true;
  }

  /** Every tool of every service that is up, enabled or not, for status pages. */
  allTools(): readonly ExposedTool[] {
    return this.#getCatalog().tools;
  }

  /** The enabled tools: one array until the list changes, so callers may compare by identity. */
  listTools(): readonly ToolDescriptor[] {
    return this.#getCatalog().listed;
  }

  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    options: ToolCallOptions,
  ): Promise<ToolCallResult> {
    let route = this.#getCatalog().routes.get(name);
    // A call that comes while services are in their first start (an agent's session held across a
    // restart) waits for them, as a tools/list does, rather than hear of an unknown tool.
    const starting = route ? undefined : this.ready();
    if (starting) {
      await raceAbort(starting, options.signal);
      route = this.#getCatalog().routes.get(name);
    }
    if (!route) throw refusal(this.#getCatalog(), name);
    if (route.custom) {
      return runCustomTool(route.custom, args, { signal: options.signal, platforms: this.#custom.platforms });
    }
    const extras = {
      ...(options.caller === undefined ? {} : { caller: options.caller }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    };
    const timeout = toolTimeout(this.#switches, route.service.name, route.tool);
    if (timeout === undefined) return route.service.callTool(route.tool, args, options.signal, extras);
    // The tool's own deadline: the call is cancelled upstream like any other abort.
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new XiaozhiError("TIMEOUT", `tool call timed out after ${timeout} ms`)),
      timeout,
    );
    try {
      return await route.service.callTool(
        route.tool,
        args,
        AbortSignal.any([options.signal, deadline.signal]),
        extras,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Calls `listener` whenever a service's state changes (starting, up, down, restart scheduled). */
  onStatusChanged(listener: () => void): () => void {
    const entry = () => listener();
    this.#statusListeners.add(entry);
    return () => this.#statusListeners.delete(entry);
  }

  onToolsChanged(listener: () => void): () => void {
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  #add(name: string, config: ServiceConfig): Service {
    const service = this.#build(name, config);
    this.#services.set(name, service);
    return service;
  }

  #build(name: string, config: ServiceConfig): Service {
    const options = {
      ...this.#options,
      logger: this.#options.logger ?? silentLogger,
      ...this.#settings,
      onToolsChanged: () => this.#changed(),
      onStatusChanged: () => {
        for (const listener of this.#statusListeners) listener();
      },
    };
    // A plain service is supervised as one replica: one lifecycle, one backoff for everything.
    return new ReplicatedService(name, config, options);
  }

  #changed(): void {
    this.#catalog = undefined;
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {
        // A broken listener must not keep the other endpoints from hearing of the change.
      }
    }
  }

  #getCatalog(): ToolCatalog {
    this.#catalog ??= buildCatalog(this.#services, this.#custom, this.#switches);
    return this.#catalog;
  }
}
