// One provider with one endpoint and an in-process `echo` tool, in a process of its own:
// `node call-cpu-child.mjs <product|raw> <url>`. Prints `ready` once the cloud can call it; then on
// stdin `mark` starts counting CPU and `report` prints the CPU used since, in µs, as JSON.
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
