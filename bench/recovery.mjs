// Recovery after an outage, with the default backoff (1 s doubling to 60 s, full jitter) and the
// cloud in another process whose port is really refused while it is down. 1,000 endpoints after a
// 10 s and a 60 s outage, and the 3 endpoints most users have after a 3 s and a 10 s outage.
// Measured from the moment the cloud listens again until every endpoint is connected, with how the
// attempts after it spread (peak per 100 ms ÷ mean) and how many attempts the endpoints made while
// the cloud was down. The yardsticks are the same outages with the host probe off
// (probeInterval 0) and with recovery off altogether (recoveryWindow 0).
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import { ms, spawnCloud, until } from "./lib.mjs";

const bucketMs = 100;

/**
 * Waits until all `n` endpoints of `manager` are connected, counted from its events: a status of
 * every endpoint read every few ms would cost the process more than it measures at 10,000.
 */
function counted(manager, n) {
  let up = 0;
  manager.on("stateChanged", ({ from, to }) => {
    if (to === "connected") up++;
    if (from === "connected") up--;
  });
  return (timeoutMs, what) => until(() => up === n, timeoutMs, what);
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * One outage of `downtimeMs` with `n` endpoints: how long after the cloud listens again every one
 * is connected, how the attempts after it spread, how many were made while it was down, and the
 * CPU this process and the cloud's used from its return until all were back.
 */
export async function outage(cloud, n, downtimeMs, settings, tag) {
  const manager = new XiaozhiConnectionManager({ connectTimeout: 30_000, ...settings });
  const allConnected = counted(manager, n);
  await manager.initialize(Array.from({ length: n }, (_, i) => cloud.url(`rec-${tag}-${i}`)));
  await manager.connect();
  await allConnected(60_000, "all connected");
  let down = Number.POSITIVE_INFINITY;
  let back = Number.POSITIVE_INFINITY;
  const attempts = [];
  let whileDown = 0;
  manager.on("connecting", ({ at }) => {
    if (at >= back) attempts.push(at);
    else if (at >= down) whileDown++;
  });
  down = Date.now();
  await cloud.command(`restart ${downtimeMs}`);
  back = Date.now();
  const cpuBack = cpuMs();
  const cloudBack = (await cloud.command("cpu")).cpuMs;
  await allConnected(180_000, "all back");
  const readyMs = Date.now() - back;
  const cpu = { ours: cpuMs() - cpuBack, cloud: (await cloud.command("cpu")).cpuMs - cloudBack };
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
    whileDown,
    cpu,
  };
}

export const recovery = {
  title: "Recovery after a cloud outage (default backoff)",
  async run() {
    // Agents that initialize at once, as the Xiaozhi cloud does: a link counts as connected then.
    const cloud = await spawnCloud();
    const rows = [];
    try {
      const plain = await outage(cloud, 1000, 10_000, { recoveryWindow: 0 }, "plain");
      const unprobed = await outage(cloud, 1000, 10_000, { probeInterval: 0 }, "unprobed");
      for (const downtime of [10_000, 60_000]) {
        const r = await outage(cloud, 1000, downtime, {}, `w${downtime}`);
        const spread = r.peak / r.mean;
        const yardstick =
          downtime === 10_000
            ? `without probes: ${ms(unprobed.readyMs)}; without recovery: ${ms(plain.readyMs)}`
            : "";
        rows.push(
          {
            measure: `1,000 endpoints, ${downtime / 1000} s outage: cloud back → every endpoint connected`,
            value: ms(r.readyMs),
            yardstick,
            bar: "≤ 3000 ms",
            pass: r.readyMs <= 3000,
          },
          {
            measure: `1,000 endpoints, ${downtime / 1000} s outage: attempts after it, peak per 100 ms ÷ mean`,
            value: `${spread.toFixed(2)} (peak ${r.peak}, mean ${r.mean.toFixed(0)}, window ${r.windowMs} ms, ${r.attempts} attempts)`,
            bar: "≤ 2",
            pass: spread <= 2,
          },
        );
        if (downtime === 10_000) {
          rows.push({
            measure: "1,000 endpoints, 10 s outage: connect attempts while the cloud was down",
            value: String(r.whileDown),
            yardstick: `without probes: ${unprobed.whileDown}`,
            bar: "≤ without probes × 1.1",
            pass: r.whileDown <= unprobed.whileDown * 1.1,
          });
        }
      }
      for (const downtime of [3000, 10_000]) {
        const probed = await outage(cloud, 3, downtime, {}, `few${downtime}`);
        const without = await outage(cloud, 3, downtime, { probeInterval: 0 }, `few-unprobed${downtime}`);
        rows.push({
          measure: `3 endpoints, ${downtime / 1000} s outage: cloud back → every endpoint connected`,
          value: ms(probed.readyMs),
          yardstick: `without probes: ${ms(without.readyMs)}`,
          bar: "≤ 3000 ms",
          pass: probed.readyMs <= 3000,
        });
      }
    } finally {
      await cloud.stop();
    }
    return rows;
  },
};
