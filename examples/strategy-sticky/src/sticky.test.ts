import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import { ConnectionManager } from "@xiaozhi-connect/core";
import { MemoryNetwork } from "@xiaozhi-connect/core/testing";
import { describe, expect, it } from "vitest";
import { sticky } from "./index.js";

const urls = Array.from({ length: 5 }, (_, i) => `wss://sticky.test/mcp/?token=${i}`);

async function managerWith(strategyName: string) {
  const registry = StrategyRegistry.withBuiltins().register("sticky", sticky);
  const network = new MemoryNetwork();
  const manager = new ConnectionManager({
    connectionFactory: network.factory,
    strategy: registry.create(strategyName),
  });
  await manager.initialize(urls);
  await manager.connect();
  return { manager, network };
}

describe("sticky strategy (third-party example)", () => {
  it("registers by name and keeps each key on one endpoint", async () => {
    const { manager } = await managerWith("sticky");
    expect(manager.strategy.name).toBe("sticky");
    const first = new Map<string, string>();
    for (const key of ["agent-1", "agent-2", "agent-3", "agent-4"]) {
      first.set(key, await manager.dispatch(async (c) => c.id, { key }));
      for (let i = 0; i < 5; i++)
        expect(await manager.dispatch(async (c) => c.id, { key })).toBe(first.get(key));
    }
    await manager.cleanup();
  });

  it("moves only the keys of an endpoint that goes away", async () => {
    const { manager, network } = await managerWith("sticky");
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    const before = new Map<string, string>();
    for (const key of keys) before.set(key, await manager.dispatch(async (c) => c.id, { key }));
    const gone = before.get("k0") as string;
    network.connection(urls.find((u) => manager.getEndpointStatus(u)?.id === gone) as string)?.drop();
    for (const key of keys) {
      const now = await manager.dispatch(async (c) => c.id, { key });
      if (before.get(key) === gone) expect(now).not.toBe(gone);
      else expect(now).toBe(before.get(key));
    }
    await manager.cleanup();
  });

  it("spreads unkeyed operations round-robin", async () => {
    const { manager } = await managerWith("sticky");
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) seen.add(await manager.dispatch(async (c) => c.id));
    expect(seen.size).toBe(5);
    await manager.cleanup();
  });
});
