import { randomUUID } from "node:crypto";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type CallToolRequest,
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { describeError, redact, type ToolProgress, type ToolSource } from "@xiaozhi-connect/core";
import { toolSubset } from "@xiaozhi-connect/mcp-services";
import { toolListFingerprint, wireTool } from "@xiaozhi-connect/transport-ws";
import type { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";
import type { McpClientConfig } from "../config/clients.js";

/** The largest request body `/mcp` reads, in bytes: far above any real MCP request. */
export const mcpMaxBodyBytes = 1024 * 1024;

/**
 * How long a session may go without a request, a running call or an open stream before it is
 * closed, ms: 30 minutes. Clients that close without `DELETE` (the SDK's `close()` sends none)
 * would otherwise keep their sessions for the life of the server.
 */
export const mcpSessionIdleMs = 30 * 60_000;

/** What a session needs from the route that opened it. */
export interface McpSessionOptions {
  readonly adapter: XiaozhiConnectionAdapter;
  readonly client: McpClientConfig;
  readonly version: string;
  /** The SDK accepted the `initialize`: the session has its id. */
  readonly onInitialized: (session: McpSession) => void;
  /** The session closed, for whatever reason; called once. */
  readonly onClosed: (session: McpSession, reason: "idle" | "closed") => void;
}

/**
 * One client's MCP session on `/mcp`: an SDK `Server` on the SDK's web-standard transport, serving
 * the tools the client may see. It knows when it is in use (a request being answered, a call
 * running, a stream open), closes itself after `mcpSessionIdleMs` without use, and tells its client
 * of a new tool list only when the list it may see differs from what it last listed or was told.
 */
export class McpSession {
  readonly client: string;
  /** The client as configured when the session began: its tool filter stays this one. */
  readonly config: McpClientConfig;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly #server: Server;
  readonly #tools: ToolSource;
  readonly #offTools: () => void;
  /** Requests being answered (their bodies still open) and calls running. */
  #active = 0;
  /** Of those, calls running and requests other than a standalone `GET` stream. */
  #working = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #closing: Promise<void> | undefined;
  /** Fingerprint of the list the client last listed, or was last told of; undefined until it lists. */
  #known: string | undefined;
  #checking = false;
  #again = false;

  constructor(private readonly options: McpSessionOptions) {
    const { adapter, client } = options;
    this.client = client.name;
    this.config = client;
    this.#tools = toolSubset(adapter.manager.tools, client);
    this.#server = new Server(
      { name: "xiaozhi-connect", version: options.version },
      { capabilities: { tools: { listChanged: true } } },
    );
    this.#server.setRequestHandler(ListToolsRequestSchema, async () => {
      // A client connecting while services start gets them, as agents do, within the same wait.
      await this.#tools.ready?.();
      const list = await this.#tools.listTools();
      this.#known = toolListFingerprint(list);
      return { tools: list.map(wireTool) as Tool[] };
    });
    this.#server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      this.#begin(true);
      try {
        return await this.#call(request.params, extra);
      } finally {
        this.#end(true);
      }
    });
    this.#offTools = this.#tools.onToolsChanged(() => this.#toolsChanged());
    this.transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: mcpMaxBodyBytes,
      onsessioninitialized: () => options.onInitialized(this),
      onsessionclosed: () => void this.close(),
    });
    void this.#server.connect(this.transport);
  }

  /** The session's id once the SDK accepted its `initialize`. */
  get id(): string | undefined {
    return this.transport.sessionId;
  }

  /** Whether a request is being answered, a call runs or a stream is open: it cannot idle out. */
  get busy(): boolean {
    return this.#active > 0;
  }

  /**
   * Whether a call runs or a request other than the standalone `GET` stream is being answered.
   * An open stream alone does not count: it may be a half-open connection (a laptop that slept),
   * and a live client opens it again.
   */
  get working(): boolean {
    return this.#working > 0;
  }

  /** Answers one request; the session is in use until the answer's body has ended. */
  async handle(request: Request): Promise<Response> {
    const working = request.method !== "GET";
    this.#begin(working);
    let response: Response;
    try {
      response = await this.transport.handleRequest(request);
    } catch (error) {
      this.#end(working);
      throw error;
    }
    const body = response.body;
    if (!body) {
      this.#end(working);
      return response;
    }
    return new Response(
      untilEnded(body, () => this.#end(working)),
      {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      },
    );
  }

  /** Closes the session: its streams end, and its server, transport and timer are let go. */
  close(reason: "idle" | "closed" = "closed"): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#idle);
      this.#idle = undefined;
      this.#offTools();
      this.options.onClosed(this, reason);
      await this.#server.close();
    })();
    return this.#closing;
  }

  async #call(
    params: CallToolRequest["params"],
    extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
  ): Promise<CallToolResult> {
    const { adapter, client } = this.options;
    const started = performance.now();
    const { name, arguments: args, _meta: meta } = params;
    const progressToken = meta?.progressToken;
    let result: CallToolResult;
    try {
      result = (await this.#tools.callTool(name, args, {
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
  }

  #begin(working: boolean): void {
    this.#active++;
    if (working) this.#working++;
    clearTimeout(this.#idle);
    this.#idle = undefined;
  }

  #end(working: boolean): void {
    this.#active--;
    if (working) this.#working--;
    if (this.#active > 0 || this.#closing) return;
    this.#idle = setTimeout(() => void this.close("idle"), mcpSessionIdleMs);
    // An idle session must never keep the process alive.
    this.#idle.unref?.();
  }

  /**
   * The tools may have changed: compare once they settle, one comparison at a time, so a burst of
   * changes gives at most one `list_changed`, and none when this client's own list is as it knew it.
   */
  #toolsChanged(): void {
    if (this.#known === undefined || this.#closing) return;
    if (this.#checking) {
      this.#again = true;
      return;
    }
    this.#checking = true;
    void this.#compare()
      .catch(() => {})
      .finally(() => {
        this.#checking = false;
        if (!this.#again) return;
        this.#again = false;
        this.#toolsChanged();
      });
  }

  async #compare(): Promise<void> {
    await this.#tools.ready?.();
    const current = toolListFingerprint(await this.#tools.listTools());
    if (this.#closing || current === this.#known) return;
    this.#known = current;
    await this.#server.sendToolListChanged();
  }
}

/** The same bytes, calling `ended` once when they have all been read or the reader gave up. */
function untilEnded(body: ReadableStream<Uint8Array>, ended: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    ended();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          finish();
          controller.close();
        } else controller.enqueue(chunk.value);
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
}
