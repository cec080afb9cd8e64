import "reflect-metadata";
import { inspect } from "node:util";
import {
  type Connection,
  type ConnectionFactory,
  ConnectionManager,
  type HealthScorer,
  type Logger,
  type ToolSource,
} from "@xiaozhi-connect/core";
import { MemoryNetwork } from "@xiaozhi-connect/core/testing";
import { xiaozhiConnectionFactory } from "@xiaozhi-connect/transport-ws";
import { container } from "tsyringe";
import { describe, expect, it } from "vitest";
import {
  ConnectionFactoryToken,
  HealthScorerToken,
  registerXiaozhi,
  ToolSourceToken,
  XiaozhiConnectionAdapter,
} from "../src/index.js";

const endpoint = "wss://cloud.test/mcp/?token=tok-secret-embedder";

/** An adapter on a memory network whose parts count their disposals; `toolsDispose` is the source's. */
function adapterWith(toolsDispose: () => void | Promise<void>) {
  const network = new MemoryNetwork();
  const disposed = { factory: 0, scorer: 0 };
  const errors: string[] = [];
  const factory = Object.assign(network.factory.bind(network) as ConnectionFactory<Connection>, {
    dispose: () => {
      disposed.factory++;
    },
  });
  const scorer: HealthScorer = {
    specificationVersion: "v1",
    observe: () => {},
    score: () => 100,
    isEjected: () => false,
    report: () => ({ score: 100, ejected: false, parts: {} }),
    remove: () => {},
    onEjectionChanged: () => () => {},
    dispose: () => {
      disposed.scorer++;
    },
  };
  const tools: ToolSource = {
    specificationVersion: "v1",
    listTools: () => [],
    callTool: async () => ({ content: [] }),
    onToolsChanged: () => () => {},
    dispose: toolsDispose,
  };
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (first: unknown, message?: string) => {
      errors.push(typeof first === "string" ? first : `${message} ${JSON.stringify(first)}`);
    },
  };
  const child = container.createChildContainer();
  child.register(ConnectionFactoryToken, { useValue: factory });
  child.register(HealthScorerToken, { useValue: scorer });
  child.register(ToolSourceToken, { useValue: tools });
  registerXiaozhi(child, { config: { mcpEndpoint: [endpoint] }, logger });
  const adapter = child.resolve(XiaozhiConnectionAdapter);
  let closed = 0;
  adapter.on("closed", () => closed++);
  return { adapter, network, disposed, errors, closed: () => closed };
}

describe("the adapter's cleanup", () => {
  it("disposes of the tool source once, as the ToolSource contract says", async () => {
    let calls = 0;
    const parts = adapterWith(() => {
      calls++;
      if (calls > 1) throw new Error("disposed twice");
    });
    await parts.adapter.start();
    expect(parts.network.openCount).toBe(1);
    await parts.adapter.cleanup();
    expect(calls).toBe(1);
    expect(parts.errors).toEqual([]);
    expect(parts.network.openCount).toBe(0);
    expect(parts.disposed).toEqual({ factory: 1, scorer: 1 });
    expect(parts.closed()).toBe(1);
  });

  it("still runs every later step when the tool source's dispose fails, and logs it without the token", async () => {
    const parts = adapterWith(async () => {
      throw new Error(`service behind ${endpoint} would not stop`);
    });
    await parts.adapter.start();
    await expect(parts.adapter.cleanup()).resolves.toBeUndefined();
    expect(parts.network.openCount).toBe(0);
    expect(parts.disposed).toEqual({ factory: 1, scorer: 1 });
    expect(parts.closed()).toBe(1);
    expect(parts.errors).toHaveLength(1);
    expect(parts.errors[0]).toContain("the tool source's dispose failed");
    expect(parts.errors[0]).not.toContain("tok-secret");
    // The promise kept for later calls is the settled one, not a rejection.
    await expect(parts.adapter.cleanup()).resolves.toBeUndefined();
  });

  it("still runs every later step when a dispose throws synchronously", async () => {
    const parts = adapterWith(() => {
      throw new TypeError("not today");
    });
    await parts.adapter.start();
    await parts.adapter.cleanup();
    expect(parts.disposed).toEqual({ factory: 1, scorer: 1 });
    expect(parts.closed()).toBe(1);
    expect(parts.errors).toEqual([expect.stringContaining("not today")]);
  });
});

describe("a WebSocket connection as printed", () => {
  it("shows the masked endpoint URL, never the token, and still dials the real one", async () => {
    const manager = new ConnectionManager({ connectionFactory: xiaozhiConnectionFactory() });
    await manager.initialize([endpoint]);
    const connection = manager.getConnections()[0];
    for (const printed of [inspect(connection, { depth: 8 }), JSON.stringify(connection)]) {
      expect(printed).toContain("wss://cloud.test/mcp/?token=<masked:");
      expect(printed).not.toContain("tok-secret");
    }
    expect(connection?.endpoint.url).toBe(endpoint);
    await manager.cleanup();
  });
});
