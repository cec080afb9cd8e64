import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { type ToolDescriptor, XiaozhiError } from "@xiaozhi-connect/core";
import { type CustomToolConfig, mcpTarget, type PlatformsConfig, unavailableReason } from "./custom-tools.js";
import type { ReplicatedService } from "./replicated-service.js";
import { exposedToolName, type ToolSwitches, toolEnabled, uncallableReason } from "./service-config.js";

/** One exposed tool with where it comes from. */
export interface ExposedTool extends ToolDescriptor {
  readonly service: string;
  /** The tool's switch: false only when the config switches it off. Agents see it when also available. */
  readonly enabled: boolean;
  /** Why the tool cannot run here (an unsupported customMCP handler, a missing credential). */
  readonly unavailable?: string;
  /** A customMCP `mcp` tool: the service tool its calls go to, as `<service>__<tool>`. */
  readonly target?: string;
}

/** The `customMCP` tools of the config and the `platforms` credentials they use. */
export interface CustomTools {
  readonly tools: readonly CustomToolConfig[];
  readonly platforms?: PlatformsConfig;
}

/** The service name custom tools are listed under. */
export const customToolsService = "customMCP";

/** Where a listed tool's calls go: a service's tool, or a customMCP handler. */
export type Route =
  | { readonly service: ReplicatedService; readonly tool: string; readonly custom?: undefined }
  | { readonly custom: CustomToolConfig; readonly service?: undefined; readonly tool?: undefined };

/** Every tool with its state, the ones agents are offered, and where each offered one's calls go. */
export interface ToolCatalog {
  readonly tools: ExposedTool[];
  readonly listed: ExposedTool[];
  readonly routes: Map<string, Route>;
}

/**
 * The tools of the services and the customMCP entries as agents and the dashboard see them, worked
 * out afresh after every change. A tool that cannot run here (switched off, an unsupported handler,
 * execution that needs tasks) is listed with why and never offered.
 */
export function buildCatalog(
  services: ReadonlyMap<string, ReplicatedService>,
  custom: CustomTools,
  switches: ToolSwitches | undefined,
): ToolCatalog {
  const tools: ExposedTool[] = [];
  const routes = new Map<string, Route>();
  // customMCP entries keep their names even when a service tool has the same one: xiaozhi-client
  // names a service tool added to an agent `<service>__<tool>` unless the user renames it.
  const customNames = new Set(custom.tools.filter((t) => typeof t.name === "string").map((t) => t.name));
  for (const service of services.values()) {
    for (const tool of service.tools) {
      const name = exposedToolName(service.name, tool.name);
      if (customNames.has(name)) continue;
      const enabled = toolEnabled(switches, service.name, tool.name);
      const unavailable = uncallableReason(tool);
      tools.push(expose(tool, name, service.name, enabled, unavailable));
      if (enabled && unavailable === undefined) routes.set(name, { service, tool: tool.name });
    }
  }
  const seen = new Set<string>();
  custom.tools.forEach((tool, index) => {
    const named = typeof tool.name === "string" && tool.name !== "";
    const name = named ? tool.name : `customMCP.tools[${index}]`;
    const target = mcpTarget(tool);
    const unavailable =
      unavailableReason(tool, custom.platforms) ??
      (seen.has(name) ? "another customMCP tool has this name" : undefined) ??
      (target ? targetMissing(services, target) : undefined);
    seen.add(name);
    const enabled = customToolEnabled(tool, switches);
    tools.push({
      name,
      service: customToolsService,
      enabled,
      inputSchema: (isObject(tool.inputSchema)
        ? tool.inputSchema
        : { type: "object" }) as ExposedTool["inputSchema"],
      ...(typeof tool.description === "string" ? { description: tool.description } : {}),
      ...(unavailable === undefined ? {} : { unavailable }),
      ...(target ? { target: exposedToolName(target.service, target.tool) } : {}),
    });
    if (!enabled || unavailable !== undefined) return;
    const service = target && services.get(target.service);
    routes.set(name, service && target ? { service, tool: target.tool } : { custom: tool });
  });
  // A tool that cannot run here is never offered, whatever its switch says.
  return { tools, listed: tools.filter((t) => t.enabled && t.unavailable === undefined), routes };
}

/**
 * Why a call to `name` is refused when the catalog has no route for it: the tool's own reason when
 * it is switched on but cannot run here (an unsupported customMCP handler, a missing credential), as
 * the tool list gives it. A caller that names an unlisted tool learns what to fix, not that it is
 * unknown; a switched-off tool stays "unknown or disabled", as its switch alone decides.
 */
export function refusal(catalog: ToolCatalog, name: string): XiaozhiError {
  const blocked = catalog.tools.find((t) => t.name === name && t.enabled && t.unavailable !== undefined);
  return new XiaozhiError(
    "UNKNOWN_TOOL",
    blocked ? `${name} is unavailable: ${blocked.unavailable}` : `unknown or disabled tool: ${name}`,
  );
}

/** Why an `mcp` handler's service tool cannot be called now, or undefined when it can. */
function targetMissing(
  services: ReadonlyMap<string, ReplicatedService>,
  target: { service: string; tool: string },
): string | undefined {
  const service = services.get(target.service);
  if (!service) return `no service "${target.service}" in mcpServers`;
  if (service.tools.some((t) => t.name === target.tool)) return undefined;
  return service.state === "up"
    ? `service "${target.service}" has no tool "${target.tool}"`
    : `service "${target.service}" is ${service.state}`;
}

/**
 * A customMCP tool's switch: `enable` on its entry, or (as earlier versions read it)
 * `mcpServerConfig.customMCP.tools.<name>.enable`.
 */
function customToolEnabled(tool: CustomToolConfig, switches: ToolSwitches | undefined): boolean {
  if (tool.enable === false) return false;
  return typeof tool.name !== "string" || toolEnabled(switches, customToolsService, tool.name);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function expose(
  tool: Tool,
  name: string,
  service: string,
  enabled: boolean,
  unavailable: string | undefined,
): ExposedTool {
  return {
    name,
    service,
    enabled,
    ...(unavailable === undefined ? {} : { unavailable }),
    inputSchema: tool.inputSchema,
    ...(tool.title === undefined ? {} : { title: tool.title }),
    ...(tool.description === undefined ? {} : { description: tool.description }),
    ...(tool.outputSchema === undefined ? {} : { outputSchema: tool.outputSchema }),
    ...(tool.annotations === undefined ? {} : { annotations: tool.annotations }),
  };
}
