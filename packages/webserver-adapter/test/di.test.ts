import "reflect-metadata";
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import { type Connection, type ConnectionFactory, roundRobin, type Strategy } from "@xiaozhi-connect/core";
import { MemoryNetwork } from "@xiaozhi-connect/core/testing";
import { container, type InjectionToken } from "tsyringe";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ClusterCoordinator,
  ClusterToken,
  ConnectionFactoryToken,
  ConnectionManagerToken,
  registerXiaozhi,
  StrategyToken,
  XiaozhiConnectionAdapter,
  xiaozhiTokens,
} from "../src/index.js";
import { calcFixture } from "./harness.js";

const adapters: XiaozhiConnectionAdapter[] = [];
afterEach(async () => {
  for (const adapter of adapters.splice(0)) await adapter.cleanup();
});

/** A logger keeping [fields, message] of every call. */
function capture() {
  const lines: string[] = [];
  const log = (object: unknown, message?: string) => lines.push(JSON.stringify([object, message]));
  return { lines, logger: { debug: log, info: log, warn: log, error: log } };
}

function counting(): Strategy & { picks: number } {
  const inner = roundRobin();
  const strategy = {
    specificationVersion: "v1" as const,
    name: "counting",
    picks: 0,
    select: ((candidates, context) => {
      strategy.picks++;
      return inner.select(candidates, context);
    }) as Strategy["select"],
  };
  return strategy;
}

describe("registerXiaozhi", () => {
  it("registers every seam; each resolves in a child container", () => {
    const child = registerXiaozhi(container.createChildContainer());
    for (const token of xiaozhiTokens) {
      expect(() => child.resolve(token as InjectionToken<unknown>), String(token)).not.toThrow();
    }
    const adapter = child.resolve(XiaozhiConnectionAdapter);
    adapters.push(adapter);
    expect(child.resolve(XiaozhiConnectionAdapter)).toBe(adapter);
    expect(adapter.manager).toBe(child.resolve(ConnectionManagerToken));
  });

  it("builds cluster mode with the implementation given, and says what is missing without one", () => {
    const config = {
      mcpEndpoint: ["wss://api.xiaozhi.me/mcp/?token=abc", "<请填写你的接入点>"],
      cluster: { redis: "redis://127.0.0.1:6379" },
    };
    expect(() => registerXiaozhi(container.createChildContainer(), { config }).resolve(ClusterToken)).toThrow(
      /cluster mode needs @xiaozhi-connect\/cluster-redis/,
    );
    const seen: unknown[] = [];
    const coordinator = {} as ClusterCoordinator;
    const scope = registerXiaozhi(container.createChildContainer(), {
      config,
      cluster: (block, options) => {
        seen.push(block, options.seed, options.describe(options.seed));
        return coordinator;
      },
    });
    expect(scope.resolve(ClusterToken)).toBe(coordinator);
    expect(seen[0]).toEqual(config.cluster);
    expect(seen[1]).toEqual(config.mcpEndpoint);
    // The list as it shows while nobody runs it: valid entries only, masked.
    expect(seen[2]).toEqual([
      expect.objectContaining({
        id: expect.stringMatching(/^ep-/),
        url: expect.stringMatching(/token=<masked:/),
      }),
    ]);
  });

  it("lets a third party replace the strategy and the connection factory, before or after", async () => {
    const network = new MemoryNetwork();
    const strategy = counting();
    const before = container.createChildContainer();
    before.register(StrategyToken, { useValue: strategy });
    registerXiaozhi(before);
    before.register(ConnectionFactoryToken, {
      useValue: network.factory as unknown as ConnectionFactory<Connection>,
    });
    const adapter = before.resolve(XiaozhiConnectionAdapter);
    adapters.push(adapter);
    await adapter.initializeXiaozhiConnection([
      "wss://a.example/mcp/?token=t1",
      "wss://b.example/mcp/?token=t2",
    ]);
    expect(network.all).toHaveLength(2);
    expect(network.openCount).toBe(2);
    await adapter.manager.dispatch(async () => "ok");
    expect(strategy.picks).toBe(1);
    expect(adapter.manager.strategy).toBe(strategy);
  });

  it("builds the strategy named in config from the registry, where third parties add theirs", async () => {
    const child = container.createChildContainer();
    const registry = StrategyRegistry.withBuiltins().register("counting", counting);
    child.register(Symbol.for("xiaozhi-connect.StrategyRegistry"), { useValue: registry });
    const replica = { command: process.execPath, args: [calcFixture] };
    registerXiaozhi(child, {
      config: {
        connection: { loadBalanceStrategy: "counting" },
        mcpServers: { pair: { replicas: [replica, replica] } },
      },
    });
    const adapter = child.resolve(XiaozhiConnectionAdapter);
    adapters.push(adapter);
    await adapter.start();
    expect(adapter.manager.strategy.name).toBe("counting");
    // The replicas of a service in the first config, too: that is where the WebServer's calls pick.
    expect(adapter.services().map((s) => [s.name, s.strategy])).toEqual([["pair", "counting"]]);
  });
});

describe("initializeXiaozhiConnection keeps the semantics xiaozhi-client users know", () => {
  function setup() {
    const network = new MemoryNetwork();
    const { lines, logger } = capture();
    const child = registerXiaozhi(container.createChildContainer(), { logger });
    child.register(ConnectionFactoryToken, {
      useValue: network.factory as unknown as ConnectionFactory<Connection>,
    });
    const adapter = child.resolve(XiaozhiConnectionAdapter);
    adapters.push(adapter);
    return { network, lines, adapter };
  }

  it("accepts a single string", async () => {
    const { network, adapter } = setup();
    await adapter.initializeXiaozhiConnection("wss://api.xiaozhi.me/mcp/?token=single-secret");
    expect(network.openCount).toBe(1);
    expect(adapter.endpoints()[0]?.state).toBe("connected");
  });

  it("connects every valid endpoint and skips placeholders, empty and non-ws entries with masked warnings", async () => {
    const { network, lines, adapter } = setup();
    await adapter.initializeXiaozhiConnection([
      "<请填写你的接入点地址>",
      "",
      "https://api.xiaozhi.me/mcp/?token=http-secret",
      "wss://api.xiaozhi.me/mcp/?token=one-secret",
      "wss://api.xiaozhi.me/mcp/?token=two-secret",
    ]);
    expect(network.openCount).toBe(2);
    const warnings = lines.filter((l) => l.includes("skipping endpoint"));
    expect(warnings).toHaveLength(3);
    expect(warnings.join()).toMatch(/placeholder/);
    expect(warnings.join()).toMatch(/token=<masked:[0-9a-f]{6}>/);
    expect(lines.join()).not.toMatch(/-secret/);
  });

  it("warns and returns without throwing when no endpoint is valid", async () => {
    const { network, lines, adapter } = setup();
    await expect(adapter.initializeXiaozhiConnection(["<请填写...>"])).resolves.toBeUndefined();
    await expect(adapter.initializeXiaozhiConnection([])).resolves.toBeUndefined();
    expect(network.all).toHaveLength(0);
    expect(lines.filter((l) => l.includes("no valid Xiaozhi endpoint"))).toHaveLength(2);
  });

  it("serves a fixed tool list when one is given, calling through the tool source", async () => {
    const { adapter } = setup();
    const tools = [{ name: "only__this", inputSchema: { type: "object" as const } }];
    await adapter.initializeXiaozhiConnection("wss://api.xiaozhi.me/mcp/?token=x", tools);
    expect(await adapter.manager.tools.listTools()).toEqual(tools);
  });
});
