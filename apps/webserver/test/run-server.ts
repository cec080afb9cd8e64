import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { isAlive } from "../src/state.js";

export const main = join(import.meta.dirname, "../dist/main.js");

const chromiumPath = "/usr/bin/chromium";

/** Debian's Chromium, headless, as the browser tests drive it; fails with how to get it when absent. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium is needed at ${chromiumPath}: apt-get update && apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}
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

/** A server's printed URL on this machine's loopback: a server bound to every address is shown at a LAN address. */
export function onLoopback(url: string, host = "127.0.0.1"): string {
  const parsed = new URL(url);
  parsed.hostname = host;
  return parsed.href;
}

/** Asks a running server to stop (SIGTERM) and resolves with its exit code. */
export async function stopServer(server: RunningServer): Promise<number | null> {
  server.process.kill("SIGTERM");
  return (await server.exited).code;
}

/**
 * Spawns the built CLI without waiting for anything: in `cwd` with exactly `env` when given, else in
 * a scratch home that is also its working directory.
 */
export function spawnServer(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Omit<RunningServer, "url"> {
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: build first (pnpm build, or pnpm test which builds)`);
  }
  const home = cwd ?? mkdtempSync(join(tmpdir(), "xz-home-"));
  const child = spawn(process.execPath, [main, ...args], {
    cwd: home,
    env: cwd ? env : { PATH: process.env.PATH ?? "", HOME: home, ...env },
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
  return { process: child, stdout: () => out, stderr: () => err, exited };
}

/** Spawns the built CLI in a scratch home and working directory; waits (bounded) for the ready line. */
export async function runServer(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<RunningServer> {
  const started = spawnServer(args, env);
  const ready = /ready: dashboard (\S+)/;
  await waitForOutput(started, ready, timeoutMs);
  const url = (ready.exec(started.stdout())?.[1] ?? "").replace(/#.*$/, "");
  return { ...started, url };
}

/** Resolves once the server's stdout or stderr matches `pattern`, checked on every chunk. */
export function waitForOutput(
  server: Omit<RunningServer, "url">,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!pattern.test(server.stdout()) && !pattern.test(server.stderr())) return;
      done();
      resolve();
    };
    const fail = () => {
      done();
      server.process.kill("SIGKILL");
      reject(
        new Error(
          `no ${pattern} within ${timeoutMs} ms\nstdout:\n${server.stdout()}\nstderr:\n${server.stderr().slice(-3000)}`,
        ),
      );
    };
    const timer = setTimeout(fail, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      server.process.stdout?.off("data", check);
      server.process.stderr?.off("data", check);
      server.process.off("exit", fail);
    };
    server.process.stdout?.on("data", check);
    server.process.stderr?.on("data", check);
    server.process.once("exit", fail);
    check();
  });
}

/** Resolves once none of `pids` is alive, checking every 20 ms; rejects after `ms`. */
export function gone(pids: readonly number[], ms = 5000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      const left = pids.filter(alive);
      if (left.length === 0) resolve();
      else if (Date.now() - started > ms)
        reject(new Error(`still running after ${ms} ms: ${left.join(", ")}`));
      else setTimeout(check, 20);
    };
    check();
  });
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

/** True while the process exists and is not a zombie: the command's own check. */
export const alive = isAlive;

/**
 * Runs one command to completion, as a user at a shell would, in `cwd` with exactly `env`.
 * Asynchronously: a simulated cloud in this process must keep answering while the command runs.
 */
export async function runCli(args: string[], env: Record<string, string>, cwd: string) {
  const run = spawnServer(args, env, cwd);
  const timer = setTimeout(() => run.process.kill("SIGKILL"), 60_000);
  // `close`, not `exit`: by then every byte it printed has been read.
  const code = await new Promise<number | null>((resolve) => run.process.once("close", resolve));
  clearTimeout(timer);
  return { code, out: run.stdout(), err: run.stderr() };
}
