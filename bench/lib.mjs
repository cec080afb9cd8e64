// Shared helpers of the benchmarks: statistics, a cloud in its own process, bounded waits.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { launchEnv, v8Flags } from "../apps/webserver/dist/v8-flags.js";

/** The V8 flags the `xiaozhi-connect` launcher and `pnpm start` run the server with. */
export const launcherFlags = v8Flags;
/**
 * The environment `start -d` and the systemd unit run the server with: this one, with glibc's
 * allocator set as they set it.
 */
export const launcherEnv = { ...process.env, ...launchEnv };

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
}

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
  const { child, next, say } = lineChannel(
    [fileURLToPath(new URL("./cloud-process.mjs", import.meta.url)), ...flags],
    JSON.parse,
  );
  const hello = await next();
  return {
    url: (token) => hello.url.replace("TOKEN", encodeURIComponent(token)),
    command: say,
    async stop() {
      child.stdin.end("stop\n");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/**
 * A node process spoken to one line at a time: `next()` is its next stdout line (read with
 * `parse`), `say(line)` writes a line and resolves with the answer line.
 */
export function lineChannel(args, parse = (line) => line) {
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  const waiting = [];
  createInterface({ input: child.stdout }).on("line", (line) => waiting.shift()?.(parse(line)));
  const next = () => new Promise((resolve) => waiting.push(resolve));
  const say = (line) => {
    const answer = next();
    child.stdin.write(`${line}\n`);
    return answer;
  };
  return { child, next, say };
}

/** An in-process tool source with one `echo` tool, for providers under measurement. */
export const echoTool = {
  name: "echo",
  description: "Echoes its text",
  inputSchema: { type: "object", properties: { text: { type: "string" } } },
};
export const echoTools = {
  specificationVersion: "v1",
  listTools: () => [echoTool],
  callTool: async (_name, args) => ({ content: [{ type: "text", text: String(args?.text ?? "") }] }),
  onToolsChanged: () => () => {},
};

/**
 * The WebServer as users run it (`node <launcher flags> apps/webserver/dist/main.js --config FILE
 * --port 0`), quiet but for warnings, with a state directory of its own (one server per state
 * directory, so several can run on this machine). `ready` resolves with its dashboard URL and ready line (at most 60 s).
 */
export function spawnServer(configPath) {
  const main = fileURLToPath(new URL("../apps/webserver/dist/main.js", import.meta.url));
  // In English whatever the locale: the ready line is read below.
  const child = spawn(
    process.execPath,
    [...launcherFlags, main, "--config", configPath, "--port", "0", "--lang", "en"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...launcherEnv,
        XIAOZHI_LOG_LEVEL: "warn",
        XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "xz-bench-state-")),
      },
    },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let out = "";
  // The last of what it wrote to stderr, for an error that says why it ended.
  let err = "";
  child.stderr.on("data", (chunk) => {
    err = (err + chunk).slice(-2000);
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line: ${out}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const line = /^.*ready: dashboard (\S+).*$/m.exec(out);
      if (line) {
        clearTimeout(timer);
        resolve({ url: line[1].replace(/#.*$/, ""), line: line[0] });
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before ready: ${out}${err}`));
    });
  });
  return {
    child,
    ready,
    exited,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * The end of a provider child: says `readyLine`, then answers its parent on stdin, where `mark`
 * starts counting CPU and `report` prints the CPU used since, in µs, as JSON; `stop` (or the end of
 * stdin) runs `close` and exits.
 */
export async function serveCpuProbe(readyLine, close) {
  process.stdout.write(`${readyLine}\n`);
  let mark = process.cpuUsage();
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "mark") {
      mark = process.cpuUsage();
      process.stdout.write("marked\n");
    } else if (line === "report") {
      const used = process.cpuUsage(mark);
      process.stdout.write(`${JSON.stringify({ cpuUs: used.user + used.system })}\n`);
    } else if (line === "stop") break;
  }
  await close();
  process.exit(0);
}

export { until } from "@xiaozhi-connect/core/testing";
