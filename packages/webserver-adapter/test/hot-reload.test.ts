import { writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { calcFixture, finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
afterEach(async () => {
  await finish(stack);
  stack = undefined;
});

const services = { calc: { command: process.execPath, args: [calcFixture] } };

describe("hot reload of xiaozhi.config.json", () => {
  it("applies an edit as a diff: added, removed and altered endpoints; unchanged sockets untouched", async () => {
    stack = await Stack.start({
      mcpEndpoint: ["cloud:keep", "cloud:drop", "cloud:alter"],
      mcpServers: services,
    });
    const s = stack;
    const kept = await s.cloud.waitForSession(token("keep"));
    const dropped = await s.cloud.waitForSession(token("drop"));
    const altered = await s.cloud.waitForSession(token("alter"));
    expect((await s.api("GET", "/api/status")).body.toolFilters).toBeUndefined();

    s.writeConfig({
      mcpEndpoint: [s.url("keep"), { url: s.url("alter"), services: ["calc"] }, s.url("new")],
      mcpServers: services,
    });
    await s.until(() => s.cloud.sessions(token("new")).length === 1, 5000, "new endpoint connected");
    expect(await dropped.closed).toMatchObject({ code: 1000 });
    // A changed tool subset needs a new link; the untouched endpoint keeps its socket.
    expect(await altered.closed).toMatchObject({ code: 1000 });
    await s.until(() => s.cloud.sessions(token("alter")).length === 1, 5000, "altered endpoint back");
    expect(kept.open).toBe(true);
    expect(s.cloud.sessions(token("keep"))).toEqual([kept]);
    expect(s.cloud.upgrades.get(token("keep"))).toBe(1);
    // Listed as the file lists them: the replaced endpoint keeps its place, the new one comes last.
    const order = [s.idOf("keep"), s.idOf("alter"), s.idOf("new")];
    expect(s.adapter.endpoints().map((e) => e.id)).toEqual(order);
    const listed = (await s.api("GET", "/api/endpoints")).body.endpoints;
    expect(listed.map((e: { id: string }) => e.id)).toEqual(order);
    const status = (await s.api("GET", "/api/status")).body;
    expect(status.config.lastError).toBeNull();
    // What limits each agent's tools, for the dashboard's count of what it is given.
    expect(status.toolFilters).toEqual({ [s.idOf("alter")]: { services: ["calc"] } });

    // Only re-ordered in the file: listed in the new order, and no socket is touched.
    s.writeConfig({
      mcpEndpoint: [s.url("new"), s.url("keep"), { url: s.url("alter"), services: ["calc"] }],
      mcpServers: services,
    });
    const reordered = [s.idOf("new"), s.idOf("keep"), s.idOf("alter")];
    await s.until(() => s.adapter.endpoints()[0]?.id === reordered[0], 5000, "new order applied");
    expect((await s.api("GET", "/api/endpoints")).body.endpoints.map((e: { id: string }) => e.id)).toEqual(
      reordered,
    );
    expect(s.cloud.upgrades.get(token("keep"))).toBe(1);
    expect(s.cloud.upgrades.get(token("new"))).toBe(1);
  });

  it("keeps the running config on invalid JSON or a schema error and shows why in /api/status", async () => {
    stack = await Stack.start({ mcpEndpoint: ["cloud:a", "cloud:b"], mcpServers: services });
    const s = stack;
    const sessions = [await s.cloud.waitForSession(token("a")), await s.cloud.waitForSession(token("b"))];

    writeFileSync(s.path, `{ "mcpEndpoint": ["${s.url("a")}", `);
    await s.until(() => s.adapter.configStatus().lastError !== null, 5000, "rejection noticed");
    let status = (await s.api("GET", "/api/status")).body;
    expect(status.config.lastError).toMatch(/not valid JSON \(it ends too early\)/);
    expect(status.endpoints).toEqual({ total: 2, connected: 2 });

    s.writeConfig({ mcpEndpoint: [s.url("a")], connection: { heartbeatInterval: "often" } });
    await s.until(
      () => /heartbeatInterval/.test(s.adapter.configStatus().lastError ?? ""),
      5000,
      "schema error noticed",
    );
    status = (await s.api("GET", "/api/status")).body;
    expect(status.config.lastError).toMatch(/connection\.heartbeatInterval: .*number/);
    expect(status.endpoints).toEqual({ total: 2, connected: 2 });
    expect(sessions.every((session) => session.open)).toBe(true);

    // A valid version applies and clears the error.
    s.writeConfig({ mcpEndpoint: [s.url("a")], mcpServers: services });
    await s.until(
      () => s.adapter.endpoints().length === 1 && s.adapter.configStatus().lastError === null,
      5000,
      "valid change applied and the error cleared",
    );
    expect(sessions[0]?.open).toBe(true);
    expect(s.logs.some((line) => line.includes("config change rejected"))).toBe(true);
  });

  it("says which blocks read only at the start changed, until the file has them as the server started", async () => {
    stack = await Stack.start({ mcpEndpoint: ["cloud:a"], webUI: { port: 9999 } });
    const s = stack;
    await s.cloud.waitForSession(token("a"));
    expect(s.adapter.configStatus()).not.toHaveProperty("restartNeeded");
    s.writeConfig({
      mcpEndpoint: [s.url("a")],
      webUI: { port: 9998 },
      strategies: { mine: "./my-strategy.mjs" },
    });
    await s.until(() => s.adapter.configStatus().restartNeeded !== undefined, 5000, "the change noticed");
    const status = (await s.api("GET", "/api/status")).body;
    expect(status.config.restartNeeded).toEqual(["strategies", "webUI"]);
    expect(status.config.lastError).toBeNull();
    expect(s.logs.filter((line) => /block changed: it applies when the server restarts/.test(line))).toEqual([
      expect.stringContaining("the strategies block changed"),
      expect.stringContaining("the webUI block changed"),
    ]);
    // Put back as it started: nothing waits for a restart.
    s.writeConfig({ mcpEndpoint: [s.url("a")], webUI: { port: 9999 } });
    await s.until(() => s.adapter.configStatus().restartNeeded === undefined, 5000, "the change undone");
  });

  it("keeps an edit made on disk when the API saves right after it, unknown fields included", async () => {
    stack = await Stack.start({ mcpEndpoint: ["cloud:a"], mcpServers: services });
    const s = stack;
    s.writeConfig({
      mcpEndpoint: [s.url("a"), s.url("edited")],
      mcpServers: { calc: { ...services.calc, note: "kept" } },
      customMCP: { tools: [] },
    });
    const added = await s.api("POST", "/api/endpoints", { url: s.url("api") });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const saved = s.readConfig();
    expect(saved.mcpEndpoint).toEqual([s.url("a"), s.url("edited"), s.url("api")]);
    expect(saved.mcpServers).toEqual({ calc: { ...services.calc, note: "kept" } });
    expect(saved.customMCP).toEqual({ tools: [] });
    await s.until(
      () => s.adapter.endpoints().filter((e) => e.connected).length === 3,
      5000,
      "all three connected",
    );
  });

  it.each([
    ["lists only at connect", false],
    ["re-lists", true],
  ])("applies timings, switches and services live (a cloud that %s)", async (_, relists) => {
    stack = await Stack.start({ mcpEndpoint: ["cloud:a"], mcpServers: services }, { relists });
    const s = stack;
    const session = await s.cloud.waitForSession(token("a"));
    s.writeConfig({
      mcpEndpoint: [s.url("a")],
      mcpServers: { ...services, math: services.calc },
      mcpServerConfig: { calc: { tools: { add: { enable: false } } } },
      connection: { reconnectInterval: 250, maxReconnectAttempts: 7, loadBalanceStrategy: "least-inflight" },
    });
    await s.until(
      () => s.adapter.services().every((x) => x.state === "up") && s.adapter.services().length === 2,
      5000,
      "service up",
    );
    expect(s.adapter.manager.settings).toMatchObject({
      maxReconnectAttempts: 7,
      backoff: expect.objectContaining({ initialDelay: 250 }),
    });
    expect(s.adapter.manager.strategy.name).toBe("least-inflight");
    const names = await s.untilHeld(
      "a",
      (held) => held?.includes("math__add") === true && !held.includes("calc__add"),
      8000,
    );
    expect(names).toContain("math__add");
    expect(session.toolsChanged).toBeGreaterThan(0);
    // The agent's own list changed: one republish where it cannot re-list, none where it can.
    expect(s.cloud.upgrades.get(token("a"))).toBe(relists ? 1 : 2);

    // Deleting the block puts every setting back to its default.
    s.writeConfig({ mcpEndpoint: [s.url("a")], mcpServers: { ...services, math: services.calc } });
    await s.until(
      () => s.adapter.manager.settings.maxReconnectAttempts === Number.POSITIVE_INFINITY,
      5000,
      "reverted",
    );
    expect(s.adapter.manager.settings.backoff.initialDelay).toBe(1000);
    expect(s.adapter.manager.strategy.name).toBe("round-robin");
    // calc__add is on again: the agent gets it, with one more republish where it cannot re-list.
    await s.untilHeld("a", (held) => held?.includes("calc__add") === true, 8000);
    expect(s.cloud.upgrades.get(token("a"))).toBe(relists ? 1 : 3);
  });
});
