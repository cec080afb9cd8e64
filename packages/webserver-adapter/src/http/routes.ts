import { networkInterfaces } from "node:os";
import { type ErrorCode, type Logger, redact, silentLogger, XiaozhiError } from "@xiaozhi-connect/core";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";
import { endpointIdOf } from "../config/endpoints.js";
import { AuditTrail } from "../history/audit-trail.js";
import { mountAudit } from "./audit-routes.js";
import { HttpAuth } from "./auth.js";
import { mountCallLog } from "./call-log-routes.js";
import { pageEndpoints, parseEndpointQuery } from "./endpoint-page.js";
import { mountEventStream } from "./event-stream.js";
import { McpClientRoute } from "./mcp-clients.js";
import { createMetrics } from "./metrics.js";

export interface XiaozhiRoutesOptions {
  /**
   * When set, mutating routes and the event stream require `Authorization: Bearer <token>`.
   * Set it whenever the server is reachable beyond loopback.
   */
  readonly authToken?: string | undefined;
  /** Reported by `/api/status`. */
  readonly version?: string | undefined;
  /** Largest request body accepted, in bytes; larger ones get 413. Default 64 KiB. */
  readonly maxBodyBytes?: number | undefined;
  /** Where refused `/mcp` requests and logins are logged (never with a secret). */
  readonly logger?: Logger | undefined;
  /**
   * Logins, sessions and which routes need auth; overrides `authToken`. Share it with the app
   * that mounts these routes, so its own pages are behind the same guard.
   */
  readonly auth?: HttpAuth | undefined;
  /** Who changed what (`GET /api/audit`); give one with a sink to keep the trail in a file. */
  readonly audit?: AuditTrail | undefined;
  /** The clock, ms, for what the routes count over time (wrong-token log lines). Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** The default request body limit: far above any real request, far below a memory problem. */
export const defaultMaxBodyBytes = 64 * 1024;

const statusOf: Partial<Record<ErrorCode | "BAD_REQUEST", ContentfulStatusCode>> = {
  BAD_REQUEST: 400,
  INVALID_ENDPOINT: 400,
  INVALID_CONFIG: 400,
  UNKNOWN_STRATEGY: 400,
  UNKNOWN_ENDPOINT: 404,
  UNKNOWN_TOOL: 404,
  UNKNOWN_SERVICE: 404,
  DUPLICATE_ENDPOINT: 409,
  DUPLICATE_SERVICE: 409,
  NOT_CONFIGURED: 409,
  CLUSTER_UNAVAILABLE: 503,
  // Sent to Redis but not confirmed: it may still apply, so not "unavailable".
  CLUSTER_OUTCOME_UNKNOWN: 504,
};

const addBody = z.object({
  url: z.string({ error: "`url` must be a string" }),
  name: z.string({ error: "`name` must be a string" }).optional(),
});
const serviceBody = z.object({
  name: z.string({ error: "`name` must be a string" }),
  config: z.record(z.string(), z.unknown(), { error: "`config` must be an object" }),
});
const clientBody = z.object({
  name: z.string({ error: "`name` must be a string" }),
  services: z.array(z.string(), { error: "`services` must be a list of service names" }).optional(),
  tools: z.array(z.string(), { error: "`tools` must be a list of tool names" }).optional(),
});
const toolBody = z.object({ enabled: z.boolean({ error: "`enabled` must be true or false" }) });

/**
 * The HTTP contract of the WebServer as Hono routes, mountable in any Hono app
 * (`app.route("/", createXiaozhiRoutes(adapter))`). JSON everywhere, errors as
 * `{error:{code,message}}`, URLs masked. Returns the app and a `close()` that ends open event
 * streams and releases the metrics subscriptions.
 */
export function createXiaozhiRoutes(
  adapter: XiaozhiConnectionAdapter,
  options: XiaozhiRoutesOptions = {},
): Hono & { close(): void; readonly mcp: McpClientRoute } {
  const app = new Hono();
  const version = options.version ?? "0.0.0";
  const metrics = createMetrics(adapter);
  const streams = new Set<() => void>();
  const auth =
    options.auth ??
    new HttpAuth({
      ...(options.authToken ? { token: options.authToken } : {}),
      ...(options.now ? { now: options.now } : {}),
      logger: options.logger,
    });

  app.onError((error, c) => {
    if (XiaozhiError.isInstance(error)) {
      return fail(c, statusOf[error.code] ?? 500, error.code, error.message);
    }
    return fail(c, 500, "INTERNAL", redact(error instanceof Error ? error.message : String(error)));
  });
  app.notFound(notFound);
  app.use("*", jsonMethodNotAllowed(app));
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: options.maxBodyBytes ?? defaultMaxBodyBytes,
      onError: (c) => {
        // The rest of the body is not read: the connection cannot carry another request, so say so
        // rather than let a pooled client send its next one into a closed socket.
        c.header("Connection", "close");
        return fail(
          c,
          413,
          "PAYLOAD_TOO_LARGE",
          `the body is larger than ${options.maxBodyBytes ?? defaultMaxBodyBytes} bytes`,
        );
      },
    }),
  );

  // Who may do what: changes from this origin only; the token, or a session, where auth is needed.
  app.use("*", auth.guard());
  const audit = options.audit ?? new AuditTrail();
  const offAudit = mountAudit(app, adapter, audit, auth);
  auth.mount(app);
  mountCallLog(app, adapter);

  app.get("/healthz", (c) => c.json({ ok: true }));

  // MCP clients (editors, desktop assistants): their own tokens, checked by the route itself.
  const mcp = new McpClientRoute(adapter, {
    version,
    logger: options.logger ?? silentLogger,
    ...(options.now ? { now: options.now } : {}),
  });
  // Some clients are given the URL with a trailing slash; it is the same server.
  app.on(["GET", "POST", "DELETE"], ["/mcp", "/mcp/"], (c) => mcp.handle(c));
  const offClients = adapter.on("config", () => void mcp.prune());

  app.get("/api/clients", (c) => c.json({ clients: adapter.clients() }));

  // The token is in this answer and nowhere else, ever: the caller hands it to the client.
  app.post("/api/clients", async (c) => {
    const body = await jsonBody(c);
    if (body instanceof Response) return body;
    const parsed = clientBody.safeParse(body);
    if (!parsed.success) return fail(c, 400, "BAD_REQUEST", parsed.error.issues[0]?.message ?? "bad body");
    const { name, ...limits } = parsed.data;
    if (adapter.clients().some((client) => client.name === name)) {
      return fail(c, 409, "DUPLICATE_CLIENT", `there is already an MCP client ${truncate(name)}`);
    }
    return c.json(await adapter.addClient(name, limits), 201);
  });

  app.delete("/api/clients/:name", async (c) => {
    const name = c.req.param("name");
    if (!(await adapter.removeClient(name))) {
      return fail(c, 404, "UNKNOWN_CLIENT", `no MCP client ${truncate(name)}`);
    }
    return c.body(null, 204);
  });

  app.get("/api/endpoints", (c) => {
    const query = parseEndpointQuery((name) => c.req.query(name));
    if ("error" in query) return fail(c, 400, "BAD_REQUEST", query.error);
    return c.json(pageEndpoints(adapter.endpoints(), query));
  });

  app.post("/api/endpoints", async (c) => {
    const body = await jsonBody(c);
    if (body instanceof Response) return body;
    const parsed = addBody.safeParse(body);
    if (!parsed.success) return fail(c, 400, "BAD_REQUEST", parsed.error.issues[0]?.message ?? "bad body");
    const endpoint = await adapter.addEndpoint(parsed.data.url, parsed.data.name);
    return c.json({ endpoint }, 201);
  });

  // An endpoint is named by its id or its URL; answers name it by its id, never by the URL.
  app.delete("/api/endpoints/:id", async (c) => {
    const id = endpointIdOf(c.req.param("id"));
    if (!(await adapter.removeEndpoint(id)))
      return fail(c, 404, "UNKNOWN_ENDPOINT", `no endpoint ${truncate(id)}`);
    return c.body(null, 204);
  });

  app.post("/api/endpoints/:id/reconnect", async (c) => {
    const id = endpointIdOf(c.req.param("id"));
    if (!adapter.hasEndpoint(id)) return fail(c, 404, "UNKNOWN_ENDPOINT", `no endpoint ${truncate(id)}`);
    // Accepted now; the outcome arrives on the event stream.
    void adapter.reconnect(id).catch(() => {});
    return c.json({ accepted: true }, 202);
  });

  app.get("/api/tools", async (c) => c.json({ tools: await adapter.listTools() }));

  app.patch("/api/tools/:name", async (c) => {
    const body = await jsonBody(c);
    if (body instanceof Response) return body;
    const parsed = toolBody.safeParse(body);
    if (!parsed.success) return fail(c, 400, "BAD_REQUEST", parsed.error.issues[0]?.message ?? "bad body");
    return c.json({ tool: await adapter.setToolEnabled(c.req.param("name"), parsed.data.enabled) });
  });

  app.get("/api/services", (c) => c.json({ services: adapter.services() }));

  app.post("/api/services", async (c) => {
    const body = await jsonBody(c);
    if (body instanceof Response) return body;
    const parsed = serviceBody.safeParse(body);
    if (!parsed.success) return fail(c, 400, "BAD_REQUEST", parsed.error.issues[0]?.message ?? "bad body");
    return c.json({ service: await adapter.addService(parsed.data.name, parsed.data.config) }, 201);
  });

  app.put("/api/services/:name", async (c) => {
    const body = await jsonBody(c);
    if (body instanceof Response) return body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return fail(c, 400, "BAD_REQUEST", "send the service's entry as a JSON object");
    }
    return c.json({ service: await adapter.updateService(c.req.param("name"), body) });
  });

  app.delete("/api/services/:name", async (c) => {
    const name = c.req.param("name");
    if (!(await adapter.removeService(name))) return fail(c, 404, "UNKNOWN_SERVICE", `no service ${name}`);
    return c.body(null, 204);
  });

  app.post("/api/services/:name/restart", (c) => {
    const name = c.req.param("name");
    if (!adapter.services().some((s) => s.name === name)) {
      return fail(c, 404, "UNKNOWN_SERVICE", `no service ${name}`);
    }
    // Accepted now; the outcome arrives on the event stream.
    void adapter.restartService(name).catch(() => {});
    return c.json({ accepted: true }, 202);
  });

  // One endpoint, by id or URL as above, with only its own calls; `tools` counts every caller's.
  app.get("/api/history", (c) => {
    const ref = c.req.query("endpoint");
    if (ref === undefined) return c.json(adapter.history.snapshot());
    if (ref === "") return fail(c, 400, "BAD_REQUEST", "endpoint must be an endpoint id or URL");
    const id = endpointIdOf(ref);
    if (!adapter.hasEndpoint(id)) return fail(c, 404, "UNKNOWN_ENDPOINT", `no endpoint ${truncate(id)}`);
    const snapshot = adapter.history.snapshot(id);
    return c.json({ ...snapshot, calls: snapshot.calls.filter((call) => call.endpoint === id) });
  });

  app.get("/api/status", (c) => c.json(adapter.status(version)));
  app.get("/api/cluster", (c) => c.json({ cluster: adapter.cluster?.view() ?? null }));

  app.get("/metrics", async (c) => {
    c.header("Content-Type", metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  mountEventStream(
    app,
    adapter,
    version,
    streams,
    (c, message) => fail(c, 400, "BAD_REQUEST", message),
    (c, end) => auth.whenSignedOut(c, end),
  );

  return Object.assign(app, {
    close() {
      for (const end of streams) end();
      streams.clear();
      metrics.dispose();
      offClients();
      offAudit();
      void mcp.close();
    },
    mcp,
  });
}

/** The request's JSON body, or the error response to send instead (415 not JSON, 400 bad JSON). */
async function jsonBody(c: Context): Promise<unknown> {
  if (!(c.req.header("content-type") ?? "").includes("application/json")) {
    return fail(c, 415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
  }
  try {
    return await c.req.json();
  } catch {
    return fail(c, 400, "BAD_REQUEST", "the body is not valid JSON");
  }
}

/** JSON 404 for any route nobody serves; use it as the `notFound` of an app that mounts the routes. */
export function notFound(c: Context) {
  return fail(c, 404, "NOT_FOUND", `no route ${c.req.method} ${truncate(c.req.path)}`);
}

/** JSON 405 with `Allow` for a known path asked with a method it does not serve. */
export function jsonMethodNotAllowed(app: Hono): MiddlewareHandler {
  return methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) => {
      c.header("Allow", methods.join(", "));
      return fail(
        c,
        405,
        "METHOD_NOT_ALLOWED",
        `${truncate(c.req.method)} is not allowed here; use ${methods.join(", ")}`,
      );
    },
  });
}

export interface HostGuardOptions {
  /** The address the server is bound to. */
  readonly host: string;
  /** Names besides loopback ones and `host` that requests may be addressed to (`webUI.allowedHosts`). */
  readonly allowedHosts?: readonly string[] | undefined;
}

/**
 * Refuses (JSON 403) requests addressed to a host name the server does not answer to, so a web page
 * cannot reach a loopback server through DNS rebinding (its requests carry the page's own name in
 * `Host`). Applies when bound to loopback or when `allowedHosts` is set; a server bound beyond
 * loopback without it relies on its bearer token instead. Bound to every address (`0.0.0.0`, `::`),
 * this machine's own addresses are answered, as the names of the interfaces when it started.
 */
export function hostGuard(options: HostGuardOptions): MiddlewareHandler {
  const bound = hostnameOf(options.host);
  const allowed = new Set((options.allowedHosts ?? []).map((h) => hostnameOf(h)));
  const active = isLoopbackName(bound) || allowed.size > 0;
  if (bound) allowed.add(bound);
  // Bound to every address, it answers to this machine's own addresses too (the link printed at
  // start is at one): an address is no name a rebinding page can give.
  if (bound === "0.0.0.0" || bound === "::") {
    for (const address of Object.values(networkInterfaces()).flat())
      if (address) allowed.add(address.address);
  }
  return async (c, next) => {
    const header = c.req.header("host");
    if (!active || header === undefined) return next();
    const name = hostnameOf(header);
    if (isLoopbackName(name) || allowed.has(name)) return next();
    return fail(
      c,
      403,
      "FORBIDDEN_HOST",
      `requests for host "${truncate(name)}" are refused; list it in webUI.allowedHosts to allow it`,
    );
  };
}

/** `Example.COM:9999` → `example.com`, `[::1]:9999` → `::1`. */
function hostnameOf(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith("["))
    return value.slice(1, value.indexOf("]") === -1 ? undefined : value.indexOf("]"));
  const colons = value.split(":").length - 1;
  return colons === 1 ? value.slice(0, value.indexOf(":")) : value.replace(/\.$/, "");
}

function isLoopbackName(name: string): boolean {
  return (
    name === "localhost" ||
    name.endsWith(".localhost") ||
    name === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(name) ||
    name === "::ffff:127.0.0.1"
  );
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function fail(c: Context, status: ContentfulStatusCode, code: string, message: string) {
  return c.json({ error: { code, message: redact(message) } }, status);
}
