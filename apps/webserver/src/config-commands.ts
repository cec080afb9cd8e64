import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { customToolsService, mcpTarget, unavailableReason } from "@xiaozhi-connect/mcp-services";
import {
  customToolsOf,
  formatOf,
  parseConfigText,
  parseText,
  selectEndpoints,
  unknownFields,
  type XiaozhiConfig,
} from "@xiaozhi-connect/webserver-adapter";
import { describe, type Messages } from "./messages.js";
import { type LookupCandidate, lookupCandidates } from "./options.js";
import { CommandError } from "./output.js";
import { strategyProblems } from "./strategies.js";

/** `config path`: the file the lookup picks (if any) and every place it looked, in order. */
export function explainLookup(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
): { path: string | null; source: string | null; candidates: LookupCandidate[] } {
  const candidates = lookupCandidates(explicit, env);
  const found = candidates.find((c) => c.exists);
  return { path: found?.path ?? null, source: found?.source ?? null, candidates };
}

export type CheckResult =
  | {
      readonly ok: true;
      readonly path: string;
      readonly summary: string;
      /** What is valid but will not work as the user may expect: nothing to connect, unavailable tools. */
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly path: string; readonly error: string };

/**
 * `config check`: parses and validates a config file, naming each wrong field, and loads its
 * `strategies` as a start would.
 */
export async function checkConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  m: Messages,
): Promise<CheckResult> {
  const path = file ? resolve(file) : explainLookup(undefined, env).path;
  if (!path) throw new CommandError(m.manage.noConfigFound);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, path, error: m.manage.unreadable((error as NodeJS.ErrnoException).code ?? "error") };
  }
  try {
    const config = parseConfigText(text, formatOf(path));
    const { endpoints, skipped } = selectEndpoints(config.mcpEndpoint);
    const services = Object.keys(config.mcpServers ?? {}).length;
    const notes = skipped.map((s) => m.manage.skipped(s.endpoint, s.reason));
    const warnings: string[] = [];
    // In cluster mode the list lives in Redis: an empty file list only means the cluster seeds none.
    if (endpoints.length === 0 && !config.cluster) warnings.push(m.manage.noUsableEndpoint);
    warnings.push(...toolWarnings(config, m));
    // What stops a start is an error: a strategy module that does not load, a name nothing makes.
    const problems = await strategyProblems(config, dirname(path));
    if (problems.length > 0) {
      return { ok: false, path, error: problems.map((e) => describe(e, m)).join(m.manage.separator) };
    }
    // Read as written: validation drops a misspelt `connection` field before anyone sees it.
    for (const field of unknownFields(parseText(text, formatOf(path))))
      warnings.push(m.manage.unknownField(field));
    // Endpoint URLs carry their agents' tokens, and clients their own: other users should not read them.
    const mode = (statSync(path, { throwIfNoEntry: false })?.mode ?? 0) & 0o777;
    if (process.platform !== "win32" && (mode & 0o044) !== 0)
      warnings.push(m.manage.readableByOthers(mode, path));
    return {
      ok: true,
      path,
      summary: [m.manage.counts(endpoints.length, services), ...notes].join(m.manage.separator),
      warnings,
    };
  } catch (error) {
    return { ok: false, path, error: describe(error, m) };
  }
}

/**
 * Every customMCP tool that would be listed as unavailable and why (what the file alone tells:
 * whether a service tool is up is known only to a running server), then every switch in
 * `mcpServerConfig` that names no configured service or customMCP tool.
 */
function toolWarnings(config: XiaozhiConfig, m: Messages): string[] {
  const warnings: string[] = [];
  const custom = customToolsOf(config);
  const services = config.mcpServers ?? {};
  const names = new Set<string>();
  custom.tools.forEach((tool, index) => {
    const name = typeof tool.name === "string" && tool.name ? tool.name : `customMCP.tools[${index}]`;
    const target = mcpTarget(tool);
    const reason =
      unavailableReason(tool, custom.platforms) ??
      (names.has(name) ? "another customMCP tool has this name" : undefined) ??
      (target && !Object.hasOwn(services, target.service)
        ? `no service "${target.service}" in mcpServers`
        : undefined);
    names.add(name);
    if (reason) warnings.push(m.manage.toolUnavailable(name, reason));
  });
  for (const [service, entry] of Object.entries(config.mcpServerConfig ?? {})) {
    const isCustom = service === customToolsService;
    if (!isCustom && Object.hasOwn(services, service)) continue;
    for (const tool of Object.keys(entry.tools ?? {})) {
      if (isCustom && names.has(tool)) continue;
      warnings.push(
        m.manage.straySwitch(
          `mcpServerConfig.${service}.tools.${tool}`,
          isCustom ? m.manage.noSuchCustomTool : m.manage.noSuchService,
        ),
      );
    }
  }
  return warnings;
}

/** What `config init` writes: every section a user fills in, with placeholders the server skips. */
export const starterConfig = {
  mcpEndpoint: ["<请填写你的接入点地址 / your MCP endpoint URL, wss://api.xiaozhi.me/mcp/?token=…>"],
  mcpServers: {},
  mcpServerConfig: {},
  connection: { heartbeatInterval: 30000, heartbeatTimeout: 10000, reconnectInterval: 1000 },
  webUI: { port: 9999 },
};

/**
 * `config init`: writes the starter where the lookup would look first (`--config`,
 * `$XIAOZHI_CONFIG`, `$XIAOZHI_CONFIG_DIR`, else the current directory). Refuses to overwrite an
 * existing file unless `force`, and then replaces the one the lookup would read.
 */
export function initConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  force: boolean,
  m: Messages,
): string {
  const candidates = lookupCandidates(explicit, env);
  // An explicit file as named; else the first directory's xiaozhi.config.json, as xiaozhi-client writes.
  const target = candidates.length === 1 ? candidates[0] : candidates.find((c) => c.path.endsWith(".json"));
  if (!target) throw new CommandError(m.manage.nowhereToWrite);
  const taken = candidates.find((c) => c.exists && dirname(c.path) === dirname(target.path));
  if (taken && !force) throw new CommandError(m.manage.exists(taken.path));
  // Forced, the file found is the one replaced: one written beside it would never be read, as the
  // lookup takes `.json5` and `.jsonc` before `.json`. The starter is JSON, valid in all three.
  const path = taken?.path ?? target.path;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(starterConfig, null, 2)}\n`, { mode: 0o600 });
  // The mode applies only to a new file: one replaced keeps its own, maybe readable by others.
  chmodSync(path, 0o600);
  return path;
}
