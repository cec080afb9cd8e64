// Memory per idle endpoint connection at 1,000 endpoints, each mode in a fresh process (the cloud
// runs in another): the product (XiaozhiEndpointConnection: ws, one MCP SDK server for all sockets, shared
// heartbeat wheel) and the raw `ws` client baseline. Interleaved rounds; medians.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { kib, launcherEnv, launcherFlags, median, spawnCloud } from "./lib.mjs";

const child = fileURLToPath(new URL("./memory-child.mjs", import.meta.url));
const n = 1000;
const rounds = 3;

const idleMs = 60_000;

/** One child's figures; with `launcher`, run as `start -d` runs the server (its flags and environment). */
function measure(mode, template, { launcher = false, idle } = {}) {
  const flags = launcher ? launcherFlags : [];
  const args = [...flags, "--expose-gc", child, mode, template, String(n), ...(idle ? [String(idle)] : [])];
  const out = execFileSync(process.execPath, args, {
    env: launcher ? launcherEnv : process.env,
    encoding: "utf8",
    timeout: 240_000,
  });
  return JSON.parse(out.trim().split("\n").at(-1));
}

export const memory = {
  title: "Memory per idle endpoint connection (1,000 endpoints)",
  async run() {
    const cloud = await spawnCloud();
    const samples = { product: [], ws: [], launcher: [], wsLauncher: [] };
    let idle;
    try {
      for (let round = 0; round < rounds; round++) {
        for (const mode of ["ws", "product"]) samples[mode].push(measure(mode, cloud.url("TOKEN")));
        samples.launcher.push(measure("product", cloud.url("TOKEN"), { launcher: true }));
        samples.wsLauncher.push(measure("ws", cloud.url("TOKEN"), { launcher: true }));
      }
      // Idle CPU with the default heartbeat (every link pinged every 30 s), beside raw ws clients.
      idle = {
        product: measure("product", cloud.url("TOKEN"), { launcher: true, idle: idleMs }).idleCore,
        ws: measure("ws", cloud.url("TOKEN"), { idle: idleMs }).idleCore,
      };
    } finally {
      await cloud.stop();
    }
    const rss = (mode) => median(samples[mode].map((s) => s.rss));
    const heap = (mode) => median(samples[mode].map((s) => s.heap));
    return [
      {
        measure: "RSS per idle endpoint (initialized MCP session)",
        value: kib(rss("product")),
        yardstick: `raw ws client ${kib(rss("ws"))}`,
        bar: "≤ 64 KiB",
        pass: rss("product") <= 64 * 1024,
      },
      {
        measure: "RSS per idle endpoint as users run it (the launcher's V8 flags)",
        value: kib(rss("launcher")),
        yardstick: `raw ws client with the same flags ${kib(rss("wsLauncher"))}`,
        bar: "≤ 24 KiB",
        pass: rss("launcher") <= 24 * 1024,
      },
      {
        measure: "JS heap per idle endpoint",
        value: kib(heap("product")),
        yardstick: `raw ws client ${kib(heap("ws"))}`,
        bar: "≤ 7 KiB",
        pass: heap("product") <= 7 * 1024,
      },
      {
        measure: `idle CPU at ${n} endpoints, default heartbeat (${idleMs / 1000} s, from 15 s after connecting)`,
        value: `${(idle.product * 100).toFixed(2)}% of a core`,
        yardstick: `raw ws clients ${(idle.ws * 100).toFixed(2)}%`,
        bar: "≤ 0.4%",
        pass: idle.product <= 0.004,
      },
    ];
  },
};
