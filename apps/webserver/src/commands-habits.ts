import type { Command } from "commander";
import type { Cli } from "./cli.js";
import { dashboardUrl } from "./client.js";
import { services, switchTool, tools } from "./commands-manage.js";
import { logs } from "./commands-server.js";
import { findConfig } from "./options.js";
import { CommandError, colors } from "./output.js";
import { runningServer, stateDir } from "./state.js";

/**
 * xiaozhi-client's commands, for the hands that type them. Where a command means the same here it
 * works, saying once on stderr what this command line calls it (`mcp list`, `mcp server`,
 * `mcp tool`, `attach`). Where it does not (`config get|set`, `ui`, `create`), it answers with
 * what to do instead and exits 2, rather than doing something subtly different.
 */
export function habitCommands(program: Command, cli: Cli): void {
  const { env, m, run } = cli;
  const ours = (command: string) => process.stderr.write(`${colors.dim(m.habits.ours(command))}\n`);
  const answer = (text: string): never => {
    throw new CommandError(text, 2);
  };
  const configFile = (command: Command) => {
    try {
      return findConfig(cli.globals(command).config, env).path ?? null;
    } catch {
      return null;
    }
  };

  const mcp = program.command("mcp").description(m.habits.mcp);
  mcp
    .command("list")
    .description(m.habits.mcpList)
    .option("--tools", m.habits.mcpListTools)
    .option("--json", m.help.json)
    .action(
      run(async (command) => {
        const withTools = (command.opts() as { tools?: boolean }).tools === true;
        ours(withTools ? "xiaozhi-connect tool list" : "xiaozhi-connect service list");
        await (withTools ? tools(command, cli) : services(command, cli));
      }),
    );
  mcp
    .command("server <service>")
    .description(m.habits.mcpServer)
    .option("--json", m.help.json)
    .action(
      run(async (command) => {
        const service = String(command.args[0]);
        ours(`xiaozhi-connect tool list --service ${service}`);
        await tools(command, cli, service);
      }),
    );
  mcp
    .command("tool <service> <tool> <action>")
    .description(m.habits.mcpTool)
    .action(
      run(async (command) => {
        const [service, tool, action] = command.args.map(String) as [string, string, string];
        if (action !== "enable" && action !== "disable") answer(m.habits.enableOrDisable(action));
        const name = `${service}__${tool}`;
        ours(`xiaozhi-connect tool ${action} ${name}`);
        await switchTool(command, cli, name, action === "enable");
      }),
    );

  program
    .command("attach")
    .description(m.habits.attach)
    .option("-n, --lines <count>", m.help.lines, (v) => Number(v), 50)
    .option("--json", m.help.rawJson)
    .action(
      run(async (command) => {
        ours("xiaozhi-connect logs -f");
        await logs(command, cli, true);
      }),
    );

  const config = program.commands.find((c) => c.name() === "config") as Command;
  config
    .command("get [key]")
    .description(m.habits.configGet)
    .action(
      run(async (command) => {
        answer(m.habits.configGetAnswer(command.args[0], configFile(command)));
      }),
    );
  config
    .command("set <key> [value...]")
    .description(m.habits.configSet)
    .action(
      run(async (command) => {
        answer(m.habits.configSetAnswer(String(command.args[0]), configFile(command)));
      }),
    );

  const endpoint = program.commands.find((c) => c.name() === "endpoint") as Command;
  endpoint
    .command("set [url...]")
    .description(m.habits.endpointSet)
    .action(
      run(async (command) => {
        answer(m.habits.endpointSetAnswer(configFile(command)));
      }),
    );

  program
    .command("ui")
    .description(m.habits.ui)
    .action(
      run(async (command) => {
        const path = configFile(command);
        const running = runningServer(stateDir(env, path));
        answer(m.habits.uiAnswer(running?.url ?? (await dashboardUrl(path, env)), running !== undefined));
      }),
    );
  program
    .command("create [name]")
    .description(m.habits.create)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(
      run(async () => {
        answer(m.habits.createAnswer);
      }),
    );
}
