import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HealthObservation } from "@xiaozhi-connect/core";
import { untilEvent } from "@xiaozhi-connect/core/testing";
import { healthScorer } from "@xiaozhi-connect/health";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { McpServiceManager, type ReplicaConfig } from "../src/index.js";
import { socketExists, socketInode } from "./processes.js";

const fixture = join(import.meta.dirname, "fixtures", "calc-server.mjs");
let executions: string;
let manager: McpServiceManager | undefined;

beforeEach(() => {
  executions = join(mkdtempSync(join(tmpdir(), "xz-replicas-")), "executions.log");
  writeFileSync(executions, "");
});
afterEach(async () => {
  await manager?.stop();
  manager = undefined;
});

const replica = (): ReplicaConfig => ({
  command: process.execPath,
  args: [fixture],
  env: { CALC_EXECUTIONS: executions },
});

/** Every execution the fixtures logged: pid, tool, tag. */
function executed() {
  return readFileSync(executions, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [pid = "", tool = "", tag = ""] = line.split(" ");
      return { pid: Number(pid), tool, tag };
    });
}

interface Outcome {
  readonly tag: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly ok: boolean;
  readonly pid?: number;
  readonly error?: string;
}

/**
 * Sends `total` calls, `concurrency` at a time, and SIGKILLs the replica that ran the first call
 * once `killAfter` calls have completed. Records when the service noticed the death.
 */
async function runUnderLoad(
  services: McpServiceManager,
  tool: string,
  options: { total: number; concurrency: number; killAfter: number; ms: number },
) {
  const outcomes: Outcome[] = [];
  let next = 0;
  let killed: { pid: number; at: number } | undefined;
  let noticedAt: number | undefined;
  // The first replica state change after the kill marks when the service noticed the death (the
  // tool list itself does not change).
  const stopWatching = services.onStatusChanged(() => {
    const replicas = services.status()[0]?.replicas ?? [];
    if (killed && noticedAt === undefined && replicas.some((r) => r.state !== "connected")) {
      noticedAt = performance.now();
    }
  });
  const deadline = Date.now() + 30_000;
  const worker = async () => {
    while (next < options.total && Date.now() < deadline) {
      const tag = `t${next++}`;
      const startedAt = performance.now();
      try {
        const result = await services.callTool(
          `calc__${tool}`,
          { tag, ms: options.ms },
          { signal: AbortSignal.timeout(10_000) },
        );
        const text = (result.content[0] as { text: string }).text;
        outcomes.push({
          tag,
          startedAt,
          endedAt: performance.now(),
          ok: true,
          pid: Number(text.split("@")[1]),
        });
      } catch (error) {
        outcomes.push({ tag, startedAt, endedAt: performance.now(), ok: false, error: String(error) });
      }
      if (!killed && outcomes.length >= options.killAfter) {
        const victim = executed()[0]?.pid;
        if (victim === undefined) throw new Error("no execution logged yet");
        killed = { pid: victim, at: performance.now() };
        process.kill(victim, "SIGKILL");
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  stopWatching();
  if (!killed) throw new Error("the replica was never killed");
  return { outcomes, killed, noticedAt };
}

describe("replicated services under load", () => {
  it("loses no call that had not reached the killed replica and runs none twice", async () => {
    manager = new McpServiceManager(
      { calc: { replicas: [replica(), replica(), replica()] } },
      { backoff: { initialDelay: 50, maxDelay: 200 } },
    );
    await manager.start();
    expect(manager.status()[0]?.replicas?.map((r) => r.state)).toEqual([
      "connected",
      "connected",
      "connected",
    ]);

    const { outcomes, killed, noticedAt } = await runUnderLoad(manager, "work", {
      total: 240,
      concurrency: 6,
      killAfter: 60,
      ms: 5,
    });
    expect(outcomes).toHaveLength(240);
    expect(noticedAt).toBeDefined();

    const runs = new Map<string, number[]>();
    for (const { tag, pid } of executed()) runs.set(tag, [...(runs.get(tag) ?? []), pid]);
    // No call executed twice.
    expect([...runs.values()].filter((pids) => pids.length > 1)).toEqual([]);
    for (const outcome of outcomes.filter((o) => o.ok)) expect(runs.get(outcome.tag)).toEqual([outcome.pid]);

    const failed = outcomes.filter((o) => !o.ok);
    // At most the calls in flight at the kill can be lost, and only if they went to the victim.
    expect(failed.length).toBeLessThanOrEqual(6);
    for (const outcome of failed) {
      expect(outcome.startedAt).toBeLessThan(noticedAt ?? 0);
      expect(outcome.endedAt).toBeGreaterThanOrEqual(killed.at);
      // It ran on the victim or nowhere, never on a survivor: failing it undid nothing done elsewhere.
      expect((runs.get(outcome.tag) ?? []).filter((pid) => pid !== killed.pid)).toEqual([]);
      // Said as the service's, not as the bare "Connection closed" an agent would read as its own link's.
      expect(outcome.error).toMatch(/service \S+ went down during the call; it may have run$/);
    }
    // Every call started after the death was noticed succeeded, on a survivor.
    const after = outcomes.filter((o) => o.startedAt > (noticedAt ?? Number.POSITIVE_INFINITY));
    expect(after.length).toBeGreaterThan(100);
    expect(after.every((o) => o.ok && o.pid !== killed.pid)).toBe(true);
    // Load was spread: each replica ran calls before the kill.
    expect(new Set(executed().map((e) => e.pid)).size).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it("retries an idempotent tool that died with its replica, so no call fails", async () => {
    manager = new McpServiceManager({ calc: { replicas: [replica(), replica()] } });
    await manager.start();
    const { outcomes, killed } = await runUnderLoad(manager, "work-idem", {
      total: 120,
      concurrency: 6,
      killAfter: 30,
      ms: 20,
    });
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    const runs = new Map<string, number[]>();
    for (const { tag, pid } of executed()) runs.set(tag, [...(runs.get(tag) ?? []), pid]);
    // A repeat happens only for calls the victim had received, and then once on a survivor.
    const repeated = [...runs.values()].filter((pids) => pids.length > 1);
    for (const pids of repeated) {
      expect(pids).toHaveLength(2);
      expect(pids[0]).toBe(killed.pid);
      expect(pids[1]).not.toBe(killed.pid);
    }
  }, 60_000);

  it("says a call failed because its service went down under it, naming the service", async () => {
    manager = new McpServiceManager({ calc: replica() });
    await manager.start();
    const call = manager.callTool("calc__wait", {}, { signal: AbortSignal.timeout(20_000) });
    call.catch(() => {});
    // Killed once the call is running there.
    await vi.waitFor(() => expect(executed().map((e) => e.tool)).toContain("wait"), { timeout: 10_000 });
    const pid = executed()[0]?.pid;
    if (!pid) throw new Error("no pid logged");
    process.kill(pid, "SIGKILL");
    await expect(call).rejects.toThrow(/^service calc went down during the call; it may have run$/);
  });

  it("serves from the healthy replica while another cannot start, and restarts a killed one", async () => {
    const broken: ReplicaConfig = { command: process.execPath, args: ["-e", "process.exit(3)"] };
    manager = new McpServiceManager(
      { calc: { replicas: [broken, replica()], strategy: "round-robin" } },
      { backoff: { initialDelay: 20, maxDelay: 100 } },
    );
    await manager.start();
    expect(manager.status()[0]).toMatchObject({ state: "up" });
    const replicas = () => manager?.status()[0]?.replicas ?? [];
    expect(replicas()[0]?.state).not.toBe("connected");
    expect(replicas()[0]?.lastError).toBeDefined();
    for (let i = 0; i < 10; i++) {
      const result = await manager.callTool(
        "calc__add",
        { a: i, b: 1 },
        { signal: AbortSignal.timeout(5000) },
      );
      expect(result.content).toEqual([{ type: "text", text: String(i + 1) }]);
    }

    // The broken replica keeps failing and retrying; agents hear nothing, as the tools stay the same.
    let changes = 0;
    manager.onToolsChanged(() => changes++);
    const restartsBefore = manager.status()[0]?.restarts ?? 0;
    const target = manager;
    const statusChanges = (wake: () => void) => target.onStatusChanged(wake);
    await untilEvent(
      statusChanges,
      () => (target.status()[0]?.restarts ?? 0) >= restartsBefore + 3,
      10_000,
      "three more retries",
    );
    expect(changes).toBe(0);

    // Watch the state changes as they happen: the down window may be shorter than any poll.
    const seen: string[] = [];
    const stop = manager.onStatusChanged(() => seen.push(replicas()[1]?.state ?? "gone"));
    const [victim] = executed().map((e) => e.pid);
    if (victim === undefined) throw new Error("no execution logged");
    process.kill(victim, "SIGKILL");
    await untilEvent(statusChanges, () => seen.some((state) => state !== "connected"), 5000, "death noticed");
    await untilEvent(statusChanges, () => replicas()[1]?.state === "connected", 10_000, "replica restarted");
    stop();
    // No replica was up for a moment, yet the tools stayed listed through the restart: no change.
    expect(changes).toBe(0);
    const result = await manager.callTool("calc__add", { a: 2, b: 2 }, { signal: AbortSignal.timeout(5000) });
    expect(result.content).toEqual([{ type: "text", text: "4" }]);
    expect(new Set(executed().map((e) => e.pid)).size).toBe(2);
  }, 30_000);

  it("moves a call written to a replica that already died (EPIPE) to another one", async () => {
    // The health scorer hears every call's outcome: how the test sees a write fail on the dead one.
    const health = healthScorer();
    const failures: string[] = [];
    const observe = health.observe.bind(health);
    health.observe = (id: string, observation: HealthObservation) => {
      if (observation.kind === "failure") failures.push(observation.reason);
      observe(id, observation);
    };
    manager = new McpServiceManager(
      { calc: { replicas: [replica(), replica()], strategy: "round-robin" } },
      { healthScorer: health },
    );
    await manager.start();
    for (let i = 0; i < 4; i++)
      await manager.callTool("calc__add", { a: i, b: 0 }, { signal: AbortSignal.timeout(5000) });
    const [victim] = executed().map((e) => e.pid);
    if (victim === undefined) throw new Error("no execution logged");
    const byVictim = executed().filter((e) => e.pid === victim).length;
    const victimStdin = socketInode(victim, 0);
    process.kill(victim, "SIGKILL");
    // Block the event loop until the kernel has released the victim's end of its stdin, so a write
    // to it fails while its exit is not processed yet: the replica still counts as up. That comes
    // a moment after the process is gone, later on a loaded machine; a fixed pause was a bet on it.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let waited = 0; waited < 10_000 && socketExists(victimStdin); waited++) Atomics.wait(pause, 0, 0, 1);
    expect(socketExists(victimStdin)).toBe(false);
    expect(manager.status()[0]?.replicas?.map((r) => r.state)).toEqual(["connected", "connected"]);
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        manager?.callTool("calc__add", { a: i, b: 10 }, { signal: AbortSignal.timeout(5000) }),
      ),
    );
    expect(results.map((r) => r?.content)).toEqual(
      [11, 12, 13, 14].map((n) => [{ type: "text", text: String(n) }]),
    );
    // The victim ran nothing more; the calls written to it failed on the write and moved on.
    expect(executed().filter((e) => e.pid === victim)).toHaveLength(byVictim);
    expect(executed().filter((e) => e.pid !== victim)).toHaveLength(8 - byVictim);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((reason) => /could not write to the service|stdin is closed/.test(reason))).toBe(
      true,
    );
    health.dispose();
  });

  it("rejects an empty replica list and an unknown strategy with clear errors", () => {
    expect(() => new McpServiceManager({ calc: { replicas: [] } })).toThrow(/empty replicas list/);
    expect(() => new McpServiceManager({ calc: { replicas: [replica()], strategy: "nope" } })).toThrow(
      /^mcpServers\.calc\.strategy: unknown strategy "nope" \(registered: round-robin/,
    );
  });
});
