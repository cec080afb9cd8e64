import type { Command } from "commander";
import type { Cli } from "./cli.js";
import {
  addEndpoint,
  endpointNamed,
  listEndpoints,
  listServices,
  listTools,
  reconnectEndpoint,
  removeEndpoint,
  setToolEnabled,
  target,
} from "./client.js";
import { checkConfig, explainLookup, initConfig } from "./config-commands.js";
import { CommandError, colors, state, table } from "./output.js";
import { endpointTable, serviceTable, toolTable } from "./tables.js";

/** `endpoint`, `service`, `tool` and `config`: through the running server, else on the file. */
export function manageCommands(program: Command, cli: Cli): void {
  const { env, m, out, json, globals, run } = cli;
  const where = (command: Command) => target(env, globals(command).config, m);
  const asJson = (command: Command) => (command.opts() as { json?: boolean }).json === true;
  // An endpoint URL carries its token: commands name an endpoint by its id, never by what was typed.
  const idOf = (command: Command) => endpointNamed(where(command), String(command.args[0]));

  const endpoint = program.command("endpoint").description(m.help.endpoint);
  endpoint
    .command("list")
    .description(m.help.endpointList)
    .option("--json", m.help.json)
    .action(
      run(async (command) => {
        const rows = await listEndpoints(where(command));
        if (asJson(command)) json(rows);
        else out(rows.length ? endpointTable(rows, m) : m.manage.noEndpoints);
      }),
    );
  endpoint
    .command("add <url>")
    .description(m.help.endpointAdd)
    .option("--name <name>", m.help.name)
    .option("--json", m.help.json)
    .action(
      run(async (command) => {
        const options = command.opts() as { name?: string };
        const added = await addEndpoint(where(command), String(command.args[0]), options.name);
        if (asJson(command)) json(added);
        else
          out(
            m.manage.added(
              added.id,
              added.name,
              added.url,
              state(added.state, m.states[added.state as keyof typeof m.states] ?? added.state),
            ),
          );
        // Saved, but the agent refused it (a wrong or expired token): the command did not do its job.
        if (added.state === "failed") {
          throw new CommandError(m.manage.refused(m.explain(added.lastError ?? "")));
        }
      }),
    );
  endpoint
    .command("remove <id-url-or-name>")
    .description(m.help.endpointRemove)
    .action(
      run(async (command) => {
        const id = await idOf(command);
        await removeEndpoint(where(command), id);
        out(m.manage.removed(id));
      }),
    );
  endpoint
    .command("reconnect <id-or-name>")
    .description(m.help.endpointReconnect)
    .action(
      run(async (command) => {
        // By id: a URL, token and all, would otherwise travel in the request path.
        const id = await idOf(command);
        await reconnectEndpoint(where(command), id);
        out(m.manage.reconnecting(id));
      }),
    );

  program
    .command("service")
    .description(m.help.service)
    .command("list")
    .description(m.help.serviceList)
    .option("--json", m.help.json)
    .action(run((command) => services(command, cli)));

  const tool = program.command("tool").description(m.help.tool);
  tool
    .command("list")
    .description(m.help.toolList)
    .option("--service <name>", m.help.toolService)
    .option("--json", m.help.json)
    .action(run((command) => tools(command, cli)));
  for (const [name, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    tool
      .command(`${name} <tool>`)
      .description(enabled ? m.help.toolEnable : m.help.toolDisable)
      .action(
        run(async (command) => {
          await switchTool(command, cli, String(command.args[0]), enabled);
        }),
      );
  }

  const config = program.command("config").description(m.help.config_);
  config
    .command("path")
    .description(m.help.configPath)
    .option("--json", m.help.json)
    .action(
      run(async (command) => {
        const lookup = explainLookup(globals(command).config, env);
        if (asJson(command)) json(lookup);
        else {
          out(lookup.path ?? m.manage.noneFound);
          out(
            table(
              ["", m.tables.source, m.tables.path],
              lookup.candidates.map((c) => [
                c.path === lookup.path ? "→" : c.exists ? "·" : " ",
                m.sources[c.source as keyof typeof m.sources] ?? c.source,
                c.path,
              ]),
            ),
          );
        }
        return lookup.path ? 0 : 1;
      }),
    );
  config
    .command("check [file]")
    .description(m.help.configCheck)
    .option("--json", m.help.json)
    .action(
      run(async (command) => {
        const result = await checkConfig(command.args[0] ?? globals(command).config, env, m);
        if (asJson(command)) json(result);
        else if (!result.ok) out(`${result.path}: ${colors.red(result.error)}`);
        else {
          out(m.manage.checked(result.path, result.summary, result.warnings.length));
          for (const warning of result.warnings) out(colors.yellow(`  ${m.manage.warning}${warning}`));
        }
        return result.ok ? 0 : 1;
      }),
    );
  config
    .command("init")
    .description(m.help.configInit)
    .option("--force", m.help.force)
    .action(
      run(async (command) => {
        const force = (command.opts() as { force?: boolean }).force === true;
        out(m.manage.wrote(initConfig(globals(command).config, env, force, m)));
      }),
    );
}

/** `service list` (and xiaozhi-client's `mcp list`). */
export async function services(command: Command, cli: Cli): Promise<void> {
  const rows = await listServices(target(cli.env, cli.globals(command).config, cli.m));
  if ((command.opts() as { json?: boolean }).json) cli.json(rows);
  else cli.out(rows.length ? serviceTable(rows, cli.m) : cli.m.manage.noServices);
}

/** `tool list` (and xiaozhi-client's `mcp list --tools` and `mcp server NAME`). */
export async function tools(command: Command, cli: Cli, service?: string): Promise<void> {
  const o = command.opts() as { json?: boolean; service?: string };
  const only = service ?? o.service;
  const rows = (await listTools(target(cli.env, cli.globals(command).config, cli.m))).filter(
    (t) => only === undefined || t.service === only,
  );
  if (o.json) cli.json(rows);
  else cli.out(rows.length ? toolTable(rows, cli.m) : cli.m.manage.noTools);
}

/** `tool enable|disable` (and xiaozhi-client's `mcp tool SERVICE TOOL enable|disable`). */
export async function switchTool(command: Command, cli: Cli, name: string, enabled: boolean): Promise<void> {
  await setToolEnabled(target(cli.env, cli.globals(command).config, cli.m), name, enabled);
  cli.out(enabled ? cli.m.manage.enabled(name) : cli.m.manage.disabled(name));
}
