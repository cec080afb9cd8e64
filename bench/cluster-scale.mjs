// A cluster at scale, run only when named (`node bench/run.mjs "cluster of five"`; minutes): 10,000
// endpoints over 5 instances (each `node apps/webserver/dist/main.js` as users run it, the default
// 15 s lease), one redis-server of the bench's own, the simulated cloud in its own process counting
// sockets per token.
//
// - Cold start: spawn → every endpoint held once, with how the cloud saw the connects spread, and
//   the CPU each instance had used by then; beside it the same five processes without cluster
//   mode, each with its fifth, spawned together (after the cluster's runs): the same figures.
// - Steady state over 30 s, from 2 minutes after every endpoint was held: CPU per instance and of
//   redis-server, Redis commands and bytes per second, beside the bytes one read of every lease per
//   tick per instance would cost (what every tick cost before the lease log) and the CPU of the same
//   five processes without cluster mode, each with its fifth. The first minute's CPU (30 s from 40 s
//   after every endpoint was held) is reported beside it: the start's after-effects fall there (every link's first RTT goes out once,
//   V8 shrinks the heap the start grew).
// - SIGKILL of one instance: until every endpoint has its one socket again, and the connects' spread.
// - A rolling restart of all five (SIGTERM, a new process, settled, the next): the longest time an
//   endpoint was without a socket, and every moment a token had two; the gaps' median and 90th
//   percentile beside it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandCounts, cpuSeconds, startRedis } from "./cluster.mjs";
import { ms, spawnCloud, spawnServer } from "./lib.mjs";

const n = 10_000;
const size = 5;
const leaseTtl = 15_000;
/** The tick at the default lease: a tenth of it, at most 1 s. */
const tickMs = Math.min(1000, leaseTtl / 10);
const tokens = Array.from({ length: n }, (_, i) => `five-${i}`);
const wait = (time) => new Promise((resolve) => setTimeout(resolve, time));

/** Waits (polling `/api/cluster` every 500 ms, at most 60 s) until `size` instances share every endpoint. */
async function settled(url) {
  const fair = n / size;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const { cluster } = await (await fetch(new URL("/api/cluster", url))).json();
      const held = cluster.instances.map((i) => i.endpoints);
      if (held.length === size && held.reduce((a, b) => a + b, 0) === n && held.every((h) => h >= 0.8 * fair))
        return;
    } catch {
      // Not answering yet.
    }
    if (Date.now() > deadline) throw new Error(`the ${size} instances did not share the list within 60 s`);
    await wait(500);
  }
}

/** Bytes in and out Redis has counted so far. */
function netBytes(redis) {
  const stats = redis.cli("info", "stats");
  const read = (name) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(stats)?.[1] ?? 0);
  return read("total_net_input_bytes") + read("total_net_output_bytes");
}

/** The bytes of one `MGET` of every lease, request and reply, as RESP puts them on the wire. */
function wholeReadBytes(redis, prefix) {
  // Every lease key and value has the length of one read back (the ids and instances differ only in digits).
  const key = redis.cli("--scan", "--pattern", `${prefix}lease:*`).split("\n")[0].trim();
  const value = redis.cli("get", key).trim();
  if (!key || !value) throw new Error("no lease to read in Redis");
  const bulk = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`.length;
  const request = `*${n + 1}\r\n`.length + bulk("MGET") + n * bulk(key);
  const reply = `*${n}\r\n`.length + n * bulk(value);
  return request + reply;
}

/**
 * The first minute, 40 s after every endpoint was held: past every link's first heartbeat (30 s after it connected), whose first round
 * trip time is news every instance publishes once, and then read by the others.
 */
const firstMinuteMs = 40_000;
/**
 * The steady state, 2 minutes after every endpoint was held: past the start's after-effects, the first RTTs
 * published and read, and V8 shrinking the heap the start grew (a few full collections, seen with
 * `--trace-gc` up to about 110 s after every endpoint was held).
 */
const steadyMs = 120_000;

/** CPU of `pids` (and Redis's figures) over 30 s, from `after` ms after `since`. */
async function measureCpu(pids, redis, since, after) {
  await wait(Math.max(0, since + after - performance.now()));
  const before = pids.map(cpuSeconds);
  const redisBefore = redis ? cpuSeconds(redis.pid) : 0;
  const commandsBefore = redis ? commandCounts(redis).all : 0;
  const bytesBefore = redis ? netBytes(redis) : 0;
  const started = performance.now();
  await wait(30_000);
  const seconds = (performance.now() - started) / 1000;
  const cpu = pids.map((pid, i) => (100 * (cpuSeconds(pid) - before[i])) / seconds);
  if (!redis) return { cpu };
  return {
    cpu,
    redisCpu: (100 * (cpuSeconds(redis.pid) - redisBefore)) / seconds,
    commands: (commandCounts(redis).all - commandsBefore) / seconds,
    bytes: (netBytes(redis) - bytesBefore) / seconds,
  };
}

const percent = (values) => values.map((v) => `${v.toFixed(2)} %`).join(", ");
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB/s`;

export const clusterScale = {
  title: "Cluster of five: 10,000 endpoints over 5 instances, one Redis",
  onlyWhenNamed: true,
  async run() {
    if (spawnSync("redis-server", ["--version"]).status !== 0) {
      return [
        { measure: "not measured", value: "redis-server is missing (apt-get install -y redis-server)" },
      ];
    }
    const dir = mkdtempSync(join(tmpdir(), "xz-bench-five-"));
    const redis = await startRedis();
    let cloud;
    try {
      cloud = await spawnCloud(["--handshake"]);
      return await measureFive(dir, redis, cloud);
    } finally {
      await cloud?.stop();
      await redis.stop();
    }
  },
};

/** The runs, with their own redis-server and cloud (which the caller stops). */
async function measureFive(dir, redis, cloud) {
  const config = join(dir, "five.json");
  const namespace = "five";
  writeFileSync(
    config,
    JSON.stringify({
      mcpEndpoint: tokens.map((t) => cloud.url(t)),
      cluster: { redis: redis.url, namespace, leaseTtl },
    }),
  );
  const instances = [];
  const rows = [];
  /** At the cold start: CPU seconds each instance had used when every endpoint was held, and the first connect (ms from the spawn). */
  let coldCpu = [];
  let coldFirst;
  const start = async () => {
    const instance = spawnServer(config);
    instances.push(instance);
    instance.url = (await instance.ready).url;
    return instance;
  };
  const once = async (timeout, what) => {
    const answer = await cloud.command(`once ${n} ${timeout}`);
    if (!answer.ok) throw new Error(`${what}: ${answer.once} of ${n} held once, ${answer.twice} twice`);
    return answer.ms;
  };
  try {
    // Cold start.
    await cloud.command("mark");
    const started = performance.now();
    await Promise.all(Array.from({ length: size }, start));
    await once(120_000, "cold start");
    const coldMs = performance.now() - started;
    coldCpu = instances.map((i) => cpuSeconds(i.child.pid));
    const cold = await cloud.command("window");
    coldFirst = cold.openedFromTo[0];
    const coldSpread = cold.peak / cold.mean;
    await settled(instances[0].url);
    rows.push({
      measure: "cold start: 5 instances spawned → every endpoint held once",
      value: ms(coldMs),
      yardstick: `the cloud's connects, peak per 100 ms ÷ mean: ${coldSpread.toFixed(2)} (${cold.connects} connects)`,
      coldMs,
      bar: "≤ 5000 ms, spread ≤ 2",
      pass: coldMs <= 5000 && coldSpread <= 2,
    });

    // The first minute, then the steady state.
    const pids = instances.map((i) => i.child.pid);
    const heldAt = performance.now();
    const first = await measureCpu(pids, undefined, heldAt, firstMinuteMs);
    const steady = await measureCpu(pids, redis, heldAt, steadyMs);
    const whole = (wholeReadBytes(redis, `${namespace}:`) * size * 1000) / tickMs;
    rows.push(
      {
        measure: "steady state: CPU per instance (30 s, from 2 min after every endpoint was held)",
        value: percent(steady.cpu),
        yardstick: `the first minute (30 s from 40 s): ${percent(first.cpu)}`,
        firstMinute: percent(first.cpu),
        bar: "≤ 1 % each",
        pass: steady.cpu.every((c) => c <= 1),
      },
      {
        measure: "steady state: redis-server CPU",
        value: percent([steady.redisCpu]),
        bar: "≤ 2 %",
        pass: steady.redisCpu <= 2,
      },
      {
        measure: "steady state: Redis traffic, bytes in + out per second (whole cluster)",
        value: kb(steady.bytes),
        yardstick: `one read of every lease per tick per instance: ${kb(whole)}; ${steady.commands.toFixed(0)} commands/s (each command a script runs counted)`,
        bar: "grows with what changed: < 10 % of reading every lease",
        pass: steady.bytes < 0.1 * whole,
      },
    );

    // SIGKILL of one instance.
    await cloud.command("mark");
    const victim = instances.shift();
    const killed = performance.now();
    victim.child.kill("SIGKILL");
    await victim.exited;
    await once(leaseTtl + 30_000, "takeover");
    const takeoverMs = performance.now() - killed;
    const takeover = await cloud.command("window");
    const takeoverSpread = takeover.peak / takeover.mean;
    rows.push({
      measure: `SIGKILL of one instance → every endpoint held again (leaseTtl ${leaseTtl / 1000} s)`,
      value: ms(takeoverMs),
      yardstick: `${takeover.connects} connects, peak per 100 ms ÷ mean: ${takeoverSpread.toFixed(2)}; moments a token had two sockets: ${takeover.overlaps}`,
      bar: `≤ leaseTtl + 2 s = ${leaseTtl + 2000} ms, spread ≤ 2, no token twice`,
      // "With connects spread as above": the cold start's bar on how the cloud sees them arrive.
      pass: takeoverMs <= leaseTtl + 2000 && takeoverSpread <= 2 && takeover.overlaps === 0,
    });
    await start();
    await settled(instances[0].url);
    await once(60_000, "after the replacement joined");

    // A rolling restart of all five.
    await cloud.command("mark");
    const rollStarted = performance.now();
    for (let i = 0; i < size; i++) {
      const old = instances.shift();
      await old.stop();
      const fresh = await start();
      await settled(fresh.url);
      await once(60_000, `rolling restart, instance ${i + 1}`);
    }
    const rollMs = performance.now() - rollStarted;
    const roll = await cloud.command("window");
    rows.push({
      measure: "rolling restart of all five (SIGTERM, a new process, settled, the next)",
      value: `longest time an endpoint had no socket ${ms(roll.longestGap)}; moments a token had two: ${roll.overlaps}`,
      yardstick: `${roll.connects} connects over ${ms(rollMs)}; gaps p50 ${ms(roll.gapP50)}, p90 ${ms(roll.gapP90)}`,
      bar: "≤ 1000 ms without a holder at a time, never two",
      pass: roll.longestGap <= 1000 && roll.overlaps === 0,
    });
  } finally {
    await Promise.all(instances.splice(0).map((i) => i.stop()));
  }

  // The yardstick for the cold start and for CPU: the same five processes without cluster mode,
  // each with its fifth, spawned together (after the cluster's runs, so on a cloud already warm).
  const plain = [];
  try {
    const paths = Array.from({ length: size }, (_, k) => {
      const path = join(dir, `plain-${k}.json`);
      const mine = tokens.filter((_, i) => i % size === k);
      writeFileSync(path, JSON.stringify({ mcpEndpoint: mine.map((t) => cloud.url(t)) }));
      return path;
    });
    await cloud.command("mark");
    const plainStarted = performance.now();
    for (const path of paths) plain.push(spawnServer(path));
    await Promise.all(plain.map((i) => i.ready));
    await once(120_000, "without cluster mode");
    const plainMs = performance.now() - plainStarted;
    const plainCpu = plain.map((i) => cpuSeconds(i.child.pid));
    const plainWindow = await cloud.command("window");
    const coldRow = rows.find((r) => r.measure.startsWith("cold start"));
    if (coldRow) {
      const seconds = (values) => values.map((v) => `${v.toFixed(1)} s`).join(", ");
      coldRow.yardstick = `without cluster mode (the same five, each with its fifth, spawned together): ${ms(plainMs)} (${(plainMs / coldRow.coldMs).toFixed(2)}× the cold start), first connect ${ms(plainWindow.openedFromTo[0])} after the spawn against ${ms(coldFirst)}; CPU each had used by then ${seconds(coldCpu)}, without cluster mode ${seconds(plainCpu)}; ${coldRow.yardstick}`;
      delete coldRow.coldMs;
    }
    const pids = plain.map((i) => i.child.pid);
    const heldAt = performance.now();
    const first = await measureCpu(pids, undefined, heldAt, firstMinuteMs);
    const alone = await measureCpu(pids, undefined, heldAt, steadyMs);
    const row = rows.find((r) => r.measure.startsWith("steady state: CPU per instance"));
    if (row) {
      row.yardstick = `without cluster mode, each with its fifth: ${percent(alone.cpu)}; the first minute (30 s from 40 s): ${row.firstMinute}, without cluster mode ${percent(first.cpu)}`;
      delete row.firstMinute;
    }
  } finally {
    await Promise.all(plain.map((i) => i.stop()));
  }
  return rows;
}
