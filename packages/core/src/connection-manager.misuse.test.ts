import { describe, expect, it } from "vitest";
import { connected, id, setup, url, useFakeTimers } from "./connection-manager.test-helpers.js";
import { XiaozhiError } from "./errors.js";
import type { Strategy } from "./strategy.js";

useFakeTimers();

/** What a call threw, so a test can check its code and message together. */
function thrown(run: () => unknown): XiaozhiError {
  try {
    run();
  } catch (error) {
    if (XiaozhiError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("it did not throw");
}

// Plain JavaScript reaches these shapes; TypeScript would refuse them at compile time.
const loose = <T>(value: unknown) => value as T;

describe("a strategy that is not one", () => {
  it("is refused at construction, a name pointing at the registry", () => {
    const error = thrown(() => setup({ strategy: loose<Strategy>("random") }));
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('"random"');
    expect(error.message).toContain("StrategyRegistry");
    expect(error.message).toContain("create(");
    for (const strategy of [{}, { select: "round-robin" }, 42]) {
      expect(thrown(() => setup({ strategy: loose<Strategy>(strategy) })).code).toBe("INVALID_CONFIG");
    }
  });

  it("is refused by configure, which keeps the strategy and settings it had", async () => {
    const { manager } = setup();
    await connected(manager, [url(1), url(2)]);
    const before = manager.strategy;
    for (const strategy of ["random", {}]) {
      const error = thrown(() =>
        manager.configure({ strategy: loose<Strategy>(strategy), connectTimeout: 1234 }),
      );
      expect(error.code).toBe("INVALID_CONFIG");
      expect(error.message).toContain("select");
    }
    expect(manager.strategy).toBe(before);
    expect(manager.settings.connectTimeout).toBe(10_000);
    // Dispatch still goes round the endpoints rather than failing or sticking to the first.
    const picks = [await manager.dispatch(async (c) => c.id), await manager.dispatch(async (c) => c.id)];
    expect(new Set(picks)).toEqual(new Set([id(1), id(2)]));
    await manager.cleanup();
  });

  it("accepts a real strategy, and leaves out strategy to keep the current one", () => {
    const { manager } = setup();
    const first: Strategy = { specificationVersion: "v1", name: "first", select: (c) => c[0] };
    manager.configure({ strategy: first });
    manager.configure({ connectTimeout: 500 });
    expect(manager.strategy).toBe(first);
    expect(manager.settings.connectTimeout).toBe(500);
  });
});

describe("a tool source that is not one", () => {
  const complete = {
    specificationVersion: "v1",
    listTools: () => [],
    callTool: async () => ({ content: [] }),
    onToolsChanged: () => () => {},
  };

  it("is refused with INVALID_CONFIG naming what it lacks, by initialize and setToolSource", async () => {
    const { manager } = setup();
    const { onToolsChanged: _, ...noSubscribe } = complete;
    await expect(manager.initialize([url(1)], loose(noSubscribe))).rejects.toMatchObject({
      code: "INVALID_CONFIG",
      message: expect.stringContaining("onToolsChanged"),
    });
    // Refused before the list was applied: nothing half done.
    expect(manager.getConnectionStatus()).toEqual([]);
    const error = thrown(() => manager.setToolSource(loose({ listTools: [] })));
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.message).toMatch(/lacks listTools, callTool, onToolsChanged/);
    expect(thrown(() => manager.setServiceManager(loose("services"))).code).toBe("INVALID_CONFIG");
  });

  it("accepts a source without specificationVersion or the optional members", async () => {
    const { manager } = setup();
    const { specificationVersion: _, ...unversioned } = complete;
    await manager.initialize([url(1)], loose(unversioned));
    expect(await manager.tools.listTools()).toEqual([]);
    await manager.cleanup();
  });
});
