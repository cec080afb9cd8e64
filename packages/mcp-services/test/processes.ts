import { readdirSync, readFileSync } from "node:fs";

/** True while a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] !== "Z";
  } catch {
    return false;
  }
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
