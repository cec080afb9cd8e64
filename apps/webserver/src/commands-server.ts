import type { UnknownField } from "@xiaozhi-connect/webserver-adapter";
import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import type { Cli } from "./cli.js";
import { pageCount, pageNumber, pageSize, stateList, usageMessages } from "./cli-usage.js";
import { api, listEndpoints, listServices, target } from "./client.js";
import { daemonChildFlag, startDaemon, stopServer } from "./daemon.js";
import type { Locale } from "./locale.js";
import { follow, lastLines, logFile, readableLog } from "./logs.js";
import type { Messages } from "./messages.js";
import { findConfig } from "./options.js";
import { CommandError, colors, state } from "./output.js";
import { serve } from "./serve.js";
import { runningServer, runningServers, stateDir } from "./state.js";
import {
  type BudgetRow,
  type EndpointRow,
  endpointTable,
  type InstanceRow,
  instanceTable,
  serviceTable,
  shownName,
} from "./tables.js";

/**
 * Each of `start`, `stop`, `restart` and `status` as a builder: it gives a new command the
 * description, options and action of that command, so xiaozhi-client's `service start` and the
 * rest are the same command under another parent.
 */
export type ServerCommands = Readonly<
  Record<"start" | "stop" | "restart" | "status", (c: Command) => Command>
>;

/**
 * `start`, `stop`, `restart`, `status` and `logs`: the server of the config the lookup picks.
 * Returns the builders of the first four.
 */
export function serverCommands(program: Command, cli: Cli): ServerCommands {
  const { env, m, out, json, globals, run } = cli;
  const u = usageMessages(cli.locale);
  /** The config the lookup picks for a command, and the state directory of its server. */
  const resolved = (command: Command) => {
    const path = findConfig(globals(command).config, env).path ?? null;
    return { path, dir: stateDir(env, path) };
  };
  /** The servers of other configs, with how to reach each. */
  const others = (path: string | null) => {
    for (const other of runningServers(env)) {
      if (other.config !== path) out(m.server.otherServer(other.pid, other.url, other.config));
    }
  };
  const notRunning = (path: string | null) => {
    out(m.server.notRunningFor(path));
    others(path);
  };

  const serverOptions = (command: Command) =>
    command
      .option("-p, --port <port>", m.help.port, port(m))
      .option("-H, --host <address>", m.help.host)
      .option("--log-size <size>", m.help.logSize, "10M")
      .option("--log-files <count>", m.help.logFiles, count(m), 5)
      .option("--debug", m.help.debug);

  const start = (command: Command) =>
    serverOptions(command.description(m.help.start).option("-d, --daemon", m.help.daemon))
      .addOption(new Option(daemonChildFlag).hideHelp())
      .action(
        run(async (command) => {
          const o = command.opts() as StartOptions;
          const { config, lang } = globals(command);
          const portValue = o.port ?? (env.XIAOZHI_PORT ? port(m)(env.XIAOZHI_PORT) : undefined);
          const host = o.host ?? (env.XIAOZHI_HOST || undefined);
          const serverEnv = o.debug ? { ...env, XIAOZHI_LOG_LEVEL: "debug" } : env;
          if (o.daemon && !o.daemonChild) {
            const path = findConfig(config, env).path ?? null;
            await startDaemon(serverArgs(path, portValue, host, lang, o), serverEnv, out, {
              dir: stateDir(env, path),
              m,
              stopCommand: stopCommand(config),
            });
            return 0;
          }
          if (!o.daemonChild) {
            const running = runningServer(stateDir(env, findConfig(config, env).path ?? null));
            if (running) throw new CommandError(m.server.alreadyRunning(running.pid, running.url));
          }
          return serve(
            {
              ...(config === undefined ? {} : { config }),
              ...(portValue === undefined ? {} : { port: portValue }),
              ...(host === undefined ? {} : { host }),
              ...(o.daemonChild
                ? { logFile: { size: o.logSize, files: o.logFiles }, ipc: true }
                : { watchParent: true }),
              locale: cli.locale,
            },
            serverEnv,
          );
        }),
      );

  const stop = (command: Command) =>
    command
      .description(m.help.stop)
      .option("-t, --timeout <seconds>", m.help.timeout, count(m), 10)
      .action(
        run(async (command) => {
          const { dir, path } = resolved(command);
          const timeout = (command.opts() as { timeout: number }).timeout * 1000;
          if (!(await stopServer(dir, out, m, timeout))) notRunning(path);
        }),
      );

  const restart = (command: Command) =>
    serverOptions(
      command
        .description(m.help.restart)
        // xiaozhi-client's `restart -d`: a restarted server always runs in the background here.
        .addOption(new Option("-d, --daemon").hideHelp()),
    ).action(
      run(async (command) => {
        const o = command.opts() as StartOptions;
        const { config, lang } = globals(command);
        const { dir, path } = resolved(command);
        // It comes back as it was started (`--port`, `--host`, its log), unless told otherwise.
        const was = runningServer(dir);
        const given = (option: string) => command.getOptionValueSource(option) !== "default";
        const log = {
          logSize: given("logSize") ? o.logSize : (was?.log?.size ?? o.logSize),
          logFiles: given("logFiles") ? o.logFiles : (was?.log?.files ?? o.logFiles),
        };
        const level = o.debug ? "debug" : (env.XIAOZHI_LOG_LEVEL ?? was?.log?.level);
        if (!(await stopServer(dir, out, m))) notRunning(path);
        await startDaemon(
          serverArgs(path, o.port ?? was?.listen?.port, o.host ?? was?.listen?.host, lang, log),
          level ? { ...env, XIAOZHI_LOG_LEVEL: level } : env,
          out,
          { dir, m, stopCommand: stopCommand(config) },
        );
      }),
    );

  const status = (command: Command) =>
    command
      .description(m.help.status)
      .option("--json", m.help.json)
      .option("--page <n>", m.help.page, pageNumber(u), 1)
      .option("--per-page <n>", m.help.perPage, pageSize(u), 50)
      .option("--state <states>", m.help.stateFilter, stateList(u))
      .action(
        run(async (command) => {
          const { dir, path } = resolved(command);
          const record = runningServer(dir);
          const asJson = (command.opts() as { json?: boolean }).json;
          if (!record) {
            if (asJson) json({ running: false, config: path });
            else {
              out(m.server.stoppedFor(state("stopped", m.states.stopped), path));
              others(path);
            }
            return 1;
          }
          const where = target(env, globals(command).config, m);
          if (where.kind !== "server") return 1;
          const status = await api<{
            version: string;
            config: {
              path: string | null;
              lastError: string | null;
              unknownFields?: UnknownField[];
              restartNeeded?: string[];
            };
            cluster?: { instanceId: string; redis: string; reachable: boolean; instances: InstanceRow[] };
            toolBudget?: Record<string, BudgetRow>;
          }>(where, "GET", "/api/status");
          const o = command.opts() as { page: number; perPage: number; state?: string };
          const services = await listServices(where);
          if (asJson) {
            const endpoints = await listEndpoints(where);
            json({ running: true, pid: record.pid, url: record.url, ...status, endpoints, services });
            return 0;
          }
          // One page and the counts of all: ten thousand endpoints are a summary, not a screenful.
          const { perPage } = o;
          const offset = (o.page - 1) * perPage;
          // The API takes at most nine digits; any page that far out is past the end anyway.
          const page = await api<EndpointPage>(
            where,
            "GET",
            `/api/endpoints?offset=${Math.min(offset, 999_999_999)}&limit=${perPage}${o.state ? `&state=${encodeURIComponent(o.state)}` : ""}`,
          );
          const endpoints = page.endpoints;
          out(
            m.server.runningLine(state("running", m.states.running), record.pid, record.url, status.version),
          );
          out(
            `${m.server.configLine(status.config.path)}${status.config.lastError ? colors.red(m.server.rejected(m.explain(status.config.lastError))) : ""}`,
          );
          if (status.config.restartNeeded?.length)
            out(colors.yellow(m.server.restartNeeded(status.config.restartNeeded)));
          // A misspelt field is ignored, the setting it was for missing.
          for (const field of status.config.unknownFields ?? [])
            out(colors.yellow(`  ${m.manage.unknownField(field)}`));
          if (status.cluster) {
            const { cluster } = status;
            out(
              `${m.server.clusterLine(cluster.instanceId, cluster.redis)}${cluster.reachable ? "" : colors.red(m.server.redisAway)}`,
            );
          }
          out("");
          out(summaryLine(page.summary, m));
          if (page.summary.total === 0) out(m.manage.noEndpoints);
          else {
            if (endpoints.length) out(endpointTable(endpoints, m, status.toolBudget));
            // Past the last page: say so, not "showing 4901–4900 of 3".
            if (!endpoints.length && page.total > 0) {
              const pages = pageCount(page.total, perPage);
              out(colors.yellow(u.pastEnd(o.page, page.total, pages, o.state !== undefined)));
            } else if (page.total > endpoints.length || o.page > 1 || o.state) {
              const next = offset + endpoints.length < page.total ? o.page + 1 : undefined;
              out(colors.dim(m.server.pageLine(offset + 1, offset + endpoints.length, page.total, next)));
            }
          }
          for (const e of endpoints) {
            const budget = status.toolBudget?.[e.id];
            const who = shownName(e.name, m) || e.id;
            if (budget?.over) out(colors.yellow(m.server.overBudget(who, budget.tools, budget.maxTools)));
          }
          if (status.cluster) {
            out("");
            out(instanceTable(status.cluster.instances, m));
          }
          if (services.length) {
            out("");
            out(serviceTable(services, m));
          }
        }),
      );

  start(program.command("start", { isDefault: true }));
  stop(program.command("stop"));
  restart(program.command("restart"));
  status(program.command("status"));
  program
    .command("logs")
    .description(m.help.logs)
    .option("-n, --lines <count>", m.help.lines, count(m), 50)
    .option("-f, --follow", m.help.follow)
    .option("--json", m.help.rawJson)
    .action(run((command) => logs(command, cli)));
  return { start, stop, restart, status };
}

/** `logs` (and xiaozhi-client's `attach`, which is `logs -f`): readable lines, or pino's JSON. */
export async function logs(command: Command, cli: Cli, followAnyway = false): Promise<void> {
  const o = command.opts() as { lines?: number; follow?: boolean; json?: boolean };
  const path = logFile(stateDir(cli.env, findConfig(cli.globals(command).config, cli.env).path ?? null));
  const readable = o.json ? (line: string) => line : readableLog(colors.isColorSupported);
  const print = (line: string) => cli.out(readable(line));
  for (const line of lastLines(path, o.lines ?? 50, cli.m)) print(line);
  if (!o.follow && !followAnyway) return;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  await follow(path, print, stop.signal);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}

interface StartOptions {
  readonly port?: number;
  readonly host?: string;
  readonly daemon?: boolean;
  readonly daemonChild?: boolean;
  readonly debug?: boolean;
  readonly logSize: string;
  readonly logFiles: number;
}

/** The flags a background server is started with: the config the lookup picked, by its path. */
function serverArgs(
  config: string | null,
  portValue: number | undefined,
  host: string | undefined,
  lang: Locale | undefined,
  o: Pick<StartOptions, "logSize" | "logFiles">,
): string[] {
  return [
    ...(config === null ? [] : ["--config", config]),
    ...(portValue === undefined ? [] : ["--port", String(portValue)]),
    ...(host === undefined ? [] : ["--host", host]),
    ...(lang === undefined ? [] : ["--lang", lang]),
    "--log-size",
    o.logSize,
    "--log-files",
    String(o.logFiles),
  ];
}

function stopCommand(config: string | undefined): string {
  return `xiaozhi-connect stop${config === undefined ? "" : ` --config ${config}`}`;
}

/** Commander argument parsers that say what is wrong in the command's language. */
export function port(m: Messages) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535 || value.trim() === "") {
      throw new InvalidArgumentError(m.errors.badPort(value));
    }
    return parsed;
  };
}

/** `GET /api/endpoints` with a limit: one page, how many matched, and the counts of all. */
interface EndpointPage {
  readonly endpoints: EndpointRow[];
  readonly total: number;
  readonly summary: { total: number; connected: number; states: Record<string, number> };
}

/** `endpoints 9990/10000 connected · 8 reconnecting · 2 failed`, states in the command's language. */
function summaryLine(summary: EndpointPage["summary"], m: Messages): string {
  const others = Object.entries(summary.states)
    .filter(([name]) => name !== "connected")
    .map(([name, n]) => ` · ${n} ${state(name, m.states[name as keyof Messages["states"]] ?? name)}`)
    .join("");
  return m.server.endpointSummary(summary.connected, summary.total, others);
}

export function count(m: Messages) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(m.errors.badCount(value));
    return parsed;
  };
}
