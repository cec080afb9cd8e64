import { afterEach, describe, expect, it } from "vitest";
import { McpServiceManager } from "../src/index.js";
import { call, replicaLog, replicasRunning, testStrategies } from "./replica-harness.js";

// What a strategy of one's own is told when it picks one of a service's replicas for a call.
let manager: McpServiceManager | undefined;
afterEach(async () => {
  await manager?.stop();
  manager = undefined;
  expect(replicasRunning()).toEqual([]);
});

describe("what a strategy is given to pick a replica", () => {
  it("gets the caller's endpoint id as the affinity key, so a sticky strategy keeps each agent on one replica", async () => {
    const log = replicaLog();
    const { strategies, picks } = testStrategies();
    const replicas = [log.entry("a"), log.entry("b"), log.entry("c")];
    manager = new McpServiceManager({ echo: { replicas, strategy: "pinned" } }, { strategies });
    await manager.start();
    await call(manager, "echo__whoami", "k0", { endpointId: "ep-kitchen", name: "kitchen", agentId: 7 });
    await call(manager, "echo__whoami", "k1", { endpointId: "client:cursor", name: "cursor" });
    await call(manager, "echo__whoami", "k2");
    expect(picks.map((p) => p.key)).toEqual(["ep-kitchen", "client:cursor", undefined]);

    // The documented sticky strategy hashes the key it is given: each caller stays on one process.
    await manager.reconcile({ echo: { replicas, strategy: "sticky" } });
    const callers = ["ep-kitchen", "ep-bedroom", "ep-garage", "client:cursor"];
    const served = new Map<string, Set<number>>();
    for (let round = 0; round < 4; round++) {
      for (const endpointId of callers) {
        const answer = await call(manager, "echo__whoami", `${endpointId}-${round}`, { endpointId });
        served.set(endpointId, (served.get(endpointId) ?? new Set()).add(answer.pid));
      }
    }
    expect([...served.values()].map((pids) => pids.size)).toEqual([1, 1, 1, 1]);
    const stickyPicks = picks.filter((p) => p.strategy === "sticky");
    expect(stickyPicks).toHaveLength(16);
    for (const pick of stickyPicks) expect(callers).toContain(pick.key);
  });

  it("gets each replica's configured weight, and a new weight from the next pick without a restart", async () => {
    const log = replicaLog();
    const { strategies, picks } = testStrategies();
    const [a, b, c] = [log.entry("a"), log.entry("b"), log.entry("c")];
    manager = new McpServiceManager(
      { echo: { replicas: [{ ...a, weight: 3 }, b, { ...c, weight: 0.5 }], strategy: "pinned" } },
      { strategies },
    );
    await manager.start();
    await call(manager, "echo__whoami", "w0");
    expect(picks.at(-1)?.weights).toEqual({ "echo#0": 3, "echo#1": 1, "echo#2": 0.5 });
    const started = log.starts();

    const diff = await manager.reconcile({
      echo: { replicas: [a, { ...b, weight: 2 }, { ...c, weight: 0.5 }], strategy: "pinned" },
    });
    expect(diff.changed).toEqual(["echo"]);
    await call(manager, "echo__whoami", "w1");
    expect(picks.at(-1)?.weights).toEqual({ "echo#0": 1, "echo#1": 2, "echo#2": 0.5 });
    // A weight is no reason to restart a replica.
    expect(log.starts()).toEqual(started);
    expect(manager.status()[0]).toMatchObject({ state: "up", restarts: 0 });
  });

  it("refuses a weight that is not a positive finite number, naming the entry, and changes nothing", async () => {
    const log = replicaLog();
    const a = log.entry("a");
    for (const weight of [0, -1, Number.POSITIVE_INFINITY, Number.NaN, "2", null]) {
      const replicas = [a, { ...a, weight: weight as number }];
      const reason = /^mcpServers\.echo\.replicas\[1\]\.weight must be a positive finite number, got /;
      expect(() => new McpServiceManager({ echo: { replicas } })).toThrow(reason);
    }
    // A bad handshake deadline is refused with one message, whether the service is new or changed.
    const badDeadline = /^mcpServers\.echo\.handshakeTimeout must be a finite number of ms above 0, got -1$/;
    expect(() => new McpServiceManager({ echo: { replicas: [a], handshakeTimeout: -1 } })).toThrow(
      badDeadline,
    );
    expect(() => new McpServiceManager({ echo: { ...a, handshakeTimeout: -1 } })).toThrow(badDeadline);
    manager = new McpServiceManager({ echo: { replicas: [a] } });
    await manager.start();
    expect(() => manager?.prepare({ plain: { ...a, handshakeTimeout: 0 } })).toThrow(
      /^mcpServers\.plain\.handshakeTimeout must be a finite number of ms above 0, got 0$/,
    );
    expect(() => manager?.prepare({ echo: { replicas: [{ ...a, weight: 0 }] } })).toThrow(
      /^mcpServers\.echo\.replicas\[0\]\.weight must be a positive finite number, got 0$/,
    );
    expect(() => manager?.prepare({ echo: { replicas: [a], handshakeTimeout: -1 } })).toThrow(badDeadline);
    expect(() => manager?.prepare({ echo: { replicas: [a], strategy: "nope" } })).toThrow(
      /^mcpServers\.echo\.strategy: unknown strategy "nope"/,
    );
    expect(() => manager?.prepare({ echo: { replicas: [] } })).toThrow(/empty replicas list/);
    expect(manager.status()[0]).toMatchObject({ state: "up", strategy: "least-inflight", restarts: 0 });
    expect(manager.status()[0]?.replicas?.map((r) => r.index)).toEqual([0]);
  });
});
