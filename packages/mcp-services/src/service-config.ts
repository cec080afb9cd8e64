/** A local MCP service started as a child process speaking MCP over stdio. */
export interface StdioServiceConfig {
  readonly type?: "stdio" | undefined;
  readonly command: string;
  readonly args?: readonly string[] | undefined;
  readonly env?: Readonly<Record<string, string>> | undefined;
  readonly cwd?: string | undefined;
  /** Longest line the service may write to stdout, in bytes; a longer one ends it. Default 8 MiB. */
  readonly maxLineBytes?: number | undefined;
  /** The MCP handshake (start, initialize, tools/list) must finish within this (ms); default 30000. */
  readonly handshakeTimeout?: number | undefined;
  /**
   * As an entry of a replicated service's `replicas`: its share of the calls relative to the other
   * replicas, for strategies that weigh them (a positive finite number; default 1). A change applies
   * to the next call, the replica keeps running. Not read on a service that is not replicated.
   */
  readonly weight?: number | undefined;
}

/** A remote MCP service over SSE or streamable HTTP (`http` is an alias of `streamable-http`). */
export interface RemoteServiceConfig {
  readonly type?: "sse" | "streamable-http" | "http" | undefined;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The MCP handshake (connect, initialize, tools/list) must finish within this (ms); default 30000. */
  readonly handshakeTimeout?: number | undefined;
  /**
   * As an entry of a replicated service's `replicas`: its share of the calls relative to the other
   * replicas, for strategies that weigh them (a positive finite number; default 1). A change applies
   * to the next call, the replica keeps running. Not read on a service that is not replicated.
   */
  readonly weight?: number | undefined;
}

/** One process or URL of a service; a replicated service has several. */
export type ReplicaConfig = StdioServiceConfig | RemoteServiceConfig;

/**
 * A service run as several interchangeable replicas (the same tools behind several commands or
 * URLs). Calls are balanced over the healthy ones and fail over when one dies.
 */
export interface ReplicatedServiceConfig {
  /**
   * Its replicas. Applied to a running service as a diff: a replica whose entry is unchanged (its
   * `weight` and the order of its fields aside) keeps its process and its id, a removed one takes
   * no new call and stops once its calls in flight have ended (at the latest after `drainLimit`),
   * an added one starts under an id this service has never used.
   */
  readonly replicas: readonly ReplicaConfig[];
  /** Strategy name from the registry; default `least-inflight`. A change applies from the next call. */
  readonly strategy?: string | undefined;
  /** Handshake deadline of every replica (ms); default 30000. A change applies from the next handshake. */
  readonly handshakeTimeout?: number | undefined;
}

/** How long a service may take to start and answer `initialize` and `tools/list` by default, in ms. */
export const defaultHandshakeTimeout = 30_000;

/** One entry of `mcpServers` in `xiaozhi.config.json`. */
export type ServiceConfig = ReplicaConfig | ReplicatedServiceConfig;

export function isReplicated(config: ServiceConfig): config is ReplicatedServiceConfig {
  return "replicas" in config;
}

export type TransportKind = "stdio" | "sse" | "streamable-http";

/**
 * The transport of a service, as xiaozhi-client infers it for entries without `type`: a `command`
 * means stdio, a URL ending in `/sse` means SSE, any other URL streamable HTTP.
 */
export function transportKind(config: ReplicaConfig): TransportKind {
  if ("command" in config) return "stdio";
  if (config.type === "sse") return "sse";
  if (config.type === "http" || config.type === "streamable-http") return "streamable-http";
  return new URL(config.url).pathname.replace(/\/+$/, "").endsWith("/sse") ? "sse" : "streamable-http";
}

/**
 * `mcpServerConfig` in `xiaozhi.config.json`: per-service, per-tool switches. `timeout` (ms) is the
 * tool's own call deadline; the transport's `callTimeout` still bounds it, so the shorter wins.
 */
export type ToolSwitches = Readonly<
  Record<
    string,
    | {
        readonly tools?:
          | Readonly<
              Record<string, { readonly enable?: boolean | undefined; readonly timeout?: number | undefined }>
            >
          | undefined;
      }
    | undefined
  >
>;

/** The separator between service and tool in exposed names (`calc__add`), as xiaozhi-client writes them. */
export const toolNameSeparator = "__";

/** The service part of an exposed tool name (`calc__add` → `calc`); empty when there is none. */
export function serviceOf(toolName: string): string {
  const at = toolName.indexOf(toolNameSeparator);
  return at > 0 ? toolName.slice(0, at) : "";
}

/** `calc` + `add` → `calc__add`. */
export function exposedToolName(service: string, tool: string): string {
  return `${service}${toolNameSeparator}${tool}`;
}

/** The tool's own call deadline in ms (`mcpServerConfig.<service>.tools.<tool>.timeout`), if it has one. */
export function toolTimeout(
  switches: ToolSwitches | undefined,
  service: string,
  tool: string,
): number | undefined {
  const timeout = switches?.[service]?.tools?.[tool]?.timeout;
  return typeof timeout === "number" && timeout > 0 ? timeout : undefined;
}

/**
 * Why a tool cannot be called through xiaozhi-connect, or undefined when it can: a tool whose
 * `execution.taskSupport` is `required` answers only task-augmented calls, which agents do not make.
 */
export function uncallableReason(tool: {
  readonly execution?: { readonly taskSupport?: string } | undefined;
}): string | undefined {
  return tool.execution?.taskSupport === "required"
    ? "requires task-based execution (execution.taskSupport: required), which calls through xiaozhi-connect do not use"
    : undefined;
}

/** False only when the config switches the tool off explicitly. */
export function toolEnabled(switches: ToolSwitches | undefined, service: string, tool: string): boolean {
  return switches?.[service]?.tools?.[tool]?.enable !== false;
}
