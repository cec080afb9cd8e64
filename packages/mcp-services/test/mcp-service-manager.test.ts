import { getEventListeners } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilEvent } from "@xiaozhi-connect/core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { McpServiceManager, type ServiceConfig, transportKind } from "../src/index.js";
import { alive, childrenRunning, eventually, untilFile } from "./processes.js";

const fixture = join(import.meta.dirname, "fixtures", "calc-server.mjs");
let executions: string;
let manager: McpServiceManager | undefined;

beforeEach(() => {
  executions = join(mkdtempSync(join(tmpdir(), "xz-services-")), "executions.log");
  writeFileSync(executions, "");
});
afterEach(async () => {
  await manager?.stop();
  manager = undefined;
});

const calc = (): ServiceConfig => ({
  command: process.execPath,
  args: [fixture],
  env: { CALC_EXECUTIONS: executions },
});
const ran = () =>
  readFileSync(executions, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ")[1]);
const pids = () =>
  new Set(
    readFileSync(executions, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ")[0]),
  );
const signal = () => new AbortController().signal;
/** Resolves once `predicate` holds, re-checked at each status change of `target`'s services. */
const untilStatus = (target: McpServiceManager, predicate: () => boolean, what: string, ms = 10_000) =>
  untilEvent((wake) => target.onStatusChanged(wake), predicate, ms, what);
/** Resolves once the services logged an execution of `tool`. */
const untilRan = (tool: string) =>
  untilFile(
    executions,
    (text) => text.split("\n").some((l) => l.split(" ")[1] === tool),
    5000,
    `${tool} ran`,
  );
/** The pid behind each logged execution, in order. */
const executedBy = () =>
  readFileSync(executions, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ")[0]);

describe("transport inference", () => {
  it("infers like xiaozhi-client for entries without type", () => {
    expect(transportKind({ command: "node" })).toBe("stdio");
    expect(transportKind({ url: "http://127.0.0.1:1/sse" })).toBe("sse");
    expect(transportKind({ url: "http://127.0.0.1:1/mcp" })).toBe("streamable-http");
    expect(transportKind({ type: "http", url: "http://127.0.0.1:1/sse" })).toBe("streamable-http");
    expect(transportKind({ type: "sse", url: "http://127.0.0.1:1/events" })).toBe("sse");
  });
});

describe("McpServiceManager with real stdio services", () => {
  it("aggregates tools as <service>__<tool> and calls them", async () => {
    manager = new McpServiceManager({ calc: calc(), math: calc() });
    await manager.start();
    const names = manager.listTools().map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["calc__add", "math__add", "calc__wait", "math__grow"]));
    expect(await manager.callTool("math__add", { a: 2, b: 3 }, { signal: signal() })).toMatchObject({
      content: [{ type: "text", text: "5" }],
    });
    expect(manager.status().map((s) => s.state)).toEqual(["up", "up"]);
  });

  it("calls sharing one signal leave no listeners on it, and it still cancels them", async () => {
    manager = new McpServiceManager({ calc: calc() });
    await manager.start();
    const shared = new AbortController();
    for (let i = 0; i < 20; i++) {
      expect(await manager.callTool("calc__add", { a: i, b: 1 }, { signal: shared.signal })).toMatchObject({
        content: [{ type: "text", text: String(i + 1) }],
      });
    }
    // At most the first call's stays: the SDK never removes the listener it adds to a request's signal.
    expect(getEventListeners(shared.signal, "abort").length).toBeLessThanOrEqual(1);
    const waiting = manager.callTool("calc__wait", {}, { signal: shared.signal });
    shared.abort(new Error("gave up"));
    await expect(waiting).rejects.toThrow("gave up");
  });

  it("neither lists nor runs a disabled tool", async () => {
    manager = new McpServiceManager(
      { calc: calc() },
      { toolSwitches: { calc: { tools: { secret: { enable: false } } } } },
    );
    await manager.start();
    expect(manager.listTools().map((t) => t.name)).not.toContain("calc__secret");
    expect(manager.allTools().find((t) => t.name === "calc__secret")).toMatchObject({
      enabled: false,
      service: "calc",
    });
    await expect(manager.callTool("calc__secret", {}, { signal: signal() })).rejects.toMatchObject({
      code: "UNKNOWN_TOOL",
    });
    expect(ran()).not.toContain("secret");
    let changes = 0;
    manager.onToolsChanged(() => changes++);
    manager.setToolSwitches(undefined);
    expect(changes).toBe(1);
    expect(manager.listTools().map((t) => t.name)).toContain("calc__secret");
  });

  it("serves a service's tool under a customMCP entry's own name, description and schema", async () => {
    const services = { calc: calc() };
    manager = new McpServiceManager(services, {
      toolSwitches: { calc: { tools: { add: { enable: false } } } },
    });
    const mcp = (name: string, toolName: string, extra: object = {}) => ({
      name,
      description: `${name} numbers`,
      inputSchema: { type: "object", properties: { a: { type: "number" } } },
      handler: { type: "mcp", config: { serviceName: "calc", toolName } },
      ...extra,
    });
    manager
      .prepare(services, undefined, {
        tools: [mcp("sum", "add"), mcp("calc__secret", "secret"), mcp("off", "add", { enable: false })],
      })
      .commit();
    // Before the service is up the entries wait for it, saying so.
    expect(manager.allTools().find((t) => t.name === "sum")?.unavailable).toMatch(/^service "calc" is /);
    await manager.start();
    const listed = manager.listTools();
    // The original is switched off; the renamed tool is not, and an entry named as a service's
    // tool takes that name's place.
    expect(listed.map((t) => t.name)).not.toContain("calc__add");
    expect(listed.filter((t) => t.name === "calc__secret")).toHaveLength(1);
    expect(listed.find((t) => t.name === "sum")).toMatchObject({
      description: "sum numbers",
      inputSchema: { properties: { a: { type: "number" } } },
    });
    expect(manager.allTools().find((t) => t.name === "sum")).toMatchObject({
      service: "customMCP",
      enabled: true,
      target: "calc__add",
    });
    expect(manager.allTools().find((t) => t.name === "off")).toMatchObject({ enabled: false });
    expect(listed.map((t) => t.name)).not.toContain("off");
    expect(await manager.callTool("sum", { a: 2, b: 3 }, { signal: signal() })).toMatchObject({
      content: [{ type: "text", text: "5" }],
    });
    await untilRan("add");
    await expect(manager.callTool("off", { a: 1, b: 1 }, { signal: signal() })).rejects.toMatchObject({
      code: "UNKNOWN_TOOL",
    });
  });

  it("follows a service's tools/list_changed without any reconnect", async () => {
    manager = new McpServiceManager({ calc: calc() });
    await manager.start();
    const target = manager;
    let changes = 0;
    target.onToolsChanged(() => changes++);
    await target.callTool("calc__grow", {}, { signal: signal() });
    await untilEvent(
      (wake) => target.onToolsChanged(wake),
      () => target.listTools().some((t) => t.name === "calc__mul"),
      5000,
      "calc__mul listed",
    );
    expect(changes).toBeGreaterThanOrEqual(1);
    expect(await target.callTool("calc__mul", { a: 6, b: 7 }, { signal: signal() })).toMatchObject({
      content: [{ text: "42" }],
    });
    await target.callTool("calc__add", { a: 1, b: 1 }, { signal: signal() });
    // The same process before and after the change, never restarted.
    expect(pids().size).toBe(1);
    expect(target.status()[0]).toMatchObject({ state: "up", restarts: 0 });
  });

  /** Crashes `calc` and returns what was offered, and what a call got, the moment it was down. */
  async function crashCalc(target: McpServiceManager) {
    // The down window can be shorter than any poll on a busy machine: look at each change as it happens.
    const whileDown: { tools: string[]; call: Promise<unknown> }[] = [];
    const stop = target.onStatusChanged(() => {
      if (target.status()[0]?.state !== "down" || whileDown.length > 0) return;
      whileDown.push({
        tools: target.listTools().map((t) => t.name),
        call: target.callTool("calc__add", { a: 1, b: 1 }, { signal: signal() }).catch((error) => error),
      });
    });
    await target.callTool("calc__crash", {}, { signal: signal() });
    await untilStatus(target, () => whileDown.length > 0, "crash noticed", 5000);
    stop();
    return whileDown[0] as { tools: string[]; call: Promise<unknown> };
  }

  it("keeps a crashed service's tools listed while it restarts, says why calls fail, and restarts it", async () => {
    manager = new McpServiceManager(
      { calc: calc(), other: calc() },
      { backoff: { initialDelay: 200, maxDelay: 400 } },
    );
    await manager.start();
    let changes = 0;
    manager.onToolsChanged(() => changes++);
    const down = await crashCalc(manager);
    // Agents that list only at connect keep their list: a crash and restart is no change to publish.
    expect(down.tools.some((name) => name.startsWith("calc__"))).toBe(true);
    expect(await down.call).toMatchObject({ code: "NOT_CONNECTED" });
    expect(String(await down.call)).toMatch(/service calc is restarting: .*exited with code 1/);
    // What it printed stays here, in its status: the agent is told it is down, not what it wrote.
    expect(String(await down.call)).not.toContain("/home/someone");
    expect(manager.status()[0]?.lastError).toContain(
      "stderr: calc: crashing, see /home/someone/private/calc.log",
    );
    const restarting = manager;
    await untilStatus(restarting, () => restarting.status()[0]?.state === "up", "restarted");
    expect(await manager.callTool("calc__add", { a: 1, b: 1 }, { signal: signal() })).toMatchObject({
      content: [{ text: "2" }],
    });
    expect(changes).toBe(0);
    expect(pids().size).toBeGreaterThanOrEqual(2);
  });

  it("drops a crashed service's tools at once with toolsHold 0", async () => {
    manager = new McpServiceManager(
      { calc: calc(), other: calc() },
      { backoff: { initialDelay: 200, maxDelay: 400 }, toolsHold: 0 },
    );
    await manager.start();
    const seen: number[] = [];
    manager.onToolsChanged(() =>
      seen.push(manager?.listTools().filter((t) => t.name.startsWith("calc__")).length ?? -1),
    );
    const down = await crashCalc(manager);
    expect(down.tools.some((name) => name.startsWith("calc__"))).toBe(false);
    expect(down.tools.some((name) => name.startsWith("other__"))).toBe(true);
    expect(await down.call).toMatchObject({ code: "UNKNOWN_TOOL" });
    const restarting = manager;
    await untilStatus(restarting, () => restarting.status()[0]?.state === "up", "restarted");
    expect(seen[0]).toBe(0);
    expect(seen.at(-1)).toBeGreaterThan(0);
  });

  it("drops a crashed service's tools once it has been down for longer than toolsHold", async () => {
    manager = new McpServiceManager(
      { calc: calc(), other: calc() },
      { backoff: { initialDelay: 10_000, maxDelay: 10_000 }, random: () => 0.99, toolsHold: 200 },
    );
    await manager.start();
    const target = manager;
    const dropped = new Promise<string[]>((resolve) => {
      const stop = target.onToolsChanged(() => {
        stop();
        resolve(target.listTools().map((t) => t.name));
      });
    });
    const held = await crashCalc(manager);
    expect(held.tools.some((name) => name.startsWith("calc__"))).toBe(true);
    const after = await dropped;
    expect(after.some((name) => name.startsWith("calc__"))).toBe(false);
    expect(after.some((name) => name.startsWith("other__"))).toBe(true);
    expect(manager.status()[0]?.state).toBe("down");
  });

  it("says while a service is in its first start, so a first tools/list can wait for it", async () => {
    manager = new McpServiceManager({
      calc: calc(),
      slow: { ...calc(), env: { CALC_EXECUTIONS: executions, CALC_START_DELAY: "400" } },
    });
    expect(manager.ready()).toBeUndefined();
    const started = manager.start();
    const pending = manager.ready();
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(manager.listTools().some((t) => t.name === "slow__add")).toBe(true);
    expect(manager.ready()).toBeUndefined();
    await started;
    // The same array until something changes, so a thousand links cost one comparison.
    expect(manager.listTools()).toBe(manager.listTools());
  });

  it("passes cancellation through to the service", async () => {
    manager = new McpServiceManager({ calc: calc() });
    await manager.start();
    const controller = new AbortController();
    const call = manager.callTool("calc__wait", {}, { signal: controller.signal });
    await untilRan("wait");
    controller.abort(new Error("agent cancelled"));
    await expect(call).rejects.toThrow(/agent cancelled/);
    // The service heard of it: its tool's signal aborted, in the same process.
    await untilRan("wait-aborted");
    expect(ran()).toEqual(["wait", "wait-aborted"]);
    expect(pids().size).toBe(1);
  });

  it("keeps starting when one service cannot start, and stops every child", async () => {
    manager = new McpServiceManager(
      { broken: { command: process.execPath, args: ["-e", "process.exit(3)"] }, calc: calc() },
      // The broken one's restart is drawn at the top of the range, a minute away: however long the
      // other service takes to start on a busy machine, the restart cannot run (and fail again)
      // before the assertions read one failure and one restart scheduled.
      { backoff: { initialDelay: 60_000, maxDelay: 60_000 }, random: () => 0.999 },
    );
    await manager.start();
    const [broken, good] = manager.status();
    expect(broken).toMatchObject({
      name: "broken",
      state: "down",
      restarts: 1,
      lastError: expect.stringMatching(/exited with code 3/),
    });
    expect(good).toMatchObject({ name: "calc", state: "up" });
    await manager.callTool("calc__add", { a: 0, b: 0 }, { signal: signal() });
    const [pid] = [...pids()].map(Number);
    expect(childrenRunning(fixture)).toEqual([pid]);
    await manager.stop();
    expect(manager.status().map((s) => s.state)).toEqual(["stopped", "stopped"]);
    // No event tells a test that a process it did not spawn has ended: look at the process table.
    await eventually(() => (alive(Number(pid)) ? undefined : true), 5000, "the service's process ended");
    expect(childrenRunning(fixture)).toEqual([]);
  });

  it("applies a new mcpServers map as a diff, leaving unchanged services running", async () => {
    manager = new McpServiceManager({ keep: calc(), alter: calc(), drop: calc() });
    await manager.start();
    for (const name of ["keep", "alter", "drop"]) {
      await manager.callTool(`${name}__add`, { a: 1, b: 1 }, { signal: signal() });
    }
    const before = executedBy();
    let changes = 0;
    manager.onToolsChanged(() => changes++);

    const diff = await manager.reconcile({
      keep: calc(),
      alter: { ...calc(), args: [fixture, "--changed"] },
      fresh: calc(),
    });
    expect(diff).toEqual({ added: ["fresh"], removed: ["drop"], changed: ["alter"], unchanged: ["keep"] });
    expect(changes).toBeGreaterThan(0);
    expect(manager.status().map((s) => [s.name, s.state])).toEqual([
      ["keep", "up"],
      ["alter", "up"],
      ["fresh", "up"],
    ]);
    expect(manager.listTools().some((t) => t.name.startsWith("drop__"))).toBe(false);
    for (const name of ["keep", "alter", "fresh"]) {
      await manager.callTool(`${name}__add`, { a: 1, b: 1 }, { signal: signal() });
    }
    const after = executedBy();
    // The unchanged service is the same process; the altered one is a new process.
    expect(after.at(-3)).toBe(before[0]);
    expect(after.at(-2)).not.toBe(before[1]);
  });
});
