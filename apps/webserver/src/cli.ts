import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import {
  addEndpoint,
  api,
  endpointTable,
  type InstanceRow,
  instanceTable,
  listEndpoints,
  listServices,
  listTools,
  reconnectEndpoint,
  removeEndpoint,
  serviceTable,
  setToolEnabled,
  target,
  toolTable,
} from "./client.js";
import { checkConfig, explainLookup, initConfig } from "./config-commands.js";
import { daemonChildFlag, startDaemon, stopServer } from "./daemon.js";
import { follow, lastLines, logFile } from "./logs.js";
import { CommandError, colors, state, table } from "./output.js";
import { serve } from "./serve.js";
import { runningServer, stateDir } from "./state.js";
import { version } from "./version.js";

/**
 * The `xiaozhi-connect` command. Without a command it starts the WebServer in the foreground, as
 * `start` does. Returns the exit code: 0 done, 1 error, 2 usage.
 */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const json = (value: unknown) => out(JSON.stringify(value, null, 2));
  let code = 0;
  const program = new Command("xiaozhi-connect")
    .description("Connects your MCP tools to many Xiaozhi agents at once and keeps every link alive.")
    .version(version, "-v, --version")
    .option("-c, --config <file>", "config file (else the lookup: see `xiaozhi-connect config path`)")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .configureOutput({
      writeErr: (text) => process.stderr.write(text),
      writeOut: (text) => process.stdout.write(text),
    });
  const globals = (command: Command) => command.optsWithGlobals() as { config?: string };
  const run =
    (task: (command: Command) => Promise<unknown>) =>
    async (...args: unknown[]) => {
      const result = await task(args.at(-1) as Command);
      code = typeof result === "number" ? result : 0;
    };

  const serverOptions = (command: Command) =>
    command
      .option(
        "-p, --port <port>",
        "HTTP port (else $XIAOZHI_PORT, webUI.port, 9999; 0 picks a free one)",
        port,
      )
      .option("-H, --host <address>", "bind address (else $XIAOZHI_HOST, webUI.host, 127.0.0.1)")
      .option("--log-size <size>", "with -d: rotate the log file at this size (e.g. 10M, 500K)", "10M")
      .option("--log-files <count>", "with -d: old log files kept", count, 5);

  serverOptions(
    program
      .command("start", { isDefault: true })
      .description("start the WebServer (in the foreground; -d to run it in the background)")
      .option("-d, --daemon", "run in the background: a pid file, a rotated log file, back once ready"),
  )
    .addOption(new Option(daemonChildFlag).hideHelp())
    .action(
      run(async (command) => {
        const o = command.opts() as StartOptions;
        const config = globals(command).config;
        const portValue = o.port ?? (env.XIAOZHI_PORT ? port(env.XIAOZHI_PORT) : undefined);
        const host = o.host ?? (env.XIAOZHI_HOST || undefined);
        if (o.daemon && !o.daemonChild) {
          await startDaemon(serverArgs(config, portValue, host, o), env, out);
          return 0;
        }
        const dir = stateDir(env);
        const running = runningServer(dir);
        if (running && !o.daemonChild)
          throw new CommandError(`already running (pid ${running.pid}, ${running.url})`);
        return serve(
          {
            ...(config === undefined ? {} : { config }),
            ...(portValue === undefined ? {} : { port: portValue }),
            ...(host === undefined ? {} : { host }),
            ...(o.daemonChild
              ? { logFile: { size: o.logSize, files: o.logFiles }, ipc: true }
              : { watchParent: true }),
          },
          env,
        );
      }),
    );

  program
    .command("stop")
    .description("stop the running server (gracefully; killed after the timeout)")
    .option("-t, --timeout <seconds>", "how long to wait before killing it", count, 10)
    .action(
      run(async (command) => {
        await stopServer(env, out, (command.opts() as { timeout: number }).timeout * 1000);
      }),
    );

  serverOptions(
    program.command("restart").description("stop the running server and start it in the background"),
  ).action(
    run(async (command) => {
      const o = command.opts() as StartOptions;
      await stopServer(env, out);
      await startDaemon(serverArgs(globals(command).config, o.port, o.host, o), env, out);
    }),
  );

  program
    .command("status")
    .description("whether the server runs, and its endpoints and services")
    .option("--json", "print JSON")
    .action(
      run(async (command) => {
        const record = runningServer(stateDir(env));
        const asJson = (command.opts() as { json?: boolean }).json;
        if (!record) {
          if (asJson) json({ running: false });
          else out(`xiaozhi-connect is ${state("stopped")}`);
          return 1;
        }
        const where = target(env, globals(command).config);
        if (where.kind !== "server") return 1;
        const status = await api<{
          version: string;
          config: { path: string | null; lastError: string | null };
          cluster?: { instanceId: string; redis: string; reachable: boolean; instances: InstanceRow[] };
        }>(where, "GET", "/api/status");
        const endpoints = await listEndpoints(where);
        const services = await listServices(where);
        if (asJson) {
          json({ running: true, pid: record.pid, url: record.url, ...status, endpoints, services });
          return 0;
        }
        out(
          `xiaozhi-connect ${state("running")} · pid ${record.pid} · ${record.url} · version ${status.version}`,
        );
        out(
          `config ${status.config.path ?? "demo mode"}${status.config.lastError ? colors.red(` · rejected: ${status.config.lastError}`) : ""}`,
        );
        if (status.cluster) {
          const { cluster } = status;
          out(
            `cluster: instance ${cluster.instanceId} · Redis ${cluster.redis}${cluster.reachable ? "" : colors.red(" · out of reach: keeping what this instance holds")}`,
          );
        }
        out("");
        out(endpointTable(endpoints));
        if (status.cluster) {
          out("");
          out(instanceTable(status.cluster.instances));
        }
        if (services.length) {
          out("");
          out(serviceTable(services));
        }
      }),
    );

  program
    .command("logs")
    .description("print the log of the server started with -d")
    .option("-n, --lines <count>", "how many lines from the end", count, 50)
    .option("-f, --follow", "keep printing new lines until Ctrl-C")
    .action(
      run(async (command) => {
        const o = command.opts() as { lines: number; follow?: boolean };
        const path = logFile(env);
        for (const line of lastLines(path, o.lines)) out(line);
        if (!o.follow) return;
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        await follow(path, out, stop.signal);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }),
    );

  const endpoint = program
    .command("endpoint")
    .description("list, add, remove or reconnect Xiaozhi endpoints");
  endpoint
    .command("list")
    .description("every endpoint, masked (live from the server, else from the config file)")
    .option("--json", "print JSON")
    .action(
      run(async (command) => {
        const rows = await listEndpoints(target(env, globals(command).config));
        if ((command.opts() as { json?: boolean }).json) json(rows);
        else out(rows.length ? endpointTable(rows) : "no endpoints");
      }),
    );
  endpoint
    .command("add <url>")
    .description("add an endpoint (connected at once when the server runs) and save it")
    .option("--name <name>", "the agent's name, shown in the dashboard, the logs and the metrics")
    .option("--json", "print JSON")
    .action(
      run(async (command) => {
        const options = command.opts() as { json?: boolean; name?: string };
        const added = await addEndpoint(
          target(env, globals(command).config),
          String(command.args[0]),
          options.name,
        );
        if (options.json) json(added);
        else
          out(
            `added ${added.id}${added.name ? ` (${added.name})` : ""} ${added.url} (${state(added.state)})`,
          );
      }),
    );
  endpoint
    .command("remove <id-or-url>")
    .description("remove an endpoint (closed at once when the server runs) and save it")
    .action(
      run(async (command) => {
        await removeEndpoint(target(env, globals(command).config), String(command.args[0]));
        out(`removed ${command.args[0]?.startsWith("ep-") ? command.args[0] : "the endpoint"}`);
      }),
    );
  endpoint
    .command("reconnect <id>")
    .description("drop and reopen one endpoint's link now")
    .action(
      run(async (command) => {
        await reconnectEndpoint(target(env, globals(command).config), String(command.args[0]));
        out(`reconnecting ${command.args[0]}`);
      }),
    );

  program
    .command("service")
    .description("the MCP services behind the tools")
    .command("list")
    .description("every service with its state and why it is down")
    .option("--json", "print JSON")
    .action(
      run(async (command) => {
        const rows = await listServices(target(env, globals(command).config));
        if ((command.opts() as { json?: boolean }).json) json(rows);
        else out(rows.length ? serviceTable(rows) : "no services");
      }),
    );

  const tool = program.command("tool").description("list the tools, or switch one on or off");
  tool
    .command("list")
    .description("every tool with its service and whether it is enabled")
    .option("--json", "print JSON")
    .action(
      run(async (command) => {
        const rows = await listTools(target(env, globals(command).config));
        if ((command.opts() as { json?: boolean }).json) json(rows);
        else out(rows.length ? toolTable(rows) : "no tools");
      }),
    );
  for (const [name, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    tool
      .command(`${name} <tool>`)
      .description(`${name} a tool (<service>__<tool>); applied live and saved`)
      .action(
        run(async (command) => {
          await setToolEnabled(target(env, globals(command).config), String(command.args[0]), enabled);
          out(`${enabled ? "enabled" : "disabled"} ${command.args[0]}`);
        }),
      );
  }

  const config = program.command("config").description("where the config is, whether it is valid, a starter");
  config
    .command("path")
    .description("which config file the lookup picks, and why")
    .option("--json", "print JSON")
    .action(
      run(async (command) => {
        const lookup = explainLookup(globals(command).config, env);
        if ((command.opts() as { json?: boolean }).json) json(lookup);
        else {
          out(lookup.path ?? "none found: the server would start in demo mode");
          out(
            table(
              ["", "SOURCE", "PATH"],
              lookup.candidates.map((c) => [
                c.path === lookup.path ? "→" : c.exists ? "·" : " ",
                c.source,
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
    .description("validate a config file (default: the one the lookup picks); exit 1 naming each bad field")
    .option("--json", "print JSON")
    .action(
      run(async (command) => {
        const result = checkConfig(command.args[0] ?? globals(command).config, env);
        if ((command.opts() as { json?: boolean }).json) json(result);
        else
          out(
            result.ok
              ? `${result.path}: ok (${result.summary})`
              : `${result.path}: ${colors.red(result.error)}`,
          );
        return result.ok ? 0 : 1;
      }),
    );
  config
    .command("init")
    .description("write a starter config where the lookup would find it")
    .option("--force", "overwrite an existing file")
    .action(
      run(async (command) => {
        const path = initConfig(
          globals(command).config,
          env,
          (command.opts() as { force?: boolean }).force === true,
        );
        out(`wrote ${path}; put your endpoint URLs in mcpEndpoint and your services in mcpServers`);
      }),
    );

  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      if (error.code === "commander.help" || error.code === "commander.executeSubCommandAsync") return 0;
      return 2;
    }
    if (error instanceof CommandError) {
      process.stderr.write(`xiaozhi-connect: ${error.message}\n`);
      return error.code;
    }
    process.stderr.write(`xiaozhi-connect: ${(error as Error).message}\n`);
    return 1;
  }
}

interface StartOptions {
  readonly port?: number;
  readonly host?: string;
  readonly daemon?: boolean;
  readonly daemonChild?: boolean;
  readonly logSize: string;
  readonly logFiles: number;
}

/** The flags a background server is started with, as given to `start -d` or `restart`. */
function serverArgs(
  config: string | undefined,
  portValue: number | undefined,
  host: string | undefined,
  o: StartOptions,
): string[] {
  return [
    ...(config === undefined ? [] : ["--config", config]),
    ...(portValue === undefined ? [] : ["--port", String(portValue)]),
    ...(host === undefined ? [] : ["--host", host]),
    "--log-size",
    o.logSize,
    "--log-files",
    String(o.logFiles),
  ];
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535 || value.trim() === "") {
    throw new InvalidArgumentError(`port must be an integer from 0 to 65535, got "${value}"`);
  }
  return parsed;
}

function count(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return parsed;
}
