import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type StrategyFactory, StrategyRegistry } from "@xiaozhi-connect/balancer";
import { describeError, XiaozhiError } from "@xiaozhi-connect/core";

/**
 * The registry the WebServer builds strategies from: `registry` (the built-ins unless given) with
 * the config's `strategies` added, each the default export of the module at its path. Throws `INVALID_CONFIG`
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
    const problem = pathProblem(name, module, baseDir);
    if (problem) throw new XiaozhiError("INVALID_CONFIG", problem);
    let exported: unknown;
    try {
      exported = ((await import(pathToFileURL(resolve(baseDir, module)).href)) as { default?: unknown })
        .default;
    } catch (error) {
      throw new XiaozhiError("INVALID_CONFIG", `${field}: cannot load ${module}: ${describeError(error)}`, {
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
      if (!XiaozhiError.isInstance(error)) throw error;
      throw new XiaozhiError(error.code, `${field}: ${error.message}`, { cause: error });
    }
  }
  return registry;
}

/**
 * What is wrong with a `strategies` entry's path that the file alone tells, or undefined: paths
 * only (relative to the config file's folder, `./`, `../`, or absolute; a bare name is not looked
 * up among installed packages), and to a file that is there. `config check` asks it too.
 */
export function pathProblem(name: string, module: string, baseDir: string): string | undefined {
  const field = `strategies.${name}`;
  if (!(/^\.\.?([/\\]|$)/.test(module) || isAbsolute(module))) {
    return `${field}: "${module}" is not a path: write ./${module} for a file beside the config, or an absolute path`;
  }
  if (!statSync(resolve(baseDir, module), { throwIfNoEntry: false })?.isFile()) {
    return `${field}: ${module} is not a file`;
  }
  return undefined;
}
