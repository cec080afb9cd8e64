import type { Strategy } from "@xiaozhi-connect/core";
import { describe, expect, it } from "vitest";
import { StrategyRegistry } from "./strategy-registry.js";

const sticky = (): Strategy => ({ specificationVersion: "v1", name: "sticky", select: (c) => c[0] });

describe("StrategyRegistry", () => {
  it("comes with the built-ins and makes a fresh instance per create", () => {
    const registry = StrategyRegistry.withBuiltins();
    expect(registry.names()).toEqual(["round-robin", "random", "health-based", "least-inflight"]);
    const a = registry.create("round-robin");
    expect(a.name).toBe("round-robin");
    expect(registry.create("round-robin")).not.toBe(a);
  });

  it("lets a third party register a strategy and select it by name", () => {
    const registry = StrategyRegistry.withBuiltins().register("sticky", sticky);
    expect(registry.has("sticky")).toBe(true);
    expect(registry.create("sticky").name).toBe("sticky");
    const own = StrategyRegistry.withBuiltins().register(sticky);
    expect(own.create("sticky").name).toBe("sticky");
  });

  it("keys strategies by their own name and refuses a mismatch", () => {
    const registry = StrategyRegistry.withBuiltins();
    expect(() => registry.register("smooth", sticky)).toThrow(
      expect.objectContaining({
        code: "INVALID_CONFIG",
        message: expect.stringContaining('calls itself "sticky"'),
      }),
    );
    expect(registry.has("smooth")).toBe(false);
    let calls = 0;
    registry.register("shifty", () => ({ ...sticky(), name: calls++ === 0 ? "shifty" : "other" }));
    expect(() => registry.create("shifty")).toThrow(expect.objectContaining({ code: "INVALID_CONFIG" }));
  });

  it("refuses duplicate, badly named and unknown strategies with the registered names", () => {
    const registry = StrategyRegistry.withBuiltins();
    const named = (name: string) => () => ({ ...sticky(), name });
    expect(() => registry.register("random", named("random"))).toThrow(
      expect.objectContaining({
        code: "DUPLICATE_STRATEGY",
        message: expect.stringContaining("round-robin, random"),
      }),
    );
    expect(() => registry.register("My Strategy", named("My Strategy"))).toThrow(
      expect.objectContaining({ code: "INVALID_CONFIG" }),
    );
    expect(() => registry.create("weighted-magic")).toThrow(
      expect.objectContaining({
        code: "UNKNOWN_STRATEGY",
        message:
          'unknown strategy "weighted-magic" (registered: round-robin, random, health-based, least-inflight)',
      }),
    );
  });

  it("refuses at register what is not a strategy, or a factory that throws, naming the strategy", () => {
    const registry = StrategyRegistry.withBuiltins();
    expect(() => registry.register("broken", () => ({ name: "broken" }) as unknown as Strategy)).toThrow(
      expect.objectContaining({
        code: "INVALID_CONFIG",
        message: 'strategy "broken" does not implement specificationVersion "v1" (a select function)',
      }),
    );
    expect(() =>
      registry.register("no-select", () => ({ specificationVersion: "v1", name: "no-select" }) as Strategy),
    ).toThrow(expect.objectContaining({ code: "INVALID_CONFIG" }));
    expect(() =>
      registry.register("faulty", () => {
        throw new Error("no licence");
      }),
    ).toThrow(
      expect.objectContaining({
        code: "INVALID_CONFIG",
        message: 'strategy "faulty": its factory threw: no licence',
      }),
    );
    expect(registry.names()).toEqual(["round-robin", "random", "health-based", "least-inflight"]);
    // One that works at register and throws later fails create the same way.
    let made = 0;
    registry.register("once", () => {
      if (made++ > 0) throw new Error("only one");
      return { ...sticky(), name: "once" };
    });
    expect(() => registry.create("once")).toThrow(
      expect.objectContaining({
        code: "INVALID_CONFIG",
        message: 'strategy "once": its factory threw: only one',
      }),
    );
  });
});
