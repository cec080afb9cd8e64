import { type Strategy, XiaozhiError } from "@xiaozhi-connect/core";
import { healthBased, leastInflight, random, roundRobin } from "./strategies.js";

/** Makes a fresh strategy; strategies keep state (a round-robin cursor), so each user gets its own. */
export type StrategyFactory = () => Strategy;

const kebab = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Strategies by name, as config selects them (`connection.loadBalanceStrategy`). Built-ins come
 * registered; third parties add theirs with `register`.
 */
export class StrategyRegistry {
  readonly #factories = new Map<string, StrategyFactory>();

  /** A registry with `round-robin`, `random`, `health-based` and `least-inflight`. */
  static withBuiltins(): StrategyRegistry {
    return new StrategyRegistry()
      .register("round-robin", roundRobin)
      .register("random", random)
      .register("health-based", healthBased)
      .register("least-inflight", leastInflight);
  }

  /**
   * Adds a strategy under its own `name` (`register(sticky)`), or under `name`, which must then be
   * the name its strategies carry (`register("sticky", sticky)`). Names are kebab-case. Throws
   * `DUPLICATE_STRATEGY` for a taken name, `INVALID_CONFIG` for a bad or mismatched one.
   */
  register(factory: StrategyFactory): this;
  register(name: string, factory: StrategyFactory): this;
  register(nameOrFactory: string | StrategyFactory, maybeFactory?: StrategyFactory): this {
    const factory = typeof nameOrFactory === "function" ? nameOrFactory : maybeFactory;
    if (typeof factory !== "function") {
      throw new XiaozhiError("INVALID_CONFIG", "register() needs a function that makes the strategy");
    }
    // One made now: a factory that throws, or makes something that is not a strategy, fails here
    // rather than when a config first names it.
    const given = typeof nameOrFactory === "string" ? nameOrFactory : undefined;
    if (given !== undefined) this.#free(given);
    const strategy = made(factory, given ?? factory.name);
    const name = given ?? String(strategy?.name);
    checked(name, strategy);
    if (!kebab.test(name)) {
      throw new XiaozhiError(
        "INVALID_CONFIG",
        `strategy name "${name}" must be kebab-case, like "least-inflight"`,
      );
    }
    this.#free(name);
    this.#factories.set(name, factory);
    return this;
  }

  #free(name: string): void {
    if (!this.#factories.has(name)) return;
    throw new XiaozhiError(
      "DUPLICATE_STRATEGY",
      `a strategy named "${name}" is already registered (registered: ${this.names().join(", ")})`,
    );
  }

  has(name: string): boolean {
    return this.#factories.has(name);
  }

  names(): string[] {
    return [...this.#factories.keys()];
  }

  /** A new instance of the named strategy. Throws `UNKNOWN_STRATEGY` listing what is registered. */
  create(name: string): Strategy {
    const factory = this.#factories.get(name);
    if (!factory) {
      throw new XiaozhiError(
        "UNKNOWN_STRATEGY",
        `unknown strategy "${name}" (registered: ${this.names().join(", ")})`,
      );
    }
    return checked(name, made(factory, name));
  }
}

/** What `factory` makes; a factory that throws is an `INVALID_CONFIG` naming the strategy. */
function made(factory: StrategyFactory, name: string): Strategy {
  try {
    return factory();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new XiaozhiError("INVALID_CONFIG", `strategy "${name}": its factory threw: ${message}`, {
      cause: error,
    });
  }
}

/** `strategy`, if it is a v1 strategy that calls itself `name`. */
function checked(name: string, strategy: Strategy): Strategy {
  if (strategy?.specificationVersion !== "v1" || typeof strategy.select !== "function") {
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `strategy "${name}" does not implement specificationVersion "v1" (a select function)`,
    );
  }
  if (strategy.name !== name) {
    throw new XiaozhiError(
      "INVALID_CONFIG",
      `strategy registered as "${name}" calls itself "${String(strategy.name)}"; register it under its own name`,
    );
  }
  return strategy;
}
