// One provider with one endpoint and an in-process `echo` tool, in a process of its own:
// `node call-cpu-child.mjs <product|sdk|raw> <url>`. Prints `ready` once the cloud can call it; then on
// stdin `mark` starts counting CPU and `report` prints the CPU used since, in µs, as JSON.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import WebSocket from "ws";
import { echoTool, echoTools, serveCpuProbe } from "./lib.mjs";

const [mode, url] = process.argv.slice(2);
let close;
if (mode === "product") {
  const manager = new XiaozhiConnectionManager();
  let initialized;
  const ready = new Promise((resolve) => {
    initialized = resolve;
  });
  manager.on("initialized", () => initialized());
  await manager.initialize([url], echoTools);
  await manager.connect();
  await ready;
  close = () => manager.cleanup();
} else if (mode === "sdk") {
  // The thinnest SDK provider, for context: an SDK Server on the socket, its handlers answering.
  const socket = new WebSocket(url);
  const server = new Server({ name: "sdk", version: "1" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [echoTool] }));
  server.setRequestHandler(CallToolRequestSchema, async (request) =>
    echoTools.callTool(request.params.name, request.params.arguments),
  );
  const transport = {
    // The first frame may come with the handshake: the server is listening before the socket opens.
    start: () =>
      new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      }),
    close: async () => socket.close(),
    send: async (message) => socket.send(JSON.stringify(message)),
  };
  socket.on("message", (data) => transport.onmessage?.(JSON.parse(String(data))));
  const ready = new Promise((resolve) => {
    server.oninitialized = resolve;
  });
  await server.connect(transport);
  await ready;
  close = () => server.close();
} else {
  // The floor: a raw ws responder that answers every request with a constant reply (only the id
  // changes), with no validation at all.
  const socket = new WebSocket(url);
  const replies = {
    initialize:
      '{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"raw","version":"1"}}',
    "tools/list": `{"tools":[${JSON.stringify(echoTool)}]}`,
    "tools/call": '{"content":[{"type":"text","text":"soak"}]}',
    ping: "{}",
  };
  let initialized;
  const ready = new Promise((resolve) => {
    initialized = resolve;
  });
  socket.on("message", (data) => {
    const message = JSON.parse(String(data));
    if (message.method === "notifications/initialized") initialized();
    if (message.id === undefined || message.method === undefined) return;
    const result = replies[message.method] ?? "{}";
    socket.send(`{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":${result}}`);
  });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  await ready;
  close = async () => socket.close();
}

await serveCpuProbe("ready", close);
