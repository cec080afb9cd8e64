import { hashPassword } from "@xiaozhi-connect/webserver-adapter";
import type { Command } from "commander";
import type { Cli } from "./cli.js";
import { editFile, loadFile } from "./client.js";
import { findConfig } from "./options.js";
import { CommandError } from "./output.js";
import { runningServer, stateDir } from "./state.js";

/** The shortest password `password` accepts. */
const minLength = 8;

/**
 * `token`: the running server's bearer token, read again (it is printed once at start and never
 * logged). `password`: sets the login page's password, kept in the config as a scrypt hash.
 */
export function authCommands(program: Command, cli: Cli): void {
  const { env, m, out, json, globals, run, input } = cli;

  program
    .command("token")
    .description(m.help.token)
    .option("--json", m.help.json)
    .action(
      run(async (command) => {
        const path = findConfig(globals(command).config, env).path ?? null;
        const server = runningServer(stateDir(env, path));
        if (!server) throw new CommandError(m.auth.noServer);
        const configured = path ? (await loadFile(path, m)).webUI?.authToken : undefined;
        const token = server.token ?? configured ?? (env.XIAOZHI_TOKEN || undefined);
        if (!token) throw new CommandError(m.auth.noToken);
        if ((command.opts() as { json?: boolean }).json) json({ token, url: server.url });
        else out(token);
      }),
    );

  program
    .command("password")
    .description(m.help.password)
    .option("--remove", m.help.passwordRemove)
    .action(
      run(async (command) => {
        const path = findConfig(globals(command).config, env).path;
        if (!path) throw new CommandError(m.manage.noServerNoConfig);
        if ((command.opts() as { remove?: boolean }).remove) {
          await editFile({ kind: "file", path, m }, (raw) => {
            const webUI = raw.webUI as Record<string, unknown> | undefined;
            if (webUI?.password === undefined) return false;
            delete webUI.password;
            // A `webUI` the password was set into goes with it: set and removed, the file is as it was.
            if (Object.keys(webUI).length === 0) delete raw.webUI;
          });
          out(m.auth.removed);
          return;
        }
        const password = await readPassword(input, m.auth.prompt);
        if (password.length < minLength) throw new CommandError(m.auth.tooShort(minLength));
        const hash = await hashPassword(password);
        await editFile({ kind: "file", path, m }, (raw) => {
          const webUI = (raw.webUI ?? {}) as Record<string, unknown>;
          webUI.password = hash;
          raw.webUI = webUI;
        });
        const running = runningServer(stateDir(env, path));
        out(running ? m.auth.setRestart : m.auth.set);
      }),
    );
}

/**
 * The password from a terminal, typed without echo, or the first line of stdin (a script:
 * `echo "$PW" | xiaozhi-connect password`).
 */
async function readPassword(input: NodeJS.ReadableStream, prompt: string): Promise<string> {
  if (!(input as NodeJS.ReadStream).isTTY) {
    let text = "";
    for await (const chunk of input) {
      text += String(chunk);
      if (text.includes("\n")) break;
    }
    return (text.split(/\r?\n/)[0] ?? "").trim();
  }
  const tty = input as NodeJS.ReadStream;
  process.stderr.write(prompt);
  tty.setRawMode(true);
  tty.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = "";
      const onData = (chunk: Buffer) => {
        for (const char of String(chunk)) {
          if (char === "\r" || char === "\n") {
            tty.off("data", onData);
            resolve(typed);
            return;
          }
          if (char === "\u0003") {
            tty.off("data", onData);
            reject(new CommandError(""));
            return;
          }
          if (char === "\u007f" || char === "\b") typed = typed.slice(0, -1);
          else typed += char;
        }
      };
      tty.on("data", onData);
    });
  } finally {
    tty.setRawMode(false);
    tty.pause();
    process.stderr.write("\n");
  }
}
