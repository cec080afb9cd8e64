import "reflect-metadata";
import { readFileSync, writeFileSync } from "node:fs";
import type {
  Connection,
  ConnectionFactory,
  HealthObservation,
  HealthReport,
  HealthScorer,
} from "@xiaozhi-connect/core";
import { MemoryNetwork } from "@xiaozhi-connect/core/testing";
import { container } from "tsyringe";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectionFactoryToken,
  HealthScorerToken,
  registerXiaozhi,
  XiaozhiConnectionAdapter,
} from "../src/index.js";
import { calcFixture, finish, Stack, token } from "./harness.js";

let stack: Stack | undefined;
const adapters: XiaozhiConnectionAdapter[] = [];
afterEach(async () => {
  await finish(stack);
  stack = undefined;
  for (const adapter of adapters.splice(0)) await adapter.cleanup();
});

const services = { calc: { command: process.execPath, args: [calcFixture] } };

describe("one path for applying config: validated first, all or nothing", () => {
  it("rejects a reload naming an unknown strategy whole: no endpoint added, lastError set, the running config kept", async () => {
    stack = await Stack.start({ mcpEndpoint: ["cloud:a"], mcpServers: services });
    const s = stack;
    const text = readFileSync(s.path, "utf8");
    s.writeConfig({
      mcpEndpoint: [s.url("a"), s.url("new")],
      mcpServers: services,
      connection: { loadBalanceStrategy: "no-such-strategy", maxReconnectAttempts: 3 },
    });
    await s.until(
      () => /no-such-strategy/.test(s.adapter.configStatus().lastError ?? ""),
      5000,
      "rejection noticed",
    );
    expect((await s.api("GET", "/api/status")).body.config.lastError).toMatch(/no-such-strategy/);
    expect(s.adapter.endpoints().map((e) => e.id)).toEqual([s.idOf("a")]);
    expect(s.cloud.upgrades.get(token("new"))).toBeUndefined();
    // Nothing else of the rejected file was applied either.
    expect(s.adapter.manager.settings.maxReconnectAttempts).toBe(Number.POSITIVE_INFINITY);
    expect(s.adapter.config.connection?.loadBalanceStrategy).toBeUndefined();

    // An API change on top of the rejected file is refused the same way, and writes nothing.
    const onDisk = readFileSync(s.path, "utf8");
    const added = await s.api("POST", "/api/endpoints", { url: s.url("api") });
    expect(added).toMatchObject({ status: 400, body: { error: { code: "UNKNOWN_STRATEGY" } } });
    expect(readFileSync(s.path, "utf8")).toBe(onDisk);

    // Writing back the very text that runs is a successful read: the error goes.
    writeFileSync(s.path, text);
    await s.until(() => s.adapter.configStatus().lastError === null, 5000, "error cleared");
    expect((await s.api("GET", "/api/status")).body.config.lastError).toBeNull();
    expect(s.adapter.endpoints().map((e) => e.id)).toEqual([s.idOf("a")]);
  });

  it("connects endpoints at once while a service never answers initialize; the service is down at its deadline", async () => {
    stack = await Stack.start(
      {
        mcpEndpoint: ["cloud:a", "cloud:b"],
        mcpServers: {
          calc: services.calc,
          silent: {
            command: process.execPath,
            args: ["-e", "setInterval(() => {}, 1e9)"],
            handshakeTimeout: 3000,
          },
        },
      },
      { waitForServices: false },
    );
    const s = stack;
    // start() resolved with both endpoints connected while the silent service was still starting.
    expect(s.adapter.endpoints().every((e) => e.state === "connected")).toBe(true);
    expect(s.adapter.services().find((x) => x.name === "silent")?.state).toBe("starting");
    await s.adapter.servicesStarted;
    // Down at its deadline; with full jitter its next attempt may already have begun.
    const silent = s.adapter.services().find((x) => x.name === "silent");
    expect(silent?.state).not.toBe("up");
    expect(silent?.restarts).toBeGreaterThanOrEqual(1);
    expect(silent?.lastError).toMatch(/within 3000 ms/);
    // The calc service's tools reach the agents when they appear.
    await s.until(() => s.adapter.services().find((x) => x.name === "calc")?.state === "up", 5000, "calc up");
    await s.untilHeld("a", (held) => held?.includes("calc__add") === true, 10_000);
    const listed = (await s.api("GET", "/api/services")).body.services;
    expect(listed.find((x: { name: string }) => x.name === "silent")).toMatchObject({
      lastError: expect.stringMatching(/within 3000 ms/),
    });
  });
});

describe("per-endpoint tool subsets", () => {
  it("serves an endpoint only the tools its entry names, through any connection factory", async () => {
    stack = await Stack.start({
      mcpEndpoint: ["cloud:all", { url: "cloud:one", tools: ["calc__add"] }],
      mcpServers: services,
    });
    const one = await stack.cloud.waitForSession(token("one"));
    await stack.untilHeld("all", (held) => held?.includes("calc__wait") === true);
    expect(await stack.untilHeld("one", (held) => held !== undefined)).toEqual(["calc__add"]);
    expect(await one.callTool("calc__wait", {})).toMatchObject({ isError: true });
  });
});

describe("seams by interface", () => {
  it("reconfigures a third party's factory and scorer on reload and disposes of them on cleanup", async () => {
    const network = new MemoryNetwork();
    const configured: Record<string, unknown>[] = [];
    const scored: Record<string, unknown>[] = [];
    let factoryDisposed = 0;
    let scorerDisposed = 0;
    const factory = Object.assign(network.factory.bind(network) as ConnectionFactory<Connection>, {
      configure: (settings: Readonly<Record<string, unknown>>) => configured.push({ ...settings }),
      dispose: () => {
        factoryDisposed++;
      },
    });
    const scorer: HealthScorer = {
      specificationVersion: "v1",
      observe: (_id: string, _observation: HealthObservation) => {},
      score: () => 100,
      isEjected: () => false,
      report: (): HealthReport => ({ score: 100, ejected: false, parts: {} }),
      remove: () => {},
      onEjectionChanged: () => () => {},
      configure: (settings) => scored.push({ ...settings }),
      dispose: () => {
        scorerDisposed++;
      },
    };
    const child = container.createChildContainer();
    child.register(ConnectionFactoryToken, { useValue: factory });
    child.register(HealthScorerToken, { useValue: scorer });
    registerXiaozhi(child, { config: { mcpEndpoint: ["wss://cloud.test/mcp/?token=one"] } });
    const adapter = child.resolve(XiaozhiConnectionAdapter);
    adapters.push(adapter);
    await adapter.start();
    expect(network.openCount).toBe(1);

    await adapter.applyConfig({
      mcpEndpoint: ["wss://cloud.test/mcp/?token=one"],
      connection: { heartbeatInterval: 1234, callTimeout: 5678 },
      health: { consecutiveFailures: 9 },
    });
    expect(configured.at(-1)).toMatchObject({ heartbeatInterval: 1234, callTimeout: 5678 });
    expect(scored.at(-1)).toMatchObject({ consecutiveFailures: 9 });

    await adapter.cleanup();
    expect(network.openCount).toBe(0);
    expect([factoryDisposed, scorerDisposed]).toEqual([1, 1]);
  });
});
