import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createConnection, createServer } from "node:net";

/** A `redis-server` of the test's own on a free loopback port, with nothing saved to disk. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Kills it (SIGKILL): every client sees the connection drop. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** `CLIENT PAUSE ms`: Redis takes every client's commands and runs none for `ms`. */
  pause(ms: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Whether Debian's `redis-server` is here. Under `CI=true` a missing one fails the run (`.ci/run`
 * installs it); elsewhere the cluster tests skip with a notice saying how to get it.
 */
export function redisAvailable(): boolean {
  const found = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
  if (found) return true;
  const how = "redis-server is missing: apt-get update && apt-get install -y redis-server";
  if (process.env.CI === "true") throw new Error(`${how} (.ci/run installs it)`);
  console.warn(`\n*** SKIPPING the cluster tests: ${how} ***\n`);
  return false;
}

export interface StartRedisOptions {
  /** More `redis-server` arguments (`["--requirepass", "pw"]`), on every start. */
  readonly args?: readonly string[];
}

export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  const args = options.args ?? [];
  let child = await launch(port, args);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      await end(child, "SIGKILL");
    },
    async restart() {
      child = await launch(port, args);
    },
    pause(ms) {
      return command(port, ["CLIENT", "PAUSE", String(Math.round(ms))]);
    },
    async stop() {
      await end(child, "SIGTERM");
    },
  };
}

async function launch(port: number, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
  });
  child.removeAllListeners("exit");
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

function end(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

/** Sends one command in Redis's protocol and resolves on its `+OK`. */
function command(port: number, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(2000, () => socket.destroy(new Error("Redis did not answer")));
    socket.once("error", reject);
    socket.once("data", (reply) => {
      socket.end();
      if (reply.toString().startsWith("+OK")) resolve();
      else reject(new Error(`Redis: ${reply.toString().trim()}`));
    });
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
