import { readFileSync } from "node:fs";
import { endpointId, maskEndpoint } from "@xiaozhi-connect/core";
import {
  customToolsService,
  exposedToolName,
  mcpTarget,
  serviceOf,
  toolNameSeparator,
  unavailableReason,
} from "@xiaozhi-connect/mcp-services";
import {
  addEndpointEntry,
  ConfigFile,
  customToolsOf,
  endpointToAdd,
  formatOf,
  parseConfigText,
  removeEndpointEntry,
  selectEndpoints,
  setCustomToolSwitch,
  setToolSwitch,
  type XiaozhiConfig,
} from "@xiaozhi-connect/webserver-adapter";
import { describe, type Messages } from "./messages.js";
import { findConfig } from "./options.js";
import { CommandError } from "./output.js";
import { runningServer, type ServerRecord, stateDir } from "./state.js";
import { type EndpointRow, keptName, type ServiceRow, type ToolRow } from "./tables.js";

/** Where a command acts: the running server's HTTP API, or the config file when none runs. */
export type Target = (
  | { readonly kind: "server"; readonly record: ServerRecord; readonly token: string | undefined }
  | { readonly kind: "file"; readonly path: string }
) & { readonly m: Messages };

/**
 * The server of the config the lookup picks (through its state directory), else that config file.
 * With no config found, the demo server when it runs.
 */
export function target(env: NodeJS.ProcessEnv, config: string | undefined, m: Messages): Target {
  const path = findConfig(config, env).path ?? null;
  const record = runningServer(stateDir(env, path));
  if (record) {
    return { kind: "server", record, token: record.token ?? tokenOf(record.config, env), m };
  }
  if (!path) throw new CommandError(m.manage.noServerNoConfig);
  return { kind: "file", path, m };
}

function tokenOf(path: string | null, env: NodeJS.ProcessEnv): string | undefined {
  if (env.XIAOZHI_TOKEN) return env.XIAOZHI_TOKEN;
  if (!path) return undefined;
  try {
    return parseConfigText(readFileSync(path, "utf8"), formatOf(path)).webUI?.authToken;
  } catch {
    return undefined;
  }
}

/** One call to the running server's API; its `{error:{message}}` becomes a `CommandError`. */
export async function api<T>(
  server: Extract<Target, { kind: "server" }>,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(new URL(path, server.record.url), {
      method,
      headers: {
        // Named in the audit trail as the command line's doing.
        "x-xiaozhi-source": "cli",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(server.token ? { authorization: `Bearer ${server.token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new CommandError(server.m.manage.unreachable(server.record.url, (error as Error).message));
  }
  const text = await response.text();
  const value = text ? (JSON.parse(text) as T) : (undefined as T);
  if (!response.ok) {
    const error = (value as { error?: { code?: string; message?: string } } | undefined)?.error;
    const { labelled } = server.m.explain;
    if (error?.code && error.message && server.m.prefixCodes && labelled) {
      throw new CommandError(labelled(error.code, error.message));
    }
    const words =
      error?.code && server.m.prefixCodes
        ? server.m.errorCodes[error.code as keyof Messages["errorCodes"]]
        : undefined;
    const message = error?.message
      ? server.m.explain(error.message)
      : server.m.manage.httpStatus(response.status);
    throw new CommandError(words ? `${words}: ${message}` : message);
  }
  return value;
}

/** Endpoints: live from the server, or as the config file lists them (state `not running`). */
export async function listEndpoints(where: Target): Promise<EndpointRow[]> {
  if (where.kind === "server")
    return (await api<{ endpoints: EndpointRow[] }>(where, "GET", "/api/endpoints")).endpoints;
  // The endpoints the server would connect: placeholders and invalid entries are left out.
  return selectEndpoints((await loadFile(where.path, where.m)).mcpEndpoint).endpoints.map(
    ({ url, name }) => ({
      id: endpointId(url as string),
      url: maskEndpoint(url as string),
      ...(name === undefined ? {} : { name }),
      state: "not running",
    }),
  );
}

/** Adds an endpoint: through the server (connected, saved) or into the file. Returns its id. */
export async function addEndpoint(where: Target, url: string, name?: string): Promise<EndpointRow> {
  if (where.kind === "server") {
    const body = name === undefined ? { url } : { url, name };
    return (await api<{ endpoint: EndpointRow }>(where, "POST", "/api/endpoints", body)).endpoint;
  }
  await notClustered(where);
  let endpoint: { url: string; id: string; name?: string };
  try {
    endpoint = endpointToAdd(url, name);
  } catch (error) {
    throw new CommandError(describe(error, where.m));
  }
  await editFile(where, (raw) => addEndpointEntry(raw, endpoint));
  return {
    id: endpoint.id,
    url: maskEndpoint(endpoint.url),
    ...(endpoint.name === undefined ? {} : { name: endpoint.name }),
    state: "not running",
  };
}

/** An endpoint as a command names it, by its id or its URL: its id, which is all it prints or sends. */
export function endpointIdOf(idOrUrl: string): string {
  return idOrUrl.startsWith("ep-") ? idOrUrl : endpointId(idOrUrl);
}

/**
 * The id of the endpoint a command names: by its id, its URL, or its agent's name as the tables
 * show it (`卧室`), when exactly one endpoint has that name.
 */
export async function endpointNamed(where: Target, ref: string): Promise<string> {
  if (ref.startsWith("ep-") || ref.includes("://")) return endpointIdOf(ref);
  // A name made from the token may be given as the tables of the command's language show it, and a
  // name given in the config is taken as it is.
  const typed = ref.trim();
  const names = new Set([typed, keptName(typed, where.m)]);
  // From a server, only the endpoints whose id, URL or name holds it: not ten thousand for one.
  const candidates =
    where.kind === "server"
      ? (
          await Promise.all(
            [...names].map((name) =>
              api<{ endpoints: EndpointRow[] }>(
                where,
                "GET",
                `/api/endpoints?q=${encodeURIComponent(name.slice(0, 200))}&limit=1000`,
              ),
            ),
          )
        ).flatMap((page) => page.endpoints)
      : await listEndpoints(where);
  const ids = [...new Set(candidates.filter((e) => names.has(e.name?.trim() ?? "")).map((e) => e.id))];
  if (ids.length === 1) return ids[0] as string;
  throw new CommandError(
    ids.length === 0 ? where.m.manage.noEndpointNamed(typed) : where.m.manage.severalNamed(typed, ids),
  );
}

/** Removes an endpoint by id or URL, from the server (closed, saved) or from the file. */
export async function removeEndpoint(where: Target, idOrUrl: string): Promise<void> {
  const id = endpointIdOf(idOrUrl);
  if (where.kind === "server") {
    await api(where, "DELETE", `/api/endpoints/${encodeURIComponent(id)}`);
    return;
  }
  await notClustered(where);
  await editFile(where, (raw) => {
    if (!removeEndpointEntry(raw, id)) throw new CommandError(where.m.manage.noEndpoint(id));
  });
}

/**
 * In cluster mode the endpoint list lives in Redis and the file only seeds an empty cluster: an
 * edit of the file would change nothing that runs, so it is refused with what to do instead.
 */
async function notClustered(where: Extract<Target, { kind: "file" }>): Promise<void> {
  if ((await loadFile(where.path, where.m)).cluster) throw new CommandError(where.m.manage.clustered);
}

export async function reconnectEndpoint(where: Target, id: string): Promise<void> {
  if (where.kind !== "server") throw new CommandError(where.m.manage.reconnectNeedsServer);
  await api(where, "POST", `/api/endpoints/${encodeURIComponent(id)}/reconnect`);
}

/** Services: live from the server, or as the config file declares them. */
export async function listServices(where: Target): Promise<ServiceRow[]> {
  if (where.kind === "server")
    return (await api<{ services: ServiceRow[] }>(where, "GET", "/api/services")).services;
  return Object.keys((await loadFile(where.path, where.m)).mcpServers ?? {}).map((name) => ({
    name,
    state: "not running",
  }));
}

/** Tools: live from the server (names need running services), or the switches the file sets. */
export async function listTools(where: Target): Promise<ToolRow[]> {
  if (where.kind === "server") return (await api<{ tools: ToolRow[] }>(where, "GET", "/api/tools")).tools;
  const config = await loadFile(where.path, where.m);
  const custom = customToolsOf(config);
  const switches = Object.entries(config.mcpServerConfig ?? {})
    .filter(([service]) => service !== customToolsService)
    .flatMap(([service, entry]) =>
      Object.entries(entry.tools ?? {}).map(([tool, value]) => ({
        name: `${service}${toolNameSeparator}${tool}`,
        service,
        enabled: value.enable !== false,
      })),
    );
  const legacy = config.mcpServerConfig?.[customToolsService]?.tools ?? {};
  const customRows = custom.tools.map((tool, index): ToolRow => {
    const reason = unavailableReason(tool, custom.platforms);
    const target = mcpTarget(tool);
    const name = typeof tool.name === "string" && tool.name ? tool.name : `customMCP.tools[${index}]`;
    return {
      name,
      service: customToolsService,
      enabled: tool.enable !== false && legacy[name]?.enable !== false,
      ...(typeof tool.description === "string" ? { description: tool.description } : {}),
      ...(reason === undefined ? {} : { unavailable: reason }),
      ...(target ? { target: exposedToolName(target.service, target.tool) } : {}),
    };
  });
  const customNames = new Set(customRows.map((row) => row.name));
  return [...switches.filter((row) => !customNames.has(row.name)), ...customRows];
}

/**
 * Switches a tool on or off, live through the server or in the file: a customMCP tool by its own
 * name (`enable` on its entry), else a service's `<service>__<tool>` in `mcpServerConfig`.
 */
export async function setToolEnabled(where: Target, name: string, enabled: boolean): Promise<void> {
  if (where.kind === "server") {
    await api(where, "PATCH", `/api/tools/${encodeURIComponent(name)}`, { enabled });
    return;
  }
  await editFile(where, (raw) => {
    if (setCustomToolSwitch(raw, name, enabled)) return;
    const service = serviceOf(name);
    if (!service) throw new CommandError(where.m.manage.toolName(toolNameSeparator, name));
    setToolSwitch(raw, service, name.slice(service.length + toolNameSeparator.length), enabled);
  });
}

export async function loadFile(path: string, m: Messages): Promise<XiaozhiConfig> {
  try {
    return await new ConfigFile(path).load();
  } catch (error) {
    throw new CommandError(`${path}: ${describe(error, m)}`);
  }
}

/** Edits the config file as the server would: atomically, keeping unknown fields, validated. */
export async function editFile(
  where: Extract<Target, { kind: "file" }>,
  edit: (raw: Record<string, unknown>) => void,
): Promise<void> {
  const file = new ConfigFile(where.path);
  try {
    await file.load();
    await file.update(edit);
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(`${where.path}: ${describe(error, where.m)}`);
  }
}

/**
 * Where the server of the config at `path` serves its dashboard when it runs: the config's `webUI`
 * host and port (`$XIAOZHI_PORT` first, as `start` takes it), 127.0.0.1:9999 by default.
 */
export async function dashboardUrl(path: string | null, env: NodeJS.ProcessEnv): Promise<string> {
  const webUI = path
    ? await new ConfigFile(path).load().then(
        (c) => c.webUI,
        () => undefined,
      )
    : undefined;
  const wildcard = !webUI?.host || webUI.host === "0.0.0.0" || webUI.host === "::";
  const host = wildcard ? "127.0.0.1" : (webUI?.host as string);
  const port = Number(env.XIAOZHI_PORT) || webUI?.port || 9999;
  return `${webUI?.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}
