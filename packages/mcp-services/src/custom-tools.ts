import { type ToolCallResult, XiaozhiError } from "@xiaozhi-connect/core";

/**
 * A `customMCP.tools` entry as xiaozhi-client writes it: a tool served by a handler, not a service.
 * Read as the file has it: a malformed entry (no handler, no name) is listed as unavailable with
 * the reason, never refused, so fields a valid entry has are optional here.
 */
export interface CustomToolConfig {
  readonly name: string;
  readonly description?: string;
  readonly inputSchema?: Record<string, unknown>;
  readonly handler?: { readonly type?: string; readonly [key: string]: unknown };
  /** `false` hides the tool and refuses calls to it (what `tool disable <name>` writes). */
  readonly enable?: boolean;
}

/** The service tool an `mcp` handler exposes under the entry's own name. */
export interface CustomToolTarget {
  readonly service: string;
  readonly tool: string;
}

/**
 * The target of a `{type: "mcp", config: {serviceName, toolName}}` handler (how xiaozhi-client's
 * web UI adds a service's tool to an agent under a name of the user's), or undefined for any other
 * entry or an incomplete one.
 */
export function mcpTarget(tool: CustomToolConfig): CustomToolTarget | undefined {
  const handler = tool.handler;
  if (handler?.type !== "mcp") return undefined;
  const config = handler.config as { serviceName?: unknown; toolName?: unknown } | undefined;
  if (typeof config?.serviceName !== "string" || typeof config.toolName !== "string") return undefined;
  if (!config.serviceName || !config.toolName) return undefined;
  return { service: config.serviceName, tool: config.toolName };
}

/** `platforms` in the config: credentials for proxy handlers (`platforms.coze.token`). */
export type PlatformsConfig = Readonly<
  Record<string, { readonly token?: string; readonly [key: string]: unknown }>
>;

/** Handler types this provider runs; any other is listed as unavailable, never dropped silently. */
export const supportedHandlers = ["mcp", "proxy:coze", "http"] as const;

/**
 * Why a custom tool cannot run here, or undefined when its entry can (an `mcp` handler's service
 * tool must also be up, which only the running manager knows).
 */
export function unavailableReason(
  tool: CustomToolConfig,
  platforms: PlatformsConfig | undefined,
): string | undefined {
  if (typeof tool.name !== "string" || tool.name === "") return "the entry has no name";
  const { handler } = tool;
  if (typeof handler !== "object" || handler === null) return "the entry has no handler";
  if (typeof handler.type !== "string") return "the handler has no type";
  if (handler.type === "mcp") {
    return mcpTarget(tool) ? undefined : "mcp handler without config.serviceName and config.toolName";
  }
  if (handler.type === "http")
    return typeof handler.url === "string" ? undefined : "http handler without a url";
  if (handler.type === "proxy") {
    if (handler.platform !== "coze")
      return `proxy platform "${String(handler.platform)}" is not supported (only coze)`;
    const config = (handler.config ?? {}) as { workflow_id?: unknown };
    if (typeof config.workflow_id !== "string") return "coze handler without config.workflow_id";
    if (!platforms?.coze?.token) return "platforms.coze.token is not set";
    return undefined;
  }
  return `handler type "${handler.type}" is not supported (supported: mcp, proxy with platform coze, http)`;
}

/** Runs one custom tool; failures of the far side come back as an `isError` result. */
export async function runCustomTool(
  tool: CustomToolConfig,
  args: Record<string, unknown> | undefined,
  { signal, platforms }: { signal: AbortSignal; platforms: PlatformsConfig | undefined },
): Promise<ToolCallResult> {
  const reason =
    unavailableReason(tool, platforms) ??
    (tool.handler?.type === "mcp" ? "an mcp handler is served by the service manager" : undefined);
  if (reason) throw new XiaozhiError("UNKNOWN_TOOL", `${tool.name} is unavailable: ${reason}`);
  const handler = tool.handler as NonNullable<CustomToolConfig["handler"]>;
  return handler.type === "http"
    ? callHttp(handler as unknown as HttpHandler, args ?? {}, signal)
    : callCoze(handler.config as CozeHandlerConfig, platforms?.coze?.token as string, args ?? {}, signal);
}

interface CozeHandlerConfig {
  readonly workflow_id: string;
  readonly base_url?: string;
  readonly timeout?: number;
}

/** Coze's workflow API: `POST /v1/workflow/run` with the arguments as the workflow's parameters. */
async function callCoze(
  config: CozeHandlerConfig,
  token: string,
  parameters: Record<string, unknown>,
  signal: AbortSignal,
): Promise<ToolCallResult> {
  const base = (config.base_url ?? "https://api.coze.cn").replace(/\/+$/, "");
  const response = await request(
    `${base}/v1/workflow/run`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ workflow_id: config.workflow_id, parameters }),
    },
    signal,
    config.timeout,
  );
  const body = (await readJson(response)) as { code?: number; msg?: string; data?: unknown } | undefined;
  if (!response.ok || (body?.code !== undefined && body.code !== 0)) {
    return failure(`Coze workflow failed: ${body?.msg ?? `HTTP ${response.status}`}`);
  }
  // `data` is the workflow's output, itself a JSON string.
  const data = body?.data;
  return text(typeof data === "string" ? data : JSON.stringify(data ?? body));
}

interface HttpHandler {
  readonly url: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly timeout?: number;
  readonly auth?: {
    readonly type: "bearer" | "basic" | "api_key";
    readonly token?: string;
    readonly username?: string;
    readonly password?: string;
    readonly api_key?: string;
    readonly api_key_header?: string;
  };
  readonly body_template?: string;
  readonly response_mapping?: {
    readonly success_path?: string;
    readonly error_path?: string;
    readonly data_path?: string;
  };
}

/**
 * An HTTP call: `method` (default POST) to `url` with the configured headers and auth; the body is
 * `body_template` with `{{argument}}` placeholders filled (a placeholder alone in a string takes the
 * argument's own JSON type), else the arguments as JSON (a GET carries them as query parameters).
 * `response_mapping` picks the result (`data_path`) and failure (`error_path`, `success_path`).
 */
async function callHttp(
  handler: HttpHandler,
  args: Record<string, unknown>,
  signal: AbortSignal,
): Promise<ToolCallResult> {
  const method = (handler.method ?? "POST").toUpperCase();
  const headers: Record<string, string> = { ...handler.headers };
  const auth = handler.auth;
  if (auth?.type === "bearer" && auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth?.type === "basic") {
    headers.authorization = `Basic ${Buffer.from(`${auth.username ?? ""}:${auth.password ?? ""}`).toString("base64")}`;
  }
  if (auth?.type === "api_key" && auth.api_key) headers[auth.api_key_header ?? "X-API-Key"] = auth.api_key;
  const url = new URL(handler.url);
  let body: string | undefined;
  if (method === "GET" || method === "DELETE") {
    for (const [key, value] of Object.entries(args))
      url.searchParams.set(key, typeof value === "string" ? value : JSON.stringify(value));
  } else {
    body = JSON.stringify(
      handler.body_template ? fillTemplate(JSON.parse(handler.body_template), args) : args,
    );
    headers["content-type"] ??= "application/json";
  }
  const response = await request(
    url,
    { method, headers, ...(body === undefined ? {} : { body }) },
    signal,
    handler.timeout,
  );
  const value = await readJson(response);
  if (!response.ok) return failure(`HTTP ${response.status}: ${short(value)}`);
  const mapping = handler.response_mapping ?? {};
  const error = mapping.error_path ? at(value, mapping.error_path) : undefined;
  if (error) return failure(short(error));
  if (mapping.success_path && !at(value, mapping.success_path))
    return failure(`the call failed: ${short(value)}`);
  const data = mapping.data_path ? at(value, mapping.data_path) : value;
  return text(typeof data === "string" ? data : JSON.stringify(data));
}

/** The template with every `{{name}}` replaced by the argument of that name. */
function fillTemplate(template: unknown, args: Record<string, unknown>): unknown {
  if (typeof template === "string") {
    const whole = /^\{\{\s*([\w.-]+)\s*\}\}$/.exec(template);
    if (whole) return args[whole[1] as string] ?? null;
    return template.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (_, name: string) => {
      const value = args[name];
      return value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
    });
  }
  if (Array.isArray(template)) return template.map((item) => fillTemplate(item, args));
  if (typeof template === "object" && template !== null) {
    return Object.fromEntries(
      Object.entries(template).map(([key, value]) => [key, fillTemplate(value, args)]),
    );
  }
  return template;
}

/** `a.b.0.c` into a parsed response. */
function at(value: unknown, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);
}

async function request(url: string | URL, init: RequestInit, signal: AbortSignal, timeoutMs?: number) {
  const deadline = timeoutMs ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : signal;
  try {
    return await fetch(url, { ...init, signal: deadline });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (deadline.aborted) throw new XiaozhiError("TIMEOUT", `no answer within ${timeoutMs} ms`);
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new XiaozhiError("CONNECT_FAILED", `request failed${cause ? `: ${cause}` : ""}`);
  }
}

async function readJson(response: Response): Promise<unknown> {
  const body = await response.text();
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function short(value: unknown): string {
  const printed = typeof value === "string" ? value : JSON.stringify(value);
  return printed.length > 500 ? `${printed.slice(0, 500)}…` : printed;
}

function text(value: string): ToolCallResult {
  return { content: [{ type: "text", text: value }] };
}

function failure(message: string): ToolCallResult {
  return { content: [{ type: "text", text: message }], isError: true };
}
