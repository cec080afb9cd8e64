import { readdirSync, readFileSync, readlinkSync, watch } from "node:fs";
import { untilEvent } from "@xiaozhi-connect/core/testing";

/** True while a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] !== "Z";
  } catch {
    return false;
  }
}

/** The inode of the socket process `pid` holds as file descriptor `fd` (Linux /proc). */
export function socketInode(pid: number, fd: number): string {
  const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
  const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
  if (!inode) throw new Error(`fd ${fd} of ${pid} is no socket: ${target}`);
  return inode;
}

/**
 * True while the Unix socket with this inode exists (Linux /proc/net/unix). The kernel may release
 * the sockets of a killed process a moment after the process itself is gone.
 */
export function socketExists(inode: string): boolean {
  return readFileSync("/proc/net/unix", "utf8")
    .split("\n")
    .some((line) => line.trim().split(/\s+/)[6] === inode);
}

/** Pids of this process's live children whose command line contains `text` (Linux /proc). */
export function childrenRunning(text: string, parent = process.pid): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== parent || fields[0] === "Z") continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Resolves with the value once `probe` returns one, probing every 20 ms; rejects after `ms`. */
export function eventually<T>(probe: () => T | undefined, ms: number, what: string): Promise<T> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      const value = probe();
      if (value !== undefined) resolve(value);
      else if (Date.now() - started > ms) reject(new Error(`${what}: not within ${ms} ms`));
      else setTimeout(check, 20);
    };
    check();
  });
}

/**
 * Resolves once `predicate` holds for the text of the file at `path`, re-read each time the OS
 * reports a change to it (a service process appending a line); rejects after `ms`.
 */
export function untilFile(path: string, predicate: (text: string) => boolean, ms: number, what: string) {
  return untilEvent(
    (wake) => {
      const watcher = watch(path, wake);
      return () => watcher.close();
    },
    () => predicate(readFileSync(path, "utf8")),
    ms,
    what,
  );
}
