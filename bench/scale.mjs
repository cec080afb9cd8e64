// Scale: the next order of magnitude, run only when named (`node bench/run.mjs scale`; minutes).
//
// - The cluster's planner, pure, at 1,000, 10,000 and 100,000 endpoints over 5, 10 and 50
//   instances: a tick when nothing changes, when an instance leaves and when one joins, from the
//   lease table's index as the coordinator plans, beside the same by a pass over the list and one
//   read of every lease (a map lookup per endpoint: the floor of any plan that reads the whole list).
// - One instance at 10,000 endpoints as users run it (the launcher's V8 flags, the environment of
//   `start -d`), the simulated cloud in its own process: idle RSS and heap per endpoint (77 s after
//   the last link opened, and a second after) beside the same at 1,000, idle CPU with the default
//   heartbeat, cold start to all ready with how the connects spread, the paged
//   `GET /api/endpoints`, recovery after a 10 s outage (in this process), and the dashboard's first
//   render and a reconnect storm.
import { execFile } from "node:child_process";
import { setMaxListeners } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { assignEndpoints, LeaseTable, plan } from "@xiaozhi-connect/cluster-redis";
import { dashboardAt } from "./dashboard.mjs";
import { kib, launcherEnv, launcherFlags, median, ms, spawnCloud, spawnServer } from "./lib.mjs";
import { outage } from "./recovery.mjs";

const memoryChild = fileURLToPath(new URL("./memory-child.mjs", import.meta.url));
const big = 10_000;
const idleMs = 60_000;
// Every process is read this long after its last link opened: after the 10,000-endpoint process's
// idle CPU window (15 s + 60 s), and halfway between two heartbeat rounds (about 30 s apart).
const restMs = 77_000;
const none = new Set();

/** Endpoint ids as the product makes them (`ep-` and 12 hex digits). */
const idsOf = (n) =>
  Array.from({ length: n }, (_, i) => `ep-${((i * 2654435761) % 2 ** 48).toString(16).padStart(12, "0")}`);

/** Median ms of `runs` calls of `fn`, after two to warm up. */
function timed(fn, runs) {
  fn();
  fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    times.push(performance.now() - started);
  }
  return median(times);
}

function plannerFigures(n, m) {
  const ids = idsOf(n);
  const listed = new Set(ids);
  const instances = Array.from({ length: m }, (_, i) => `instance-${i}`);
  const owners = assignEndpoints(ids, instances);
  const self = instances[0];
  // The leases as the coordinator keeps them: in its lease table, which indexes them by holder as
  // they change and hands the plan that index.
  const tableOf = (entries) => {
    const table = new LeaseTable();
    for (const [id, instance] of entries) table.set(id, { instance, mine: instance === self });
    return table;
  };
  const leases = tableOf(owners);
  const held = new Set(ids.filter((id) => owners.get(id) === self));
  const live = new Map(instances.map((i) => [i, none]));
  const snapshot = (over) => {
    const table = over.leases ?? leases;
    return {
      self,
      tickMs: 1500,
      listed,
      settling: false,
      joining: false,
      live,
      leases: table,
      own: table.own(),
      index: table.index(listed),
      held,
      unservable: none,
      freeSince: new Map(),
      ...over,
    };
  };
  const gone = instances[m - 1];
  const leave = snapshot({
    live: new Map(instances.filter((i) => i !== gone).map((i) => [i, none])),
    leases: tableOf([...owners].filter(([, instance]) => instance !== gone)),
  });
  const join = snapshot({ live: new Map([...live, ["instance-new", none]]) });
  const steady = snapshot({});
  // The same without the index: a pass over the whole list, as a caller without a lease table plans.
  const passing = (at) => {
    const { index: _, ...rest } = at;
    return rest;
  };
  const runs = n >= 100_000 ? 7 : 15;
  const leavePlan = plan(leave, 10_000);
  const joinPlan = plan(join, 10_000);
  // Moves stay minimal, only what must move: on a leave, this instance tops up to an even share
  // only from what the one that left held, giving nothing up; on a join it gives up the excess
  // over an even share, taking nothing.
  const mustTake = Math.ceil(n / (m - 1)) - held.size;
  const mustGive = held.size - Math.floor(n / (m + 1));
  const minimal =
    leavePlan.acquire.every((id) => owners.get(id) === gone) &&
    leavePlan.acquire.length <= mustTake &&
    leavePlan.release.length + leavePlan.lost.length === 0 &&
    joinPlan.release.length <= mustGive &&
    joinPlan.acquire.length + joinPlan.lost.length === 0;
  const figures = (at) => ({
    steady: timed(() => plan(at(steady), 10_000), runs),
    leave: timed(() => plan(at(leave), 10_000), runs),
    join: timed(() => plan(at(join), 10_000), runs),
  });
  return {
    ...figures((x) => x),
    passing: figures(passing),
    floor: timed(() => {
      let mine = 0;
      for (const id of ids) if (leases.get(id)?.mine) mine++;
      return mine;
    }, runs),
    taken: leavePlan.acquire.length,
    given: joinPlan.release.length,
    share: n / m,
    mustTake,
    mustGive,
    minimal,
  };
}

async function measureChild(mode, template, n, idle, rest, signal) {
  const args = [
    ...launcherFlags,
    "--expose-gc",
    memoryChild,
    mode,
    template,
    String(n),
    String(idle ?? 0),
    String(rest ?? 0),
  ];
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    env: launcherEnv,
    encoding: "utf8",
    timeout: 600_000,
    signal,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1));
}

/** The server with `n` endpoints: spawn → ready line with all connected, and the paged list. */
async function serverFigures(cloud, n) {
  const dir = mkdtempSync(join(tmpdir(), "xz-bench-scale-"));
  const config = join(dir, "xiaozhi.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      mcpEndpoint: Array.from({ length: n }, (_, i) => ({
        url: cloud.url(`scale-${i}`),
        name: `agent ${i}`,
      })),
    }),
  );
  const started = performance.now();
  const server = spawnServer(config);
  try {
    const { url, line } = await server.ready;
    const readyMs = performance.now() - started;
    const connected = Number(/endpoints (\d+)\/(\d+) connected/.exec(line)?.[1]);
    const get = async (path) => {
      const t = performance.now();
      const response = await fetch(new URL(path, url));
      const body = await response.json();
      return { ms: performance.now() - t, body };
    };
    await get("api/endpoints?limit=100");
    const page = [];
    const whole = [];
    let summary;
    for (let i = 0; i < 9; i++) {
      const r = await get("api/endpoints?limit=100&offset=5000");
      summary = r.body.summary;
      page.push(r.ms);
      whole.push((await get("api/endpoints")).ms);
    }
    return { readyMs, connected, pageMs: median(page), wholeMs: median(whole), summary };
  } finally {
    await server.stop();
  }
}

export const scale = {
  title: "Scale: 10,000 endpoints on one instance, the planner to 100,000",
  onlyWhenNamed: true,
  async run() {
    const rows = [];
    for (const [n, m] of [
      [1000, 5],
      [10_000, 10],
      [100_000, 50],
    ]) {
      const p = plannerFigures(n, m);
      const bar = n === 100_000 ? "≤ 20 ms" : "";
      rows.push(
        {
          measure: `planner, ${n.toLocaleString("en")} endpoints over ${m} instances: a tick when nothing changes`,
          value: ms(p.steady),
          yardstick: `one lease lookup per endpoint ${ms(p.floor)}; a pass over the list instead of the lease index ${ms(p.passing.steady)}`,
        },
        {
          measure: `planner, ${n.toLocaleString("en")} over ${m}: an instance leaves / one joins (tick of one instance)`,
          value: `${ms(p.leave)} / ${ms(p.join)}`,
          yardstick: `takes ${p.taken} of the ${Math.round(p.share)} left free (up to an even share: ${p.mustTake}); gives up ${p.given} (its excess over an even share: ${p.mustGive}); ${p.minimal ? "only what must move" : "MOVES MORE than must move"}; a pass over the list instead of the lease index ${ms(p.passing.leave)} / ${ms(p.passing.join)}`,
          ...(bar
            ? {
                bar: `${bar}, moving only what must move`,
                pass: Math.max(p.leave, p.join) <= 20 && p.minimal,
              }
            : {}),
        },
      );
    }

    const cloud = await spawnCloud(["--handshake"]);
    try {
      // Idle memory is read once each process has been quiet for `restMs`: V8 gives back the heap a
      // connect burst grew only then (the reading a second after connecting is beside it). Against
      // the process's own memory before connecting, a thousand endpoints read as little as zero:
      // by then V8 and the allocator have also given back what loading the code left. So each
      // process is compared with the median of three controls of the same age that connected
      // nothing. At 1,000 a megabyte more or less is a KiB per endpoint: the median of five
      // processes, started 5 s apart (the controls between them) so that their connects do not
      // overlap. One failing stops those not started yet and the children running.
      const runs = async (specs) => {
        const stop = new AbortController();
        // Each child and each wait listens for it.
        setMaxListeners(2 * specs.length, stop.signal);
        try {
          return await Promise.all(
            specs.map(async ([mode, n], i) => {
              await delay(i * 5_000, undefined, { signal: stop.signal });
              const figures = await measureChild(mode, cloud.url("TOKEN"), n, 0, restMs, stop.signal);
              return { mode, n, ...figures };
            }),
          );
        } catch (error) {
          stop.abort();
          throw error;
        }
      };
      const batch = await runs([
        ["product", 1000],
        ["product", 0],
        ["ws", 0],
        ["product", 1000],
        ["product", 0],
        ["product", 1000],
        ["ws", 0],
        ["product", 1000],
        ["product", 0],
        ["ws", 0],
        ["product", 1000],
      ]);
      const runs1k = batch.filter((r) => r.n > 0);
      const controlOf = (list) => {
        const rss = list.map((r) => r.rested.total.rss);
        const heap = list.map((r) => r.rested.total.heap);
        return { rss: median(rss), heap: median(heap), rssRange: [Math.min(...rss), Math.max(...rss)] };
      };
      const control = controlOf(batch.filter((r) => r.n === 0 && r.mode === "product"));
      const wsControl = controlOf(batch.filter((r) => r.n === 0 && r.mode === "ws"));
      /** Per endpoint, against a control of the same age. */
      const rested = (r, against) => ({
        rss: (r.rested.total.rss - against.rss) / r.n,
        heap: (r.rested.total.heap - against.heap) / r.n,
      });
      for (const r of runs1k) r.idle = rested(r, control);
      const mid = (pick) => median(runs1k.map(pick));
      const at1k = {
        rss: mid((r) => r.rss),
        heap: mid((r) => r.heap),
        idle: { rss: mid((r) => r.idle.rss), heap: mid((r) => r.idle.heap) },
        connectMs: mid((r) => r.connectMs),
      };
      const at10k = { n: big, ...(await measureChild("product", cloud.url("TOKEN"), big, idleMs, restMs)) };
      at10k.idle = rested(at10k, control);
      const ws10k = { n: big, ...(await measureChild("ws", cloud.url("TOKEN"), big, 0, restMs)) };
      ws10k.idle = rested(ws10k, wsControl);
      const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
      const range = ([low, high]) => `${mib(low)}–${mib(high)}`;
      const controls = `controls that connected nothing (median of 3): ${mib(control.rss)} RSS (${range(control.rssRange)}), ${mib(control.heap)} heap; raw ws ${mib(wsControl.rss)} (${range(wsControl.rssRange)}), ${mib(wsControl.heap)}`;
      // A figure at 1,000 of zero or less is no yardstick (the controls read more than the
      // processes that connected): nothing is shown to meet the bar, so it counts as a miss.
      const against = (key) => (at1k.idle[key] > 0 ? at10k.idle[key] <= at1k.idle[key] * 1.1 : false);
      const readAt = [...batch, at10k, ws10k].map((r) => r.rested.afterMs / 1000);
      const when = `each read ${Math.min(...readAt).toFixed(1)}–${Math.max(...readAt).toFixed(1)} s after connecting`;
      const soon = (key) =>
        `a second after connecting: ${kib(at10k[key])}, at 1,000 ${kib(at1k[key])}, raw ws ${kib(ws10k[key])}`;
      rows.push(
        {
          measure: `10,000 endpoints: RSS per idle endpoint (the launcher's V8 flags; read ${restMs / 1000} s after connecting)`,
          value: kib(at10k.idle.rss),
          yardstick: `at 1,000 (median of ${runs1k.length}): ${kib(at1k.idle.rss)} (each: ${runs1k.map((r) => kib(r.idle.rss)).join(", ")}); raw ws client at 10,000: ${kib(ws10k.idle.rss)} (${when}; ${controls}); ${soon("rss")}`,
          bar: "≤ 1.1 × at 1,000",
          pass: against("rss"),
        },
        {
          measure: `10,000 endpoints: JS heap per idle endpoint (read ${restMs / 1000} s after connecting)`,
          value: kib(at10k.idle.heap),
          yardstick: `at 1,000 (median of ${runs1k.length}): ${kib(at1k.idle.heap)} (each: ${runs1k.map((r) => kib(r.idle.heap)).join(", ")}); raw ws client at 10,000: ${kib(ws10k.idle.heap)}; ${soon("heap")}`,
          bar: "≤ 1.1 × at 1,000",
          pass: against("heap"),
        },
        {
          measure: `10,000 endpoints: idle CPU, default heartbeat (${idleMs / 1000} s, from 15 s after connecting)`,
          value: `${(at10k.idleCore * 100).toFixed(2)}% of a core`,
          bar: "≤ 2%",
          pass: at10k.idleCore <= 0.02,
        },
        {
          measure: "10,000 endpoints in one process: connect() → every endpoint initialized",
          value: ms(at10k.connectMs),
          yardstick: `1,000: ${ms(at1k.connectMs)}; the cloud's connects, peak per 100 ms ÷ mean: ${at10k.spread.toFixed(2)}`,
          bar: "≤ 5000 ms, spread ≤ 2",
          pass: at10k.connectMs <= 5000 && at10k.spread <= 2,
        },
      );
      const server = await serverFigures(cloud, big);
      rows.push(
        {
          measure: "10,000 endpoints: the WebServer from spawn to its ready line",
          value: ms(server.readyMs),
          yardstick: `${server.connected} of ${big} connected at the ready line`,
          bar: "≤ 5000 ms, all connected",
          pass: server.readyMs <= 5000 && server.connected === big,
        },
        {
          measure: "10,000 endpoints: GET /api/endpoints?limit=100 (a page and the summary), p50 of 9",
          value: ms(server.pageMs),
          yardstick: `every endpoint at once: ${ms(server.wholeMs)}; summary ${JSON.stringify(server.summary?.states ?? {})}`,
          bar: "≤ 100 ms",
          pass: server.pageMs <= 100,
        },
      );
      // In this process, as the 1,000-endpoint recovery runs, against the same cloud.
      const back = await outage(cloud, big, 10_000, {}, "scale");
      const burst = await outage(cloud, big, 10_000, { connectConcurrency: 0 }, "scale-burst");
      const per = (cpuMs) => `${((cpuMs / big) * 1000).toFixed(0)} µs`;
      rows.push({
        measure: "10,000 endpoints: 10 s outage, cloud back → every endpoint connected",
        value: ms(back.readyMs),
        yardstick: `cold start, connect() → all initialized (above): ${ms(at10k.connectMs)}; every retry let through at once (connectConcurrency 0): ${ms(burst.readyMs)}; CPU from the cloud's return until all were back: this process ${ms(back.cpu.ours)} (${per(back.cpu.ours)} an endpoint), the cloud's ${ms(back.cpu.cloud)} (${per(back.cpu.cloud)}); attempts after it, peak per 100 ms ÷ mean ${(back.peak / back.mean).toFixed(2)}`,
        bar: "≤ 3000 ms",
        pass: back.readyMs <= 3000,
      });
      // Agents that run an SDK client each answer slower: a burst overflows their accept queue.
      const slow = await spawnCloud();
      try {
        const turns = await outage(slow, big, 10_000, {}, "slow");
        const once = await outage(slow, big, 10_000, { connectConcurrency: 0 }, "slow-burst");
        rows.push({
          measure:
            "10,000 endpoints: the same outage, agents that each run an MCP SDK client (a slower far side)",
          value: ms(turns.readyMs),
          yardstick: `every retry let through at once (connectConcurrency 0): ${ms(once.readyMs)}; CPU until all were back: this process ${ms(turns.cpu.ours)}, the cloud's ${ms(turns.cpu.cloud)}`,
        });
      } finally {
        await slow.stop();
      }
    } finally {
      await cloud.stop();
    }
    rows.push(
      ...(await dashboardAt(big)).map((row) => ({ ...row, measure: `10,000 endpoints: ${row.measure}` })),
    );
    return rows;
  },
};
