import { silentLogger } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it } from "vitest";
import { McpServiceManager } from "../src/index.js";
import { alive } from "./processes.js";
import {
  call,
  release,
  replicaIndexes,
  replicaLog,
  replicasRunning,
  testStrategies,
  untilDrained,
} from "./replica-harness.js";

// Config edits of a replicated service, with real stdio services and calls held in flight across
// them: what can change without a restart changes live, and replicas that stay keep running.
let manager: McpServiceManager | undefined;
afterEach(async () => {
  await manager?.stop();
  manager = undefined;
  // No replica outlives its manager, removed ones still draining included.
  expect(replicasRunning()).toEqual([]);
});

describe("editing a replicated service's config", () => {
  it("applies a strategy-only change live: the same processes finish their calls, the new strategy picks the next", async () => {
    const log = replicaLog();
    const { strategies, picks } = testStrategies();
    const replicas = [log.entry("a"), log.entry("b"), log.entry("c")];
    manager = new McpServiceManager({ echo: { replicas, strategy: "round-robin" } }, { strategies });
    await manager.start();
    const started = log.starts();
    const pids = ["a", "b", "c"].map(log.pidOf);
    // A change in place changes no tool: no agent is told to list its tools again.
    let toolsChanged = 0;
    manager.onToolsChanged(() => toolsChanged++);

    // One call in flight on each replica (round-robin), when the service's own strategy changes.
    const first = ["h0", "h1", "h2"].map((tag) => call(manager as McpServiceManager, "echo__hold", tag));
    await log.until("held", 3);
    expect(new Set(log.lines().flatMap((l) => (l.event === "held" ? [l.pid] : [])))).toEqual(new Set(pids));
    const diff = await manager.reconcile({ echo: { replicas, strategy: "pinned", handshakeTimeout: 5000 } });
    expect(diff).toEqual({ added: [], removed: [], changed: ["echo"], unchanged: [] });
    expect(manager.status()[0]).toMatchObject({ state: "up", strategy: "pinned", restarts: 0 });
    release(...pids);
    const answers = await Promise.all(first);
    expect(answers.map((a) => a.tag)).toEqual(["h0", "h1", "h2"]);
    expect(new Set(answers.map((a) => a.pid))).toEqual(new Set(pids));
    // The next call is the new strategy's pick.
    expect(picks).toEqual([]);
    await call(manager, "echo__whoami", "w0");
    expect(picks.map((p) => p.strategy)).toEqual(["pinned"]);

    // Moved to the global default, as a config apply does it: services built, default set, commit.
    const second = ["h3", "h4"].map((tag) => call(manager as McpServiceManager, "echo__hold", tag));
    await log.until("held", 5);
    const prepared = manager.prepare({ echo: { replicas } });
    manager.configure({ strategy: "pinned" });
    await prepared.commit().started;
    release(...pids);
    expect((await Promise.all(second)).map((a) => a.tag)).toEqual(["h3", "h4"]);
    await call(manager, "echo__whoami", "w1");
    // The same instance picks on, its state kept; and back to a service strategy of its own.
    expect(picks.map((p) => `${p.strategy} ${p.instance}`)).toEqual(
      Array(4).fill(`pinned ${picks[0]?.instance}`),
    );
    await manager.reconcile({ echo: { replicas, strategy: "round-robin" } });
    expect(manager.status()[0]?.strategy).toBe("round-robin");
    await call(manager, "echo__whoami", "w2");
    expect(picks).toHaveLength(4);

    // Not one replica started again.
    expect(log.starts()).toEqual(started);
    expect(pids.every(alive)).toBe(true);
    expect(manager.status()[0]?.restarts).toBe(0);
    expect(toolsChanged).toBe(0);
  });

  it("removes and adds replicas as a diff: the rest keep their processes, ids and calls in flight", async () => {
    const log = replicaLog();
    const { strategies, picks, pin } = testStrategies();
    const [a, b, c, d] = [log.entry("a"), log.entry("b"), log.entry("c"), log.entry("d")];
    manager = new McpServiceManager({ echo: { replicas: [a, b, c], strategy: "pinned" } }, { strategies });
    await manager.start();
    const target = manager;
    const pinned = (id: string, tool: string, tag: string) => {
      pin.to = id;
      return call(target, tool, tag);
    };
    for (const [id, name] of [
      ["echo#0", "a"],
      ["echo#1", "b"],
      ["echo#2", "c"],
    ] as const) {
      expect((await pinned(id, "echo__whoami", id)).name).toBe(name);
    }
    const [pidA, pidB, pidC] = ["a", "b", "c"].map(log.pidOf) as [number, number, number];
    let toolsChanged = 0;
    manager.onToolsChanged(() => toolsChanged++);

    // A call in flight on each replica, when the middle one is removed.
    const held = ["echo#0", "echo#1", "echo#2"].map((id) => pinned(id, "echo__hold", `h-${id}`));
    await log.until("held", 3);
    // Not waited for: the removed replica drains in the background.
    await manager.prepare({ echo: { replicas: [a, c], strategy: "pinned" } }).commit().started;
    // The removed one keeps its id out of use, the others keep theirs; it shows as draining.
    expect(replicaIndexes(manager)).toEqual(["0", "2", "1 draining"]);
    expect(manager.status()[0]?.replicas?.[2]).toMatchObject({ index: 1, inflight: 1, healthScore: 0 });
    expect((await pinned("echo#2", "echo__whoami", "after")).name).toBe("c");
    expect(picks.at(-1)?.ids).toEqual(["echo#0", "echo#2"]);
    // No new call reaches the removed replica; it still runs the call it had.
    expect(alive(pidB)).toBe(true);
    release(pidA, pidB, pidC);
    expect(await Promise.all(held)).toEqual([
      { tag: "h-echo#0", pid: pidA, name: "a" },
      { tag: "h-echo#1", pid: pidB, name: "b" },
      { tag: "h-echo#2", pid: pidC, name: "c" },
    ]);
    // Then it stops, and leaves the status.
    await untilDrained(manager);
    expect(alive(pidB)).toBe(false);
    expect(replicaIndexes(manager)).toEqual(["0", "2"]);

    // Added: a new index, never one in use or used before; calls in flight elsewhere finish.
    const more = ["echo#0", "echo#2"].map((id) => pinned(id, "echo__hold", `m-${id}`));
    await log.until("held", 5);
    await manager.reconcile({ echo: { replicas: [a, c, d], strategy: "pinned" } });
    expect(replicaIndexes(manager)).toEqual(["0", "2", "3"]);
    expect((await pinned("echo#3", "echo__whoami", "new")).name).toBe("d");
    release(pidA, pidC);
    expect((await Promise.all(more)).map((m) => `${m.tag}:${m.name}`)).toEqual(["m-echo#0:a", "m-echo#2:c"]);
    // Only the added replica started.
    expect(log.starts().sort()).toEqual([`a@${pidA}`, `b@${pidB}`, `c@${pidC}`, `d@${log.pidOf("d")}`]);
    expect(alive(pidA) && alive(pidC)).toBe(true);

    // An entry that changes is a replica replaced: a new process under a new index.
    const pidD = log.pidOf("d");
    await manager.reconcile({ echo: { replicas: [a, c, { ...d, cwd: process.cwd() }], strategy: "pinned" } });
    await untilDrained(manager);
    expect(replicaIndexes(manager)).toEqual(["0", "2", "4"]);
    expect(alive(pidA) && alive(pidC)).toBe(true);
    expect(alive(pidD)).toBe(false);
    expect(log.pidOf("d")).not.toBe(pidD);
    expect(manager.status()[0]).toMatchObject({ state: "up", restarts: 0 });
    expect(toolsChanged).toBe(0);
  });

  it("stops a removed replica still running a call when the service stops", async () => {
    const log = replicaLog();
    const { strategies, pin } = testStrategies();
    const [a, b] = [log.entry("a"), log.entry("b")];
    manager = new McpServiceManager({ echo: { replicas: [a, b], strategy: "pinned" } }, { strategies });
    await manager.start();
    pin.to = "echo#1";
    const held = call(manager, "echo__hold", "left");
    held.catch(() => {});
    await log.until("held", 1);
    const { started } = manager.prepare({ echo: { replicas: [a], strategy: "pinned" } }).commit();
    expect(alive(log.pidOf("b"))).toBe(true);
    await manager.stop();
    await expect(held).rejects.toThrow(/^service echo went down during the call; it may have run$/);
    await started;
    expect(alive(log.pidOf("b"))).toBe(false);
    expect(manager.status()[0]?.state).toBe("stopped");
  });

  it("stops a removed replica at its drain limit when its call never ends, holding up no change", async () => {
    const log = replicaLog();
    const { strategies, pin } = testStrategies();
    const [a, b] = [log.entry("a"), log.entry("b")];
    const warnings: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (_: unknown, message?: string) => void warnings.push(`${message}`),
    };
    const config = { echo: { replicas: [a, b], strategy: "pinned" } };
    manager = new McpServiceManager(config, { strategies, drainLimit: 300, logger });
    await manager.start();
    const pidB = log.pidOf("b");
    pin.to = "echo#1";
    // A call without a deadline, which its process never answers.
    const held = manager.callTool("echo__hold", { tag: "forever" }, { signal: new AbortController().signal });
    held.catch(() => {});
    await log.until("held", 1);
    // Applied and settled while the call runs on: the change waits for no drain.
    await manager.reconcile({ echo: { replicas: [a], strategy: "pinned" } });
    expect(replicaIndexes(manager)).toEqual(["0", "1 draining"]);
    expect(alive(pidB)).toBe(true);
    // At the limit the replica stops anyway, and the call fails as cut off.
    await expect(held).rejects.toThrow(/^service echo went down during the call; it may have run$/);
    await untilDrained(manager);
    expect(alive(pidB)).toBe(false);
    expect(replicaIndexes(manager)).toEqual(["0"]);
    expect(warnings).toContain("removed replica still running calls after its drain limit; stopping it");
  });

  it("gives the next handshake a new handshakeTimeout, replicas that are up running on", async () => {
    const log = replicaLog();
    const [a, b] = [log.entry("a"), log.entry("b")];
    // No retry comes on its own during the test: only the handshakes the test asks for run.
    const backoff = { initialDelay: 60_000, maxDelay: 60_000, jitter: "none" as const };
    manager = new McpServiceManager({ echo: { replicas: [a] } }, { backoff });
    await manager.start();
    const pidA = log.pidOf("a");
    // A deadline no process start meets: the next handshake, that of the added replica, runs out.
    await manager.reconcile({ echo: { replicas: [a, b], handshakeTimeout: 1 } });
    const failed = manager.status()[0]?.replicas?.[1];
    expect(failed?.state).not.toBe("connected");
    expect(failed?.lastError).toMatch(/not connected within 1 ms/);
    expect(manager.status()[0]).toMatchObject({ state: "up" });
    expect(alive(pidA)).toBe(true);
    // A longer one: the next handshakes (a restart of both) make it.
    await manager.reconcile({ echo: { replicas: [a, b], handshakeTimeout: 10_000 } });
    await manager.restart("echo");
    expect(manager.status()[0]?.replicas?.map((r) => r.state)).toEqual(["connected", "connected"]);
  });

  it("takes an entry written in another field order as the same: nothing restarts", async () => {
    const log = replicaLog();
    const { strategies } = testStrategies();
    const [a, b] = [log.entry("a"), log.entry("b")];
    const reordered = <T extends object>(entry: T) =>
      Object.fromEntries(Object.entries(entry).reverse()) as T;
    manager = new McpServiceManager({ echo: { replicas: [a, b], strategy: "round-robin" } }, { strategies });
    await manager.start();
    const started = log.starts();
    // The service's fields and a replica's in another order: the same entry.
    const same = await manager.reconcile({ echo: { strategy: "round-robin", replicas: [a, reordered(b)] } });
    expect(same).toEqual({ added: [], removed: [], changed: [], unchanged: ["echo"] });
    // Beside a real change, a replica whose entry is only reordered keeps its process and id.
    const changed = await manager.reconcile({ echo: { replicas: [reordered(a), b], strategy: "pinned" } });
    expect(changed.changed).toEqual(["echo"]);
    expect(replicaIndexes(manager)).toEqual(["0", "1"]);
    expect(log.starts()).toEqual(started);
    expect(manager.status()[0]).toMatchObject({ state: "up", strategy: "pinned", restarts: 0 });
  });

  it("names the replica in its log lines also once one is left", async () => {
    const log = replicaLog();
    const lines: Record<string, unknown>[] = [];
    const info = (fields: unknown, message?: string) => void lines.push({ ...(fields as object), message });
    const logger = { ...silentLogger, info };
    manager = new McpServiceManager({ echo: { replicas: [log.entry("a"), log.entry("b")] } }, { logger });
    await manager.start();
    await manager.reconcile({ echo: { replicas: [log.entry("b")] } });
    lines.length = 0;
    await manager.restart("echo");
    expect(lines.filter((line) => line.message === "service connected")).toEqual([
      { service: "echo", replica: 1, message: "service connected" },
    ]);
  });
});
