// Run with --expose-gc by bench/soak.mjs: 100 endpoints of one provider (this process) on a cloud in
// another process, through `rounds` whole-cloud drops (every link dropped, all reconnected) and
// `calls` tool calls spread over the rounds. Prints, as JSON, the heap and RSS after GC and the
// active handles and listeners at the start (after a warm-up round) and at the end.
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import { echoTools, spawnCloud, until } from "./lib.mjs";

const endpoints = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 100);
const calls = Number(process.argv[4] ?? 100_000);

const settle = async () => {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, heapTotal, rss, external } = process.memoryUsage();
  return { heapUsed, heapTotal, rss, external };
};

/** Active resources by kind (sockets, timers…) and every listener of every link. */
function counts(manager) {
  const resources = {};
  for (const kind of process.getActiveResourcesInfo()) resources[kind] = (resources[kind] ?? 0) + 1;
  const listeners = manager.getConnections().reduce((sum, c) => sum + c.listenerCount(), 0);
  return { resources, listeners };
}

const cloud = await spawnCloud();
const manager = new XiaozhiConnectionManager({
  backoff: { initialDelay: 50, maxDelay: 400 },
  connectTimeout: 10_000,
});
manager.setToolSource(echoTools);
await manager.initialize(Array.from({ length: endpoints }, (_, i) => cloud.url(`soak-${i}`)));
await manager.connect();
const allConnected = () => manager.getConnectionStatus().every((s) => s.connected && s.initialized);
await until(allConnected, 60_000, "all connected");

let dropped = 0;
let called = { ok: 0, failed: 0 };
let drops = 0;
manager.on("disconnected", () => drops++);
async function round(n) {
  const before = manager.getConnectionStatus().length;
  const noticed = drops;
  const { dropped: count } = await cloud.command("dropall");
  dropped += count;
  // Every link notices its drop and comes back initialized before the next round.
  await until(() => drops - noticed >= count, 30_000, "drops noticed");
  await until(allConnected, 60_000, "all back");
  if (n > 0) {
    const answer = await cloud.command(`calls ${n} echo`);
    called = { ok: called.ok + answer.ok, failed: called.failed + answer.failed };
  }
  if (manager.getConnectionStatus().length !== before) throw new Error("an endpoint went missing");
}

// Warm-up: five rounds, so lazily built parts (caches, pools, compiled code) count as the start.
for (let r = 0; r < 5; r++) await round(1000);
dropped = 0;
called = { ok: 0, failed: 0 };
const startMemory = await settle();
const start = counts(manager);
const started = performance.now();
const perRound = Math.ceil(calls / rounds);
let midMemory;
for (let r = 0; r < rounds; r++) {
  await round(perRound);
  // Halfway, to tell a leak (it grows in both halves) from the allocator reaching its high-water mark.
  if (r === Math.floor(rounds / 2) - 1) midMemory = await settle();
}
const seconds = (performance.now() - started) / 1000;
const endMemory = await settle();
const end = counts(manager);
await manager.cleanup();
await cloud.stop();
console.log(
  JSON.stringify({
    endpoints,
    rounds,
    dropped,
    called,
    seconds,
    heapGrowth: endMemory.heapUsed - startMemory.heapUsed,
    rssGrowth: endMemory.rss - startMemory.rss,
    rssGrowthSecondHalf: endMemory.rss - midMemory.rss,
    heapGrowthSecondHalf: endMemory.heapUsed - midMemory.heapUsed,
    heapReservedGrowth: endMemory.heapTotal - startMemory.heapTotal,
    externalGrowth: endMemory.external - startMemory.external,
    start,
    end,
  }),
);
