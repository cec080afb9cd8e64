// A simulated Xiaozhi cloud in its own process for the benchmarks. Flags: --raw (no SDK client per
// session, for cheap idle sockets), --relay. Commands on stdin (restart MS, sessions, dropall, calls N
// TOOL), one JSON answer per line on stdout.
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
  } else if (command === "dropall") {
    // Every socket dropped without a close frame, as when a network path dies.
    const sessions = cloud.sessions();
    for (const session of sessions) session.terminate();
    send({ dropped: sessions.length });
  } else if (command === "calls") {
    // `calls N TOOL`: N tools/call over the open sessions, 16 in flight.
    const sessions = cloud.sessions().filter((s) => s.open);
    const total = Number(arg);
    const tool = line.trim().split(" ")[2];
    let next = 0;
    let ok = 0;
    let failed = 0;
    const worker = async () => {
      while (next < total) {
        const session = sessions[next++ % sessions.length];
        try {
          const result = await session.callTool(tool, { text: "soak" });
          if (result.isError) failed++;
          else ok++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    send({ ok, failed });
  } else if (command === "stop") {
    break;
  }
}
await cloud.stop();
process.exit(0);
