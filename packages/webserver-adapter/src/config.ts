import { resolve } from "node:path";
import {
  defaultManagerSettings,
  type EndpointDescriptor,
  endpointId,
  type ManagerSettings,
  maskEndpoint,
  normalizeEndpointUrl,
  redact,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import {
  type CustomToolConfig,
  type CustomTools,
  defaultToolsHold,
  type PlatformsConfig,
  type ReplicaConfig,
  type ServiceConfig,
  type ToolSwitches,
  toolNameSeparator,
} from "@xiaozhi-connect/mcp-services";
import {
  defaultHeartbeat,
  defaultTransportOptions,
  type XiaozhiTransportOptions,
} from "@xiaozhi-connect/transport-ws";
import { z } from "zod";
import { type ConfigFormat, parseText } from "./config-text.js";

const positiveMs = z.number().int().positive();

const endpointObject = z.object({
  url: z.string(),
  /** The agent's name as the page, the API, the logs and the metrics show it. */
  name: z.string().max(120).optional(),
  weight: z.number().positive().optional(),
  services: z.array(z.string()).optional(),
  tools: z.array(z.string()).optional(),
});

const stdioService = z.object({
  type: z.literal("stdio").optional(),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  /** Longest line the service may write to stdout, in bytes; default 8 MiB. */
  maxLineBytes: z.number().int().positive().optional(),
  /** Start, initialize and tools/list must finish within this (ms); default 30000. */
  handshakeTimeout: positiveMs.optional(),
});

const remoteService = z.object({
  type: z.enum(["sse", "streamable-http", "http"]).optional(),
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  headers: z.record(z.string(), z.string()).optional(),
  /** Connect, initialize and tools/list must finish within this (ms); default 30000. */
  handshakeTimeout: positiveMs.optional(),
});

const replica = z.union([stdioService, remoteService], {
  error: "needs either `command` (stdio) or `url` (SSE / streamable HTTP)",
});

const service = z.union(
  [
    z.object({
      replicas: z.array(replica).min(1),
      strategy: z.string().optional(),
      handshakeTimeout: positiveMs.optional(),
    }),
    stdioService,
    remoteService,
  ],
  { error: "needs `command` (stdio), `url` (SSE / streamable HTTP) or `replicas`" },
);

/** The `connection` block: xiaozhi-client's fields plus the optional new ones. */
const connection = z.object({
  /** WebSocket ping period (ms); default 30000. */
  heartbeatInterval: positiveMs.optional(),
  /** No pong within this ends the link (ms); default 10000. */
  heartbeatTimeout: positiveMs.optional(),
  /** First reconnect delay ceiling (ms); default 1000. Doubles per attempt with full jitter. */
  reconnectInterval: positiveMs.optional(),
  /** Give up after this many attempts in a row; default unlimited. */
  maxReconnectAttempts: z.number().int().nonnegative().optional(),
  /** An attempt not connected by then is abandoned (ms); default 10000. */
  connectionTimeout: positiveMs.optional(),
  /** Reconnect after drops; default true. */
  autoReconnect: z.boolean().optional(),
  /** Cap of the reconnect delay (ms); default 60000. */
  maxReconnectInterval: positiveMs.optional(),
  /** A link up this long resets its attempt counter (ms); default 10000. */
  minUptime: positiveMs.optional(),
  /** Tool-call deadline (ms); default 300000. */
  callTimeout: positiveMs.optional(),
  /**
   * When one endpoint on a host reconnects, the others on that host waiting to retry do so within
   * this window (ms), spread; 0 turns it off. Default 2000.
   */
  recoveryWindow: z.number().int().nonnegative().optional(),
  /** Strategy for operations sent to "any healthy endpoint"; default `round-robin`. */
  loadBalanceStrategy: z.string().optional(),
  /**
   * How agents learn that their tools changed: `auto` (list_changed, then a reconnect when the
   * agent does not re-list), `notify` (list_changed only) or `reconnect` (always both).
   */
  toolsChanged: z.enum(["auto", "notify", "reconnect"]).optional(),
  /** An agent's tools/list waits up to this long for services still starting (ms); default 5000. */
  toolsWait: z.number().int().nonnegative().optional(),
  /** A crashed service keeps its tools listed while it restarts, up to this long (ms); default 30000. */
  toolsHold: z.number().int().nonnegative().optional(),
  /** `auto`: how long an agent has to re-list after list_changed (ms); default 2000. */
  relistGrace: positiveMs.optional(),
  /** Republishes per endpoint: five at once, then one per this many ms; default 10000. */
  republishInterval: positiveMs.optional(),
});

/**
 * `xiaozhi.config.json`, as xiaozhi-client writes it, with the optional fields xiaozhi-connect
 * adds. Unknown top-level fields (other tools' settings) are kept as they are.
 */
export const xiaozhiConfigSchema = z.looseObject({
  mcpEndpoint: z
    .union([z.string(), z.array(z.union([z.string(), endpointObject]))], {
      error: "must be a URL, or a list of URLs and {url, name?, weight?, services?, tools?} objects",
    })
    .optional(),
  mcpServers: z.record(z.string(), service).optional(),
  mcpServerConfig: z
    .record(
      z.string(),
      z.looseObject({
        tools: z.record(z.string(), z.looseObject({ enable: z.boolean().optional() })).optional(),
      }),
    )
    .optional(),
  connection: connection.optional(),
  /** xiaozhi-client's tools served by a handler instead of a service (proxy to Coze, http). */
  customMCP: z
    .looseObject({
      tools: z
        .array(
          z.looseObject({
            name: z.string().min(1),
            description: z.string().optional(),
            inputSchema: z.record(z.string(), z.unknown()).optional(),
            handler: z.looseObject({ type: z.string() }),
          }),
        )
        .optional(),
    })
    .optional(),
  /** Credentials of platforms custom tools call: `platforms.coze.token`. */
  platforms: z.record(z.string(), z.looseObject({ token: z.string().optional() })).optional(),
  /** `modelscope.apiKey`: sent as a bearer token to ModelScope-hosted services. */
  modelscope: z.looseObject({ apiKey: z.string().optional() }).optional(),
  /** Health scoring and ejection (see @xiaozhi-connect/health); every field optional. */
  health: z
    .looseObject({
      consecutiveFailures: z.number().int().positive().optional(),
      baseEjectionTime: positiveMs.optional(),
      maxEjectionTime: positiveMs.optional(),
      maxEjectionShare: z.number().min(0).max(1).optional(),
      staleAfter: positiveMs.optional(),
    })
    .optional(),
  /**
   * Cluster mode: several instances share the endpoints through Redis (leases, one endpoint list).
   * Without it nothing uses Redis.
   */
  cluster: z
    .strictObject({
      /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
      redis: z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" }),
      /** Unique per instance; default `<host>-<pid>`. */
      instanceId: z
        .string()
        .regex(
          /^[A-Za-z0-9._:-]{1,100}$/,
          "must be 1-100 letters, digits, dots, dashes, colons or underscores",
        )
        .optional(),
      /** How long a lease outlives its holder, in ms (default 15000). */
      leaseTtl: z.number().int().min(1000).max(600_000).optional(),
      /** The Redis key prefix: instances sharing it form one cluster (default `xiaozhi-connect`). */
      namespace: z
        .string()
        .regex(
          /^[A-Za-z0-9._:-]{1,100}$/,
          "must be 1-100 letters, digits, dots, dashes, colons or underscores",
        )
        .optional(),
    })
    .optional(),
  webUI: z
    .looseObject({
      port: z.number().int().min(0).max(65535).optional(),
      host: z.string().optional(),
      /** Host names, besides loopback names and the bound address, that requests may be addressed to. */
      allowedHosts: z.array(z.string().min(1)).optional(),
      /** Bearer token for mutating routes and the event stream. */
      authToken: z.string().min(16, "must be at least 16 characters").optional(),
    })
    .optional(),
});

export type XiaozhiConfig = z.infer<typeof xiaozhiConfigSchema>;
export type ConnectionConfig = NonNullable<XiaozhiConfig["connection"]>;

/**
 * Validates a parsed config. Throws `INVALID_CONFIG` naming every wrong field and why, e.g.
 * `connection.heartbeatInterval: expected number, received string`. Secrets never appear.
 */
export function parseConfig(value: unknown): XiaozhiConfig {
  const result = xiaozhiConfigSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
    return `${path.replace(/^\./, "") || "(root)"}: ${issue.message}`;
  });
  throw new XiaozhiError("INVALID_CONFIG", `invalid config: ${problems.join("; ")}`);
}

/**
 * Parses the text of a config file (`format` from its extension: JSON and JSONC may carry comments;
 * JSON5 too). Bad syntax (with its line and column) and schema errors both throw `INVALID_CONFIG`.
 */
export function parseConfigText(text: string, format: ConfigFormat = "json"): XiaozhiConfig {
  return parseConfig(parseText(text, format));
}

/** An endpoint left out of the config, with why; `endpoint` is masked. */
export interface SkippedEndpoint {
  readonly endpoint: string;
  readonly reason: string;
}

/**
 * Splits `mcpEndpoint` (string, list of strings or `{url,…}` objects) into the endpoints to
 * connect and the ones to skip: empty entries, placeholders such as `<请填写...>`, non-ws(s)
 * URLs and duplicates. Skipped ones are described masked.
 */
export function selectEndpoints(mcpEndpoint: XiaozhiConfig["mcpEndpoint"]): {
  endpoints: EndpointDescriptor[];
  skipped: SkippedEndpoint[];
} {
  const list = mcpEndpoint === undefined ? [] : Array.isArray(mcpEndpoint) ? mcpEndpoint : [mcpEndpoint];
  const endpoints: EndpointDescriptor[] = [];
  const skipped: SkippedEndpoint[] = [];
  const seen = new Set<string>();
  for (const entry of list) {
    const descriptor = typeof entry === "string" ? { url: entry } : entry;
    const url = descriptor.url.trim();
    const reason = whyInvalid(url) ?? (seen.has(endpointId(url)) ? "listed twice" : undefined);
    if (reason) {
      skipped.push({ endpoint: describe(url), reason });
      continue;
    }
    seen.add(endpointId(url));
    // The tool filter travels as the endpoint's opaque data, for the filtering connection factory.
    const filter =
      descriptor.services === undefined && descriptor.tools === undefined
        ? undefined
        : {
            ...(descriptor.services === undefined ? {} : { services: descriptor.services }),
            ...(descriptor.tools === undefined ? {} : { tools: descriptor.tools }),
          };
    endpoints.push({
      url,
      name: (typeof entry === "string" ? undefined : entry.name?.trim()) || agentNameOf(url),
      ...(descriptor.weight === undefined ? {} : { weight: descriptor.weight }),
      ...(filter === undefined ? {} : { data: filter }),
    });
  }
  return { endpoints, skipped };
}

/** The longest endpoint URL accepted, in characters. */
export const maxEndpointUrlLength = 2048;

/** Why a string cannot be an endpoint URL, or undefined when it can. */
export function whyInvalid(url: string): string | undefined {
  if (!url) return "empty";
  if (url.length > maxEndpointUrlLength) return `longer than ${maxEndpointUrlLength} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(url)) return "not allowed to contain control characters";
  if (/<[^>]*>|请填写/.test(url)) return "a placeholder, not a real endpoint";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a URL";
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") return "not a ws:// or wss:// URL";
  return undefined;
}

/**
 * What to call the agent behind an endpoint URL that has no `name`: `agent <agentId>` when the
 * token is a JWT whose payload carries `agentId` (Xiaozhi endpoint tokens do; the token is read,
 * never verified, and never shown), else the host.
 */
export function agentNameOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "";
  }
  const token = parsed.searchParams.get("token") ?? "";
  const payload = token.split(".")[1];
  if (token.split(".").length === 3 && payload) {
    try {
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
      const agentId = (claims as { agentId?: unknown } | null)?.agentId;
      if ((typeof agentId === "number" && Number.isFinite(agentId)) || typeof agentId === "string") {
        const id = String(agentId).slice(0, 64);
        if (/^[\w.-]+$/.test(id)) return `agent ${id}`;
      }
    } catch {
      // Not a JWT after all: fall back to the host.
    }
  }
  return parsed.hostname;
}

function describe(url: string): string {
  return url ? maskEndpoint(url) : "(empty)";
}

/**
 * `mcpServers` for the service manager. With `baseDir` (the config file's folder), stdio services
 * resolve as xiaozhi-client resolves them: a relative `command` or argument (starting with `./` or
 * `../`, or a bare file name ending in .js, .mjs, .cjs, .ts or .py) is taken from that folder, and
 * the child runs there unless the entry names its own `cwd`. So xiaozhi-client's default layout
 * (`node ./mcpServers/calculator.js` beside the config) works from any start directory.
 */
export function servicesOf(config: XiaozhiConfig, baseDir?: string): Record<string, ServiceConfig> {
  const services = (config.mcpServers ?? {}) as Record<string, ServiceConfig>;
  const apiKey = config.modelscope?.apiKey;
  const resolveEntry = (entry: ReplicaConfig): ReplicaConfig => {
    if (!("command" in entry)) return apiKey ? withModelScopeKey(entry, apiKey) : entry;
    if (baseDir === undefined) return entry;
    return {
      ...entry,
      command: relativeToConfig(entry.command, baseDir),
      ...(entry.args ? { args: entry.args.map((arg) => relativeToConfig(arg, baseDir)) } : {}),
      cwd: entry.cwd === undefined ? baseDir : resolve(baseDir, entry.cwd),
    };
  };
  return Object.fromEntries(
    Object.entries(services).map(([name, service]) => [
      name,
      "replicas" in service
        ? { ...service, replicas: service.replicas.map(resolveEntry) }
        : resolveEntry(service),
    ]),
  );
}

/** Hosts of ModelScope's MCP services: modelscope.cn, modelscope.net and their subdomains. */
export function isModelScopeHost(host: string): boolean {
  return /(^|\.)modelscope\.(cn|net)$/i.test(host);
}

/** A ModelScope-hosted service gets `Authorization: Bearer <apiKey>` unless it sets its own. */
function withModelScopeKey(entry: Extract<ReplicaConfig, { url: string }>, apiKey: string): ReplicaConfig {
  let host: string;
  try {
    host = new URL(entry.url).hostname;
  } catch {
    return entry;
  }
  const headers = entry.headers ?? {};
  if (!isModelScopeHost(host) || Object.keys(headers).some((h) => h.toLowerCase() === "authorization"))
    return entry;
  return { ...entry, headers: { ...headers, Authorization: `Bearer ${apiKey}` } };
}

const scriptFile = /^[^/\\\s-][^/\\\s]*\.(?:js|mjs|cjs|ts|py)$/i;

/** A path-like command or argument made absolute against `baseDir`; anything else as it is. */
export function relativeToConfig(value: string, baseDir: string): string {
  if (value.startsWith("./") || value.startsWith("../") || scriptFile.test(value))
    return resolve(baseDir, value);
  return value;
}

/** `customMCP.tools` and `platforms`, for the tools served by handlers. */
export function customToolsOf(config: XiaozhiConfig): CustomTools {
  return {
    tools: (config.customMCP?.tools ?? []) as unknown as CustomToolConfig[],
    ...(config.platforms ? { platforms: config.platforms as PlatformsConfig } : {}),
  };
}

export function toolSwitchesOf(config: XiaozhiConfig): ToolSwitches {
  return (config.mcpServerConfig ?? {}) as ToolSwitches;
}

/** The manager settings the `connection` block sets; absent fields keep their defaults. */
export function managerSettingsOf(
  connection: ConnectionConfig | undefined,
): Partial<Omit<ManagerSettings, "backoff">> & { backoff?: Partial<ManagerSettings["backoff"]> } {
  const c = connection ?? {};
  const backoff = {
    ...(c.reconnectInterval === undefined ? {} : { initialDelay: c.reconnectInterval }),
    ...(c.maxReconnectInterval === undefined ? {} : { maxDelay: c.maxReconnectInterval }),
  };
  return {
    ...(c.autoReconnect === undefined ? {} : { autoReconnect: c.autoReconnect }),
    ...(c.maxReconnectAttempts === undefined ? {} : { maxReconnectAttempts: c.maxReconnectAttempts }),
    ...(c.connectionTimeout === undefined ? {} : { connectTimeout: c.connectionTimeout }),
    ...(c.minUptime === undefined ? {} : { minUptime: c.minUptime }),
    ...(c.recoveryWindow === undefined ? {} : { recoveryWindow: c.recoveryWindow }),
    ...(Object.keys(backoff).length === 0 ? {} : { backoff }),
  };
}

/** What every `connection` field means when it is absent: the lower packages' own defaults. */
export const connectionDefaults = Object.freeze({
  heartbeatInterval: defaultHeartbeat.interval,
  heartbeatTimeout: defaultHeartbeat.timeout,
  reconnectInterval: defaultManagerSettings.backoff.initialDelay,
  maxReconnectInterval: defaultManagerSettings.backoff.maxDelay,
  maxReconnectAttempts: defaultManagerSettings.maxReconnectAttempts,
  connectionTimeout: defaultManagerSettings.connectTimeout,
  autoReconnect: defaultManagerSettings.autoReconnect,
  minUptime: defaultManagerSettings.minUptime,
  recoveryWindow: defaultManagerSettings.recoveryWindow,
  callTimeout: defaultTransportOptions.callTimeout,
  toolsChanged: defaultTransportOptions.toolsChanged,
  toolsWait: defaultTransportOptions.toolsWait,
  toolsHold: defaultToolsHold,
  relistGrace: defaultTransportOptions.relistGrace,
  republishInterval: defaultTransportOptions.republishInterval,
});

/** The `connection` block with every absent field at its default, so a removed field reverts. */
export function withConnectionDefaults(connection: ConnectionConfig | undefined): ConnectionConfig {
  return { ...connectionDefaults, ...connection };
}

/** The transport settings the `connection` block sets. */
export function transportOptionsOf(connection: ConnectionConfig | undefined): XiaozhiTransportOptions {
  const c = connection ?? {};
  return {
    ...(c.heartbeatInterval === undefined ? {} : { heartbeatInterval: c.heartbeatInterval }),
    ...(c.heartbeatTimeout === undefined ? {} : { heartbeatTimeout: c.heartbeatTimeout }),
    ...(c.callTimeout === undefined ? {} : { callTimeout: c.callTimeout }),
    ...(c.toolsChanged === undefined ? {} : { toolsChanged: c.toolsChanged }),
    ...(c.toolsWait === undefined ? {} : { toolsWait: c.toolsWait }),
    ...(c.relistGrace === undefined ? {} : { relistGrace: c.relistGrace }),
    ...(c.republishInterval === undefined ? {} : { republishInterval: c.republishInterval }),
  };
}

/**
 * Sets `mcpServerConfig.<service>.tools.<tool>.enable` in a raw (unvalidated) config object, making
 * the objects on the way as needed; everything else in it stays as it is.
 */
export function setToolSwitch(
  raw: Record<string, unknown>,
  service: string,
  tool: string,
  enabled: boolean,
): void {
  objectAt(objectAt(objectAt(objectAt(raw, "mcpServerConfig"), service), "tools"), tool).enable = enabled;
}

/** The object at `key` of `parent`, made (or replaced, when it is not an object) as needed. */
function objectAt(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = parent[key];
  if (typeof value === "object" && value !== null && !Array.isArray(value))
    return value as Record<string, unknown>;
  const made: Record<string, unknown> = {};
  parent[key] = made;
  return made;
}

/**
 * Checks an endpoint URL for adding: throws `INVALID_ENDPOINT` with why it cannot be one, else
 * returns its normalised form and id.
 */
/** An endpoint to add, checked and normalised, with its id. */
export interface EndpointToAdd {
  readonly url: string;
  readonly id: string;
  readonly name?: string;
}

export function endpointToAdd(url: string, name?: string): EndpointToAdd {
  const trimmed = typeof url === "string" ? url.trim() : "";
  const reason = whyInvalid(trimmed);
  if (reason) throw new XiaozhiError("INVALID_ENDPOINT", `endpoint URL is ${reason}`);
  const normalized = normalizeEndpointUrl(trimmed);
  const label = typeof name === "string" ? name.trim() : "";
  if (label.length > 120)
    throw new XiaozhiError("INVALID_ENDPOINT", "endpoint name is longer than 120 characters");
  return { url: normalized, id: endpointId(normalized), ...(label ? { name: label } : {}) };
}

/**
 * Appends an endpoint (as `endpointToAdd` gave it) to `mcpEndpoint` in a raw config. Throws
 * `DUPLICATE_ENDPOINT` when an entry already has its id, however that entry is spelled.
 */
export function addEndpointEntry(
  raw: Record<string, unknown>,
  endpoint: { url: string; id: string; name?: string },
): void {
  const list = endpointEntries(raw.mcpEndpoint);
  if (list.some((entry) => entryIdOf(entry) === endpoint.id)) {
    throw new XiaozhiError("DUPLICATE_ENDPOINT", `endpoint ${endpoint.id} already exists`);
  }
  raw.mcpEndpoint = [...list, endpoint.name ? { url: endpoint.url, name: endpoint.name } : endpoint.url];
}

/** Removes the entries with this id from `mcpEndpoint` in a raw config; false when none had it. */
export function removeEndpointEntry(raw: Record<string, unknown>, id: string): boolean {
  const list = endpointEntries(raw.mcpEndpoint);
  const kept = list.filter((entry) => entryIdOf(entry) !== id);
  raw.mcpEndpoint = kept;
  return kept.length < list.length;
}

/** `mcpEndpoint` as a list, whatever form it has (absent, one string, a list). */
export function endpointEntries(value: unknown): unknown[] {
  if (value === undefined || value === null || value === "") return [];
  return Array.isArray(value) ? [...value] : [value];
}

/** The id of an `mcpEndpoint` entry (a URL or `{url,…}`), undefined for one without a URL. */
export function entryIdOf(entry: unknown): string | undefined {
  const url = typeof entry === "string" ? entry : (entry as { url?: unknown } | null)?.url;
  return typeof url === "string" ? endpointId(url) : undefined;
}

/** Longest service name accepted. */
export const maxServiceNameLength = 64;

/**
 * Checks a service entry for writing: the name (letters, digits, `-`, `_`, no `__`, which separates
 * service and tool in tool names) and the entry (by the config schema). Throws `INVALID_CONFIG`.
 */
export function serviceToWrite(name: string, entry: unknown): Record<string, unknown> {
  if (typeof name !== "string" || !/^[A-Za-z0-9_-]+$/.test(name) || name.length > maxServiceNameLength) {
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `a service name is 1-${maxServiceNameLength} letters, digits, "-" or "_"`,
    );
  }
  if (name.includes(toolNameSeparator)) {
    throw new XiaozhiError("INVALID_CONFIG", `a service name may not contain "${toolNameSeparator}"`);
  }
  // Checked as the file would be, so the error names the field the same way.
  return parseConfig({ mcpServers: { [name]: entry } }).mcpServers?.[name] as Record<string, unknown>;
}

/** The raw `mcpServers` entries of a raw config. */
export function serviceEntries(raw: Record<string, unknown>): Record<string, unknown> {
  const value = raw.mcpServers;
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * Writes `mcpServers.<name>` in a raw config. `create` refuses a name in use (`DUPLICATE_SERVICE`),
 * otherwise the name must be there (`UNKNOWN_SERVICE`). When editing, secrets the API never shows
 * (`env`, `headers`) are kept unless the new entry names its own, and a changed transport drops
 * the old one's fields. A `url` or argument sent back as the API showed it (masked) keeps the
 * stored value.
 */
export function setServiceEntry(
  raw: Record<string, unknown>,
  name: string,
  entry: Record<string, unknown>,
  create: boolean,
): void {
  const services = serviceEntries(raw);
  const current = Object.hasOwn(services, name) ? services[name] : undefined;
  if (create && current !== undefined) {
    throw new XiaozhiError("DUPLICATE_SERVICE", `service ${name} already exists`);
  }
  if (!create && current === undefined) throw new XiaozhiError("UNKNOWN_SERVICE", `no service ${name}`);
  const next: Record<string, unknown> = { ...entry };
  if (current && typeof current === "object") {
    const old = current as Record<string, unknown>;
    // The API shows arguments and URLs masked; a masked value sent back means "keep the stored one".
    if (typeof old.url === "string" && next.url === maskEndpoint(old.url)) next.url = old.url;
    const oldArgs = old.args;
    if (Array.isArray(oldArgs) && Array.isArray(next.args)) {
      next.args = next.args.map((arg: unknown, i: number) => {
        const stored: unknown = oldArgs[i];
        return typeof stored === "string" && arg === redact(stored) ? stored : arg;
      });
    }
    const sameKind = "command" in old === "command" in next && "replicas" in old === "replicas" in next;
    for (const secret of ["env", "headers"]) {
      if (sameKind && next[secret] === undefined && old[secret] !== undefined) next[secret] = old[secret];
    }
  }
  raw.mcpServers = { ...services, [name]: next };
}

/** Removes `mcpServers.<name>` from a raw config; false when it was not there. */
export function removeServiceEntry(raw: Record<string, unknown>, name: string): boolean {
  const services = serviceEntries(raw);
  if (!Object.hasOwn(services, name)) return false;
  const { [name]: _removed, ...kept } = services;
  raw.mcpServers = kept;
  return true;
}
