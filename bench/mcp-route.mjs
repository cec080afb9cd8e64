// tools/call through the WebServer's /mcp route (what Cursor or Claude Desktop use) beside the
// SDK's own streamable-HTTP server answering the same in-process tool: each server in a process of
// its own, driven by the SDK's Client from this process, one call at a time. CPU is counted in the
// server's process only. Alternating rounds; medians.
import { setMaxListeners } from "node:events";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { lineChannel, median, ms, percentile } from "./lib.mjs";

const child = fileURLToPath(new URL("./mcp-route-child.mjs", import.meta.url));
const rounds = 4;
// Enough calls first that both servers run compiled code: the figures are of a server that has run.
const warmup = 2000;
const calls = 3000;

async function measure(mode) {
  const { child: proc, next, say } = lineChannel([child, mode]);
  const ready = (await next()).split(" ");
  if (ready[0] !== "ready") throw new Error(`${mode} server did not come up: ${ready.join(" ")}`);
  const [, url, token] = ready;
  // Each request adds a listener to the client transport's one AbortSignal, dropped only when the
  // request is collected: thousands of calls in a row pass the warning's threshold.
  setMaxListeners(warmup + calls + 100);
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  const call = () => client.callTool({ name: "echo", arguments: { text: "hi" } });
  for (let i = 0; i < warmup; i++) await call();
  await say("mark");
  const times = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    const result = await call();
    times.push(performance.now() - started);
    if (result.content?.[0]?.text !== "hi") throw new Error(`${mode}: unexpected result`);
  }
  const { cpuUs } = JSON.parse(await say("report"));
  await client.close();
  proc.stdin.end("stop\n");
  await new Promise((resolve) => proc.once("exit", resolve));
  return { cpuUs: cpuUs / calls, p50: percentile(times, 50), p99: percentile(times, 99) };
}

export const mcpRoute = {
  title: "tools/call through /mcp (MCP clients), in-process tool",
  async run() {
    const results = { product: [], sdk: [] };
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? ["sdk", "product"] : ["product", "sdk"]) {
        results[mode].push(await measure(mode));
      }
    }
    const of = (mode, key) => median(results[mode].map((r) => r[key]));
    const ratio = (key) => of("product", key) / of("sdk", key);
    return [
      {
        measure: "p50 tools/call round trip, SDK client → /mcp → tool → back",
        value: `${ms(of("product", "p50"))} (${ratio("p50").toFixed(2)}×)`,
        yardstick: `the SDK's streamable-HTTP server ${ms(of("sdk", "p50"))}`,
        bar: "≤ 1.3× yardstick",
        pass: ratio("p50") <= 1.3,
      },
      {
        measure: "p99 round trip",
        value: ms(of("product", "p99")),
        yardstick: `the SDK's streamable-HTTP server ${ms(of("sdk", "p99"))}`,
      },
      {
        measure: "CPU per tools/call in the server's process",
        value: `${of("product", "cpuUs").toFixed(0)} µs (${ratio("cpuUs").toFixed(2)}×)`,
        yardstick: `the SDK's streamable-HTTP server ${of("sdk", "cpuUs").toFixed(0)} µs`,
        bar: "≤ 1.3× yardstick",
        pass: ratio("cpuUs") <= 1.3,
      },
    ];
  },
};
