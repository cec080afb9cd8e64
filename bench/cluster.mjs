// Cluster mode: 100 endpoints over 3 instances (each `node apps/webserver/dist/main.js` as users run
// it), one redis-server of the bench's own, and a simulated cloud that counts sockets per token.
// Takeover is timed from the signal until every endpoint has its one socket again: 20 runs after
// SIGKILL and 20 after SIGTERM (a graceful stop) with a 5 s lease, 3 SIGKILL runs with the default
// 15 s lease. Steady state: Redis commands per second and CPU per instance over 60 s (two heartbeat
// rounds, after 30 s of warm-up), beside the same three instances without cluster mode, each
// serving its third of the endpoints.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedXiaozhiCloud, TokenSocketWatch } from "@xiaozhi-connect/transport-ws/testing";
import { median, ms, spawnServer } from "./lib.mjs";

const n = 100;
const runs = 20;
const tokens = Array.from({ length: n }, (_, i) => `cluster-bench-${i}`);
const clockTick = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startRedis() {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  await new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  child.stdout.resume();
  child.removeAllListeners("exit");
  const cli = (...args) => spawnSync("redis-cli", ["-p", String(port), ...args]).stdout.toString();
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    cli,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTick;
}

/** Polls an instance's /api/cluster until the three instances hold their shares (at most 30 s). */
async function settled(url, instances = 3) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const { cluster } = await (await fetch(new URL("/api/cluster", url))).json();
      const held = cluster.instances.map((i) => i.endpoints);
      if (
        cluster.instances.length === instances &&
        held.reduce((a, b) => a + b, 0) === n &&
        held.every((h) => h >= Math.floor(n / instances))
      )
        return;
    } catch {
      // Not answering yet.
    }
    if (Date.now() > deadline) throw new Error("the cluster did not settle within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function takeovers({ redis, cloud, watch, dir, leaseTtl, signal, count, namespace }) {
  const configPath = join(dir, `${namespace}.json`);
  writeFileSync(
    configPath,
    JSON.stringify({
      mcpEndpoint: tokens.map((t) => cloud.endpointUrl(t)),
      cluster: { redis: redis.url, leaseTtl, namespace },
    }),
  );
  const instances = [spawnServer(configPath), spawnServer(configPath), spawnServer(configPath)];
  const urls = await Promise.all(instances.map(async (i) => (await i.ready).url));
  const times = [];
  try {
    await watch.until(() => watch.eachOnce(tokens), 30_000, "every endpoint held once");
    await settled(urls[0]);
    for (let run = 0; run < count; run++) {
      const victim = instances.shift();
      urls.shift();
      const started = performance.now();
      victim.child.kill(signal);
      // The victim's sockets close as it ends; the endpoints are back when each has one again.
      await watch.until(() => tokens.some((t) => watch.count(t) === 0), 10_000, "victim's sockets closed");
      await watch.until(() => watch.eachOnce(tokens), leaseTtl + 30_000, "takeover");
      times.push(performance.now() - started);
      await victim.exited;
      const fresh = spawnServer(configPath);
      instances.push(fresh);
      urls.push((await fresh.ready).url);
      await settled(urls[0]);
      await watch.until(() => watch.eachOnce(tokens), 30_000, "every endpoint held once after the join");
    }
  } finally {
    for (const instance of instances) instance.child.kill("SIGTERM");
    await Promise.all(instances.map((i) => i.exited));
  }
  return times;
}

async function steadyState({ redis, cloud, watch, dir }) {
  const configPath = join(dir, "steady.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      mcpEndpoint: tokens.map((t) => cloud.endpointUrl(t)),
      cluster: { redis: redis.url, namespace: "steady" },
    }),
  );
  const clustered = [spawnServer(configPath), spawnServer(configPath), spawnServer(configPath)];
  const urls = await Promise.all(clustered.map(async (i) => (await i.ready).url));
  await watch.until(() => watch.eachOnce(tokens), 30_000, "every endpoint held once");
  await settled(urls[0]);
  const measure = async (pids, withRedis) => {
    // The first half minute after a start (compilation, first heartbeats) is not the steady state.
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    const before = pids.map(cpuSeconds);
    const redisBefore = withRedis ? cpuSeconds(redis.pid) : 0;
    const commandsBefore = withRedis ? commandCounts(redis) : undefined;
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    const seconds = (performance.now() - started) / 1000;
    const cpu = pids.map((pid, i) => (100 * (cpuSeconds(pid) - before[i])) / seconds);
    if (!withRedis) return { cpu };
    const after = commandCounts(redis);
    return {
      cpu,
      redisCpu: (100 * (cpuSeconds(redis.pid) - redisBefore)) / seconds,
      commands: (after.all - commandsBefore.all) / seconds,
      scripts: (after.scripts - commandsBefore.scripts) / seconds,
    };
  };
  const cluster = await measure(
    clustered.map((i) => i.child.pid),
    true,
  );
  for (const instance of clustered) instance.child.kill("SIGTERM");
  await Promise.all(clustered.map((i) => i.exited));
  // The yardstick: the same three processes without cluster mode, each with its third.
  const plain = [0, 1, 2].map((k) => {
    const path = join(dir, `plain-${k}.json`);
    const mine = tokens.filter((_, i) => i % 3 === k);
    writeFileSync(path, JSON.stringify({ mcpEndpoint: mine.map((t) => cloud.endpointUrl(t)) }));
    return spawnServer(path);
  });
  await Promise.all(plain.map((i) => i.ready));
  await watch.until(
    () => watch.eachOnce(tokens),
    30_000,
    "every endpoint connected once without cluster mode",
  );
  const alone = await measure(
    plain.map((i) => i.child.pid),
    false,
  );
  for (const instance of plain) instance.child.kill("SIGTERM");
  await Promise.all(plain.map((i) => i.exited));
  return { cluster, alone };
}

/** Commands Redis ran (each command a script runs counted) and how many of them were scripts. */
export function commandCounts(redis) {
  let all = 0;
  let scripts = 0;
  for (const match of redis.cli("info", "commandstats").matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
    // The bench's own INFO calls are not the cluster's.
    if (match[1] === "info") continue;
    all += Number(match[2]);
    if (match[1] === "evalsha" || match[1] === "eval") scripts += Number(match[2]);
  }
  return { all, scripts };
}

const percent = (value) => `${value.toFixed(2)} %`;

export const cluster = {
  title: "Cluster mode (100 endpoints over 3 instances, one Redis)",
  async run() {
    if (spawnSync("redis-server", ["--version"]).status !== 0) {
      console.warn("\n*** cluster section: redis-server is missing (apt-get install -y redis-server) ***\n");
      return [
        { measure: "not measured", value: "redis-server is missing (apt-get install -y redis-server)" },
      ];
    }
    const dir = mkdtempSync(join(tmpdir(), "xz-cluster-bench-"));
    const redis = await startRedis();
    const cloud = await SimulatedXiaozhiCloud.start({ relay: false, behavior: { driver: "handshake" } });
    const watch = new TokenSocketWatch(cloud);
    const rows = [];
    try {
      const context = { redis, cloud, watch, dir };
      // The bar after a kill is the lease TTL plus 2 s; after a graceful stop, 2 s.
      const cases = [
        { what: "SIGKILL", leaseTtl: 5000, signal: "SIGKILL", count: runs, limit: 7000 },
        { what: "SIGKILL, default lease", leaseTtl: 15_000, signal: "SIGKILL", count: 3, limit: 17_000 },
        { what: "graceful stop (SIGTERM)", leaseTtl: 5000, signal: "SIGTERM", count: runs, limit: 2000 },
      ];
      for (const [i, c] of cases.entries()) {
        const times = await takeovers({ ...context, ...c, namespace: `takeover-${i}` });
        const worst = Math.max(...times);
        rows.push({
          measure: `${c.what} → every endpoint held again (leaseTtl ${c.leaseTtl / 1000} s)`,
          value: `p50 ${ms(median(times))}, worst ${ms(worst)} (${times.length} runs)`,
          bar: c.signal === "SIGKILL" ? `≤ leaseTtl + 2 s = ${c.limit} ms` : `< ${c.limit} ms`,
          pass: c.signal === "SIGKILL" ? worst <= c.limit : worst < c.limit,
        });
      }
      rows.push({
        measure: "moments two instances held one endpoint, all runs",
        value: String(watch.overlapCount()),
        bar: "0",
        pass: watch.overlapCount() === 0,
      });
      const { cluster: steady, alone } = await steadyState(context);
      rows.push(
        {
          measure: "steady state: Redis commands per second (whole cluster)",
          value: `${steady.commands.toFixed(1)} (of them ${steady.scripts.toFixed(1)} script runs; each command a script runs counted)`,
          yardstick: "",
        },
        {
          measure: "steady state: CPU per instance",
          value: steady.cpu.map(percent).join(", "),
          yardstick: `without cluster mode: ${alone.cpu.map(percent).join(", ")}`,
        },
        { measure: "steady state: redis-server CPU", value: percent(steady.redisCpu) },
      );
    } finally {
      await cloud.stop();
      await redis.stop();
    }
    return rows;
  },
};
