import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  ConnectError,
  type Logger,
  silentLogger,
  type ToolCallOptions,
  type ToolCallResult,
  type ToolDescriptor,
  type ToolSource,
} from "@xiaozhi-connect/core";
import { McpService, type McpServiceOptions, type ServiceState } from "./mcp-service.js";
import { type ReplicaStatus, ReplicatedService } from "./replicated-service.js";
import {
  exposedToolName,
  isReplicated,
  type ServiceConfig,
  type ToolSwitches,
  toolEnabled,
} from "./service-config.js";

export interface McpServiceManagerOptions
  extends Omit<McpServiceOptions, "onToolsChanged" | "restart" | "onClosed"> {
  /** `mcpServerConfig`: per-tool enable switches. */
  readonly toolSwitches?: ToolSwitches;
  readonly logger?: Logger;
  /** Where replicated services find their strategy by name; default the built-ins. */
  readonly strategies?: StrategyRegistry;
}

/** What the status of one service looks like. */
export interface ServiceStatus {
  readonly name: string;
  readonly state: ServiceState;
  readonly tools: number;
  readonly lastError?: string;
  /** Present for replicated services. */
  readonly replicas?: readonly ReplicaStatus[];
}

/** One exposed tool with where it comes from. */
export interface ExposedTool extends ToolDescriptor {
  readonly service: string;
  readonly enabled: boolean;
}

type Service = McpService | ReplicatedService;

interface Route {
  readonly service: Service;
  readonly tool: string;
}

/**
 * The ToolSource every endpoint serves: the seed's MCPServiceManager. Aggregates the tools of the
 * configured MCP services as `<service>__<tool>`, hides and refuses disabled tools, and tells its
 * listeners whenever a service's list changes, crashes or comes back.
 */
export class McpServiceManager implements ToolSource {
  readonly #services = new Map<string, Service>();
  readonly #listeners = new Set<() => void>();
  readonly #options: McpServiceManagerOptions;
  #switches: ToolSwitches | undefined;
  #catalog: { tools: ExposedTool[]; routes: Map<string, Route> } | undefined;

  constructor(services: Readonly<Record<string, ServiceConfig>>, options: McpServiceManagerOptions = {}) {
    this.#options = options;
    this.#switches = options.toolSwitches;
    for (const [name, config] of Object.entries(services)) this.#add(name, config);
  }

  /** Starts every service at once; one failing service delays no other (it restarts in the background). */
  async start(): Promise<void> {
    await Promise.allSettled([...this.#services.values()].map((s) => s.start()));
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#services.values()].map((s) => s.stop()));
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
      ...(s.lastError === undefined ? {} : { lastError: s.lastError }),
      ...(s instanceof ReplicatedService ? { replicas: s.replicas() } : {}),
    }));
  }

  /** Every tool of every service that is up, enabled or not, for status pages. */
  allTools(): readonly ExposedTool[] {
    return this.#getCatalog().tools;
  }

  listTools(): readonly ToolDescriptor[] {
    return this.#getCatalog().tools.filter((t) => t.enabled);
  }

  async callTool(
    name: string,
    args: Record<string, unknown> | undefined,
    options: ToolCallOptions,
  ): Promise<ToolCallResult> {
    const route = this.#getCatalog().routes.get(name);
    if (!route) throw new ConnectError("UNKNOWN_TOOL", `unknown or disabled tool: ${name}`);
    return route.service.callTool(route.tool, args, options.signal);
  }

  onToolsChanged(listener: () => void): () => void {
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  #add(name: string, config: ServiceConfig): void {
    const options = {
      ...this.#options,
      logger: this.#options.logger ?? silentLogger,
      onToolsChanged: () => this.#changed(),
    };
    const service = isReplicated(config)
      ? new ReplicatedService(name, config, options)
      : new McpService(name, config, options);
    this.#services.set(name, service);
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

  #getCatalog() {
    if (this.#catalog) return this.#catalog;
    const tools: ExposedTool[] = [];
    const routes = new Map<string, Route>();
    for (const service of this.#services.values()) {
      for (const tool of service.tools) {
        const name = exposedToolName(service.name, tool.name);
        const enabled = toolEnabled(this.#switches, service.name, tool.name);
        tools.push(expose(tool, name, service.name, enabled));
        if (enabled) routes.set(name, { service, tool: tool.name });
      }
    }
    this.#catalog = { tools, routes };
    return this.#catalog;
  }
}

function expose(tool: Tool, name: string, service: string, enabled: boolean): ExposedTool {
  return {
    name,
    service,
    enabled,
    inputSchema: tool.inputSchema,
    ...(tool.title === undefined ? {} : { title: tool.title }),
    ...(tool.description === undefined ? {} : { description: tool.description }),
    ...(tool.outputSchema === undefined ? {} : { outputSchema: tool.outputSchema }),
    ...(tool.annotations === undefined ? {} : { annotations: tool.annotations }),
  };
}
