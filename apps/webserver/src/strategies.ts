import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type StrategyFactory, StrategyRegistry } from "@xiaozhi-connect/balancer";
import { XiaozhiError } from "@xiaozhi-connect/core";

/**
 * The registry the WebServer builds strategies from: `registry` (the built-ins unless given) with
 * the config's `strategies` added, each the default export of its module. Throws `INVALID_CONFIG`
 * naming the entry for a module that cannot be loaded or whose default export does not make a
 * strategy of that name, and `DUPLICATE_STRATEGY` for a name already taken.
 */
export async function loadStrategies(
  entries: Readonly<Record<string, string>> | undefined,
  baseDir: string,
  registry: StrategyRegistry = StrategyRegistry.withBuiltins(),
): Promise<StrategyRegistry> {
  for (const [name, module] of Object.entries(entries ?? {})) {
    const field = `strategies.${name}`;
    let exported: unknown;
    try {
      exported = ((await import(moduleUrl(module, baseDir))) as { default?: unknown }).default;
    } catch (error) {
      throw new XiaozhiError("INVALID_CONFIG", `${field}: cannot load ${module}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    if (typeof exported !== "function") {
      throw new XiaozhiError(
        "INVALID_CONFIG",
        `${field}: ${module} must have as its default export a function that makes the strategy`,
      );
    }
    try {
      registry.register(name, exported as StrategyFactory);
    } catch (error) {
      if (!(error instanceof XiaozhiError)) throw error;
      throw new XiaozhiError(error.code, `${field}: ${error.message}`, { cause: error });
    }
  }
  return registry;
}

/** A path relative to the config file's folder, or a package found from there as Node finds one. */
function moduleUrl(module: string, baseDir: string): string {
  if (module.startsWith(".") || isAbsolute(module)) return pathToFileURL(resolve(baseDir, module)).href;
  return pathToFileURL(createRequire(join(baseDir, "config.js")).resolve(module)).href;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
