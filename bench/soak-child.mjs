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
  // Timers that end on their own have ended: the call-deadline sweep stops at its first check that
  // finds no call running, at most a second after the last call.
  await new Promise((resolve) => setTimeout(resolve, 1100));
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
// From halfway on, to tell a leak (it grows in both halves) from the allocator reaching its
// high-water mark: memory after GC every twentieth of the run, so one reading's noise (a page of
// the heap or of malloc kept or given back) does not decide alone.
const half = Math.floor(rounds / 2);
const step = Math.max(1, Math.floor(rounds / 20));
const secondHalf = [];
// The time spent reading memory (each reading waits a second) is not counted in the run's seconds.
let reading = 0;
for (let r = 0; r < rounds; r++) {
  await round(perRound);
  const done = r + 1;
  if (done >= half && (done - half) % step === 0 && done < rounds) {
    const from = performance.now();
    secondHalf.push({ done, ...(await settle()) });
    reading += performance.now() - from;
  }
}
const seconds = (performance.now() - started - reading) / 1000;
const endMemory = await settle();
secondHalf.push({ done: rounds, ...endMemory });
const midMemory = secondHalf[0];
/** Growth over the second half by a least-squares line through its readings. */
const fitted = (key) => {
  const n = secondHalf.length;
  const mx = secondHalf.reduce((sum, p) => sum + p.done, 0) / n;
  const my = secondHalf.reduce((sum, p) => sum + p[key], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of secondHalf) {
    sxy += (p.done - mx) * (p[key] - my);
    sxx += (p.done - mx) ** 2;
  }
  return sxx === 0 ? 0 : (sxy / sxx) * (rounds - midMemory.done);
};
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
    rssTrendSecondHalf: fitted("rss"),
    heapTrendSecondHalf: fitted("heapUsed"),
    secondHalfReadings: secondHalf.length,
    rssSecondHalfRange: [
      Math.min(...secondHalf.map((p) => p.rss)),
      Math.max(...secondHalf.map((p) => p.rss)),
    ],
    heapReservedGrowth: endMemory.heapTotal - startMemory.heapTotal,
    externalGrowth: endMemory.external - startMemory.external,
    start,
    end,
  }),
);
