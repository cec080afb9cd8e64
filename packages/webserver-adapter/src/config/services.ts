import { resolve } from "node:path";
import { fingerprint, maskEndpoint, redact, XiaozhiError } from "@xiaozhi-connect/core";
import {
  type CustomToolConfig,
  type CustomTools,
  type PlatformsConfig,
  type ReplicaConfig,
  type ServiceConfig,
  type ToolSwitches,
  toolNameSeparator,
} from "@xiaozhi-connect/mcp-services";
import { parseConfig, type XiaozhiConfig } from "./schema.js";

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
    // The service runs in its own `cwd` (itself taken from the config's folder) when it has one, and
    // its relative paths are read from there, as its process would read them.
    const cwd = entry.cwd === undefined ? baseDir : resolve(baseDir, entry.cwd);
    return {
      ...entry,
      command: relativeToConfig(entry.command, cwd),
      ...(entry.args ? { args: entry.args.map((arg) => relativeToConfig(arg, cwd)) } : {}),
      cwd,
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
    // A non-object entry is read as an empty one: listed as unavailable, "the entry has no name".
    tools: (config.customMCP?.tools ?? []).map((entry) =>
      typeof entry === "object" && entry !== null && !Array.isArray(entry) ? entry : {},
    ) as CustomToolConfig[],
    ...(config.platforms ? { platforms: config.platforms as PlatformsConfig } : {}),
  };
}

export function toolSwitchesOf(config: XiaozhiConfig): ToolSwitches {
  return (config.mcpServerConfig ?? {}) as ToolSwitches;
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

/**
 * Switches the `customMCP.tools` entry named `name` in a raw config: writes `enable` on that entry
 * (and on `mcpServerConfig.customMCP.tools.<name>`, where earlier versions wrote it, only when that
 * is there). False, writing nothing, when no entry has that name.
 */
export function setCustomToolSwitch(raw: Record<string, unknown>, name: string, enabled: boolean): boolean {
  const custom = raw.customMCP as { tools?: unknown } | undefined;
  const tools = Array.isArray(custom?.tools) ? (custom.tools as unknown[]) : [];
  const entry = tools.find(
    (tool): tool is Record<string, unknown> =>
      typeof tool === "object" && tool !== null && (tool as { name?: unknown }).name === name,
  );
  if (!entry) return false;
  entry.enable = enabled;
  const legacy = (raw.mcpServerConfig as ToolSwitches | undefined)?.customMCP?.tools?.[name];
  if (typeof legacy === "object" && legacy !== null) (legacy as { enable?: boolean }).enable = enabled;
  return true;
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

/** A flag that names a secret, so the argument after it is one: `--token X`, `--api-key X`. */
const secretFlag = /^--?[\w.-]*(?:token|key|secret|auth|password|passwd|pwd|signature|credentials?)$/i;

/**
 * A stdio service's arguments as the API shows them: secret-looking values masked (`--api-key=…`,
 * a JWT), and so is the value after a flag that names a secret (`--token X`).
 */
export function shownArgs(args: readonly string[]): string[] {
  return args.map((arg, i) => {
    const flag = i > 0 ? args[i - 1] : undefined;
    if (flag !== undefined && secretFlag.test(flag) && !arg.startsWith("-") && !arg.startsWith("<masked"))
      return `<masked:${fingerprint(arg)}>`;
    return redact(arg);
  });
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
      const shown = shownArgs(oldArgs.map(String));
      next.args = next.args.map((arg: unknown, i: number) =>
        typeof oldArgs[i] === "string" && arg === shown[i] ? oldArgs[i] : arg,
      );
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
