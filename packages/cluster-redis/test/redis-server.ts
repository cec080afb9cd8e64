import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";

/**
 * A `redis-server` of the test's own on a free loopback port, with nothing saved to disk. Under
 * `CI=true` a missing one fails the run; elsewhere the Redis tests skip with how to get it.
 */
export function redisAvailable(): boolean {
  if (spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0) return true;
  const how = "redis-server is missing: apt-get update && apt-get install -y redis-server";
  if (process.env.CI === "true") throw new Error(how);
  console.warn(`\n*** SKIPPING the Redis tests: ${how} ***\n`);
  return false;
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** How a test's `redis-server` runs: on `port` (a free one by default), with `args` after the rest. */
export interface TestRedisOptions {
  readonly port?: number;
  /** Such as `["--requirepass", "…"]`. */
  readonly args?: readonly string[];
}

export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const port = options.port ?? (await freePort());
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await ready(child);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function ready(child: ChildProcess): Promise<void> {
  let output = "";
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (!output.includes("Ready to accept connections")) return;
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.removeAllListeners("exit");
      child.stdout?.resume();
      child.stderr?.resume();
      resolve();
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
  });
}

/** A loopback port nothing listens on now. */
export function freePort(): Promise<number> {
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
