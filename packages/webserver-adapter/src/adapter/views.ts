import { maskEndpoint, redact } from "@xiaozhi-connect/core";
import {
  type CustomTools,
  type ExposedTool,
  type PreparedServices,
  type ServiceConfig,
  type ServiceSettings,
  type ServiceStatus,
  type ToolFilter,
  type ToolSwitches,
  transportKind,
} from "@xiaozhi-connect/mcp-services";
import type { ClusterView } from "../cluster.js";
import type { ConfigStatus } from "../config/config-file.js";
import { shownArgs } from "../config/services.js";
import type { ToolBudget } from "./tool-budget.js";

/** A tool as the API lists it. */
export interface ToolInfo {
  readonly name: string;
  readonly description: string;
  readonly service: string;
  readonly enabled: boolean;
  /** Why it cannot run here (an unsupported customMCP handler, a missing credential). */
  readonly unavailable?: string;
  /** A customMCP `mcp` tool: the service tool (`<service>__<tool>`) its calls go to. */
  readonly target?: string;
}

/** `GET /api/status`. */
export interface AdapterStatus {
  readonly version: string;
  readonly startedAt: number;
  readonly config: ConfigStatus;
  readonly endpoints: { readonly total: number; readonly connected: number };
  /**
   * The tool limits (`{url, services?, tools?}` entries of `mcpEndpoint`) by endpoint id, for the
   * endpoints that have one; absent when none has. With the tool list, what each agent is given.
   */
  readonly toolFilters?: Readonly<Record<string, ToolFilter>>;
  /**
   * By endpoint id: how many tools its agent is given, the size of that list in bytes, its
   * `maxTools` and whether it is over. Absent when the tool source lists only asynchronously.
   * Worked out from this instance's tools for the endpoints it runs: every endpoint listed, or in
   * cluster mode those `here` in `/api/endpoints` (another instance may serve other tools). A
   * failed endpoint's agent is given nothing.
   */
  readonly toolBudget?: Readonly<Record<string, ToolBudget>>;
  /** In cluster mode: this instance, Redis, and every instance of the cluster. */
  readonly cluster?: ClusterView;
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
  /** The replicas' balancing strategy, when the entry names one. */
  readonly strategy?: string;
  /** Longest stdout line, bytes (stdio), when the entry sets it. */
  readonly maxLineBytes?: number;
  /** The handshake's time limit, ms, when the entry sets it. */
  readonly handshakeTimeout?: number;
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
 * What the adapter uses of a tool source beyond core's `ToolSource`, when it is there. The built-in
 * `McpServiceManager` has all of it; a third party's source may have none, and reload and shutdown
 * still work. Nothing is detected by class.
 */
export interface ServiceCatalog {
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
  configure?(settings: ServiceSettings): void;
}

/** How the API shows a service's entry: its shape, never its secrets. */
export function configView(entry: ServiceConfig): ServiceConfigView {
  // Every field but secrets is shown: a client that edits the entry sends it back whole.
  const limit = entry.handshakeTimeout === undefined ? {} : { handshakeTimeout: entry.handshakeTimeout };
  if ("replicas" in entry) {
    return {
      type: "replicated",
      replicas: entry.replicas.length,
      ...(entry.strategy === undefined ? {} : { strategy: entry.strategy }),
      ...limit,
    };
  }
  if ("command" in entry) {
    return {
      type: "stdio",
      command: redact(entry.command),
      ...(entry.args === undefined ? {} : { args: shownArgs(entry.args) }),
      ...(entry.cwd === undefined ? {} : { cwd: entry.cwd }),
      ...(entry.maxLineBytes === undefined ? {} : { maxLineBytes: entry.maxLineBytes }),
      ...limit,
      ...(entry.env === undefined ? {} : { env: Object.keys(entry.env) }),
    };
  }
  return {
    // The schema has checked the URL, so its kind can be read.
    type: transportKind(entry),
    url: maskEndpoint(entry.url),
    ...limit,
    ...(entry.headers === undefined ? {} : { headers: Object.keys(entry.headers) }),
  };
}
