import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";

/** Where a running server is recorded: enough for the other commands to find and reach it. */
export interface ServerRecord {
  readonly pid: number;
  /** `http://host:port/`, reachable from this machine. */
  readonly url: string;
  readonly config: string | null;
  readonly startedAt: number;
  /** The log file, when the server writes one (`start -d`). */
  readonly logFile?: string;
  /** The bearer token the server requires, when it generated one itself. */
  readonly token?: string;
  /** The port and address given on its command line rather than by the config: `restart` keeps them. */
  readonly listen?: { readonly port?: number; readonly host?: string };
  /** Its log level, and its log file's rotation when it writes one: `restart` keeps them too. */
  readonly log?: { readonly level: string; readonly size?: string; readonly files?: number };
}

/**
 * Where every server's state lives: `$XDG_STATE_HOME/xiaozhi-connect`, else
 * `~/.local/state/xiaozhi-connect`.
 */
export function stateBase(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state");
  return join(base, "xiaozhi-connect");
}

/**
 * The state directory of the server that runs `config` (null: demo mode): a folder of the state
 * base named after the config file and a hash of its real path, so servers of different configs
 * run side by side and a second server of the same config is refused. It holds the pid file, the
 * server record and the log files.
 */
export function stateDir(env: NodeJS.ProcessEnv, config: string | null): string {
  if (config === null) return join(stateBase(env), "demo");
  let path = resolve(config);
  try {
    path = realpathSync(path);
  } catch {
    // Not there (yet): the path as given names it.
  }
  const name = basename(path)
    .replace(/[^\w.-]+/g, "_")
    .slice(0, 40);
  return join(stateBase(env), `${name}-${createHash("sha256").update(path).digest("hex").slice(0, 10)}`);
}

/** Every server of this user that runs now, whatever its config. */
export function runningServers(env: NodeJS.ProcessEnv): ServerRecord[] {
  let entries: string[];
  try {
    entries = readdirSync(stateBase(env));
  } catch {
    return [];
  }
  return entries.flatMap((entry) => runningServer(join(stateBase(env), entry)) ?? []);
}

export const pidFileName = "xiaozhi-connect.pid";
export const recordFileName = "server.json";
export const logFileName = "xiaozhi-connect.log";

/** Writes the pid file and the record (0600: the record may hold a token). */
export function writeRecord(dir: string, record: ServerRecord): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, pidFileName), `${record.pid}\n`, { mode: 0o600 });
  writeFileSync(join(dir, recordFileName), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

/** Removes them, but only if they still describe `pid` (a newer server may have replaced them). */
export function removeRecord(dir: string, pid: number): void {
  if (readRecord(dir)?.pid !== pid) return;
  rmSync(join(dir, pidFileName), { force: true });
  rmSync(join(dir, recordFileName), { force: true });
}

/** The record of the server that runs now, or undefined (none, or a stale one left by a crash). */
export function runningServer(dir: string): ServerRecord | undefined {
  const record = readRecord(dir);
  return record && isAlive(record.pid) ? record : undefined;
}

function readRecord(dir: string): ServerRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(join(dir, recordFileName), "utf8")) as ServerRecord;
    return Number.isInteger(record.pid) && typeof record.url === "string" ? record : undefined;
  } catch {
    return undefined;
  }
}

/** True while a process with this pid exists (zombies count as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    // No /proc (not Linux): kill(0) said it exists.
    return true;
  }
}
