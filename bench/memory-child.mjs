// Measures memory per idle connection in a clean process: `node --expose-gc memory-child.mjs
// <product|ws> <url-with-TOKEN> <n> [idleMs] [restMs]`. Prints one JSON line: rss and heap per
// connection a second after connecting, and with `idleMs` the share of a core the process used while
// idle for that long, from 15 s after. With `restMs` also rss and heap per connection read `restMs`
// after the last link opened (or at the end of the idle CPU window, if that is later): V8 gives back
// the heap it grew during a connect burst only when the process has gone quiet for some seconds, and
// processes compared with each other must be read at the same moment of their heartbeat rounds.
// `rested.total` is the whole process then; with n = 0 the process connects nothing (a control).
// For the product also the time from connect() to every endpoint initialized, and how the links
// that opened spread over it (peak per 100 ms ÷ mean).
import { ConnectionManager } from "@xiaozhi-connect/core";
import { xiaozhiConnectionFactory } from "@xiaozhi-connect/transport-ws";
import WebSocket from "ws";

const [mode, template, count, idle, rest] = process.argv.slice(2);
const n = Number(count);
const idleMs = Number(idle) || 0;
const restMs = Number(rest) || 0;
const url = (i) => template.replace("TOKEN", `m-${i}`);
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return process.memoryUsage();
};
const tools = {
  specificationVersion: "v1",
  listTools: () => [
    {
      name: "calc__add",
      description: "a + b",
      inputSchema: { type: "object", properties: { a: { type: "number" } } },
    },
  ],
  callTool: async () => ({ content: [{ type: "text", text: "0" }] }),
  onToolsChanged: () => () => {},
};

const before = await settle();
let close;
let connectedAt;
let connectMs;
let spread;
if (mode === "product") {
  const manager = new ConnectionManager({
    connectionFactory: xiaozhiConnectionFactory(),
    connectTimeout: 60_000,
  });
  let initialized = 0;
  let lastInitialized = 0;
  const opened = [];
  manager.on("initialized", () => {
    initialized++;
    lastInitialized = performance.now();
  });
  manager.on("connected", () => opened.push(performance.now()));
  await manager.initialize(
    Array.from({ length: n }, (_, i) => url(i)),
    tools,
  );
  const started = performance.now();
  await manager.connect();
  const deadline = Date.now() + 120_000;
  while (initialized < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  connectMs = lastInitialized - started;
  connectedAt = performance.now();
  if (n > 0) {
    const first = Math.min(...opened);
    const buckets = new Array(Math.floor((Math.max(...opened) - first) / 100) + 1).fill(0);
    for (const at of opened) buckets[Math.floor((at - first) / 100)]++;
    spread = Math.max(...buckets) / (opened.length / buckets.length);
  }
  if (manager.getConnectionStatus().filter((s) => s.connected).length !== n)
    throw new Error("not all connected");
  close = () => manager.cleanup();
} else {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(url(i));
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        }),
    ),
  );
  close = async () => {
    for (const ws of sockets) ws.terminate();
  };
}
connectedAt ??= performance.now();
await new Promise((resolve) => setTimeout(resolve, 1000));
const after = await settle();
let idleCore;
if (idleMs > 0) {
  // Steady state: past the connect burst and the collections that shrink the heap after it.
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  const cpu = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  const used = process.cpuUsage(cpu);
  idleCore = (used.user + used.system) / 1000 / (performance.now() - started);
}
let rested;
if (restMs > 0) {
  const wait = connectedAt + restMs - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const afterMs = performance.now() - connectedAt;
  const memory = await settle();
  rested = {
    ...(n > 0 ? { rss: (memory.rss - before.rss) / n, heap: (memory.heapUsed - before.heapUsed) / n } : {}),
    afterMs,
    // The whole process, for a comparison with one of the same age that connected nothing.
    total: { rss: memory.rss, heap: memory.heapUsed },
  };
}
// A control (n = 0) has no per-endpoint figures: only its whole process, read at rest.
const perEndpoint =
  n > 0 ? { rss: (after.rss - before.rss) / n, heap: (after.heapUsed - before.heapUsed) / n, connectMs } : {};
process.stdout.write(`${JSON.stringify({ ...perEndpoint, rested, idleCore, spread })}\n`);
await close();
process.exit(0);
