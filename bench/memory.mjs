// Memory per idle endpoint connection at 1,000 endpoints, each mode in a fresh process (the cloud
// runs in another): the product (XiaozhiEndpointConnection: ws + an MCP SDK server per socket, shared
// heartbeat wheel) and the raw `ws` client baseline. Interleaved rounds; medians.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { kib, median, spawnCloud } from "./lib.mjs";

const child = fileURLToPath(new URL("./memory-child.mjs", import.meta.url));
const n = 1000;
const rounds = 3;

function measure(mode, template) {
  const out = execFileSync(process.execPath, ["--expose-gc", child, mode, template, String(n)], {
    encoding: "utf8",
    timeout: 120_000,
  });
  return JSON.parse(out.trim().split("\n").at(-1));
}

export const memory = {
  title: "Memory per idle endpoint connection (1,000 endpoints)",
  async run() {
    const cloud = await spawnCloud();
    const samples = { product: [], ws: [] };
    try {
      for (let round = 0; round < rounds; round++) {
        for (const mode of ["ws", "product"]) samples[mode].push(measure(mode, cloud.url("TOKEN")));
      }
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
        measure: "JS heap per idle endpoint",
        value: kib(heap("product")),
        yardstick: `raw ws client ${kib(heap("ws"))}`,
      },
    ];
  },
};
