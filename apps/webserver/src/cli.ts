import { Command, CommanderError, Help, InvalidArgumentError, Option } from "commander";
import stringWidth from "string-width";
import { authCommands } from "./commands-auth.js";
import { clientCommands } from "./commands-clients.js";
import { habitCommands } from "./commands-habits.js";
import { manageCommands } from "./commands-manage.js";
import { serverCommands } from "./commands-server.js";
import { type Locale, localeOf, parseLocale } from "./locale.js";
import { describe, type Messages, messagesFor } from "./messages.js";
import { CommandError } from "./output.js";
import { explainerFor } from "./reasons.js";
import { version } from "./version.js";

/** What each group of commands is given to build its commands with. */
export interface Cli {
  readonly env: NodeJS.ProcessEnv;
  /** Where a command reads what the user types or pipes in. */
  readonly input: NodeJS.ReadableStream;
  readonly locale: Locale;
  readonly m: Messages;
  readonly out: (line: string) => void;
  readonly json: (value: unknown) => void;
  /** The global options (`--config`, `--lang`) as seen from a command. */
  readonly globals: (command: Command) => { config?: string; lang?: Locale };
  /** Wraps a command's task: its number is the exit code (0 when it returns nothing). */
  readonly run: (task: (command: Command) => Promise<unknown>) => (...args: unknown[]) => Promise<void>;
}

/** How the command is run: a terminal or not (bare `xiaozhi-connect` prints help on one). */
export interface CliIo {
  /** True when stdin or stdout is a terminal: a person typing, not a supervisor. */
  readonly terminal: boolean;
  /** Where commands that read input (`password`) read it; default stdin. */
  readonly input?: NodeJS.ReadableStream;
}

/**
 * The `xiaozhi-connect` command, in English or 简体中文 (`--lang`, else `LC_ALL`/`LC_MESSAGES`/
 * `LANG`). Bare, on a terminal, it prints help; without one (a supervisor, a script) it starts the
 * WebServer in the foreground, as `start` does. Returns the exit code: 0 done, 1 error, 2 usage.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = { terminal: process.stdout.isTTY === true || process.stdin.isTTY === true },
): Promise<number> {
  const locale = localeOf(argv, env);
  // The server's reasons and refusals in the command's language too. English needs nothing loaded,
  // and no await: a server started in this process sets its signal handlers in this same turn.
  const m =
    locale === "en" ? messagesFor(locale) : { ...messagesFor(locale), explain: await explainerFor(locale) };
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let code = 0;
  const program = new Command("xiaozhi-connect")
    .description(m.help.description)
    .version(version, "-v, --version", m.help.version)
    .helpOption("-h, --help", m.help.help)
    .helpCommand("help [command]", m.help.helpCommand)
    .option("-c, --config <file>", m.help.config)
    .addOption(new Option("--lang <language>", m.help.lang).argParser(language(m)))
    .showHelpAfterError(m.help.addHelp)
    .exitOverride()
    .configureHelp(helpIn(m))
    .configureOutput({
      writeErr: (text) => process.stderr.write(text),
      writeOut: (text) => process.stdout.write(text),
      outputError: (text, write) => write(translateCommanderError(text, m)),
    });
  const cli: Cli = {
    env,
    input: io.input ?? process.stdin,
    locale,
    m,
    out,
    json: (value) => out(JSON.stringify(value, null, 2)),
    globals: (command) => command.optsWithGlobals() as { config?: string; lang?: Locale },
    run:
      (task) =>
      async (...args) => {
        const result = await task(args.at(-1) as Command);
        code = typeof result === "number" ? result : 0;
      },
  };
  const server = serverCommands(program, cli);
  manageCommands(program, cli);
  clientCommands(program, cli);
  authCommands(program, cli);
  habitCommands(program, cli, server);
  // Every subcommand speaks the same language, and has the same help layout and error handling.
  for (const command of allCommands(program)) {
    if (command === program) continue;
    command.helpOption("-h, --help", m.help.help).showHelpAfterError(m.help.addHelp).configureHelp(helpIn(m));
    if (command.commands.length > 0) command.helpCommand("help [command]", m.help.helpCommand);
  }

  try {
    if (io.terminal && bare(argv)) {
      program.outputHelp();
      return 0;
    }
    // `start` is what a bare command runs off a terminal; any other first word must be a command,
    // not an argument of `start` ("too many arguments for 'start'" helps nobody). `help` is one,
    // as the help screen lists it.
    const words = infoAsCommand(argv);
    const first = firstWord(words);
    if (
      first !== undefined &&
      first !== "help" &&
      !program.commands.some((c) => c.name() === first || c.aliases().includes(first))
    ) {
      program.error(`error: unknown command '${first}'`, { code: "commander.unknownCommand" });
    }
    await program.parseAsync([...words], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      if (error.code === "commander.executeSubCommandAsync") return 0;
      // `help` asked for is done; help printed because a group (`endpoint`) lacks its subcommand
      // is a usage error, like an unknown subcommand.
      if (error.code === "commander.help" && error.exitCode === 0) return 0;
      return 2;
    }
    if (error instanceof CommandError) {
      process.stderr.write(`xiaozhi-connect: ${error.message}\n`);
      return error.code;
    }
    process.stderr.write(`xiaozhi-connect: ${describe(error, m)}\n`);
    return 1;
  }
}

/** No command, only `--config`/`--lang`: what `xiaozhi-connect` alone means. */
function bare(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--config" || arg === "-c" || arg === "--lang") i++;
    else if (!arg.startsWith("--config=") && !arg.startsWith("--lang=")) return false;
  }
  return true;
}

/** Options that take a value, so the word after them is not a command. */
const valued = new Set([
  "-c",
  "--config",
  "--lang",
  "-p",
  "--port",
  "-H",
  "--host",
  "--log-size",
  "--log-files",
]);

const infoFlags = new Set(["--info", "--version-info"]);

/**
 * xiaozhi-client's `--info` and `--version-info`, given with no command, as its `info`: answered as
 * that, rather than refused as unknown options of `start`, the command a bare line runs.
 */
function infoAsCommand(argv: readonly string[]): readonly string[] {
  if (firstWord(argv) !== undefined) return argv;
  const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
  return argv.map((arg, i) => (i < end && infoFlags.has(arg) ? "info" : arg));
}

/** The first word that is not an option or an option's value: the command, if any. */
function firstWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") return undefined;
    if (valued.has(arg)) i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap((c) => allCommands(c as Command))];
}

function language(m: Messages) {
  return (value: string): Locale => {
    const locale = parseLocale(value);
    if (!locale) throw new InvalidArgumentError(m.errors.badLanguage(value));
    return locale;
  };
}

/** commander's help with its titles in the chosen language. */
function helpIn(m: Messages): Partial<Help> {
  const titles: Readonly<Record<string, string>> = {
    "Usage:": m.help.titles.usage,
    "Options:": m.help.titles.options,
    "Commands:": m.help.titles.commands,
    "Arguments:": m.help.titles.arguments,
    "Global Options:": m.help.titles.globalOptions,
  };
  const usage = (word: string) => (word === "[options]" ? m.help.usageOptions : m.help.usageCommand);
  return {
    showGlobalOptions: true,
    styleTitle: (title: string) => titles[title] ?? title,
    // A title ending in a full-width colon needs no space after it.
    formatHelp(command, helper) {
      return Help.prototype.formatHelp.call(this, command, helper).replace(/^(.*：) /, "$1");
    },
    // "[options] [command]" in the chosen language too.
    commandUsage(command) {
      return Help.prototype.commandUsage.call(this, command).replace(/\[options\]|\[command\]/g, usage);
    },
    subcommandTerm(command) {
      return Help.prototype.subcommandTerm.call(this, command).replace(/\[options\]|\[command\]/g, usage);
    },
    // commander's "(default: 10)", in the chosen language.
    optionDescription(option) {
      return Help.prototype.optionDescription
        .call(this, option)
        .replace(/ \(default: (.*)\)$/, (_, value: string) => m.help.byDefault(value));
    },
    // Chinese takes two columns a character: wrap by what the terminal shows.
    displayWidth: (text: string) => stringWidth(text),
  };
}

/** commander's own error lines (unknown command, missing argument…) in the chosen language. */
export function translateCommanderError(text: string, m: Messages): string {
  for (const [pattern, say] of m.commanderErrors) {
    const match = pattern.exec(text);
    if (match) return text.replace(pattern, say(...match.slice(1)));
  }
  return text;
}
