// Recovery after an outage: 1,000 endpoints on a cloud (in another process) that goes away for 10 s,
// then for 60 s, with the default backoff (1 s doubling to 60 s, full jitter). Measured from the
// moment the cloud listens again until every endpoint is connected, and how the attempts after it
// spread (peak per 100 ms ÷ mean). The yardstick is the same 10 s outage with recoveryWindow 0.
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import { ms, spawnCloud, until } from "./lib.mjs";

const n = 1000;
const bucketMs = 100;

async function outage(cloud, downtimeMs, recoveryWindow, tag) {
  const manager = new XiaozhiConnectionManager({ connectTimeout: 30_000, recoveryWindow });
  await manager.initialize(Array.from({ length: n }, (_, i) => cloud.url(`rec-${tag}-${i}`)));
  await manager.connect();
  await until(() => manager.getConnectionStatus().every((s) => s.connected), 60_000, "all connected");
  let back = Number.POSITIVE_INFINITY;
  const attempts = [];
  manager.on("connecting", ({ at }) => {
    if (at >= back) attempts.push(at);
  });
  await cloud.command(`restart ${downtimeMs}`);
  back = Date.now();
  await until(() => manager.getConnectionStatus().every((s) => s.connected), 180_000, "all back");
  const readyMs = Date.now() - back;
  await manager.cleanup();
  const first = Math.min(...attempts);
  const last = Math.max(...attempts);
  const buckets = new Array(Math.floor((last - first) / bucketMs) + 1).fill(0);
  for (const at of attempts) buckets[Math.floor((at - first) / bucketMs)]++;
  const mean = attempts.length / buckets.length;
  return {
    readyMs,
    peak: Math.max(...buckets),
    mean,
    windowMs: last - first + bucketMs,
    attempts: attempts.length,
  };
}

export const recovery = {
  title: "Recovery after a cloud outage (1,000 endpoints, default backoff)",
  async run() {
    // Agents that initialize at once, as the Xiaozhi cloud does: a link counts as connected then.
    const cloud = await spawnCloud();
    const rows = [];
    try {
      const without = await outage(cloud, 10_000, 0, "plain");
      for (const downtime of [10_000, 60_000]) {
        const r = await outage(cloud, downtime, 2000, `w${downtime}`);
        const spread = r.peak / r.mean;
        rows.push(
          {
            measure: `${downtime / 1000} s outage: cloud back → every endpoint connected`,
            value: ms(r.readyMs),
            yardstick: downtime === 10_000 ? `without recovery: ${ms(without.readyMs)}` : "",
            bar: "≤ 3000 ms",
            pass: r.readyMs <= 3000,
          },
          {
            measure: `${downtime / 1000} s outage: attempts after it, peak per 100 ms ÷ mean`,
            value: `${spread.toFixed(2)} (peak ${r.peak}, mean ${r.mean.toFixed(0)}, window ${r.windowMs} ms, ${r.attempts} attempts)`,
            bar: "≤ 2",
            pass: spread <= 2,
          },
        );
      }
    } finally {
      await cloud.stop();
    }
    return rows;
  },
};
