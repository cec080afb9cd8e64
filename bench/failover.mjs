// Failover. Links: three endpoints, one dropped; from the manager hearing of the drop to the next
// dispatch succeeding elsewhere. Replicas: a steady stream of tool calls over three stdio replicas,
// one SIGKILLed; time from the death being noticed to the next successful call, and calls lost that
// never reached the victim (counted in the fixture's execution log).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { McpServiceManager } from "@xiaozhi-connect/mcp-services";
import { XiaozhiConnectionManager } from "@xiaozhi-connect/transport-ws";
import { SimulatedXiaozhiCloud } from "@xiaozhi-connect/transport-ws/testing";
import { median, ms, until } from "./lib.mjs";

const calc = fileURLToPath(
  new URL("../packages/mcp-services/test/fixtures/calc-server.mjs", import.meta.url),
);

async function linkFailover(repeats) {
  const cloud = await SimulatedXiaozhiCloud.start({ relay: false });
  const tokens = ["f0", "f1", "f2"];
  const manager = new XiaozhiConnectionManager({ backoff: { initialDelay: 50, maxDelay: 100 } });
  await manager.initialize(tokens.map((t) => cloud.endpointUrl(t)));
  await manager.connect();
  const samples = [];
  let wrong = 0;
  try {
    for (let i = 0; i < repeats; i++) {
      const victim = tokens[i % tokens.length];
      await until(() => manager.getConnectionStatus().every((s) => s.connected), 5000, "all connected");
      const measured = new Promise((resolve, reject) => {
        const stop = manager.on("disconnected", ({ id }) => {
          stop();
          const started = performance.now();
          manager
            .dispatch(async (connection) => {
              await connection.ping();
              return connection.id;
            })
            .then((servedBy) => {
              if (servedBy === id) wrong++;
              resolve(performance.now() - started);
            }, reject);
        });
      });
      cloud.close(victim, 4004);
      samples.push(await measured);
    }
  } finally {
    await manager.cleanup();
    await cloud.stop();
  }
  return { p50: median(samples), max: Math.max(...samples), wrong };
}

async function replicaFailover(tool) {
  const log = join(mkdtempSync(join(tmpdir(), "xz-bench-failover-")), "executions.log");
  writeFileSync(log, "");
  const replica = { command: process.execPath, args: [calc], env: { CALC_EXECUTIONS: log } };
  const services = new McpServiceManager(
    { calc: { replicas: [replica, replica, replica] } },
    { backoff: { initialDelay: 100, maxDelay: 500 } },
  );
  await services.start();
  const executed = () =>
    readFileSync(log, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [pid, , tag] = line.split(" ");
        return { pid: Number(pid), tag };
      });
  const total = 600;
  const outcomes = [];
  let next = 0;
  let victim;
  let noticedAt;
  let firstSuccessAfter;
  // Sampled every millisecond: replica states change without the tool list changing.
  const watcher = setInterval(() => {
    if (
      victim &&
      noticedAt === undefined &&
      services.status()[0].replicas.some((r) => r.state !== "connected")
    ) {
      noticedAt = performance.now();
    }
  }, 1);
  const deadline = Date.now() + 60_000;
  const worker = async () => {
    while (next < total && Date.now() < deadline) {
      const tag = `b${next++}`;
      try {
        await services.callTool(`calc__${tool}`, { tag, ms: 2 }, { signal: AbortSignal.timeout(10_000) });
        const now = performance.now();
        if (noticedAt !== undefined && firstSuccessAfter === undefined) firstSuccessAfter = now - noticedAt;
        outcomes.push({ tag, ok: true });
      } catch (error) {
        outcomes.push({ tag, ok: false, error: String(error?.message ?? error) });
      }
      if (!victim && outcomes.length >= 200) {
        victim = executed()[0].pid;
        process.kill(victim, "SIGKILL");
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    clearInterval(watcher);
    await services.stop();
  }
  const reachedVictim = new Set(
    executed()
      .filter((e) => e.pid === victim)
      .map((e) => e.tag),
  );
  const failed = outcomes.filter((o) => !o.ok);
  // Sent calls fail with the SDK's "Connection closed"; anything else never left for the victim.
  const neverSent = failed.filter((o) => !/Connection closed/.test(o.error)).length;
  const unread = failed.filter((o) => /Connection closed/.test(o.error) && !reachedVictim.has(o.tag)).length;
  const runs = new Map();
  for (const { tag } of executed()) runs.set(tag, (runs.get(tag) ?? 0) + 1);
  const twice = [...runs.values()].filter((count) => count > 1).length;
  return { calls: outcomes.length, failed: failed.length, neverSent, unread, twice, firstSuccessAfter };
}

export const failover = {
  title: "Failover",
  async run() {
    const links = await linkFailover(9);
    const replicas = await replicaFailover("work");
    const idempotent = await replicaFailover("work-idem");
    return [
      {
        measure: "link dropped → next dispatch succeeds on another link (p50 of 9)",
        value: ms(links.p50),
        yardstick: `max ${ms(links.max)}; served by the dropped link: ${links.wrong}`,
        bar: "< 100 ms, never the dead link",
        pass: links.max < 100 && links.wrong === 0,
      },
      {
        measure: "replica killed under load → next successful call (after the death is noticed)",
        value: replicas.firstSuccessAfter === undefined ? "n/a" : ms(replicas.firstSuccessAfter),
        bar: "< 100 ms",
        pass: replicas.firstSuccessAfter !== undefined && replicas.firstSuccessAfter < 100,
      },
      {
        measure: `calls lost that were never sent to the killed replica (of ${replicas.calls}, 8 in flight)`,
        value: String(replicas.neverSent),
        yardstick: `failed after reaching it: ${replicas.failed - replicas.neverSent - replicas.unread} running, ${replicas.unread} sent but unread when it died; run twice: ${replicas.twice}`,
        bar: "0 lost, 0 run twice",
        pass: replicas.neverSent === 0 && replicas.twice === 0,
      },
      {
        measure: `same with an idempotentHint tool: calls failed (of ${idempotent.calls})`,
        value: String(idempotent.failed),
        yardstick: `re-run on a survivor: ${idempotent.twice}`,
        bar: "0",
        pass: idempotent.failed === 0,
      },
    ];
  },
};
