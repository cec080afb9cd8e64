import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Where a config was looked for, and the one found. */
export interface ConfigLookup {
  readonly path?: string;
  readonly searched: readonly string[];
}

/** One place the lookup considers, and why. */
export interface LookupCandidate {
  readonly path: string;
  /** `--config`, `$XIAOZHI_CONFIG`, `$XIAOZHI_CONFIG_DIR`, `current directory`, `xiaozhi-client's home`. */
  readonly source: string;
  readonly exists: boolean;
}

/**
 * Every place the lookup considers, in order: an explicitly named file (`--config`, else
 * `$XIAOZHI_CONFIG`) alone, or `$XIAOZHI_CONFIG_DIR`, the current directory and
 * `~/.xiaozhi-client`.
 */
export function lookupCandidates(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
  home = env.HOME || homedir(),
): LookupCandidate[] {
  const at = (path: string, source: string) => ({ path, source, exists: existsSync(path) });
  if (explicit !== undefined) return [at(resolve(cwd, explicit), "--config")];
  if (env.XIAOZHI_CONFIG) return [at(resolve(cwd, env.XIAOZHI_CONFIG), "$XIAOZHI_CONFIG")];
  // In each directory, as xiaozhi-client looks: .json5, then .jsonc, then .json.
  const inDirectory = (dir: string, source: string) => configNames.map((name) => at(join(dir, name), source));
  return [
    ...(env.XIAOZHI_CONFIG_DIR
      ? inDirectory(resolve(cwd, env.XIAOZHI_CONFIG_DIR), "$XIAOZHI_CONFIG_DIR")
      : []),
    ...inDirectory(cwd, "current directory"),
    ...inDirectory(join(home, ".xiaozhi-client"), "xiaozhi-client's home"),
  ];
}

/** The file names a directory may hold its config under, in the order they are preferred. */
export const configNames = ["xiaozhi.config.json5", "xiaozhi.config.jsonc", "xiaozhi.config.json"] as const;

/**
 * Finds the config in the documented order. An explicitly named file (`--config`,
 * `$XIAOZHI_CONFIG`) must exist; otherwise the first existing candidate wins, or none (demo mode).
 */
export function findConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
  home = env.HOME || homedir(),
): ConfigLookup {
  const candidates = lookupCandidates(explicit, env, cwd, home);
  const named = explicit !== undefined || Boolean(env.XIAOZHI_CONFIG);
  const first = candidates[0];
  if (named && first && !first.exists) throw new Error(`config file not found: ${first.path}`);
  const found = candidates.find((candidate) => candidate.exists);
  return { ...(found ? { path: found.path } : {}), searched: candidates.map((c) => c.path) };
}

const loopback = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return loopback.has(host) || host.startsWith("127.");
}
