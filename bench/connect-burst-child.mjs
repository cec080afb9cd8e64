// The connect burst in a warm process of its own: `node connect-burst-child.mjs <product|raw> <url
// with TOKEN> <n> <rounds>`. Connects n endpoints at once, each through the MCP handshake, `rounds`
// times, and prints the median wall and CPU ms of a burst as JSON. `raw` is a bare ws client that
// answers `initialize` with a constant reply: the floor for the same handshake.
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import WebSocket from "ws";
import { echoTools, median } from "./lib.mjs";

const [mode, template, count, roundCount] = process.argv.slice(2);
const n = Number(count);
const rounds = Number(roundCount);
const urls = (round) =>
  Array.from({ length: n }, (_, i) => template.replace("TOKEN", `${mode}-${round}-${i}`));

const initializeResult =
  '{"protocolVersion":"2024-11-05","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"raw","version":"1"}}';

/** Connects every URL and resolves with a close function once each is initialized. */
async function burst(list) {
  if (mode === "product") {
    const manager = new XiaozhiConnectionManager();
    await manager.initialize(list, echoTools);
    await manager.connect();
    if (manager.getConnectionStatus().some((s) => !s.connected)) throw new Error("not all connected");
    return () => manager.cleanup();
  }
  const sockets = await Promise.all(
    list.map(
      (url) =>
        new Promise((resolve, reject) => {
          const socket = new WebSocket(url, { perMessageDeflate: false });
          socket.on("message", (data) => {
            const message = JSON.parse(String(data));
            if (message.method === "initialize") {
              socket.send(
                `{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":${initializeResult}}`,
              );
            } else if (message.method === "notifications/initialized") resolve(socket);
          });
          socket.once("error", reject);
        }),
    ),
  );
  // Closed before the next round, as the manager's cleanup is: nothing of one round runs in the next.
  return () =>
    Promise.all(
      sockets.map(
        (socket) =>
          new Promise((resolve) => {
            socket.once("close", resolve);
            socket.terminate();
          }),
      ),
    );
}

// Warm-up: the code paths compiled, as in a server that has been running. Both sides get the same
// thousand handshakes first; a few dozen leave the larger side's code (the SDK, the manager) still
// interpreted, which showed as a burst up to twice as slow as after a thousand.
for (let round = 0; round < 10; round++) await (await burst(urls(`warm${round}`).slice(0, 100)))();
const walls = [];
const cpus = [];
for (let round = 0; round < rounds; round++) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const close = await burst(urls(round));
  walls.push(performance.now() - started);
  const used = process.cpuUsage(cpu);
  cpus.push((used.user + used.system) / 1000);
  await close();
}
process.stdout.write(`${JSON.stringify({ wallMs: median(walls), cpuMs: median(cpus) })}\n`);
process.exit(0);
