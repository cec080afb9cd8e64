import { type Command, Option } from "commander";
import type { Cli } from "./cli.js";
import { dashboardUrl } from "./client.js";
import { services, switchTool, tools } from "./commands-manage.js";
import { logs, type ServerCommands } from "./commands-server.js";
import { findConfig } from "./options.js";
import { CommandError, colors } from "./output.js";
import { runningServer, stateDir } from "./state.js";

/**
 * xiaozhi-client's commands, for the hands that type them. Where a command means the same here it
 * works, saying once on stderr what this command line calls it (`mcp list`, `mcp server`,
 * `mcp tool`, `attach`, `service start|stop|status|restart|attach`). Where it does not
 * (`config get|set|mcpEndpoint`, `endpoint set`, `mcp call`, `start --stdio`, `info`, `ui`,
 * `create`), it answers with what to do instead and exits 2, rather than doing something subtly
 * different. `server` builds `service start` and the rest as the commands they stand for.
 */
export function habitCommands(program: Command, cli: Cli, server: ServerCommands): void {
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

  mcp
    .command("call [service] [tool]")
    .description(m.habits.mcpCall)
    .option("--args <json>", m.habits.mcpCallArgs)
    .allowExcessArguments()
    .action(
      run(async (command) => {
        const [service, tool] = command.args.map(String);
        // Custom tools keep their own names; xiaozhi-client calls them under the service customMCP.
        const name = service && tool ? (service === "customMCP" ? tool : `${service}__${tool}`) : undefined;
        answer(m.habits.mcpCallAnswer(name));
      }),
    );

  const attach = (command: Command) =>
    command
      .description(m.habits.attach)
      .option("-n, --lines <count>", m.help.lines, (v) => Number(v), 50)
      .option("--json", m.help.rawJson)
      .action(
        run(async (command) => {
          ours("xiaozhi-connect logs -f");
          await logs(command, cli, true);
        }),
      );
  attach(program.command("attach"));

  // Its `start --stdio` served MCP clients that start a command: that is `stdio` here, which needs
  // a running server and a client's token, so it is pointed at rather than run in its place.
  const noStdio = (command: Command) =>
    command.addOption(new Option("--stdio").hideHelp()).hook("preAction", (self) => {
      if ((self.opts() as { stdio?: boolean }).stdio) answer(m.habits.stdioAnswer);
    });
  noStdio(program.commands.find((c) => c.name() === "start") as Command);

  // Its `service` group: the same commands as at the top, where they mean the same.
  const service = program.commands.find((c) => c.name() === "service") as Command;
  for (const name of ["start", "stop", "status", "restart"] as const) {
    const command = server[name](service.command(name)).description(m.habits.service(name));
    if (name === "start") noStdio(command);
    command.hook("preAction", () => {
      ours(`xiaozhi-connect ${name}`);
    });
  }
  attach(service.command("attach"));

  program
    .command("info")
    .description(m.habits.info)
    .action(
      run(async () => {
        answer(m.habits.infoAnswer);
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

  config
    .command("mcpEndpoint [url...]")
    .description(m.habits.configMcpEndpoint)
    .action(
      run(async (command) => {
        answer(m.habits.configMcpEndpointAnswer(command.args.length > 0, configFile(command)));
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
