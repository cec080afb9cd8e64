import { closeSync, openSync, readSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Messages } from "./messages.js";
import { CommandError } from "./output.js";
import { logFileName, runningServer } from "./state.js";

const require = createRequire(import.meta.url);

/** pino-pretty, loaded where logs are shown to people (a terminal, `logs`) rather than by every start. */
export function pinoPretty(): typeof import("pino-pretty") {
  return require("pino-pretty") as typeof import("pino-pretty");
}

/** The log file `start -d` writes in a state directory: the running server's, else the usual name. */
export function logFile(dir: string): string {
  return runningServer(dir)?.logFile ?? join(dir, logFileName);
}

/**
 * Turns pino's JSON lines into lines people read: time, level, message, then the fields
 * (`2026-01-02 10:00:00.123 WARN: endpoint dropped {"endpoint":"ep-…"}` in effect, as pino-pretty
 * lays it out). Colours only when `colorize`. A line that is not pino's is passed on as it is.
 */
export function readableLog(colorize: boolean): (line: string) => string {
  const format = pinoPretty().prettyFactory({
    colorize,
    translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
    ignore: "pid,hostname",
    singleLine: true,
  });
  return (line) => {
    if (!line.startsWith("{")) return line;
    try {
      return format(line).trimEnd();
    } catch {
      return line;
    }
  };
}

/**
 * The last `count` lines of the log at `path`, reaching into the rotated files (`.1`, `.2`…) when
 * the current one holds fewer. Reads only the tails it needs, however large the files.
 */
export function lastLines(path: string, count: number, m: Messages): string[] {
  if (!exists(path)) throw new CommandError(m.server.noLog(path));
  const lines: string[] = [];
  for (let index = 0; lines.length < count && exists(index ? `${path}.${index}` : path); index++) {
    lines.unshift(...tail(index ? `${path}.${index}` : path, count - lines.length));
  }
  return lines;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function tail(path: string, count: number): string[] {
  const size = safeSize(path);
  const fd = openSync(path, "r");
  try {
    let position = size;
    let text = "";
    const chunk = Buffer.alloc(64 * 1024);
    while (position > 0 && text.split("\n").length <= count + 1) {
      const length = Math.min(chunk.length, position);
      position -= length;
      readSync(fd, chunk, 0, length, position);
      text = chunk.toString("utf8", 0, length) + text;
    }
    return text.split("\n").filter(Boolean).slice(-count);
  } finally {
    closeSync(fd);
  }
}

/**
 * Prints lines appended to `path` as they come, following it across rotation (a smaller file means
 * a new one), until `signal` aborts. Checks every 250 ms.
 */
export function follow(path: string, print: (line: string) => void, signal: AbortSignal): Promise<void> {
  let position = safeSize(path);
  let partial = "";
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const size = safeSize(path);
      if (size < position) position = 0;
      if (size === position) return;
      const fd = openSync(path, "r");
      try {
        const buffer = Buffer.alloc(size - position);
        readSync(fd, buffer, 0, buffer.length, position);
        position = size;
        const lines = (partial + buffer.toString("utf8")).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) if (line) print(line);
      } finally {
        closeSync(fd);
      }
    }, 250);
    signal.addEventListener(
      "abort",
      () => {
        clearInterval(timer);
        resolve();
      },
      { once: true },
    );
  });
}

function safeSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
