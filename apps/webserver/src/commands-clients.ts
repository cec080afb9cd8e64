import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { type McpClientConfig, newClientToken } from "@xiaozhi-connect/webserver-adapter";
import type { Command } from "commander";
import type { Cli } from "./cli.js";
import { editFile, loadFile } from "./client.js";
import type { Messages } from "./messages.js";
import { findConfig } from "./options.js";
import { CommandError, table } from "./output.js";
import { runningServer, stateDir } from "./state.js";

const list = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean);

/**
 * `client add|list|remove`: the MCP clients allowed on `/mcp`, kept in the config file (a running
 * server reads the change from the file at once). `stdio`: the running server's `/mcp` on
 * stdin/stdout, for clients that only start a command.
 */
export function clientCommands(program: Command, cli: Cli): void {
  const { env, m, out, json, globals, run } = cli;
  const pathOf = (command: Command) => {
    const path = findConfig(globals(command).config, env).path;
    if (!path) throw new CommandError(m.manage.noServerNoConfig);
    return path;
  };

  const client = program.command("client").description(m.help.client);
  client
    .command("add <name>")
    .description(m.help.clientAdd)
    .option("--services <names>", m.help.clientServices)
    .option("--tools <names>", m.help.clientTools)
    .action(
      run(async (command) => {
        const path = pathOf(command);
        const name = String(command.args[0]);
        const options = command.opts() as { services?: string; tools?: string };
        const services = list(options.services);
        const tools = list(options.tools);
        const token = newClientToken();
        const entry: McpClientConfig = {
          name,
          token,
          ...(services ? { services } : {}),
          ...(tools ? { tools } : {}),
        };
        await editFile({ kind: "file", path, m }, (raw) => {
          const clients = Array.isArray(raw.clients) ? (raw.clients as { name?: unknown }[]) : [];
          if (clients.some((c) => c.name === name)) throw new CommandError(m.clients.duplicate(name));
          raw.clients = [...clients, entry];
        });
        const server = runningServer(stateDir(env, path));
        out(m.clients.added(name, token, server?.url ?? "http://127.0.0.1:9999/").join("\n"));
      }),
    );
  client
    .command("list")
    .description(m.help.clientList)
    .option("--json", m.help.json)
    .action(
      run(async (command) => {
        const clients = (await loadFile(pathOf(command), m)).clients ?? [];
        const rows = clients.map(({ name, services, tools }) => ({
          name,
          ...(services ? { services } : {}),
          ...(tools ? { tools } : {}),
        }));
        if ((command.opts() as { json?: boolean }).json) json(rows);
        else if (rows.length === 0) out(m.clients.none);
        else
          out(
            table(
              [m.clients.name, m.clients.limits],
              rows.map((row) => [row.name, limitsOf(row, m)]),
            ),
          );
      }),
    );
  client
    .command("remove <name>")
    .description(m.help.clientRemove)
    .action(
      run(async (command) => {
        const name = String(command.args[0]);
        await editFile({ kind: "file", path: pathOf(command), m }, (raw) => {
          const clients = Array.isArray(raw.clients) ? (raw.clients as { name?: unknown }[]) : [];
          if (!clients.some((c) => c.name === name)) throw new CommandError(m.clients.unknown(name));
          raw.clients = clients.filter((c) => c.name !== name);
        });
        out(m.clients.removed(name));
      }),
    );

  program
    .command("stdio")
    .description(m.help.stdio)
    .option("--client <name>", m.help.stdioClient)
    .action(
      run(async (command) => {
        const path = pathOf(command);
        const dir = stateDir(env, path);
        // Services run once, in the server: without one there is nothing to bridge to.
        if (!runningServer(dir)) throw new CommandError(m.clients.noServer);
        const clients = (await loadFile(path, m)).clients ?? [];
        const chosen = pick(clients, (command.opts() as { client?: string }).client, m);
        // Read at each (re)connection: a restarted server may listen elsewhere.
        const address = () => {
          const server = runningServer(dir);
          return server ? new URL("mcp", server.url) : undefined;
        };
        await bridge(address, chosen.token);
      }),
    );
}

function limitsOf(row: { services?: readonly string[]; tools?: readonly string[] }, m: Messages): string {
  const parts = [...(row.services ?? []).map((s) => `${s}__*`), ...(row.tools ?? [])];
  return parts.length ? parts.join(", ") : m.clients.all;
}

function pick(clients: readonly McpClientConfig[], name: string | undefined, m: Messages): McpClientConfig {
  if (clients.length === 0) throw new CommandError(m.clients.none);
  if (name !== undefined) {
    const found = clients.find((c) => c.name === name);
    if (!found) throw new CommandError(m.clients.unknown(name));
    return found;
  }
  if (clients.length > 1) throw new CommandError(m.clients.which(clients.map((c) => c.name)));
  return clients[0] as McpClientConfig;
}

/** The id of the `initialize` the bridge replays to a restarted server; its answer is its own. */
const replayId = "xiaozhi-connect-stdio-reopen";

/**
 * Relays MCP messages between stdin/stdout and the server's `/mcp`, each side through the SDK's
 * own transport; ends when stdin closes. Nothing but MCP messages goes to stdout.
 *
 * A server that restarts (an upgrade, a crash under a supervisor) loses its sessions. The bridge
 * then opens a new one at the server's current address, replaying the client's `initialize`, and
 * sends the request again, so the client carries on without being restarted itself.
 */
async function bridge(address: () => URL | undefined, token: string): Promise<void> {
  const local = new StdioServerTransport();
  let closing = false;
  let handshake: { initialize?: JSONRPCMessage; initialized?: JSONRPCMessage } = {};
  const fail = (error: unknown) => {
    // Streams aborted while the bridge closes are how it closes, not errors worth a line.
    if (closing) return;
    process.stderr.write(`xiaozhi-connect stdio: ${reasonOf(error)}\n`);
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
    process.stdin.once("end", () => resolve());
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
