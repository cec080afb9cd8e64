// A simulated Xiaozhi cloud in its own process for the benchmarks. Flags: --raw (no SDK client per
// session, for cheap idle sockets), --relay. Commands on stdin, one JSON answer per line on stdout.
import { createInterface } from "node:readline";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";

const raw = process.argv.includes("--raw");
const cloud = await SimulatedXiaozhiCloud.start({
  relay: process.argv.includes("--relay"),
  ...(raw ? { behavior: { driver: "raw" } } : {}),
});
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
send({ url: cloud.endpointUrl("TOKEN") });
for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(" ");
  if (command === "restart") {
    await cloud.restart({ downtimeMs: Number(arg ?? 0) });
    send({ restarted: true });
  } else if (command === "sessions") {
    send({ sessions: cloud.sessions().length });
  } else if (command === "stop") {
    break;
  }
}
await cloud.stop();
process.exit(0);
