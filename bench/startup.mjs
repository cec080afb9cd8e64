// Startup to all-ready: the built CLI started with a config of 1, 10 or 100 endpoints (on a cloud in
// another process), timed from spawn to its ready line with every endpoint connected. Interleaved rounds.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, ms, spawnCloud } from "./lib.mjs";

const main = fileURLToPath(new URL("../apps/webserver/dist/main.js", import.meta.url));
const burstChild = fileURLToPath(new URL("./connect-burst-child.mjs", import.meta.url));
const sizes = [1, 10, 100];
const rounds = 5;
const stateHome = mkdtempSync(join(tmpdir(), "xz-bench-state-"));

async function startOnce(config, n) {
  const started = performance.now();
  // In English whatever the locale: the ready line is read below.
  const child = spawn(process.execPath, [main, "--config", config, "--port", "0", "--lang", "en"], {
    stdio: ["ignore", "pipe", "ignore"],
    // Its own state directory: the bench's servers must not meet a user's running one.
    env: { ...process.env, XIAOZHI_LOG_LEVEL: "warn", XDG_STATE_HOME: stateHome },
  });
  let out = "";
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line for ${n} endpoints`)), 30_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (/ready: /.test(out)) {
        clearTimeout(timer);
        resolve(performance.now() - started);
      }
    });
    child.once("exit", () => reject(new Error(`exited before ready: ${out}`)));
  });
  const connected = Number(/endpoints (\d+)\/(\d+) connected/.exec(out)?.[1]);
  if (connected !== n) throw new Error(`${connected}/${n} connected at the ready line`);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
  return ready;
}

/**
 * Starts the CLI `rounds` times for each size on a cloud of its own (`cloudFlags`), sizes
 * interleaved. Resolves with the median spawn → ready time per size and the cloud's median CPU for
 * the largest size's sessions.
 */
async function startups(cloudFlags, counts, roundCount) {
  const cloud = await spawnCloud(cloudFlags);
  const dir = mkdtempSync(join(tmpdir(), "xz-bench-startup-"));
  const largest = Math.max(...counts);
  const configs = new Map(
    counts.map((n) => {
      const path = join(dir, `${n}.json`);
      writeFileSync(
        path,
        JSON.stringify({ mcpEndpoint: Array.from({ length: n }, (_, i) => cloud.url(`s${n}-${i}`)) }),
      );
      return [n, path];
    }),
  );
  const samples = new Map(counts.map((n) => [n, []]));
  const cloudCpu = [];
  try {
    for (let round = 0; round < roundCount; round++) {
      for (const n of counts) {
        const before = (await cloud.command("cpu")).cpuMs;
        samples.get(n).push(await startOnce(configs.get(n), n));
        if (n === largest) cloudCpu.push((await cloud.command("cpu")).cpuMs - before);
      }
    }
  } finally {
    await cloud.stop();
  }
  return {
    at: Object.fromEntries(counts.map((n) => [n, median(samples.get(n))])),
    cloudCpu: median(cloudCpu),
  };
}

/**
 * Connect bursts of 100 and 1,000 endpoints in a warm process, ours beside a bare ws client; both on
 * the handshake cloud, each size in a process of its own per side.
 */
async function connectBursts() {
  const cloud = await spawnCloud(["--handshake"]);
  try {
    const run = (mode, n) =>
      JSON.parse(
        execFileSync(process.execPath, [burstChild, mode, cloud.url("TOKEN"), String(n), "5"], {
          encoding: "utf8",
          timeout: 300_000,
        })
          .trim()
          .split("\n")
          .at(-1),
      );
    return [100, 1000].map((n) => ({ n, raw: run("raw", n), product: run("product", n) }));
  } finally {
    await cloud.stop();
  }
}

/** The startup bars: ready within 1.1× of a bare ws client at 100 endpoints, 1.2× at 1,000. */
const burstBars = { 100: 1.1, 1000: 1.2 };

export const startup = {
  title: "Startup to all-ready",
  async run() {
    // Agents that send the MCP handshake as fixed frames instead of running an SDK client each, so
    // the cloud's own CPU mostly leaves the measure.
    const handshake = await startups(["--handshake"], [1, 100], 3);
    const bursts = await connectBursts();
    const { at, cloudCpu } = await startups([], sizes, rounds);
    const ratio = at[100] / at[1];
    return [
      ...sizes.map((n) => ({
        measure: `${n} endpoint${n > 1 ? "s" : ""}: spawn → ready line, all connected (p50 of ${rounds})`,
        value: ms(at[n]),
      })),
      {
        measure: "100 endpoints ÷ 1 endpoint",
        value: `${ratio.toFixed(2)}×`,
        yardstick: `1 endpoint ${ms(at[1])}`,
        bar: "≤ 1.1×",
        pass: ratio <= 1.1,
      },
      {
        measure: "the simulated cloud's CPU for those 100 sessions (an SDK client per agent)",
        value: ms(cloudCpu),
      },
      {
        measure: "same ratio when the agents send the handshake as fixed frames (cloud CPU out of the way)",
        value: `${(handshake.at[100] / handshake.at[1]).toFixed(2)}×`,
        yardstick: `the cloud's CPU for 100 sessions ${ms(handshake.cloudCpu)}`,
      },
      ...bursts.map(({ n, raw, product }) => {
        const times = product.wallMs / raw.wallMs;
        return {
          measure: `connect burst of ${n.toLocaleString("en")} endpoints in a warm process, handshake included: all ready, wall (CPU beside; median of 5)`,
          value: `${ms(product.wallMs)} (${times.toFixed(2)}×); CPU ${ms(product.cpuMs)}`,
          yardstick: `bare ws client, constant initialize reply ${ms(raw.wallMs)}; CPU ${ms(raw.cpuMs)}`,
          bar: `≤ ${burstBars[n]}× yardstick`,
          pass: times <= burstBars[n],
        };
      }),
    ];
  },
};
