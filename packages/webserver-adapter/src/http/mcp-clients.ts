import { randomUUID, timingSafeEqual } from "node:crypto";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { describeError, type Logger, redact, type ToolProgress } from "@xiaozhi-connect/core";
import { toolSubset } from "@xiaozhi-connect/mcp-services";
import { wireTool } from "@xiaozhi-connect/transport-ws";
import type { Context } from "hono";
import type { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";
import type { McpClientConfig } from "../config/clients.js";
import { digest, remoteAddress } from "./auth.js";

/** The largest request body `/mcp` reads, in bytes: far above any real MCP request. */
export const mcpMaxBodyBytes = 1024 * 1024;

interface Session {
  readonly client: string;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * The WebServer's own MCP server for MCP clients (Cursor, Claude Desktop, Cherry Studio…) over
 * streamable HTTP, built on the SDK's web-standard transport. Each client configured in `clients`
 * gets sessions serving the tools its agents get (switches and custom tools included), limited by
 * its own `services` / `tools` like an endpoint; its calls are recorded beside the agents'.
 *
 * Every request needs a configured client's bearer token, compared in constant time, on loopback
 * too: a web page must not reach local tools. Without configured clients the route answers 404.
 * Clients and their tokens are read at each request, so a config change applies to the next one;
 * a session whose client was removed or changed is closed.
 */
export class McpClientRoute {
  readonly #sessions = new Map<string, Session>();
  #closed = false;

  constructor(
    private readonly adapter: XiaozhiConnectionAdapter,
    private readonly options: { readonly version: string; readonly logger: Logger },
  ) {}

  /** Sessions open now; for leak checks. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Answers one request to `/mcp`. */
  async handle(c: Context): Promise<Response> {
    const clients = this.adapter.config.clients ?? [];
    if (clients.length === 0 || this.#closed) {
      return c.json({ error: { code: "NOT_FOUND", message: "no MCP clients are configured" } }, 404);
    }
    const client = clientFor(clients, c.req.header("authorization"));
    if (!client) {
      this.options.logger.warn(
        { address: remoteAddress(c), path: "/mcp" },
        "MCP client refused: missing or unknown bearer token",
      );
      c.header("WWW-Authenticate", 'Bearer realm="xiaozhi-connect", error="invalid_token"');
      return c.json(
        { error: { code: "UNAUTHORIZED", message: "a configured client's bearer token is required" } },
        401,
      );
    }
    const id = c.req.header("mcp-session-id");
    if (id !== undefined) {
      const session = this.#sessions.get(id);
      // Another client's session is not this client's business: it does not exist for it.
      if (!session || session.client !== client.name) {
        return c.json(
          { jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null },
          404,
        );
      }
      return closingIfRefused(await session.transport.handleRequest(c.req.raw));
    }
    const session = this.#open(client);
    const response = await session.transport.handleRequest(c.req.raw);
    // Not an initialize the SDK accepted: no session was made, nothing stays behind.
    if (session.transport.sessionId === undefined) await session.close();
    return closingIfRefused(response);
  }

  /** Closes every session (their streams end). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#sessions.values()].map((session) => session.close()));
  }

  /** Closes the sessions of clients no longer configured as they were. */
  async prune(): Promise<void> {
    const clients = new Map((this.adapter.config.clients ?? []).map((client) => [client.name, client]));
    await Promise.allSettled(
      [...this.#sessions.values()]
        .filter((session) => !clients.has(session.client))
        .map((session) => session.close()),
    );
  }

  #open(client: McpClientConfig): Session {
    const adapter = this.adapter;
    const tools = toolSubset(adapter.manager.tools, client);
    const server = new Server(
      { name: "xiaozhi-connect", version: this.options.version },
      { capabilities: { tools: { listChanged: true } } },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => {
      // A client connecting while services start gets them, as agents do, within the same wait.
      await tools.ready?.();
      return { tools: (await tools.listTools()).map(wireTool) as Tool[] };
    });
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const started = performance.now();
      const { name, arguments: args, _meta: meta } = request.params;
      const progressToken = meta?.progressToken;
      let result: CallToolResult;
      try {
        result = (await tools.callTool(name, args, {
          signal: extra.signal,
          caller: { endpointId: `client:${client.name}`, name: client.name },
          ...(progressToken === undefined
            ? {}
            : {
                onProgress: (progress: ToolProgress) =>
                  void extra
                    .sendNotification({
                      method: "notifications/progress",
                      params: { ...progress, progressToken },
                    })
                    .catch(() => {}),
              }),
        })) as CallToolResult;
      } catch (error) {
        result = { content: [{ type: "text", text: redact(describeError(error)) }], isError: true };
      }
      adapter.recordClientCall(client.name, name, performance.now() - started, result.isError !== true);
      return result;
    });
    const offTools = tools.onToolsChanged(() => void server.sendToolListChanged().catch(() => {}));
    let closing: Promise<void> | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: mcpMaxBodyBytes,
      onsessioninitialized: (id) => {
        this.#sessions.set(id, session);
      },
      onsessionclosed: () => void session.close(),
    });
    const session: Session = {
      client: client.name,
      transport,
      server,
      close: () => {
        closing ??= (async () => {
          offTools();
          const id = transport.sessionId;
          if (id !== undefined && this.#sessions.get(id) === session) this.#sessions.delete(id);
          await server.close();
        })();
        return closing;
      },
    };
    void server.connect(transport);
    return session;
  }
}

/**
 * A body refused as too large is left unread, so its connection cannot carry another request:
 * the answer says `Connection: close`, and a pooled client opens a new one.
 */
function closingIfRefused(response: Response): Response {
  if (response.status !== 413) return response;
  const headers = new Headers(response.headers);
  headers.set("Connection", "close");
  return new Response(response.body, { status: response.status, headers });
}

/** The client whose token the request carries; every configured token is compared, in constant time. */
function clientFor(
  clients: readonly McpClientConfig[],
  header: string | undefined,
): McpClientConfig | undefined {
  const given = /^Bearer\s+(.+)$/i.exec(header ?? "")?.[1]?.trim();
  if (!given) return undefined;
  const hash = digest(given);
  let found: McpClientConfig | undefined;
  for (const client of clients) {
    if (timingSafeEqual(hash, digest(client.token)) && !found) found = client;
  }
  return found;
}
