// Shared helpers of the benchmarks: statistics, a cloud in its own process, bounded waits.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const median = (values) => percentile(values, 50);

export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const ms = (value) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
export const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

/**
 * A SimulatedXiaozhiCloud in its own process, so its CPU and memory stay out of the measured one.
 * `command("restart 0")` and friends resolve with the process's answer.
 */
export async function spawnCloud(flags = []) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL("./cloud-process.mjs", import.meta.url)), ...flags],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on("line", (line) => waiting.shift()?.(JSON.parse(line)));
  const next = () => new Promise((resolve) => waiting.push(resolve));
  const hello = await next();
  return {
    url: (token) => hello.url.replace("TOKEN", encodeURIComponent(token)),
    command(line) {
      const answer = next();
      child.stdin.write(`${line}\n`);
      return answer;
    },
    async stop() {
      child.stdin.end("stop\n");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

export { until } from "@xiaozhi-connect/core/testing";
