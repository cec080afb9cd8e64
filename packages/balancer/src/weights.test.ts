import { ConnectionManager } from "@xiaozhi-connect/core";
import { type MemoryConnection, MemoryNetwork, seededRandom } from "@xiaozhi-connect/core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { random } from "./strategies.js";

let manager: ConnectionManager<MemoryConnection> | undefined;
afterEach(async () => {
  await manager?.cleanup();
  manager = undefined;
});

const a = "wss://cloud.test/mcp/?token=a";
const b = "wss://cloud.test/mcp/?token=b";

/** Dispatches `n` operations and counts which endpoint each went to. */
async function split(m: ConnectionManager<MemoryConnection>, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const url = await m.dispatch(async (connection) => connection.endpoint.url ?? connection.id);
    counts[url] = (counts[url] ?? 0) + 1;
  }
  return counts;
}

describe("weights through core's manager", () => {
  it("applies a weight-only reconcile to the very next picks: 1:1, then 9:1 within ±3%", async () => {
    const network = new MemoryNetwork();
    manager = new ConnectionManager<MemoryConnection>({
      connectionFactory: network.factory,
      strategy: random(),
      random: seededRandom(7),
    });
    await manager.initialize([a, b]);
    await manager.connect();
    const even = await split(manager, 10_000);
    expect((even[a] ?? 0) / 10_000).toBeCloseTo(0.5, 1);

    const before = network.all.length;
    await manager.reconcile([
      { url: a, weight: 9 },
      { url: b, weight: 1 },
    ]);
    // Same links: only the weight changed.
    expect(network.all.length).toBe(before);
    const weighted = await split(manager, 10_000);
    expect(Math.abs((weighted[a] ?? 0) / 10_000 - 0.9)).toBeLessThanOrEqual(0.03);
  });
});
