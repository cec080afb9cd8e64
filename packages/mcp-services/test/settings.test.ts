import { join } from "node:path";
import { StrategyRegistry } from "@xiaozhi-connect/balancer";
import type { Strategy } from "@xiaozhi-connect/core";
import { healthScorer } from "@xiaozhi-connect/health";
import { afterEach, describe, expect, it } from "vitest";
import { McpServiceManager, type ReplicaConfig } from "../src/index.js";

const fixture = join(import.meta.dirname, "fixtures", "calc-server.mjs");
const replica = (): ReplicaConfig => ({ command: process.execPath, args: [fixture] });
let manager: McpServiceManager | undefined;
afterEach(async () => {
  await manager?.stop();
  manager = undefined;
});

describe("settings that reach the replicas, where traffic is chosen", () => {
  it("picks replicas with the configured default strategy unless a service names its own", async () => {
    manager = new McpServiceManager({
      plain: { replicas: [replica(), replica()] },
      own: { replicas: [replica(), replica()], strategy: "random" },
    });
    await manager.start();
    const strategies = () => Object.fromEntries(manager?.status().map((s) => [s.name, s.strategy]) ?? []);
    expect(strategies()).toEqual({ plain: "least-inflight", own: "random" });
    manager.configure({ strategy: "round-robin" });
    expect(strategies()).toEqual({ plain: "round-robin", own: "random" });
    expect(() => manager?.configure({ strategy: "no-such-strategy" })).toThrow(/no-such-strategy/);
    expect(strategies()).toEqual({ plain: "round-robin", own: "random" });
    // Round-robin over two healthy replicas: consecutive calls alternate between their processes.
    const pids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const result = await manager.callTool(
        "plain__work",
        { tag: `t${i}`, ms: 0 },
        { signal: AbortSignal.timeout(5000) },
      );
      pids.push(String((result.content[0] as { text: string }).text.split("@")[1]));
    }
    expect(pids[0]).not.toBe(pids[1]);
    expect(pids[0]).toBe(pids[2]);
    // A service built later gets the default too.
    manager.configure({ strategy: "random" });
    await manager.reconcile({
      plain: { replicas: [replica(), replica()] },
      own: { replicas: [replica(), replica()], strategy: "random" },
      later: { replicas: [replica(), replica()] },
    });
    expect(strategies()).toMatchObject({ later: "random" });
  });

  it("gives a service built before a new default, and committed after it, that default", async () => {
    manager = new McpServiceManager({});
    await manager.start();
    // A config applied whole: its services are built first, then the settings, then the commit.
    const prepared = manager.prepare({
      plain: { replicas: [replica(), replica()] },
      own: { replicas: [replica(), replica()], strategy: "random" },
    });
    manager.configure({ strategy: "round-robin" });
    await prepared.commit().started;
    const strategies = Object.fromEntries(manager.status().map((s) => [s.name, s.strategy]));
    expect(strategies).toEqual({ plain: "round-robin", own: "random" });
  });

  it("keeps each service's strategy instance, and its state, when the same default is applied again", () => {
    let made = 0;
    const counting = (): Strategy => {
      made++;
      return { specificationVersion: "v1", name: "counting", select: (candidates) => candidates[0] };
    };
    const strategies = StrategyRegistry.withBuiltins().register("counting", counting);
    manager = new McpServiceManager(
      { a: { replicas: [replica(), replica()] }, b: { replicas: [replica(), replica()] } },
      { strategies },
    );
    manager.configure({ strategy: "counting" });
    const afterFirst = made;
    // Every apply of a config names it again (a reload, a dashboard edit, a cluster re-apply).
    for (let i = 0; i < 3; i++) manager.configure({ strategy: "counting" });
    // One made per apply, to check the name; none for the services, which keep theirs.
    expect(made - afterFirst).toBe(3);
    expect(manager.status().map((s) => s.strategy)).toEqual(["counting", "counting"]);
  });

  it("hands the health block to the replicas' scorer", async () => {
    const scorer = healthScorer();
    manager = new McpServiceManager({ calc: replica() }, { healthScorer: scorer });
    manager.configure({ health: { consecutiveFailures: 1, baseEjectionTime: 1234 } });
    expect(scorer.options).toMatchObject({ consecutiveFailures: 1, baseEjectionTime: 1234 });
  });
});
