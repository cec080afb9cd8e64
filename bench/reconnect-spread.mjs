// Reconnect spread: 1,000 endpoints whose cloud (in another process) restarts at once. Each
// endpoint's first reconnect attempt is counted per 100 ms from the first to the last; with full
// jitter the peak stays near the mean. The yardstick is the same run without jitter (lockstep),
// measured here too.
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import { spawnCloud, until } from "./lib.mjs";

const n = 1000;
const bucketMs = 100;

async function spread(cloud, jitter) {
  const manager = new XiaozhiConnectionManager({
    backoff: { initialDelay: 1000, maxDelay: 4000, jitter },
    connectTimeout: 30_000,
  });
  await manager.initialize(Array.from({ length: n }, (_, i) => cloud.url(`r-${jitter}-${i}`)));
  await manager.connect();
  await until(() => manager.getConnectionStatus().every((s) => s.connected), 60_000, "all connected");
  // Each endpoint's first attempt after the restart: the herd that must not move in lockstep.
  // (Attempts that meet the listener still going down retry later with a larger ceiling.)
  const firstAttempt = new Map();
  let restarting = true;
  manager.on("connecting", ({ id, at }) => {
    if (restarting && !firstAttempt.has(id)) firstAttempt.set(id, at);
  });
  await cloud.command("restart 0");
  await until(() => manager.getConnectionStatus().every((s) => s.connected), 60_000, "all reconnected");
  restarting = false;
  await manager.cleanup();
  const attempts = [...firstAttempt.values()];
  const first = Math.min(...attempts);
  const last = Math.max(...attempts);
  const buckets = new Array(Math.floor((last - first) / bucketMs) + 1).fill(0);
  for (const at of attempts) buckets[Math.floor((at - first) / bucketMs)]++;
  const mean = attempts.length / buckets.length;
  return { peak: Math.max(...buckets), mean, windowMs: last - first + bucketMs, attempts: attempts.length };
}

export const reconnectSpread = {
  title: "Reconnect spread after a whole-cloud restart (1,000 endpoints)",
  async run() {
    const cloud = await spawnCloud(["--raw"]);
    let jittered;
    let lockstep;
    try {
      lockstep = await spread(cloud, "none");
      jittered = await spread(cloud, "full");
    } finally {
      await cloud.stop();
    }
    const ratio = jittered.peak / jittered.mean;
    return [
      {
        measure: "first reconnect attempts: peak per 100 ms ÷ mean over the spread window",
        value: `${ratio.toFixed(2)} (peak ${jittered.peak}, mean ${jittered.mean.toFixed(0)}, window ${jittered.windowMs} ms, ${jittered.attempts} attempts)`,
        yardstick: `no jitter: peak ${lockstep.peak} in ${lockstep.windowMs} ms (${(lockstep.peak / lockstep.mean).toFixed(2)})`,
        bar: "≤ 2",
        pass: ratio <= 2,
      },
    ];
  },
};
