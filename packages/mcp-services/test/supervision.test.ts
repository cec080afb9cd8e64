import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "@xiaozhi-connect/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { McpServiceManager, type ServiceConfig } from "../src/index.js";
import { killServiceProcesses } from "../src/internal.js";
import { alive, childrenRunning, eventually } from "./processes.js";

const fixture = join(import.meta.dirname, "fixtures", "calc-server.mjs");
const node = (script: string): ServiceConfig => ({ command: process.execPath, args: ["-e", script] });
/** Real timers, kept before any test fakes them, for bounded waits on real I/O. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

let manager: McpServiceManager | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await manager?.stop();
  manager = undefined;
});

interface Line {
  readonly level: string;
  readonly object: Record<string, unknown>;
  readonly message: string;
}

/** A logger that keeps every line and wakes waiters on each. */
function recorder() {
  const lines: Line[] = [];
  const waiters = new Set<() => void>();
  const log =
    (level: string) =>
    (object: Record<string, unknown> | string, message?: string): void => {
      lines.push(
        typeof object === "string"
          ? { level, object: {}, message: object }
          : { level, object, message: message ?? "" },
      );
      for (const wake of waiters) wake();
    };
  const logger: Logger = { debug: () => {}, info: log("info"), warn: log("warn"), error: log("error") };
  /** Resolves once `predicate` holds, re-checked on every line; rejects after `ms` of real time. */
  const until = (predicate: () => boolean, ms: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        realClearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = realSetTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${what}: not within ${ms} ms`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { lines, logger, until };
}

async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("every service under one supervisor", () => {
  it("retries a missing command and a refused SSE service on the backoff: one line and one timer per failure, over 5 minutes", async () => {
    const port = await refusedPort();
    const log = recorder();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    manager = new McpServiceManager(
      {
        typo: { command: "nodee-xiaozhi-does-not-exist" },
        remote: { type: "sse", url: `http://127.0.0.1:${port}/sse` },
      },
      { logger: log.logger },
    );
    const failures = (service: string) =>
      log.lines.filter((l) => l.object.service === service && l.message === "service connect failed");
    await manager.start();
    expect(failures("typo")).toHaveLength(1);
    expect(failures("remote")).toHaveLength(1);

    const started = Date.now();
    for (let step = 0; step < 400 && Date.now() - started < 5 * 60_000; step++) {
      const before = failures("typo").length + failures("remote").length;
      await vi.advanceTimersToNextTimerAsync();
      // A restart timer starts an attempt at once; it fails through real I/O, with one line.
      const attempts = manager.status().filter((s) => s.state === "starting").length;
      await log.until(
        () => failures("typo").length + failures("remote").length >= before + attempts,
        5000,
        "the attempts under way to fail",
      );
    }
    const typo = failures("typo");
    const remote = failures("remote");
    // Full-jitter backoff from 1 s up to 60 s: a handful of attempts a minute, not hundreds.
    for (const list of [typo, remote]) {
      expect(list.length).toBeGreaterThanOrEqual(6);
      expect(list.length).toBeLessThanOrEqual(60);
    }
    expect(String(typo[0]?.object.reason)).toMatch(/spawn nodee-xiaozhi-does-not-exist ENOENT/);
    expect(String(remote[0]?.object.reason)).toMatch(new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    // One failure, one line: nothing else logs it a second time.
    const lines = log.lines.filter((l) => l.level !== "info");
    expect(lines.filter((l) => l.object.service === "typo")).toHaveLength(typo.length);
    const status = manager.status();
    // Each failure scheduled exactly one restart.
    expect(status.find((s) => s.name === "typo")).toMatchObject({ state: "down", restarts: typo.length });
    expect(status.find((s) => s.name === "remote")).toMatchObject({ state: "down", restarts: remote.length });
    expect(status.find((s) => s.name === "typo")?.lastError).toMatch(/ENOENT/);
    expect(status.find((s) => s.name === "remote")?.lastError).toMatch(/ECONNREFUSED/);
  });

  it("is starting from the moment it starts, not down until its process is there", async () => {
    manager = new McpServiceManager({ calc: { command: process.execPath, args: [fixture] } });
    const started = manager.start();
    expect(manager.status().map((s) => s.state)).toEqual(["starting"]);
    await started;
    expect(manager.status().map((s) => s.state)).toEqual(["up"]);
  });

  it("ends a service that never answers initialize at its handshake deadline, with no process left", async () => {
    const log = recorder();
    manager = new McpServiceManager(
      {
        silent: { ...node("setInterval(() => {}, 1e9) // never-initializes"), handshakeTimeout: 300 },
        calc: { command: process.execPath, args: [fixture] },
      },
      // The top of the jitter range: the next attempt is a minute away, well after the assertions.
      { logger: log.logger, backoff: { initialDelay: 60_000, maxDelay: 60_000 }, random: () => 0.999 },
    );
    await manager.start();
    const silent = manager.status().find((s) => s.name === "silent");
    expect(silent?.state).toBe("down");
    expect(silent?.lastError ?? "").toMatch(/within 300 ms/);
    expect(manager.status().find((s) => s.name === "calc")?.state).toBe("up");
    await eventually(
      () => (childrenRunning("never-initializes").length === 0 ? true : undefined),
      5000,
      "the silent service's process ended",
    );
  });

  it("holds a call that comes while its service is in its first start, rather than call the tool unknown", async () => {
    // The calc service, half a second late to start.
    const late = `setTimeout(() => import(${JSON.stringify(pathToFileURL(fixture).href)}), 500)`;
    manager = new McpServiceManager({ calc: node(late) });
    const started = manager.start();
    const result = await manager.callTool(
      "calc__add",
      { a: 2, b: 3 },
      { signal: AbortSignal.timeout(20_000) },
    );
    expect(result.content).toEqual([{ type: "text", text: "5" }]);
    await started;
    // A tool no service has is still unknown, once they have started.
    await expect(manager.callTool("calc__nope", {}, { signal: AbortSignal.timeout(20_000) })).rejects.toThrow(
      /unknown or disabled tool: calc__nope/,
    );
  });

  it("says a later start ran out of time, not why an earlier one failed", async () => {
    const mark = join(mkdtempSync(join(tmpdir(), "xz-hang-")), "started");
    // Its first start fails at once; every later one hangs before initialize.
    const script = `const fs = require("fs"); if (!fs.existsSync(${JSON.stringify(mark)})) { fs.writeFileSync(${JSON.stringify(mark)}, ""); console.error("first start: no config"); process.exit(3); } setInterval(() => {}, 1e9); // hangs-later`;
    manager = new McpServiceManager(
      { late: { ...node(script), handshakeTimeout: 300 } },
      { backoff: { initialDelay: 50, maxDelay: 50 }, random: () => 0.5 },
    );
    await manager.start();
    expect(manager.status()[0]?.lastError ?? "").toMatch(/no config/);
    // A loaded machine can take longer than 300 ms to run even the first start, which then fails
    // with both reasons; a later start's reason must name the hang alone.
    const later = (error: string) => /within 300 ms/.test(error) && !/no config/.test(error);
    await eventually(
      () => (later(manager?.status()[0]?.lastError ?? "") ? true : undefined),
      10_000,
      "a later start's reason, without the first start's",
    );
    expect(manager.status()[0]?.lastError).toMatch(/^not connected within 300 ms/);
  });

  it("ends a service that writes an endless line, with a clear reason", async () => {
    const log = recorder();
    manager = new McpServiceManager(
      {
        flood: {
          ...node(
            "const line = 'x'.repeat(1 << 20); for (let i = 0; i < 50; i++) process.stdout.write(line); setInterval(() => {}, 1e9)",
          ),
          maxLineBytes: 1 << 20,
        },
      },
      // The top of the jitter range: the next attempt is a minute away, well after the assertions.
      { logger: log.logger, backoff: { initialDelay: 60_000, maxDelay: 60_000 }, random: () => 0.999 },
    );
    await manager.start();
    const flood = manager.status()[0];
    expect(flood?.state).toBe("down");
    expect(flood?.lastError).toMatch(/a line longer than 1048576 bytes/);
  });

  it("says why a service died: its exit and the tail of its stderr, tokens redacted", async () => {
    const log = recorder();
    manager = new McpServiceManager(
      { broken: node("console.error('weather: bad key token=abcdef123456 rejected'); process.exit(3)") },
      // The top of the jitter range: the next attempt is a minute away, well after the assertions.
      { logger: log.logger, backoff: { initialDelay: 60_000, maxDelay: 60_000 }, random: () => 0.999 },
    );
    await manager.start();
    const broken = manager.status()[0];
    expect(broken?.lastError).toMatch(/exited with code 3/);
    expect(broken?.lastError).toMatch(/stderr: weather: bad key token=<masked:[0-9a-f]{6}> rejected/);
    expect(JSON.stringify(log.lines)).not.toContain("abcdef123456");
  });

  it("says what a crashed Node service said, above its stack and details", async () => {
    const missing = "./services/no-such-service.js";
    manager = new McpServiceManager(
      { gone: { command: process.execPath, args: [missing] } },
      { backoff: { initialDelay: 60_000, maxDelay: 60_000 }, random: () => 0.999 },
    );
    await manager.start();
    const gone = manager.status()[0];
    // Node prints the message, then the stack, then `code: 'MODULE_NOT_FOUND'` and its version.
    expect(gone?.lastError).toMatch(/stderr: Error: Cannot find module '.*no-such-service\.js'/);
    expect(gone?.lastError).toMatch(/Node\.js v\d+/);
  });

  it("leaves no process behind when stopped during a handshake, or killed at once", async () => {
    manager = new McpServiceManager({
      slow: { ...node("setInterval(() => {}, 1e9) // slow-one"), handshakeTimeout: 60_000 },
    });
    const starting = manager.start();
    const first = await eventually(() => childrenRunning("slow-one")[0], 5000, "the service started");
    await manager.stop();
    await starting;
    expect(alive(first)).toBe(false);

    manager = new McpServiceManager({
      slow: { ...node("setInterval(() => {}, 1e9) // slow-two"), handshakeTimeout: 60_000 },
    });
    void manager.start();
    const second = await eventually(() => childrenRunning("slow-two")[0], 5000, "the service started");
    // What a second signal does: no graceful stop, but no child outlives the process either.
    expect(killServiceProcesses()).toBe(1);
    await eventually(() => (alive(second) ? undefined : true), 5000, "the child killed");
  });
});
