import type { Readable, Writable } from "node:stream";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/** The id of the `initialize` the bridge replays to a restarted server; its answer is its own. */
const replayId = "xiaozhi-connect-stdio-reopen";

/** Where the bridge relays, and through what. */
export interface StdioBridgeOptions {
  /** The server's `/mcp` now, read at each (re)connection; undefined when no server runs. */
  readonly address: () => URL | undefined;
  /** The client's bearer token. */
  readonly token: string;
  /** The client's side; default stdin and stdout. */
  readonly input?: Readable;
  readonly output?: Writable;
  /** Where problems are reported, one line each; default stderr. */
  readonly report?: (line: string) => void;
}

/**
 * Relays MCP messages between stdin/stdout and the server's `/mcp`, each side through the SDK's
 * own transport; ends when the input closes. Nothing but MCP messages goes to the output.
 *
 * A server that restarts (an upgrade, a crash under a supervisor) loses its sessions. The bridge
 * then opens a new one at the server's current address, replaying the client's `initialize`, and
 * sends the request again, so the client carries on without being restarted itself.
 */
export async function bridgeStdio(options: StdioBridgeOptions): Promise<void> {
  const { address, token } = options;
  const input = options.input ?? process.stdin;
  const report = options.report ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const local = new StdioServerTransport(input, options.output ?? process.stdout);
  let closing = false;
  let last = "";
  let handshake: { initialize?: JSONRPCMessage; initialized?: JSONRPCMessage } = {};
  const fail = (error: unknown) => {
    // Streams aborted while the bridge closes are how it closes, not errors worth a line.
    if (closing) return;
    // The SDK's transport reports a failed send and throws it too: one line for it is enough.
    const line = `xiaozhi-connect stdio: ${reasonOf(error)}`;
    if (line !== last) report(line);
    last = line;
  };

  const open = async (): Promise<StreamableHTTPClientTransport> => {
    const url = address();
    if (!url) throw new Error("the xiaozhi-connect server is not running");
    const transport = new StreamableHTTPClientTransport(url, {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    transport.onmessage = (message) => {
      if ("id" in message && message.id === replayId) return;
      void local.send(message).catch(fail);
    };
    transport.onerror = fail;
    await transport.start();
    return transport;
  };
  let remote = await open();
  let reopening: Promise<void> | undefined;
  const reopen = (stale: StreamableHTTPClientTransport) => {
    reopening ??= (async () => {
      if (remote !== stale) return;
      void stale.close().catch(() => {});
      const fresh = await open();
      const { initialize, initialized } = handshake;
      if (initialize && "params" in initialize) {
        await fresh.send({ ...initialize, id: replayId } as JSONRPCMessage);
        if (initialized) await fresh.send(initialized);
      }
      remote = fresh;
    })().finally(() => {
      reopening = undefined;
    });
    return reopening;
  };

  const forward = async (message: JSONRPCMessage) => {
    if ("method" in message && message.method === "initialize") handshake = { initialize: message };
    if ("method" in message && message.method === "notifications/initialized") {
      handshake.initialized = message;
    }
    await reopening;
    const sent = remote;
    try {
      await sent.send(message);
    } catch (error) {
      // The session is gone (404) or the server is away: open a new session and try once more.
      if (!isSessionLost(error) || message === handshake.initialize) throw error;
      await reopen(sent);
      await remote.send(message);
    }
  };

  local.onmessage = (message) =>
    void forward(message).catch((error: unknown) => {
      fail(error);
      // A request that could not be delivered still gets its answer, or the client would wait for ever.
      if ("method" in message && "id" in message) {
        void local.send({
          jsonrpc: "2.0",
          id: message.id,
          error: { code: -32000, message: reasonOf(error) },
        });
      }
    });
  local.onerror = fail;
  const ended = new Promise<void>((resolve) => {
    local.onclose = () => resolve();
    input.once("end", () => resolve());
  });
  await local.start();
  await ended;
  closing = true;
  await Promise.allSettled([remote.terminateSession(), remote.close(), local.close()]);
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A failure a new session may cure: the session unknown to the server, or the server unreachable. */
function isSessionLost(error: unknown): boolean {
  if (error instanceof StreamableHTTPError) return error.code === 404;
  return error instanceof TypeError && /fetch failed/i.test(error.message);
}
