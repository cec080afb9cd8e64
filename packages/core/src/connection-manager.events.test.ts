import { describe, expect, it, vi } from "vitest";
import {
  ConnectionManager,
  type ConnectionManagerOptions,
  type ManagerEventMap,
} from "./connection-manager.js";
import { connected, id, setup, url, useFakeTimers } from "./connection-manager.test-helpers.js";
import { resolveEndpoint } from "./endpoint.js";
import type { Logger } from "./logger.js";
import { type MemoryConnection, MemoryNetwork } from "./testing/memory-connection.js";

useFakeTimers();

describe("status and events", () => {
  it("returns frozen snapshots, never live internals", async () => {
    const { network, manager } = setup();
    await connected(manager, [url(1)]);
    const before = manager.getConnectionStatus()[0];
    expect(Object.isFrozen(before)).toBe(true);
    expect(before).toMatchObject({
      connected: true,
      initialized: true,
      healthScore: 100,
      rttMs: 1,
      reconnectAttempts: 0,
    });
    network.connection(url(1))?.drop();
    expect(before?.connected).toBe(true);
    expect(manager.getConnectionStatus()[0]).toMatchObject({
      connected: false,
      healthScore: 0,
      rttMs: undefined,
    });
    await manager.cleanup();
  });

  it("never puts a token in an event, a status or a log line", async () => {
    const lines: string[] = [];
    const log = (o: unknown, m?: string) => lines.push(JSON.stringify([o, m]));
    const logger: Logger = { debug: log, info: log, warn: log, error: log };
    const { network, manager } = setup({ logger });
    const events: string[] = [];
    for (const name of [
      "added",
      "connecting",
      "connected",
      "disconnected",
      "reconnectScheduled",
      "failed",
      "connectFailed",
      "removed",
      "stateChanged",
    ] as const) {
      manager.on(name, (e) => events.push(JSON.stringify(e)));
    }
    network.behave(url(2), { connect: "reject-auth" });
    await connected(manager, [url(1), url(2)]);
    network.connection(url(1))?.drop(4004, `relay said token=secret-token-1 is bad`);
    await vi.advanceTimersByTimeAsync(1000);
    await manager.removeEndpoint(url(1));
    const everything = [...lines, ...events, JSON.stringify(manager.getConnectionStatus())].join("\n");
    expect(lines.length).toBeGreaterThan(3);
    expect(events.length).toBeGreaterThan(8);
    expect(everything).not.toMatch(/secret-token/);
    expect(everything).toContain("<masked:");
    await manager.cleanup();
  });
});

describe("names, round trips and answered requests", () => {
  it("carries an endpoint's name in status, events and logs; renaming never reconnects", async () => {
    vi.useRealTimers();
    const lines: Record<string, unknown>[] = [];
    const log = (object: Record<string, unknown> | string) => {
      if (typeof object !== "string") lines.push(object);
    };
    const logger: Logger = { debug: log, info: log, warn: log, error: log };
    const { network, manager } = setup({ logger });
    const seen: ManagerEventMap["handled"][] = [];
    const rtts: ManagerEventMap["rtt"][] = [];
    manager.on("handled", (event) => seen.push(event));
    manager.on("rtt", (event) => rtts.push(event));
    await manager.initialize([{ url: url(1), name: " kitchen " }, url(2)]);
    await manager.connect();
    expect(manager.getEndpointStatus(id(1))?.name).toBe("kitchen");
    expect(manager.getEndpointStatus(id(2))?.name).toBeUndefined();
    expect(lines).toContainEqual(expect.objectContaining({ name: "kitchen", id: id(1) }));

    const connection = network.connection(url(1)) as MemoryConnection;
    await connection.ping();
    connection.answered("tools/call", false, 12, "calc__add");
    connection.answered("tools/list");
    expect(rtts).toEqual([
      expect.objectContaining({ id: id(1), name: "kitchen", ms: expect.any(Number), healthScore: 100 }),
    ]);
    expect(seen).toEqual([
      expect.objectContaining({
        id: id(1),
        name: "kitchen",
        method: "tools/call",
        tool: "calc__add",
        ok: false,
        ms: 12,
      }),
      expect.objectContaining({ method: "tools/list", ok: true }),
    ]);
    expect(seen[1]).not.toHaveProperty("tool");

    const attempts: string[] = [];
    manager.on("connecting", (event) => attempts.push(event.id));
    const result = await manager.reconcile([{ url: url(1), name: "hall" }, url(2)]);
    expect(result.unchanged).toContain(id(1));
    expect(manager.getEndpointStatus(id(1))?.name).toBe("hall");
    expect(network.connection(url(1))).toBe(connection);
    expect(connection.state).toBe("connected");
    expect(attempts).toEqual([]);
    expect(() => resolveEndpoint({ url: url(3), name: 3 as unknown as string })).toThrow(
      /name must be a string/,
    );
    await manager.cleanup();
  });

  it("dates the last error, so a page can show how old it is", async () => {
    vi.useRealTimers();
    const { network, manager } = setup();
    await manager.initialize([url(1)]);
    await manager.connect();
    expect(manager.getEndpointStatus(id(1))?.lastErrorAt).toBeUndefined();
    const before = Date.now();
    (network.connection(url(1)) as MemoryConnection).drop(4004, "Internal server error");
    const status = manager.getEndpointStatus(id(1));
    expect(status?.lastError).toBe("closed 4004 Internal server error");
    expect(status?.lastErrorAt).toBeGreaterThanOrEqual(before);
    await manager.cleanup();
  });
});

describe("connections without observe()", () => {
  it("are watched through on(): drops, answers and cleanup work the same", async () => {
    vi.useRealTimers();
    const network = new MemoryNetwork();
    const connections: MemoryConnection[] = [];
    // A third-party connection that implements only the required `on`.
    const factory = ((endpoint, context) => {
      const connection = network.factory(endpoint, context);
      connections.push(connection);
      return new Proxy(connection, {
        get(target, key) {
          if (key === "observe") return undefined;
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    }) as ConnectionManagerOptions<MemoryConnection>["connectionFactory"];
    const manager = new ConnectionManager<MemoryConnection>({
      connectionFactory: factory,
      random: () => 0.5,
      backoff: { initialDelay: 1, maxDelay: 1 },
    });
    const seen: ManagerEventMap["handled"][] = [];
    manager.on("handled", (event) => seen.push(event));
    await manager.initialize([url(1)]);
    await manager.connect();
    const connection = connections[0] as MemoryConnection;
    expect(connection.listenerCount()).toBe(7);
    connection.answered("tools/list");
    expect(seen).toEqual([expect.objectContaining({ id: id(1), method: "tools/list", ok: true })]);
    const reconnected = new Promise((resolve) => manager.on("connected", resolve));
    connection.drop(4004, "Internal server error");
    await reconnected;
    expect(manager.getEndpointStatus(id(1))?.connected).toBe(true);
    await manager.cleanup();
    expect(connection.listenerCount()).toBe(0);
  });
});
