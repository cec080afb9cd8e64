import { timingSafeEqual } from "node:crypto";
import type { Logger } from "@xiaozhi-connect/core";
import type { Context } from "hono";
import type { XiaozhiConnectionAdapter } from "../adapter/xiaozhi-connection-adapter.js";
import type { McpClientConfig } from "../config/clients.js";
import { bearerToken, digest, fail, remoteAddress, sameOrigin } from "./auth.js";
import { WrongTokenLog } from "./guess-limiter.js";
import { McpSession } from "./mcp-session.js";

export { mcpMaxBodyBytes } from "./mcp-session.js";

/**
 * Sessions one client may hold at once. An editor opens one per window, and a client that restarts
 * without `DELETE`, or whose stream hangs on a connection that died unseen, leaves its old ones
 * behind: 32 is far above the first and bounds the second.
 */
export const mcpSessionsPerClient = 32;

/**
 * The WebServer's own MCP server for MCP clients (Cursor, Claude Desktop, Cherry Studio…) over
 * streamable HTTP, built on the SDK's web-standard transport. Each client configured in `clients`
 * gets sessions serving the tools its agents get (switches and custom tools included), limited by
 * its own `services` / `tools` like an endpoint; its calls are recorded beside the agents'.
 *
 * Every request needs a configured client's bearer token, compared in constant time, on loopback
 * too: a web page must not reach local tools, and one from another origin (`Origin` not this
 * server's) gets 403. A wrong token gets 401, always: tokens are too long to guess, and a lock
 * would shut out a client retrying a stale one, or everyone behind one proxy; they are logged
 * sparingly (`WrongTokenLog`). Without configured clients the route answers 404. Clients and their
 * tokens are read at each request, so a config change applies to the next one; a session whose
 * client was removed or changed (token, `services`, `tools`) is closed. A session unused for 30
 * minutes is closed, and a client holds at most 32: a new one closes its least recently used
 * session with no call running (an open stream alone does not keep it), or gets 429 when every
 * one has a call running.
 */
export class McpClientRoute {
  /** Open sessions by id, least recently used first. */
  readonly #sessions = new Map<string, McpSession>();
  readonly #wrongTokens: WrongTokenLog;
  #closed = false;

  /** `now` is the clock the wrong-token log reads, ms; default `Date.now`. */
  constructor(
    private readonly adapter: XiaozhiConnectionAdapter,
    private readonly options: {
      readonly version: string;
      readonly logger: Logger;
      readonly now?: () => number;
    },
  ) {
    this.#wrongTokens = new WrongTokenLog({
      logger: options.logger,
      message: "MCP client refused",
      now: options.now ?? Date.now,
    });
  }

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
    // The MCP spec asks servers to check Origin: a page elsewhere must not drive local tools.
    const origin = c.req.header("origin");
    if (origin && !sameOrigin(origin, c.req.header("host"))) {
      return fail(c, 403, "FORBIDDEN_ORIGIN", "cross-origin requests are not allowed");
    }
    const given = bearerToken(c.req.header("authorization"));
    const client = given === undefined ? undefined : clientFor(clients, given);
    if (!client) return this.#refuse(c, given !== undefined);
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
      // Used now: to the back of the order the cap closes sessions in.
      this.#sessions.delete(id);
      this.#sessions.set(id, session);
      return closingIfRefused(await session.handle(c.req.raw));
    }
    // Only an `initialize` opens a session, and the SDK says which requests are; a client whose
    // sessions all have calls running is refused before one is opened.
    if (c.req.method === "POST" && this.#full(client.name) && !this.#spare(client.name)) {
      return fail(
        c,
        429,
        "TOO_MANY_SESSIONS",
        `client ${client.name} has ${mcpSessionsPerClient} sessions with calls running; end one (DELETE /mcp) and try again`,
      );
    }
    const session = this.#open(client);
    const response = await session.handle(c.req.raw);
    // Not an initialize the SDK accepted: no session was made, nothing stays behind.
    if (session.id === undefined) await session.close();
    return closingIfRefused(response);
  }

  /** Closes every session (their streams end and their timers stop). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#sessions.values()].map((session) => session.close()));
  }

  /**
   * Closes the sessions of clients no longer configured as they were: removed, or with another
   * token, `services` or `tools` (a session keeps the tool filter it began with).
   */
  async prune(): Promise<void> {
    const clients = new Map((this.adapter.config.clients ?? []).map((client) => [client.name, client]));
    await Promise.allSettled(
      [...this.#sessions.values()]
        .filter((session) => !sameClient(session.config, clients.get(session.client)))
        .map((session) => session.close()),
    );
  }

  /** 401 for a missing or wrong token, never 429; wrong ones are logged sparingly. */
  #refuse(c: Context, wrong: boolean): Response {
    const address = remoteAddress(c) ?? "unknown";
    if (wrong) this.#wrongTokens.refused(address, { path: "/mcp" });
    else this.options.logger.debug({ address, path: "/mcp" }, "MCP client refused: no token");
    c.header("WWW-Authenticate", 'Bearer realm="xiaozhi-connect", error="invalid_token"');
    return c.json(
      { error: { code: "UNAUTHORIZED", message: "a configured client's bearer token is required" } },
      401,
    );
  }

  #open(client: McpClientConfig): McpSession {
    return new McpSession({
      adapter: this.adapter,
      client,
      version: this.options.version,
      onInitialized: (session) => {
        const id = session.id as string;
        // Closed meanwhile: nothing may outlive the route.
        if (this.#closed) return void session.close();
        // Room was checked before; should sessions have filled up since, one goes now.
        if (this.#full(client.name)) void this.#spare(client.name)?.close();
        this.#sessions.set(id, session);
      },
      onClosed: (session, reason) => {
        const id = session.id;
        if (id !== undefined && this.#sessions.get(id) === session) this.#sessions.delete(id);
        if (reason === "idle") {
          this.options.logger.debug({ client: session.client }, "MCP client session closed after idling");
        }
      },
    });
  }

  #full(client: string): boolean {
    let count = 0;
    for (const session of this.#sessions.values()) if (session.client === client) count++;
    return count >= mcpSessionsPerClient;
  }

  /** The client's least recently used session with no call running, if any: the one to close. */
  #spare(client: string): McpSession | undefined {
    for (const session of this.#sessions.values()) {
      if (session.client === client && !session.working) return session;
    }
    return undefined;
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

/** Whether a session begun as `was` still serves the client as configured now. */
function sameClient(was: McpClientConfig, now: McpClientConfig | undefined): boolean {
  const same = (a: readonly string[] | undefined, b: readonly string[] | undefined) =>
    a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));
  return (
    now !== undefined &&
    was.token === now.token &&
    same(was.services, now.services) &&
    same(was.tools, now.tools)
  );
}

/** The client whose token the request carries; every configured token is compared, in constant time. */
function clientFor(clients: readonly McpClientConfig[], given: string): McpClientConfig | undefined {
  const hash = digest(given);
  let found: McpClientConfig | undefined;
  for (const client of clients) {
    if (timingSafeEqual(hash, digest(client.token)) && !found) found = client;
  }
  return found;
}
