import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type StrategyFactory, StrategyRegistry } from "@xiaozhi-connect/balancer";
import { describeError, XiaozhiError } from "@xiaozhi-connect/core";
import type { XiaozhiConfig } from "@xiaozhi-connect/webserver-adapter";

/**
 * The registry the WebServer builds strategies from: `registry` (the built-ins unless given) with
 * the config's `strategies` added, each the default export of the module at its path (an ES module,
 * or a CommonJS one whose `exports.default` is the factory, as TypeScript compiles `export default`).
 * Throws `INVALID_CONFIG` naming the entry for a module that cannot be loaded or whose default export
 * does not make a strategy of that name, and `DUPLICATE_STRATEGY` for a name already taken.
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
      exported = factoryOf(await import(pathToFileURL(resolve(baseDir, module)).href));
    } catch (error) {
      const why = whyNotLoaded(error, module, baseDir);
      throw new XiaozhiError("INVALID_CONFIG", `${field}: cannot load ${module}: ${why}`, { cause: error });
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
      throw fieldError(field, error);
    }
  }
  return registry;
}

/**
 * Everything about the config's strategies that stops a start, each naming its field: every
 * `strategies` entry, loaded as the start loads it (its module runs), then every name in use
 * (`connection.loadBalanceStrategy`, a replicated service's `strategy`) among the built-ins and the
 * entries. What `config check` asks.
 */
export async function strategyProblems(config: XiaozhiConfig, baseDir: string): Promise<unknown[]> {
  const problems: unknown[] = [];
  const registry = StrategyRegistry.withBuiltins();
  const entries = config.strategies ?? {};
  for (const [name, module] of Object.entries(entries)) {
    await loadStrategies({ [name]: module }, baseDir, registry).catch((error) => problems.push(error));
  }
  const uses: [string, string | undefined][] = [
    ["connection.loadBalanceStrategy", config.connection?.loadBalanceStrategy],
    // An empty `strategy` is none, as the service reads it.
    ...Object.entries(config.mcpServers ?? {}).map(([service, entry]): [string, string | undefined] => [
      `mcpServers.${service}.strategy`,
      ("replicas" in entry && entry.strategy) || undefined,
    ]),
  ];
  for (const [field, name] of uses) {
    // An entry that did not load has said why.
    if (name === undefined || Object.hasOwn(entries, name)) continue;
    try {
      registry.create(name);
    } catch (error) {
      problems.push(fieldError(field, error));
    }
  }
  return problems;
}

/**
 * What is wrong with a `strategies` entry's path that the file alone tells, or undefined: paths
 * only (relative to the config file's folder, `./`, `../`, or absolute; a package is named by the
 * path of its module file, `./node_modules/<package>/…`), and to a file that is there.
 */
function pathProblem(name: string, module: string, baseDir: string): string | undefined {
  const field = `strategies.${name}`;
  if (!(/^\.\.?([/\\]|$)/.test(module) || isAbsolute(module))) {
    // `@scope/name`, or one name without a script's extension: a package rather than a file.
    const file = /\.(?:[cm]?js|[cm]?ts)$/i.test(module);
    if (module.startsWith("@") || (!/[/\\]/.test(module) && !file)) {
      return `${field}: "${module}" is a package, not a path: name its module file by its path, like ./node_modules/${module}${file ? "" : "/…"}`;
    }
    return `${field}: "${module}" is not a path: write ./${module} for a file beside the config, or an absolute path`;
  }
  if (!statSync(resolve(baseDir, module), { throwIfNoEntry: false })?.isFile()) {
    return `${field}: ${module} is not a file`;
  }
  return undefined;
}

/**
 * A module's default export. Node gives a CommonJS module's `module.exports` as its default, so a
 * build's `exports.default = factory` is one level down.
 */
function factoryOf(namespace: { default?: unknown }): unknown {
  const exported = namespace.default;
  const inner = (exported as { default?: unknown } | null | undefined)?.default;
  return typeof exported !== "function" && typeof inner === "function" ? inner : exported;
}

/** Why a module could not be loaded, with what to do about the usual reasons. */
function whyNotLoaded(error: unknown, module: string, baseDir: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  // A CommonJS `require` that finds nothing adds its stack of files on the lines after.
  const full = describeError(error);
  const message = code === "MODULE_NOT_FOUND" ? (full.split("\n")[0] ?? full) : full;
  const missing = /^Cannot find (?:package|module) '((?:@[\w.-]+\/)?\w[\w.-]*)(?:\/[^']*)?'/.exec(message);
  if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && missing) {
    // Ours are not on the npm registry yet: `pnpm pack` in a clone makes a tarball to install.
    const from = missing[1]?.startsWith("@xiaozhi-connect/")
      ? " (from the tarball `pnpm pack` makes in a clone)"
      : "";
    return `${message} (a strategy module resolves its own imports from its folder: bundle ${missing[1]} into the module, or install it${from} in a node_modules there or above)`;
  }
  // TypeScript: Node without type stripping, a syntax it cannot strip (an `enum`), or a file in node_modules.
  if (typeof code === "string" && typeScript.has(code)) {
    return `${message} (build it to JavaScript and name the built file)`;
  }
  const at = whereOf(error, module, baseDir);
  return at ? `${message} at ${at}` : message;
}

const typeScript = new Set([
  "ERR_UNKNOWN_FILE_EXTENSION",
  "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX",
  "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING",
]);

/**
 * The file and line a syntax error is at, when Node puts them on the first line of its stack
 * (`file:///…/mine.mjs:3`, or a path for CommonJS), the module as the config names it when the
 * error is in it; nothing else of the stack, whose next line is the source.
 */
function whereOf(error: unknown, module: string, baseDir: string): string | undefined {
  const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : "";
  const [, file, line] = /^((?:file:\/\/|\/|[A-Za-z]:\\)[^\n]*):(\d+)\n/.exec(stack) ?? [];
  if (file === undefined) return undefined;
  const path = file.startsWith("file:") ? fileURLToPath(file) : file;
  return `${path === resolve(baseDir, module) ? module : path}:${line}`;
}

/** `error` after the field it belongs to; an error of no code of ours as it is. */
function fieldError(field: string, error: unknown): unknown {
  if (!XiaozhiError.isInstance(error)) return error;
  return new XiaozhiError(error.code, `${field}: ${error.message}`, { cause: error });
}
