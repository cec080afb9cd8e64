import { type McpClientConfig, newClientToken } from "@xiaozhi-connect/webserver-adapter";
import type { Command } from "commander";
import type { Cli } from "./cli.js";
import { api, dashboardUrl, editFile, loadFile, target } from "./client.js";
import type { Messages } from "./messages.js";
import { findConfig } from "./options.js";
import { CommandError, table } from "./output.js";
import { runningServer, stateDir } from "./state.js";
import { bridgeStdio } from "./stdio-bridge.js";

const list = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean);

/**
 * `client add|list|remove`: the MCP clients allowed on `/mcp`, kept in the config file; added and
 * removed through the running server when there is one, so the change holds when the command returns. `stdio`: the running server's `/mcp` on
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
        const name = String(command.args[0]);
        const options = command.opts() as { services?: string; tools?: string };
        const services = list(options.services);
        const tools = list(options.tools);
        const limits = { ...(services ? { services } : {}), ...(tools ? { tools } : {}) };
        const where = target(env, globals(command).config, m);
        if (where.kind === "server") {
          // Through the server: the client is let in at once, and the token comes from there.
          const added = await api<{ token: string }>(where, "POST", "/api/clients", { name, ...limits });
          out(m.clients.added(name, added.token, where.record.url).join("\n"));
          return;
        }
        const path = pathOf(command);
        const token = newClientToken();
        const entry: McpClientConfig = { name, token, ...limits };
        await editFile({ kind: "file", path, m }, (raw) => {
          const clients = Array.isArray(raw.clients) ? (raw.clients as { name?: unknown }[]) : [];
          if (clients.some((c) => c.name === name)) throw new CommandError(m.clients.duplicate(name));
          raw.clients = [...clients, entry];
        });
        out(m.clients.added(name, token, await dashboardUrl(path, env)).join("\n"));
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
        const where = target(env, globals(command).config, m);
        // Through a running server its token stops working when the command returns, not when the
        // server next reads the file.
        if (where.kind === "server") await api(where, "DELETE", `/api/clients/${encodeURIComponent(name)}`);
        else
          await editFile(where, (raw) => {
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
        await bridgeStdio({ address, token: chosen.token });
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
