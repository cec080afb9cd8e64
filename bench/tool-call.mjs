// tools/call through one endpoint, as the Xiaozhi side sees it (SDK client on the simulated cloud),
// against the thinnest provider of the same contract, built here as the yardstick: a ws client with
// an MCP SDK Server on its socket and an SDK Client to the same stdio service, nothing else. Both
// run in this process beside the cloud, measured in interleaved rounds. The two bare hops are shown
// for context.
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { McpServiceManager } from "@xiaozhi-connect/mcp-services";
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import WebSocket, { WebSocketServer } from "ws";
import { median, ms, percentile } from "./lib.mjs";

const calc = fileURLToPath(
  new URL("../packages/mcp-services/test/fixtures/calc-server.mjs", import.meta.url),
);
const rounds = 10;
const callsPerRound = 100;
const throughputRounds = 3;
const throughputMs = 1000;
const concurrency = 16;

/** The yardstick: one SDK Server per socket over a bare ws transport, forwarding to one SDK Client. */
async function thinnestProvider(url) {
  const client = new Client({ name: "thin", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [calc] }));
  const socket = new WebSocket(url);
  const transport = {
    async start() {},
    async send(message) {
      socket.send(JSON.stringify(message));
    },
    async close() {
      socket.close();
    },
  };
  socket.on("message", (data) => transport.onmessage?.(JSON.parse(String(data))));
  socket.on("close", () => transport.onclose?.());
  const server = new Server({ name: "thin", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => client.listTools());
  server.setRequestHandler(CallToolRequestSchema, (request) => client.callTool(request.params));
  // Ready for the cloud's initialize, which is its first frame after the upgrade.
  await server.connect(transport);
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return {
    client,
    async close() {
      socket.close();
      await client.close();
    },
  };
}

const cpu = { yard: 0, product: 0 };
async function timeCalls(call, n, out, side) {
  const c = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await call(i);
    out.push(performance.now() - started);
  }
  const d = process.cpuUsage(c);
  if (side) cpu[side] += d.user + d.system;
}

async function throughput(call) {
  let done = 0;
  const deadline = performance.now() + throughputMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await call(done);
        done++;
      }
    }),
  );
  return done / (throughputMs / 1000);
}

async function wsEchoHop(n) {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  server.on("connection", (ws) => ws.on("message", (data) => ws.send(data)));
  const ws = new WebSocket(`ws://127.0.0.1:${server.address().port}`);
  await new Promise((resolve) => ws.once("open", resolve));
  const samples = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await new Promise((resolve) => {
      ws.once("message", resolve);
      ws.send('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    samples.push(performance.now() - started);
  }
  ws.close();
  await new Promise((resolve) => server.close(resolve));
  return median(samples);
}

export const toolCall = {
  title: "tools/call round trip through one endpoint",
  async run() {
    const cloud = await SimulatedXiaozhiCloud.start({ relay: false });
    const services = new McpServiceManager({ calc: { command: process.execPath, args: [calc] } });
    await services.start();
    const manager = new XiaozhiConnectionManager();
    await manager.initialize([cloud.endpointUrl("product")], services);
    await manager.connect();
    const thin = await thinnestProvider(cloud.endpointUrl("yard"));
    const product = await cloud.waitForSession("product");
    const yard = await cloud.waitForSession("yard");
    const viaProduct = (i) => product.callTool("calc__add", { a: i, b: 1 });
    const viaYard = (i) => yard.callTool("add", { a: i, b: 1 });
    const viaStdio = (i) => thin.client.callTool({ name: "add", arguments: { a: i, b: 1 } });
    const samples = { product: [], yard: [], stdio: [] };
    const rates = { product: [], yard: [] };
    try {
      await timeCalls(viaProduct, 50, []);
      await timeCalls(viaYard, 50, []);
      // Alternate which side goes first (ABBA), so neither gains from its place in the round.
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? ["yard", "product"] : ["product", "yard"];
        for (const side of order) {
          await timeCalls(side === "yard" ? viaYard : viaProduct, callsPerRound, samples[side], side);
        }
        await timeCalls(viaStdio, callsPerRound / 2, samples.stdio);
      }
      for (let round = 0; round < throughputRounds * 2; round++) {
        const order = round % 2 === 0 ? ["yard", "product"] : ["product", "yard"];
        for (const side of order) rates[side].push(await throughput(side === "yard" ? viaYard : viaProduct));
      }
    } finally {
      await thin.close();
      await manager.cleanup();
      await services.stop();
      await cloud.stop();
    }
    const wsHop = await wsEchoHop(2000);
    const p50 = median(samples.product);
    const yard50 = median(samples.yard);
    return [
      {
        measure: "p50 round trip (Xiaozhi client → endpoint → stdio service → back)",
        value: ms(p50),
        yardstick: `thinnest provider ${ms(yard50)}`,
        bar: "≤ 1.1× yardstick",
        pass: p50 <= 1.1 * yard50,
      },
      {
        measure: "p99 round trip",
        value: ms(percentile(samples.product, 99)),
        yardstick: `thinnest provider ${ms(percentile(samples.yard, 99))}`,
      },
      {
        measure: "CPU per call in this process (the simulated Xiaozhi side included)",
        value: `${(cpu.product / (rounds * callsPerRound)).toFixed(0)} µs`,
        yardstick: `thinnest provider ${(cpu.yard / (rounds * callsPerRound)).toFixed(0)} µs`,
      },
      {
        measure: `throughput, ${concurrency} calls in flight`,
        value: `${median(rates.product).toFixed(0)} calls/s`,
        yardstick: `thinnest provider ${median(rates.yard).toFixed(0)} calls/s`,
      },
      { measure: "bare hop: SDK client → stdio service, p50", value: ms(median(samples.stdio)) },
      { measure: "bare hop: ws echo on loopback, p50", value: ms(wsHop) },
    ];
  },
};
