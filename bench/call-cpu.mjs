// CPU per tools/call with an in-process tool, each provider in a process of its own and the
// simulated cloud in another: xiaozhi-connect (SDK Server, validation, deadlines) beside a raw ws
// responder that answers with constant JSON-RPC replies, the floor, and for context the thinnest SDK
// provider (an SDK Server on the socket, nothing else). Calls one at a time, so the
// round trips are comparable too. Alternating rounds; medians. The bars: CPU within 1.5× of
// the floor, the round trip within 1.3× (1.8× each before).
import { fileURLToPath } from "node:url";
import { lineChannel, median, ms, spawnCloud } from "./lib.mjs";

const child = fileURLToPath(new URL("./call-cpu-child.mjs", import.meta.url));
const rounds = 4;
const warmup = 2000;
const calls = 4000;

async function measure(cloud, mode, round) {
  const token = `cpu-${mode}-${round}`;
  const { child: proc, next, say } = lineChannel([child, mode, cloud.url(token)]);
  if ((await next()) !== "ready") throw new Error(`${mode} provider did not come up`);
  await cloud.command(`calls ${warmup} echo 1`);
  await say("mark");
  const run = await cloud.command(`calls ${calls} echo 1`);
  const { cpuUs } = JSON.parse(await say("report"));
  proc.stdin.end("stop\n");
  await new Promise((resolve) => proc.once("exit", resolve));
  if (run.failed > 0) throw new Error(`${mode}: ${run.failed} calls failed`);
  return { cpuUs: cpuUs / calls, p50: run.p50 };
}

export const callCpu = {
  title: "CPU per tools/call, in-process tool, cloud in another process",
  async run() {
    const cloud = await spawnCloud();
    const results = { product: [], sdk: [], raw: [] };
    try {
      for (let round = 0; round < rounds; round++) {
        const order = ["raw", "sdk", "product"];
        for (const mode of round % 2 === 0 ? order : order.reverse()) {
          results[mode].push(await measure(cloud, mode, round));
        }
      }
    } finally {
      await cloud.stop();
    }
    const cpu = (mode) => median(results[mode].map((r) => r.cpuUs));
    const p50 = (mode) => median(results[mode].map((r) => r.p50));
    return [
      {
        measure: "CPU per tools/call in the provider's process",
        value: `${cpu("product").toFixed(0)} µs (${(cpu("product") / cpu("raw")).toFixed(2)}×)`,
        yardstick: `raw ws, constant replies ${cpu("raw").toFixed(0)} µs`,
        bar: "≤ 1.5× yardstick",
        pass: cpu("product") <= 1.5 * cpu("raw"),
      },
      {
        measure: "p50 round trip as the cloud sees it",
        value: `${ms(p50("product"))} (${(p50("product") / p50("raw")).toFixed(2)}×)`,
        yardstick: `raw ws, constant replies ${ms(p50("raw"))}`,
        bar: "≤ 1.3× yardstick",
        pass: p50("product") <= 1.3 * p50("raw"),
      },
      {
        measure: "the thinnest SDK provider (an SDK Server on the socket): CPU per call / p50 (context)",
        value: `${cpu("sdk").toFixed(0)} µs (${(cpu("sdk") / cpu("raw")).toFixed(2)}×) / ${ms(p50("sdk"))} (${(p50("sdk") / p50("raw")).toFixed(2)}×)`,
        yardstick: `raw ws, constant replies ${cpu("raw").toFixed(0)} µs / ${ms(p50("raw"))}`,
      },
    ];
  },
};
