import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Messages } from "./messages.js";
import { CommandError, colors } from "./output.js";
import { isAlive, logFileName, pidFileName, recordFileName, runningServer } from "./state.js";
import { v8Flags, withLaunchEnv } from "./v8-flags.js";

// Beside this file once built; from the sources (tests read them), the built one.
const main = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "../dist/main.js" : "./main.js", import.meta.url),
);

/** The hidden flag a `start -d` child runs with: report over IPC, log to the file. */
export const daemonChildFlag = "--daemon-child";

export { v8Flags } from "./v8-flags.js";

/** Where a background server keeps its state, and how the command speaks about it. */
export interface DaemonContext {
  /** The state directory of the server's config (see `stateDir`). */
  readonly dir: string;
  readonly m: Messages;
  /** The command that stops it, as the user would type it. */
  readonly stopCommand: string;
}

/**
 * `start -d`: starts the server detached from the terminal (its own session, logging to the state
 * directory's rotating file) and returns once it printed its ready line, with that line. Throws a
 * `CommandError` with the reason when it does not come up within `timeoutMs`, or is running already.
 */
export async function startDaemon(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
  { dir, m, stopCommand }: DaemonContext,
  timeoutMs = 60_000,
): Promise<void> {
  const running = runningServer(dir);
  if (running) throw new CommandError(m.server.alreadyRunning(running.pid, running.url));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const child = spawn(process.execPath, [...v8Flags, main, "start", ...args, daemonChildFlag], {
    detached: true,
    stdio: ["ignore", "ignore", "ignore", "ipc"],
    env: withLaunchEnv(env),
  });
  const log = join(dir, logFileName);
  const outcome = await new Promise<{ ok: boolean; line: string }>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      resolve({ ok: false, line: m.server.notUpWithin(timeoutMs / 1000, log) });
    }, timeoutMs);
    child.on("message", (message: { type?: string; line?: string }) => {
      if (message.type !== "ready" && message.type !== "failed") return;
      clearTimeout(timer);
      resolve({ ok: message.type === "ready", line: String(message.line) });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ ok: false, line: m.server.exitedEarly(String(signal ?? code), log) });
    });
  });
  if (!outcome.ok) throw new CommandError(m.server.couldNotStart(outcome.line));
  // Let it go: no channel, no handle keeps this process waiting for it.
  child.removeAllListeners();
  child.disconnect();
  child.unref();
  say(outcome.line);
  say(m.server.inBackground(child.pid ?? 0, log, stopCommand));
}

/**
 * `stop`: SIGTERM to the server recorded in `dir`, then waits for it to exit; past `timeoutMs` it
 * kills it and its service processes (SIGKILL to its process group when it runs detached).
 * Resolves false when nothing was running.
 */
export async function stopServer(
  dir: string,
  say: (line: string) => void,
  m: Messages,
  timeoutMs = 10_000,
): Promise<boolean> {
  const record = runningServer(dir);
  if (!record) return false;
  process.kill(record.pid, "SIGTERM");
  if (!(await exited(record.pid, timeoutMs))) {
    say(colors.yellow(m.server.killing(timeoutMs / 1000)));
    const detached = record.logFile !== undefined;
    try {
      process.kill(detached ? -record.pid : record.pid, "SIGKILL");
    } catch {
      process.kill(record.pid, "SIGKILL");
    }
    await exited(record.pid, 2000);
    // A killed server cannot remove its own record.
    rmSync(join(dir, pidFileName), { force: true });
    rmSync(join(dir, recordFileName), { force: true });
  }
  say(m.server.stopped(record.pid, record.config));
  return true;
}

/** Resolves true once `pid` is gone, false after `timeoutMs`; checks every 50 ms. */
function exited(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const check = () => {
      if (!isAlive(pid)) resolve(true);
      else if (Date.now() > deadline) resolve(false);
      else setTimeout(check, 50);
    };
    check();
  });
}
