import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const main = join(import.meta.dirname, "../dist/main.js");
export const demoTools = join(import.meta.dirname, "../dist/demo-tools.js");

/** A WebServer started as the user starts it: `node dist/main.js …` in its own process. */
export interface RunningServer {
  readonly process: ChildProcess;
  readonly url: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns the built CLI in a scratch home and working directory; waits (bounded) for the ready line. */
export async function runServer(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<RunningServer> {
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: build first (pnpm build, or pnpm test which builds)`);
  }
  const home = mkdtempSync(join(tmpdir(), "xz-home-"));
  const child = spawn(process.execPath, [main, ...args], {
    cwd: home,
    env: { PATH: process.env.PATH ?? "", HOME: home, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk) => {
    out += chunk;
  });
  child.stderr.on("data", (chunk) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + timeoutMs;
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  while (!/ready: dashboard (\S+)/.test(out)) {
    if (ended || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`no ready line within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err.slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const url = (/ready: dashboard (\S+)/.exec(out)?.[1] ?? "").replace(/#.*$/, "");
  return { process: child, url, stdout: () => out, stderr: () => err, exited };
}

/** Pids of the live child processes of `pid` (Linux /proc). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid && fields[0] !== "Z") children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
