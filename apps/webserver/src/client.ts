import { readFileSync } from "node:fs";
import { endpointId, maskEndpoint } from "@xiaozhi-connect/core";
import { serviceOf, toolNameSeparator } from "@xiaozhi-connect/mcp-services";
import {
  addEndpointEntry,
  ConfigFile,
  endpointToAdd,
  formatOf,
  parseConfigText,
  removeEndpointEntry,
  selectEndpoints,
  setToolSwitch,
  type XiaozhiConfig,
} from "@xiaozhi-connect/webserver-adapter";
import { findConfig } from "./options.js";
import { CommandError, colors, state, table } from "./output.js";
import { runningServer, type ServerRecord, stateDir } from "./state.js";

/** Where a command acts: the running server's HTTP API, or the config file when none runs. */
export type Target =
  | { readonly kind: "server"; readonly record: ServerRecord; readonly token: string | undefined }
  | { readonly kind: "file"; readonly path: string };

/** Finds the running server (through the state directory), else the config file the lookup picks. */
export function target(env: NodeJS.ProcessEnv, config: string | undefined): Target {
  const record = runningServer(stateDir(env));
  if (record) {
    return { kind: "server", record, token: record.token ?? tokenOf(record.config, env) };
  }
  const path = findConfig(config, env).path;
  if (!path)
    throw new CommandError(
      "no server is running and no config file was found (try: xiaozhi-connect config init)",
    );
  return { kind: "file", path };
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
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(server.token ? { authorization: `Bearer ${server.token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new CommandError(`cannot reach the server at ${server.record.url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  const value = text ? (JSON.parse(text) as T & { error?: { message?: string } }) : (undefined as T);
  if (!response.ok) {
    const message = (value as { error?: { message?: string } } | undefined)?.error?.message;
    throw new CommandError(message ?? `the server answered HTTP ${response.status}`);
  }
  return value;
}

interface EndpointRow {
  readonly id: string;
  readonly url: string;
  readonly name?: string;
  readonly state: string;
  /** The link is being reopened so its agent lists changed tools. */
  readonly republishing?: boolean;
  readonly healthScore?: number;
  readonly rttMs?: number;
  readonly lastError?: string;
  /** Cluster mode: the instance holding it (`null`: none now). */
  readonly instance?: string | null;
}

/** An instance of the cluster, as `/api/cluster` lists it. */
export interface InstanceRow {
  readonly id: string;
  readonly address: string | null;
  readonly endpoints: number;
  readonly heartbeatAt: number;
  readonly self: boolean;
}

interface ServiceRow {
  readonly name: string;
  readonly state: string;
  readonly tools?: number;
  readonly restarts?: number;
  readonly lastError?: string;
}

interface ToolRow {
  readonly name: string;
  readonly service: string;
  readonly enabled: boolean;
  readonly description?: string;
}

/** Endpoints: live from the server, or as the config file lists them (state `not running`). */
export async function listEndpoints(where: Target): Promise<EndpointRow[]> {
  if (where.kind === "server")
    return (await api<{ endpoints: EndpointRow[] }>(where, "GET", "/api/endpoints")).endpoints;
  // The endpoints the server would connect: placeholders and invalid entries are left out.
  return selectEndpoints((await loadFile(where.path)).mcpEndpoint).endpoints.map(({ url, name }) => ({
    id: endpointId(url as string),
    url: maskEndpoint(url as string),
    ...(name === undefined ? {} : { name }),
    state: "not running",
  }));
}

export function endpointTable(rows: readonly EndpointRow[]): string {
  // In cluster mode every row says which instance holds the endpoint.
  const clustered = rows.some((e) => e.instance !== undefined);
  return table(
    ["ID", "AGENT", "URL", "STATE", ...(clustered ? ["INSTANCE"] : []), "HEALTH", "RTT", "LAST ERROR"],
    rows.map((e) => [
      e.id,
      e.name ?? "",
      e.url,
      // A link reopened so its agent lists changed tools is no trouble: say what it is.
      e.republishing ? state("republishing tools") : state(e.state),
      ...(clustered ? [e.instance ?? colors.dim("(none)")] : []),
      e.healthScore === undefined ? "" : String(Math.round(e.healthScore)),
      e.rttMs === undefined ? "" : `${e.rttMs.toFixed(1)} ms`,
      e.lastError ? colors.dim(e.lastError) : "",
    ]),
  );
}

/** The instances of a cluster: id, address, endpoints held, last heartbeat. */
export function instanceTable(rows: readonly InstanceRow[], now = Date.now()): string {
  return table(
    ["INSTANCE", "ADDRESS", "ENDPOINTS", "LAST HEARTBEAT"],
    rows.map((i) => [
      i.self ? `${i.id} ${colors.dim("(this one)")}` : i.id,
      i.address ?? "",
      String(i.endpoints),
      `${((now - i.heartbeatAt) / 1000).toFixed(1)} s ago`,
    ]),
  );
}

/** Adds an endpoint: through the server (connected, saved) or into the file. Returns its id. */
export async function addEndpoint(where: Target, url: string, name?: string): Promise<EndpointRow> {
  if (where.kind === "server") {
    const body = name === undefined ? { url } : { url, name };
    return (await api<{ endpoint: EndpointRow }>(where, "POST", "/api/endpoints", body)).endpoint;
  }
  await notClustered(where.path);
  let endpoint: { url: string; id: string; name?: string };
  try {
    endpoint = endpointToAdd(url, name);
  } catch (error) {
    throw new CommandError((error as Error).message);
  }
  await editFile(where.path, (raw) => addEndpointEntry(raw, endpoint));
  return {
    id: endpoint.id,
    url: maskEndpoint(endpoint.url),
    ...(endpoint.name === undefined ? {} : { name: endpoint.name }),
    state: "not running",
  };
}

/** Removes an endpoint by id or URL, from the server (closed, saved) or from the file. */
export async function removeEndpoint(where: Target, idOrUrl: string): Promise<void> {
  const id = idOrUrl.startsWith("ep-") ? idOrUrl : endpointId(idOrUrl);
  if (where.kind === "server") {
    await api(where, "DELETE", `/api/endpoints/${encodeURIComponent(id)}`);
    return;
  }
  await notClustered(where.path);
  await editFile(where.path, (raw) => {
    if (!removeEndpointEntry(raw, id)) throw new CommandError(`no endpoint ${id}`);
  });
}

/**
 * In cluster mode the endpoint list lives in Redis and the file only seeds an empty cluster: an
 * edit of the file would change nothing that runs, so it is refused with what to do instead.
 */
async function notClustered(path: string): Promise<void> {
  if ((await loadFile(path)).cluster) {
    throw new CommandError(
      "this config runs in cluster mode: the endpoint list lives in Redis, and the file's mcpEndpoint only seeds an empty cluster. Start an instance (xiaozhi-connect start -d) and run this again: the change then applies to every instance",
    );
  }
}

export async function reconnectEndpoint(where: Target, id: string): Promise<void> {
  if (where.kind !== "server")
    throw new CommandError("reconnect needs a running server (xiaozhi-connect start -d)");
  await api(where, "POST", `/api/endpoints/${encodeURIComponent(id)}/reconnect`);
}

/** Services: live from the server, or as the config file declares them. */
export async function listServices(where: Target): Promise<ServiceRow[]> {
  if (where.kind === "server")
    return (await api<{ services: ServiceRow[] }>(where, "GET", "/api/services")).services;
  return Object.keys((await loadFile(where.path)).mcpServers ?? {}).map((name) => ({
    name,
    state: "not running",
  }));
}

export function serviceTable(rows: readonly ServiceRow[]): string {
  return table(
    ["SERVICE", "STATE", "TOOLS", "RESTARTS", "WHY DOWN"],
    rows.map((s) => [
      s.name,
      state(s.state),
      s.tools === undefined ? "" : String(s.tools),
      s.restarts === undefined ? "" : String(s.restarts),
      s.lastError ? colors.dim(s.lastError) : "",
    ]),
  );
}

/** Tools: live from the server (names need running services), or the switches the file sets. */
export async function listTools(where: Target): Promise<ToolRow[]> {
  if (where.kind === "server") return (await api<{ tools: ToolRow[] }>(where, "GET", "/api/tools")).tools;
  const config = await loadFile(where.path);
  return Object.entries(config.mcpServerConfig ?? {}).flatMap(([service, entry]) =>
    Object.entries(entry.tools ?? {}).map(([tool, value]) => ({
      name: `${service}${toolNameSeparator}${tool}`,
      service,
      enabled: value.enable !== false,
    })),
  );
}

export function toolTable(rows: readonly ToolRow[]): string {
  return table(
    ["TOOL", "SERVICE", "ENABLED", "DESCRIPTION"],
    rows.map((t) => [
      t.name,
      t.service,
      t.enabled ? colors.green("yes") : colors.red("no"),
      t.description ?? "",
    ]),
  );
}

/** Switches a tool (`<service>__<tool>`) on or off, live through the server or in the file. */
export async function setToolEnabled(where: Target, name: string, enabled: boolean): Promise<void> {
  if (where.kind === "server") {
    await api(where, "PATCH", `/api/tools/${encodeURIComponent(name)}`, { enabled });
    return;
  }
  const service = serviceOf(name);
  if (!service) throw new CommandError(`tool names are <service>${toolNameSeparator}<tool>, got "${name}"`);
  const tool = name.slice(service.length + toolNameSeparator.length);
  await editFile(where.path, (raw) => setToolSwitch(raw, service, tool, enabled));
}

async function loadFile(path: string): Promise<XiaozhiConfig> {
  try {
    return await new ConfigFile(path).load();
  } catch (error) {
    throw new CommandError(`${path}: ${(error as Error).message}`);
  }
}

/** Edits the config file as the server would: atomically, keeping unknown fields, validated. */
async function editFile(path: string, edit: (raw: Record<string, unknown>) => void): Promise<void> {
  const file = new ConfigFile(path);
  try {
    await file.load();
    await file.update(edit);
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(`${path}: ${(error as Error).message}`);
  }
}
