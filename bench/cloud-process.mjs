// A simulated Xiaozhi cloud in its own process for the benchmarks. Flags: --raw (no SDK client per
// session, for cheap idle sockets), --relay. Commands on stdin (restart MS, sessions, dropall, calls N
// TOOL [IN_FLIGHT], cpu), one JSON answer per line on stdout.
import { createInterface } from "node:readline";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";

const raw = process.argv.includes("--raw");
const handshake = process.argv.includes("--handshake");
const cloud = await SimulatedXiaozhiCloud.start({
  relay: process.argv.includes("--relay"),
  ...(raw ? { behavior: { driver: "raw" } } : handshake ? { behavior: { driver: "handshake" } } : {}),
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
    // `calls N TOOL [IN_FLIGHT]`: N tools/call over the open sessions (default 16 in flight);
    // answers the counts and the median round trip in ms.
    const sessions = cloud.sessions().filter((s) => s.open);
    const [, , tool, inFlight] = line.trim().split(" ");
    const total = Number(arg);
    let next = 0;
    let ok = 0;
    let failed = 0;
    const times = [];
    const worker = async () => {
      while (next < total) {
        const session = sessions[next++ % sessions.length];
        const started = performance.now();
        try {
          const result = await session.callTool(tool, { text: "soak" });
          if (result.isError) failed++;
          else ok++;
        } catch {
          failed++;
        }
        times.push(performance.now() - started);
      }
    };
    await Promise.all(Array.from({ length: Number(inFlight ?? 16) }, worker));
    times.sort((a, b) => a - b);
    send({ ok, failed, p50: times[Math.floor(times.length / 2)] ?? 0 });
  } else if (command === "cpu") {
    // CPU the cloud process used so far, in ms: what the simulated agents cost beside the provider.
    const { user, system } = process.cpuUsage();
    send({ cpuMs: (user + system) / 1000 });
  } else if (command === "stop") {
    break;
  }
}
await cloud.stop();
process.exit(0);
