import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointId } from "@xiaozhi-connect/core";
import {
  type CloudSession,
  SimulatedXiaozhiCloud,
  TokenSocketWatch,
} from "@xiaozhi-connect/transport-ws/testing";
import type { CallRecord, ChangeRecord, RunLog, Window } from "./fault-checks.js";
import { converged, listedTokens, type Node, randomSource } from "./fault-cluster.js";
import { type FaultRunResult, faultRunResult } from "./fault-result.js";
import { startRedis, type TestRedis } from "./redis-server.js";
import { demoTools, type RunningServer, runServer } from "./run-server.js";
import { TcpProxy } from "./tcp-proxy.js";

export type { FaultRunResult };

export interface FaultRunOptions {
  readonly seed: number;
  /** How long faults are made, seconds. */
  readonly seconds: number;
  readonly instances?: number;
  readonly endpoints?: number;
  readonly leaseTtl?: number;
  readonly callsPerSecond?: number;
  readonly log?: (line: string) => void;
}

/** The schedule's own pacing: a fault run makes time pass on purpose. */
const pace = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A randomised fault run against real processes: `instances` WebServers in cluster mode (each
 * reaching Redis through its own proxy), one redis-server, a simulated cloud whose agents call a
 * tool, and API changes of the list, while SIGKILL, SIGTERM, SIGSTOP, a partition from Redis, a
 * slow path, Redis restarting empty and `CLIENT PAUSE` come at random. Then every fault is healed
 * and the run checks the cluster's promises (see fault-checks.ts).
 */
export async function faultRun(options: FaultRunOptions): Promise<FaultRunResult> {
  const leaseTtl = options.leaseTtl ?? 3000;
  // One source per loop, each drawing the same number of values every round: the schedule of a
  // seed does not depend on how the machine's timing interleaves the loops.
  const faultRandom = randomSource(options.seed * 3 + 1);
  const changeRandom = randomSource(options.seed * 3 + 2);
  const callRandom = randomSource(options.seed * 3 + 3);
  const say = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), "xz-faults-"));
  const started = Date.now();
  const now = () => Date.now() - started;
  const windows: Window[] = [];
  const changes: ChangeRecord[] = [];
  const calls: CallRecord[] = [];
  const counts: { at: number; token: string; open: number }[] = [];
  const problems: string[] = [];
  const pending: Promise<unknown>[] = [];
  const initial = Array.from({ length: options.endpoints ?? 30 }, (_, i) => `fault-${options.seed}-${i}`);
  const extra = Array.from({ length: 20 }, (_, i) => `fault-${options.seed}-extra-${i}`);
  const redis: TestRedis = await startRedis();
  const cloud = await SimulatedXiaozhiCloud.start({ relay: false, behavior: { driver: "handshake" } });
  const offCounts = cloud.onSessionCount((token, open) => counts.push({ at: now(), token, open }));
  const watch = new TokenSocketWatch(cloud);
  const url = (token: string) => cloud.endpointUrl(token);
  const nodes: Node[] = [];
  for (let i = 0; i < (options.instances ?? 3); i++) {
    const id = `n${i + 1}`;
    const proxy = await new TcpProxy(() => redis.port).start();
    const config = join(dir, `${id}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        mcpEndpoint: initial.map(url),
        mcpServers: { demo: { command: process.execPath, args: [demoTools] } },
        cluster: { redis: `redis://127.0.0.1:${proxy.port}`, instanceId: id, leaseTtl, namespace: "faults" },
      }),
    );
    nodes.push({ id, config, proxy, server: undefined, faulted: false, ending: false });
  }
  const outputs: { name: string; server: RunningServer }[] = [];
  const launch = async (node: Node) => {
    node.ending = false;
    // A busy machine can take many seconds to start a process; a restart may also wait for its
    // predecessor's heartbeat to lapse.
    const server = await runServer(
      ["--config", node.config, "--port", "0"],
      {
        XDG_STATE_HOME: join(dir, `state-${node.id}`),
        ...(process.env.XZ_FAULT_VERBOSE ? { XIAOZHI_LOG_LEVEL: "debug" } : {}),
      },
      60_000,
    );
    outputs.push({
      name: `${node.id}-${outputs.filter((o) => o.name.startsWith(node.id)).length + 1}`,
      server,
    });
    node.server = server;
    void server.exited.then(({ code, signal }) => {
      if (!node.ending) problems.push(`${node.id} exited on its own (code ${code}, signal ${signal})`);
    });
  };
  const running = () => nodes.filter((n) => n.server && !n.ending);

  try {
    await Promise.all(nodes.map(launch));
    const tokens = [...initial, ...extra];
    await converged(nodes, tokens, url, watch, 60_000);
    const settledAt = now();
    say(`seed ${options.seed}: settled at ${settledAt} ms; faults for ${options.seconds} s`);
    const until = settledAt + options.seconds * 1000;

    // Faults.
    const window = (kind: string, target?: string): Window => {
      const w: Window = { kind, ...(target ? { target } : {}), from: now(), to: Number.POSITIVE_INFINITY };
      windows.push(w);
      return w;
    };
    let redisDown = false;
    const restart = async (node: Node, w: Window, after: number) => {
      await pace(after);
      await launch(node);
      w.to = now();
      node.faulted = false;
    };
    const scale = (x: number, low: number, high: number) => low + (high - low) * x;
    const instanceFaults: Record<string, (node: Node, x: number, y: number) => Promise<void>> = {
      kill: async (node, x) => {
        const w = window("killed", node.id);
        node.ending = true;
        node.server?.process.kill("SIGKILL");
        await node.server?.exited;
        node.server = undefined;
        await restart(node, w, scale(x, 1000, 4000));
      },
      stop: async (node, x) => {
        const w = window("stopped", node.id);
        node.ending = true;
        const asked = Date.now();
        node.server?.process.kill("SIGTERM");
        const { code } = (await node.server?.exited) ?? { code: 0 };
        if (code !== 0 || Date.now() - asked > 5000) {
          problems.push(`${node.id} stopped with ${code} after ${Date.now() - asked} ms`);
        }
        node.server = undefined;
        await restart(node, w, scale(x, 1000, 3000));
      },
      pause: async (node, x) => {
        const w = window("pause", node.id);
        node.server?.process.kill("SIGSTOP");
        await pace(scale(x, 0.5, 2.5) * leaseTtl);
        node.server?.process.kill("SIGCONT");
        w.to = now();
        node.faulted = false;
      },
      partition: async (node, x) => {
        const w = window("partition", node.id);
        node.proxy.stall();
        await pace(scale(x, 0.5, 2.5) * leaseTtl);
        node.proxy.heal();
        w.to = now();
        node.faulted = false;
      },
      slow: async (node, x, y) => {
        // Slower than usual, and still inside the command timeout: nothing may change for the agents.
        const w = window("slow", node.id);
        node.proxy.slow(scale(x, 20, 120));
        await pace(scale(y, 2000, 5000));
        node.proxy.heal();
        w.to = now();
        node.faulted = false;
      },
    };
    const redisFaults: Record<string, (x: number) => Promise<void>> = {
      "redis-restart": async (x) => {
        redisDown = true;
        const w = window("redis-down");
        await redis.kill();
        await pace(scale(x, 200, 2000));
        await redis.restart();
        w.to = now();
        redisDown = false;
      },
      "client-pause": async (x) => {
        const ms = scale(x, 300, 1500);
        const w = window("client-pause");
        w.to = w.from + ms;
        await redis.pause(ms).catch(() => {});
      },
    };
    const faultLoop = (async () => {
      for (let round = 0; now() < until && round < 10_000; round++) {
        const [wait, where, which, whom, x, y] = Array.from({ length: 6 }, () => faultRandom.between(0, 1));
        await pace(scale(wait as number, 1500, 4000));
        if (now() >= until) break;
        const healthy = nodes.filter((n) => n.server && !n.faulted);
        if (healthy.length >= 2 && (where as number) < 0.7) {
          // The node drawn, or the next one after it that is healthy.
          const first = Math.floor((whom as number) * nodes.length);
          const node = [...nodes.slice(first), ...nodes.slice(0, first)].find((n) =>
            healthy.includes(n),
          ) as Node;
          const kinds = Object.keys(instanceFaults);
          const kind = kinds[Math.floor((which as number) * kinds.length)] as string;
          node.faulted = true;
          say(`${now()} ms: ${kind} ${node.id}`);
          pending.push(instanceFaults[kind]?.(node, x as number, y as number) ?? Promise.resolve());
        } else if (!redisDown) {
          const kinds = Object.keys(redisFaults);
          const kind = kinds[Math.floor((which as number) * kinds.length)] as string;
          say(`${now()} ms: ${kind}`);
          pending.push(redisFaults[kind]?.(x as number) ?? Promise.resolve());
        }
      }
    })();

    // Changes of the list through any running instance, never two at once on one endpoint.
    const busy = new Set<string>();
    const believed = new Set(initial);
    const change = async (node: Node, token: string, op: "add" | "remove") => {
      const record: ChangeRecord = { token, op, via: node.id, sent: now() };
      changes.push(record);
      busy.add(token);
      const base = node.server?.url ?? "http://127.0.0.1:1/";
      try {
        const response =
          op === "add"
            ? await fetch(new URL("/api/endpoints", base), {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ url: url(token) }),
                signal: AbortSignal.timeout(8000),
              })
            : await fetch(new URL(`/api/endpoints/${endpointId(url(token))}`, base), {
                method: "DELETE",
                signal: AbortSignal.timeout(8000),
              });
        await response.body?.cancel();
        record.status = response.status;
        record.outcome = [201, 204, 404, 409].includes(response.status)
          ? "done"
          : response.status === 503
            ? "refused"
            : "unknown";
      } catch (error) {
        record.status = (error as Error).name;
        record.outcome = "unknown";
      }
      record.answered = now();
      if (record.outcome === "done") {
        if (op === "add") believed.add(token);
        else believed.delete(token);
      }
      busy.delete(token);
    };
    const changeLoop = (async () => {
      for (let round = 0; now() < until && round < 100_000; round++) {
        const [wait, whom, what, which] = Array.from({ length: 4 }, () => changeRandom.between(0, 1));
        await pace(scale(wait as number, 150, 800));
        const up = running();
        const node = up[Math.floor((whom as number) * up.length)];
        const removing = (what as number) < 0.5;
        const all = [...initial, ...extra].filter((t) => !busy.has(t) && believed.has(t) === removing);
        const token = all[Math.floor((which as number) * all.length)];
        if (node && token) pending.push(change(node, token, removing ? "remove" : "add"));
      }
    })();

    // Agents calling a tool on whatever socket their endpoint has.
    let callNumber = 0;
    const call = async (session: CloudSession, token: string) => {
      const n = ++callNumber;
      const record: CallRecord = { token, id: `call-${n}`, sent: now(), answers: 0, ok: false, cut: false };
      calls.push(record);
      try {
        session.sendRaw({
          jsonrpc: "2.0",
          id: record.id,
          method: "tools/call",
          params: { name: "demo__calculator", arguments: { a: n, b: 1, op: "add" } },
        });
      } catch {
        record.cut = true;
        return;
      }
      sessions.set(record.id, { session, expected: String(n + 1) });
      const answered = () => session.received.some((f) => (f as { id?: unknown }).id === record.id);
      await Promise.race([session.until(answered, 15_000).catch(() => {}), session.closed]);
      if (!answered()) record.cut = !session.open;
    };
    const sessions = new Map<string, { session: CloudSession; expected: string }>();
    const callLoop = (async () => {
      const every = 1000 / (options.callsPerSecond ?? 10);
      for (let round = 0; now() < until && round < 1_000_000; round++) {
        await pace(every);
        const listed = [...believed];
        const token = listed[Math.floor(callRandom.between(0, 1) * listed.length)];
        const session = token ? cloud.sessions(token).find((s) => s.received.length > 0) : undefined;
        if (token && session) pending.push(call(session, token));
      }
    })();

    await Promise.all([faultLoop, changeLoop, callLoop]);
    await Promise.all(pending.splice(0));
    // Heal what is left: every instance running, Redis up, every path clear.
    for (const node of nodes) {
      node.proxy.heal();
      node.server?.process.kill("SIGCONT");
    }
    await Promise.all(pending.splice(0));
    const healedAt = now();
    say(`${healedAt} ms: faults over; waiting for the views to agree`);
    await converged(running(), tokens, url, watch, 60_000).catch(async (error: Error) => {
      problems.push(error.message);
      // What each instance saw, for whoever reads the run's folder.
      for (const node of running()) {
        const get = async (path: string) => (await fetch(new URL(path, node.server?.url))).json();
        const seen = { cluster: await get("/api/cluster"), endpoints: await get("/api/endpoints") };
        writeFileSync(join(dir, `${node.id}-view.json`), JSON.stringify(seen, null, 1));
      }
    });
    const agreedAfterMs = now() - healedAt;
    await Promise.all(pending.splice(0));
    for (const call of calls) {
      const seen = sessions.get(call.id);
      const answers = seen?.session.received.filter((f) => (f as { id?: unknown }).id === call.id) ?? [];
      call.answers = answers.length;
      const text = (answers[0] as { result?: { content?: { text?: string }[] } } | undefined)?.result
        ?.content?.[0]?.text;
      call.ok = text === seen?.expected;
    }
    const log: RunLog = {
      leaseTtl,
      settledAt,
      endedAt: now(),
      initial,
      counts,
      changes,
      windows,
      calls,
      listed: await listedTokens(nodes[0] as Node, tokens, url),
    };
    writeFileSync(join(dir, "log.json"), JSON.stringify({ ...log, listed: [...log.listed] }));
    return faultRunResult(options.seed, log, problems, agreedAfterMs, dir);
  } finally {
    for (const node of nodes) {
      node.ending = true;
      node.server?.process.kill("SIGCONT");
      node.server?.process.kill("SIGTERM");
    }
    await Promise.all(nodes.map((n) => n.server?.exited));
    for (const { name, server } of outputs)
      writeFileSync(join(dir, `${name}.log`), server.stdout() + server.stderr());
    writeFileSync(join(dir, "run.json"), JSON.stringify({ windows, changes, counts, calls }));
    offCounts();
    watch.dispose();
    await Promise.all(nodes.map((n) => n.proxy.stop()));
    await cloud.stop();
    await redis.stop();
  }
}
