import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilEvent } from "@xiaozhi-connect/core/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { McpServiceManager } from "../src/index.js";
import { killServiceProcesses } from "../src/internal.js";
import { alive, eventually } from "./processes.js";

// An SDK release in which the stdio transport keeps neither its reader nor its child where it did.
vi.mock("@xiaozhi-connect/sdk-bridge", async (original) => ({
  ...(await original<typeof import("@xiaozhi-connect/sdk-bridge")>()),
  childProcessOf: () => undefined,
  replaceReadBuffer: () => false,
}));

const fixture = join(import.meta.dirname, "fixtures", "calc-server.mjs");
let manager: McpServiceManager | undefined;
afterEach(async () => {
  await manager?.stop();
  manager = undefined;
});

describe("stdio services on the SDK's public paths only", () => {
  it("serves calls, bounds stdout lines, and still ends every child on a second signal", async () => {
    const executions = join(mkdtempSync(join(tmpdir(), "xz-fallback-")), "executions.log");
    writeFileSync(executions, "");
    manager = new McpServiceManager(
      {
        calc: { command: process.execPath, args: [fixture], env: { CALC_EXECUTIONS: executions } },
        flood: {
          command: process.execPath,
          args: ["-e", "process.stdout.write('x'.repeat(1 << 21)); setInterval(() => {}, 1e9)"],
          maxLineBytes: 1 << 20,
        },
      },
      // The top of the jitter range: no restart runs before the assertions.
      { backoff: { initialDelay: 60_000, maxDelay: 60_000 }, random: () => 0.999 },
    );
    await manager.start();
    expect(manager.status().map((s) => [s.name, s.state])).toEqual([
      ["calc", "up"],
      ["flood", "down"],
    ]);
    const result = await manager.callTool("calc__add", { a: 2, b: 3 }, { signal: AbortSignal.timeout(5000) });
    expect(result.content).toEqual([{ type: "text", text: "5" }]);

    const pid = Number(readFileSync(executions, "utf8").split(" ")[0]);
    const target = manager;
    const down = untilEvent(
      (wake) => target.onStatusChanged(wake),
      () => target.status()[0]?.state !== "up",
      10_000,
      "calc down",
    );
    // By pid, as the SDK's public `pid` names it.
    expect(killServiceProcesses()).toBe(1);
    await down;
    await eventually(() => (alive(pid) ? undefined : true), 5000, "calc's process ended");
    expect(killServiceProcesses()).toBe(0);
  });
});
