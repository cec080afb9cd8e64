import { afterEach, describe, expect, it } from "vitest";
import { McpServiceManager } from "../src/index.js";
import { alive } from "./processes.js";
import {
  call,
  replicaFixture,
  replicaIndexes,
  replicaLog,
  replicasRunning,
  testStrategies,
  untilDrained,
} from "./replica-harness.js";

// Config edits that replace every process of a service: all its replicas at once in place, a
// switch between a plain and a replicated entry, and prepared changes committed out of order.
let manager: McpServiceManager | undefined;
afterEach(async () => {
  await manager?.stop();
  manager = undefined;
  expect(replicasRunning()).toEqual([]);
});

const names = (target: McpServiceManager) => target.listTools().map((tool) => tool.name);

describe("replacing a service's processes", () => {
  it("replace all replicas: the tools stay listed and calls keep working, a tool switch in the same commit", async () => {
    const log = replicaLog();
    const { strategies } = testStrategies();
    const [a, b, c] = [log.entry("a"), log.entry("b"), log.entry("c")];
    manager = new McpServiceManager({ echo: { replicas: [a, b], strategy: "pinned" } }, { strategies });
    await manager.start();
    const target = manager;
    const old = [log.pidOf("a"), log.pidOf("b")];
    // Listeners list at once when told, as an endpoint does.
    const heard: string[][] = [];
    manager.onToolsChanged(() => heard.push(names(target)));

    const switches = { echo: { tools: { hold: { enable: false } } } };
    const { started } = manager.prepare({ echo: { replicas: [c], strategy: "pinned" } }, switches).commit();
    // Between the commit and the new replica's start, the service keeps its tools.
    expect(heard).toEqual([["echo__whoami"]]);
    expect(names(manager)).toEqual(["echo__whoami"]);
    // Lists and calls now wait for the new replica, as at a first start.
    expect(manager.ready()).toBeDefined();
    const answer = await call(manager, "echo__whoami", "gap");
    expect(answer.name).toBe("c");
    await started;
    await untilDrained(manager);
    expect(old.map(alive)).toEqual([false, false]);
    expect(replicaIndexes(manager)).toEqual(["2"]);
    expect(names(manager)).toEqual(["echo__whoami"]);
    expect((await call(manager, "echo__whoami", "after")).name).toBe("c");

    // A new replica whose tools differ: listeners hear of it once it is up.
    const d = log.entry("d", { args: [replicaFixture, "d", "extra"] });
    await manager.reconcile({ echo: { replicas: [d], strategy: "pinned" } });
    expect(names(manager)).toEqual(["echo__whoami", "echo__extra"]);
    expect(heard.at(-1)).toEqual(["echo__whoami", "echo__extra"]);
    expect((await call(manager, "echo__extra", "new")).name).toBe("d");
  });

  it("restarts a service whose entry switches between plain and replicated, its old processes ended", async () => {
    const log = replicaLog();
    const [a, b] = [log.entry("a"), log.entry("b")];
    manager = new McpServiceManager({ echo: a });
    await manager.start();
    const plain = log.pidOf("a");

    // Plain to replicated: a new service, new processes; the old one has ended once it resolves.
    const diff = await manager.reconcile({ echo: { replicas: [a, b] } });
    expect(diff.changed).toEqual(["echo"]);
    expect(alive(plain)).toBe(false);
    const replicated = [log.pidOf("a"), log.pidOf("b")];
    expect(replicated).not.toContain(plain);
    expect(replicaIndexes(manager)).toEqual(["0", "1"]);
    expect(manager.status()[0]).toMatchObject({ state: "up" });

    // Replicated to plain: the same.
    expect((await manager.reconcile({ echo: a })).changed).toEqual(["echo"]);
    expect(replicated.map(alive)).toEqual([false, false]);
    const again = log.pidOf("a");
    expect(replicated).not.toContain(again);
    expect((await call(manager, "echo__whoami", "plain")).pid).toBe(again);
    expect(manager.status()[0]).toMatchObject({ state: "up" });
    expect(manager.status()[0]?.replicas).toBeUndefined();
  });

  it("applies prepared changes committed out of order as the last commit says, an in-place one included", async () => {
    const log = replicaLog();
    const { strategies } = testStrategies();
    const [a, b] = [log.entry("a"), log.entry("b")];
    manager = new McpServiceManager({ echo: { replicas: [a, b] } }, { strategies });
    await manager.start();

    // Prepared in place, then the service is rebuilt by a change committed first.
    const inPlace = manager.prepare({ echo: { replicas: [a, b], strategy: "round-robin" } });
    const rebuild = manager.prepare({ echo: a });
    await rebuild.commit().started;
    expect(manager.status()[0]?.replicas).toBeUndefined();
    await inPlace.commit().started;
    expect(manager.status()[0]).toMatchObject({ state: "up", strategy: "round-robin" });
    expect(replicaIndexes(manager)).toEqual(["0", "1"]);
    expect((await call(manager, "echo__whoami", "rebuilt")).name).toMatch(/^[ab]$/);

    // Prepared in place, then the service is removed by a change committed first.
    const later = manager.prepare({ echo: { replicas: [b], strategy: "pinned" } });
    await manager.reconcile({});
    expect(manager.status()).toEqual([]);
    await later.commit().started;
    expect(manager.status()[0]).toMatchObject({ name: "echo", state: "up", strategy: "pinned" });
    expect((await call(manager, "echo__whoami", "back")).name).toBe("b");
  });
});
