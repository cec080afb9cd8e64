// tools/call through one endpoint, as the Xiaozhi side sees it (SDK client on the simulated cloud),
// against the thinnest provider of the same contract, built here as the yardstick: a ws client with
// an MCP SDK Server on its socket and an SDK Client to the same stdio service, nothing else. Each
// side runs in a fresh process of its own, as a provider does, with its own simulated cloud; the
// two alternate over the rounds of one run. For context, the same comparison with both in one
// process, and the two bare hops.
import { execFileSync } from "node:child_process";
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

const self = fileURLToPath(import.meta.url);
const calc = fileURLToPath(
  new URL("../packages/mcp-services/test/fixtures/calc-server.mjs", import.meta.url),
);
const rounds = 6;
const callsPerRound = 1000;
const warmup = 3000;
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

/** One side on `cloud`: `call(i)` is one tools/call as the Xiaozhi side makes it. */
async function provider(side, cloud) {
  if (side === "product") {
    const services = new McpServiceManager({ calc: { command: process.execPath, args: [calc] } });
    await services.start();
    const manager = new XiaozhiConnectionManager();
    await manager.initialize([cloud.endpointUrl("product")], services);
    await manager.connect();
    const session = await cloud.waitForSession("product");
    return {
      call: (i) => session.callTool("calc__add", { a: i, b: 1 }),
      async close() {
        await manager.cleanup();
        await services.stop();
      },
    };
  }
  const thin = await thinnestProvider(cloud.endpointUrl("yard"));
  const session = await cloud.waitForSession("yard");
  return {
    call: (i) => session.callTool("add", { a: i, b: 1 }),
    stdio: (i) => thin.client.callTool({ name: "add", arguments: { a: i, b: 1 } }),
    close: () => thin.close(),
  };
}

async function timeCalls(call, n, out = []) {
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await call(i);
    out.push(performance.now() - started);
  }
  return out;
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

/** In a child process: one side alone, measured; prints its figures as JSON. */
async function measureAlone(side) {
  const cloud = await SimulatedXiaozhiCloud.start({ relay: false });
  const one = await provider(side, cloud);
  // Long enough for the JIT to settle: cold code would make any two providers look alike.
  await timeCalls(one.call, warmup);
  const cpu = process.cpuUsage();
  const samples = await timeCalls(one.call, callsPerRound);
  const used = process.cpuUsage(cpu);
  const rate = await throughput(one.call);
  const stdio = one.stdio ? await timeCalls(one.stdio, callsPerRound / 2) : [];
  await one.close();
  await cloud.stop();
  process.stdout.write(
    `${JSON.stringify({ samples, rate, cpuUs: (used.user + used.system) / callsPerRound, stdio })}\n`,
  );
}

/** Both sides in this one process, alternating: the context row. Returns the p50 ratio. */
async function sharedProcessRatio() {
  const cloud = await SimulatedXiaozhiCloud.start({ relay: false });
  const sides = { product: await provider("product", cloud), yard: await provider("yard", cloud) };
  const samples = { product: [], yard: [] };
  try {
    await timeCalls(sides.product.call, 100);
    await timeCalls(sides.yard.call, 100);
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? ["yard", "product"] : ["product", "yard"]) {
        await timeCalls(sides[side].call, 100, samples[side]);
      }
    }
  } finally {
    await sides.product.close();
    await sides.yard.close();
    await cloud.stop();
  }
  return median(samples.product) / median(samples.yard);
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
    const results = { product: [], yard: [] };
    // Alternate which side goes first (ABBA), so neither gains from its place in the run.
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? ["yard", "product"] : ["product", "yard"]) {
        const out = execFileSync(process.execPath, [self, side], { encoding: "utf8", timeout: 120_000 });
        results[side].push(JSON.parse(out.trim().split("\n").at(-1)));
      }
    }
    const all = (side, key) => results[side].flatMap((r) => r[key]);
    const shared = await sharedProcessRatio();
    const wsHop = await wsEchoHop(2000);
    const p50 = median(all("product", "samples"));
    const yard50 = median(all("yard", "samples"));
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
        value: ms(percentile(all("product", "samples"), 99)),
        yardstick: `thinnest provider ${ms(percentile(all("yard", "samples"), 99))}`,
      },
      {
        measure: "CPU per call in the provider's process (its simulated cloud included)",
        value: `${median(results.product.map((r) => r.cpuUs)).toFixed(0)} µs`,
        yardstick: `thinnest provider ${median(results.yard.map((r) => r.cpuUs)).toFixed(0)} µs`,
      },
      {
        measure: `throughput, ${concurrency} calls in flight`,
        value: `${median(results.product.map((r) => r.rate)).toFixed(0)} calls/s`,
        yardstick: `thinnest provider ${median(results.yard.map((r) => r.rate)).toFixed(0)} calls/s`,
        bar: "≥ yardstick",
        pass: median(results.product.map((r) => r.rate)) >= median(results.yard.map((r) => r.rate)),
      },
      {
        measure: "p50 ratio with both providers sharing one process (context)",
        value: `${shared.toFixed(2)}×`,
      },
      { measure: "bare hop: SDK client → stdio service, p50", value: ms(median(all("yard", "stdio"))) },
      { measure: "bare hop: ws echo on loopback, p50", value: ms(wsHop) },
    ];
  },
};

if (process.argv[1] === self && ["product", "yard"].includes(process.argv[2])) {
  await measureAlone(process.argv[2]);
  process.exit(0);
}
