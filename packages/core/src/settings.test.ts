import { describe, expect, it } from "vitest";
import { ConnectionManager } from "./connection-manager.js";
import { XiaozhiError } from "./errors.js";
import { defaultManagerSettings, mergeSettings, type SettingsChange } from "./settings.js";
import { MemoryNetwork } from "./testing/memory-connection.js";

/** The error `run` throws; fails the test when it throws none. */
function thrownBy(run: () => unknown): XiaozhiError {
  try {
    run();
  } catch (error) {
    if (XiaozhiError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected an XiaozhiError, nothing was thrown");
}

const merge = (change: SettingsChange) => mergeSettings(defaultManagerSettings, change);

describe("mergeSettings refuses a setting out of its range", () => {
  const refused: [string, SettingsChange, string][] = [
    [
      "connectTimeout NaN",
      { connectTimeout: Number.NaN },
      "connectTimeout must be a finite number of ms above 0, got NaN",
    ],
    [
      "connectTimeout -1",
      { connectTimeout: -1 },
      "connectTimeout must be a finite number of ms above 0, got -1",
    ],
    ["connectTimeout 0", { connectTimeout: 0 }, "got 0"],
    ["connectTimeout Infinity", { connectTimeout: Number.POSITIVE_INFINITY }, "got Infinity"],
    ["dispatchTimeout 0", { dispatchTimeout: 0 }, "dispatchTimeout must be a number of ms above 0"],
    ["dispatchTimeout NaN", { dispatchTimeout: Number.NaN }, "dispatchTimeout must be"],
    ["minUptime -1", { minUptime: -1 }, "minUptime must be a finite number of ms, 0 or more, got -1"],
    ["recoveryWindow NaN", { recoveryWindow: Number.NaN }, "recoveryWindow must be"],
    ["probeInterval -5", { probeInterval: -5 }, "probeInterval must be"],
    ["panicThreshold 5", { panicThreshold: 5 }, "panicThreshold must be a share from 0 to 1, got 5"],
    ["panicThreshold -0.1", { panicThreshold: -0.1 }, "panicThreshold must be a share from 0 to 1, got -0.1"],
    [
      "panicThreshold NaN",
      { panicThreshold: Number.NaN },
      "panicThreshold must be a share from 0 to 1, got NaN",
    ],
    ["maxReconnectAttempts -1", { maxReconnectAttempts: -1 }, "maxReconnectAttempts must be a whole number"],
    ["maxReconnectAttempts 2.5", { maxReconnectAttempts: 2.5 }, "got 2.5"],
    ["maxReconnectAttempts NaN", { maxReconnectAttempts: Number.NaN }, "got NaN"],
    ["connectConcurrency -1", { connectConcurrency: -1 }, "connectConcurrency must be a whole number"],
    ["connectConcurrency 1.5", { connectConcurrency: 1.5 }, "got 1.5"],
    [
      "autoReconnect a string",
      { autoReconnect: "yes" as never },
      'autoReconnect must be true or false, got "yes"',
    ],
    ["backoff.initialDelay NaN", { backoff: { initialDelay: Number.NaN } }, "backoff.initialDelay must be"],
    ["backoff.maxDelay NaN", { backoff: { maxDelay: Number.NaN } }, "backoff.maxDelay must be"],
    ["backoff.maxDelay Infinity", { backoff: { maxDelay: Number.POSITIVE_INFINITY } }, "got Infinity"],
    [
      "backoff.multiplier 0.5",
      { backoff: { multiplier: 0.5 } },
      "backoff.multiplier must be a finite number, 1 or more",
    ],
    [
      "backoff.jitter unknown",
      { backoff: { jitter: "half" as never } },
      'backoff.jitter must be "full" or "none", got "half"',
    ],
    ["backoff not an object", { backoff: 5 as never }, "backoff must be an object, got 5"],
  ];
  it.each(refused)("%s", (_, change, message) => {
    const error = thrownBy(() => merge(change));
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.message).toContain(message);
  });

  it("names the first bad backoff field when both are NaN", () => {
    const error = thrownBy(() => merge({ backoff: { initialDelay: Number.NaN, maxDelay: Number.NaN } }));
    expect(error.message).toBe("backoff.initialDelay must be a finite number of ms, 0 or more, got NaN");
  });

  it("takes NaN read from an unset environment variable as the bad value it is", () => {
    const error = thrownBy(() => merge({ connectTimeout: Number(process.env.XIAOZHI_CONNECT_NOT_SET) }));
    expect(error.message).toContain("connectTimeout");
  });
});

describe("mergeSettings accepts the edge values that mean something", () => {
  it("takes 0 and Infinity where they mean off or unlimited", () => {
    const settings = merge({
      maxReconnectAttempts: 0,
      connectConcurrency: 0,
      minUptime: 0,
      recoveryWindow: 0,
      probeInterval: 0,
      panicThreshold: 0,
      dispatchTimeout: Number.POSITIVE_INFINITY,
      backoff: { initialDelay: 0, maxDelay: 0, multiplier: 1, jitter: "none" },
    });
    expect(settings).toMatchObject({ maxReconnectAttempts: 0, connectConcurrency: 0, panicThreshold: 0 });
    expect(settings.backoff).toEqual({ initialDelay: 0, maxDelay: 0, multiplier: 1, jitter: "none" });
    expect(merge({ maxReconnectAttempts: Number.POSITIVE_INFINITY }).maxReconnectAttempts).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(merge({ connectConcurrency: Number.POSITIVE_INFINITY }).connectConcurrency).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(merge({ panicThreshold: 1 }).panicThreshold).toBe(1);
  });

  it("keeps the base value of a field set to undefined or null, in backoff too", () => {
    const base = merge({ connectTimeout: 5000, backoff: { initialDelay: 50, maxDelay: 200 } });
    const next = mergeSettings(base, {
      connectTimeout: undefined,
      minUptime: null as never,
      backoff: { initialDelay: undefined, maxDelay: null as never, multiplier: 3 },
    });
    expect(next.connectTimeout).toBe(5000);
    expect(next.minUptime).toBe(defaultManagerSettings.minUptime);
    expect(next.backoff).toEqual({ initialDelay: 50, maxDelay: 200, multiplier: 3, jitter: "full" });
  });

  it("accepts its own defaults", () => {
    expect(merge({})).toEqual(defaultManagerSettings);
  });
});

describe("ConnectionManager options", () => {
  it("names a missing connectionFactory instead of failing on one of its members", () => {
    const error = thrownBy(() => new ConnectionManager({} as never));
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.message).toBe("connectionFactory must be a function, got undefined");
    expect(thrownBy(() => new ConnectionManager(undefined as never)).code).toBe("INVALID_CONFIG");
    expect(thrownBy(() => new ConnectionManager({ connectionFactory: "ws" } as never)).message).toBe(
      'connectionFactory must be a function, got "ws"',
    );
  });

  it("refuses bad settings when made and when configured, keeping the ones it had", () => {
    const { factory } = new MemoryNetwork();
    expect(
      thrownBy(() => new ConnectionManager({ connectionFactory: factory, connectTimeout: -1 })).code,
    ).toBe("INVALID_CONFIG");
    const manager = new ConnectionManager({ connectionFactory: factory, panicThreshold: 0.25 });
    const before = manager.strategy;
    const other = { specificationVersion: "v1" as const, name: "other", select: () => undefined };
    const error = thrownBy(() => manager.configure({ strategy: other, panicThreshold: 5 }));
    expect(error.message).toBe("panicThreshold must be a share from 0 to 1, got 5");
    expect(manager.settings.panicThreshold).toBe(0.25);
    // Nothing of a refused change applies, the strategy it carried included.
    expect(manager.strategy).toBe(before);
  });
});
