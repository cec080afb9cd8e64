import { type ToolSource, XiaozhiError } from "@xiaozhi-connect/core";
import {
  customToolsService,
  type ServiceConfig,
  serviceOf,
  toolNameSeparator,
} from "@xiaozhi-connect/mcp-services";
import {
  removeServiceEntry,
  serviceToWrite,
  setCustomToolSwitch,
  setServiceEntry,
  setToolSwitch,
} from "../config/services.js";
import type { ConfigApplier } from "./config-applier.js";
import { configView, type ServiceCatalog, type ServiceInfo, type ToolInfo } from "./views.js";

/**
 * The services and tools, as the API and the dashboard manage them: every change is written to the
 * config (atomically, keeping every other field and comment) through the applier's one path, and
 * applied live.
 */
export class ServiceAdmin {
  constructor(
    private readonly tools: ToolSource,
    private readonly catalog: ServiceCatalog,
    private readonly applier: ConfigApplier,
  ) {}

  /** Every tool with its service; disabled ones too when the tool source knows them. */
  async listTools(): Promise<ToolInfo[]> {
    if (this.catalog.allTools) {
      return this.catalog.allTools().map((t) => ({
        name: t.name,
        description: t.description ?? "",
        service: t.service,
        enabled: t.enabled,
        ...(t.unavailable === undefined ? {} : { unavailable: t.unavailable }),
        ...(t.target === undefined ? {} : { target: t.target }),
      }));
    }
    return (await this.tools.listTools()).map((t) => ({
      name: t.name,
      description: t.description ?? "",
      service: serviceOf(t.name),
      enabled: true,
    }));
  }

  /**
   * Switches one tool on or off and applies it live: a service's (`<service>__<tool>`) in
   * `mcpServerConfig`, a customMCP tool by `enable` on its own entry. Throws `UNKNOWN_TOOL` for a
   * tool no service or entry offers.
   */
  async setToolEnabled(name: string, enabled: boolean): Promise<ToolInfo> {
    const { settled, tool } = await this.applier.serially(async () => {
      const known = (await this.listTools()).find((tool) => tool.name === name);
      if (!known) throw new XiaozhiError("UNKNOWN_TOOL", `no tool ${name.slice(0, 200)}`);
      const change = await this.applier.change((raw) => {
        if (known.service === customToolsService) {
          // An entry without a name is listed by its place and has nothing to switch.
          if (!setCustomToolSwitch(raw, name, enabled))
            throw new XiaozhiError("UNKNOWN_TOOL", `no customMCP tool named ${name.slice(0, 200)}`);
          return;
        }
        setToolSwitch(
          raw,
          known.service,
          name.slice(known.service.length + toolNameSeparator.length),
          enabled,
        );
      });
      return { ...change, tool: { ...known, enabled } };
    });
    await settled;
    return tool;
  }

  /** Services behind the tools, when the tool source reports them, with their config. */
  services(): ServiceInfo[] {
    const configured = (this.applier.config.mcpServers ?? {}) as Record<string, ServiceConfig>;
    return (this.catalog.status?.() ?? []).map((status) => {
      const entry = Object.hasOwn(configured, status.name) ? configured[status.name] : undefined;
      return entry ? { ...status, config: configView(entry) } : status;
    });
  }

  /**
   * Adds a service to `mcpServers` and starts it. Throws `INVALID_CONFIG` for a bad name or entry,
   * `DUPLICATE_SERVICE` for a name in use.
   */
  addService(name: string, entry: unknown): Promise<ServiceInfo> {
    return this.#write(name, entry, true);
  }

  /**
   * Replaces a service's entry and restarts it with it. `env` and `headers`, which the API never
   * shows, are kept unless given. Throws `UNKNOWN_SERVICE`, `INVALID_CONFIG`.
   */
  updateService(name: string, entry: unknown): Promise<ServiceInfo> {
    return this.#write(name, entry, false);
  }

  /** Stops a service and removes it from `mcpServers`; false when the config has no such service. */
  async removeService(name: string): Promise<boolean> {
    let removed = false;
    const { settled } = await this.applier.serially(() =>
      this.applier.change((raw) => {
        removed = removeServiceEntry(raw, name);
        return removed;
      }),
    );
    await settled;
    return removed;
  }

  /** Restarts one service now, also after it gave up; throws `UNKNOWN_SERVICE`. */
  async restartService(name: string): Promise<ServiceInfo> {
    if (!(await this.catalog.restart?.(name))) {
      throw new XiaozhiError("UNKNOWN_SERVICE", `no service ${name.slice(0, 100)}`);
    }
    return this.#service(name);
  }

  async #write(name: string, entry: unknown, create: boolean): Promise<ServiceInfo> {
    const checked = serviceToWrite(name, entry);
    const { settled } = await this.applier.serially(() =>
      this.applier.change((raw) => setServiceEntry(raw, name, checked, create)),
    );
    await settled;
    return this.#service(name);
  }

  #service(name: string): ServiceInfo {
    const found = this.services().find((s) => s.name === name);
    if (!found) throw new XiaozhiError("UNKNOWN_SERVICE", `no service ${name.slice(0, 100)}`);
    return found;
  }
}
