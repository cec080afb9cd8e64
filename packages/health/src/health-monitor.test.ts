import { ConnectionManager } from "@xiaozhi-connect/core";
import { MemoryNetwork } from "@xiaozhi-connect/core/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HealthMonitor } from "./health-monitor.js";
import { HealthScoreBoard } from "./health-score-board.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

async function setup() {
  const network = new MemoryNetwork();
  const scorer = new HealthScoreBoard({ consecutiveFailures: 3 });
  const manager = new ConnectionManager({ connectionFactory: network.factory, healthScorer: scorer });
  const urls = ["wss://h.test/mcp/?token=1", "wss://h.test/mcp/?token=2", "wss://h.test/mcp/?token=3"];
  await manager.initialize(urls);
  const done = manager.connect();
  await vi.advanceTimersByTimeAsync(1);
  await done;
  const monitor = new HealthMonitor(() => manager.getConnections(), scorer, {
    interval: 1000,
    jitter: 0.2,
    timeout: 100,
    random: () => 0.5,
  });
  return { network, scorer, manager, monitor, urls };
}

describe("HealthMonitor", () => {
  it("checks every connected link each round and marks a silent one unhealthy, then ejected", async () => {
    const { network, scorer, manager, monitor, urls } = await setup();
    const changes: string[] = [];
    monitor.on("healthChanged", (e) => changes.push(`${e.healthy ? "healthy" : "unhealthy"}: ${e.reason}`));
    let checks = 0;
    monitor.on("checked", () => checks++);
    network.behave(urls[1] as string, { connect: "open" });
    const slow = network.connection(urls[1] as string);
    // Pings on link 2 hang until the monitor's 100 ms timeout.
    vi.spyOn(slow as NonNullable<typeof slow>, "ping").mockImplementation(
      (signal) =>
        new Promise((_resolve, reject) => signal?.addEventListener("abort", () => reject(signal.reason))),
    );
    monitor.start();
    await vi.advanceTimersByTimeAsync(1000 + 100);
    expect(checks).toBe(3);
    expect(monitor.state(slow?.id as string)).toMatchObject({
      healthy: true,
      failures: 1,
      lastError: "no pong within 100 ms",
    });
    await vi.advanceTimersByTimeAsync(2 * 1100);
    expect(checks).toBe(9);
    expect(changes).toEqual(["unhealthy: 3 checks failed: no pong within 100 ms"]);
    expect(scorer.isEjected(slow?.id as string)).toBe(true);
    expect(manager.getHealthyConnections()).toHaveLength(2);
    vi.mocked(slow?.ping as NonNullable<typeof slow>["ping"]).mockRestore();
    await vi.advanceTimersByTimeAsync(2 * 1100);
    expect(changes.at(-1)).toBe("healthy: 2 checks passed");
    await monitor.stop();
    await manager.cleanup();
    scorer.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("never overlaps rounds, keeps one timer, and stops cleanly mid-round", async () => {
    const { network, manager, monitor, urls, scorer } = await setup();
    let inFlight = 0;
    let maxInFlight = 0;
    const target = network.connection(urls[0] as string);
    vi.spyOn(target as NonNullable<typeof target>, "ping").mockImplementation(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Fake time: the round stays in flight until the test advances the clock.
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight--;
      return 1;
    });
    const a = monitor.check();
    const b = monitor.check();
    expect(a).toBe(b);
    await vi.advanceTimersByTimeAsync(50);
    await a;
    expect(maxInFlight).toBe(1);
    monitor.start();
    monitor.start();
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1010);
    expect(monitor.running).toBe(true);
    const stopped = monitor.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopped;
    expect(monitor.running).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    await manager.cleanup();
    scorer.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("spaces rounds by the interval with jitter either side", async () => {
    const draws = [0, 1, 0.5];
    const network = new MemoryNetwork();
    const manager = new ConnectionManager({ connectionFactory: network.factory });
    await manager.initialize(["wss://h.test/mcp/?token=1"]);
    const done = manager.connect();
    await vi.advanceTimersByTimeAsync(1);
    await done;
    const monitor = new HealthMonitor(() => manager.getConnections(), undefined, {
      interval: 1000,
      jitter: 0.2,
      timeout: 100,
      random: () => draws.shift() ?? 0.5,
    });
    const connection = manager.getConnections()[0];
    const starts: number[] = [];
    const ends: number[] = [];
    const ping = connection?.ping.bind(connection) as (signal?: AbortSignal) => Promise<number>;
    vi.spyOn(connection as NonNullable<typeof connection>, "ping").mockImplementation((signal) => {
      starts.push(Date.now());
      return ping(signal);
    });
    monitor.on("checked", () => ends.push(Date.now()));
    ends.push(Date.now());
    monitor.start();
    await vi.advanceTimersByTimeAsync(3500);
    // Draws 0, 1 and 0.5 give waits of 800, 1200 and 1000 ms from one round's end to the next start.
    expect(starts.slice(0, 3).map((at, i) => at - (ends[i] as number))).toEqual([800, 1200, 1000]);
    await monitor.stop();
    await manager.cleanup();
  });

  it("skips links that are not connected and forgets removed ones", async () => {
    const { network, manager, monitor, urls, scorer } = await setup();
    const first = monitor.check();
    await vi.advanceTimersByTimeAsync(10);
    await first;
    const removed = network.connection(urls[0] as string)?.id as string;
    expect(monitor.state(removed)).toBeDefined();
    await manager.removeEndpoint(removed);
    network.connection(urls[2] as string)?.drop(1006, "", true);
    const checked: string[] = [];
    monitor.on("checked", (e) => checked.push(e.id));
    const second = monitor.check();
    await vi.advanceTimersByTimeAsync(10);
    await second;
    // Only the one link still connected was checked; the removed one's state is gone.
    expect(checked).toEqual([network.connection(urls[1] as string)?.id]);
    expect(monitor.state(removed)).toBeUndefined();
    await monitor.stop();
    await manager.cleanup();
    scorer.dispose();
  });
});
