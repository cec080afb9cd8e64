import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { CommandError } from "./output.js";
import { logFileName, runningServer, stateDir } from "./state.js";

/** The log file `start -d` writes: the running server's, else the state directory's. */
export function logFile(env: NodeJS.ProcessEnv): string {
  const dir = stateDir(env);
  return runningServer(dir)?.logFile ?? join(dir, logFileName);
}

/**
 * The last `count` lines of the log at `path`, reaching into the rotated files (`.1`, `.2`…) when
 * the current one holds fewer. Reads only the tails it needs, however large the files.
 */
export function lastLines(path: string, count: number): string[] {
  if (!exists(path)) {
    throw new CommandError(`no log file at ${path} (logs are written by: xiaozhi-connect start -d)`);
  }
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
