import { AsyncLocalStorage } from "node:async_hooks";
import { endpointId } from "@xiaozhi-connect/core";
import { entryIdOf } from "../config/endpoints.js";
import type { XiaozhiConfig } from "../config/schema.js";

/**
 * One change, by name or id only. `what` is `endpoint`, `service`, `client`, `custom tool`, `tool`
 * (a switch or its settings in `mcpServerConfig`) or `setting` (another top-level field); `more`
 * sums up `count` further changes of a large one.
 */
export interface AuditChange {
  readonly what: "endpoint" | "service" | "client" | "custom tool" | "tool" | "setting" | "more";
  readonly change?: "added" | "removed" | "changed" | "on" | "off";
  readonly name?: string;
  readonly count?: number;
}

/** Who made a change: the way it came, and over HTTP the address and the credential used. */
export interface AuditActor {
  /** `api` (a script), `dashboard`, `cli`, `file` (an edit on disk), `start`, `cluster`, `code`. */
  readonly source: string;
  readonly address?: string;
  /** `token`, `session <id>` (a login, by a short id of its own), `metrics`, or `none` on loopback. */
  readonly as?: string;
}

/** One entry of the trail. Names and ids only: never a URL, a token, a key or a password. */
export interface AuditEntry extends AuditActor {
  readonly at: number;
  /** `config`, `login`, `logout`, `logout-all`, `reconnect`, `restart`. */
  readonly action: string;
  /** What changed: `{what: "endpoint", change: "added", name: "ep-1a2b3c4d5e6f"}`, … */
  readonly changes?: readonly AuditChange[];
  /** At a start: how much the config holds. */
  readonly counts?: { readonly endpoints: number; readonly services: number; readonly clients: number };
  readonly outcome: "applied" | "rejected" | "ok" | "refused";
  /** Why it was rejected, as the config status says it (masked). */
  readonly error?: string;
}

export interface AuditTrailOptions {
  /** Entries kept in memory for `GET /api/audit`; default 500. */
  readonly keep?: number;
  /** Where each entry also goes, as one JSON line (a rotated file in the state directory). */
  readonly sink?: (line: string) => void;
  /** Entries from before this start (the file's tail), oldest first. */
  readonly earlier?: readonly AuditEntry[];
  readonly now?: () => number;
}

/**
 * Who changed what, and whether it applied: every config change (API, dashboard, command line, an
 * edit of the file), logins and logouts, reconnects and restarts. Bounded in memory; the sink
 * keeps the rest. The actor of an HTTP request travels with the request's async context, so the
 * config's one apply path needs no parameter for it.
 */
export class AuditTrail {
  readonly #entries: AuditEntry[] = [];
  readonly #keep: number;
  readonly #actor = new AsyncLocalStorage<AuditActor>();

  constructor(private readonly options: AuditTrailOptions = {}) {
    this.#keep = options.keep ?? 500;
    this.#entries.push(...(options.earlier ?? []).slice(-this.#keep));
  }

  /** Runs `task` as done by `actor`: changes it makes are recorded as theirs. */
  as<T>(actor: AuditActor, task: () => T): T {
    return this.#actor.run(actor, task);
  }

  /** The actor of the work under way, when it came through `as`. */
  get actor(): AuditActor | undefined {
    return this.#actor.getStore();
  }

  /** Records one entry, as the current actor's unless it names its own source. */
  record(entry: Omit<AuditEntry, "at" | "source"> & { readonly source?: string }): AuditEntry {
    const actor = this.actor;
    const full: AuditEntry = {
      at: (this.options.now ?? Date.now)(),
      ...(actor ?? { source: "code" }),
      ...entry,
    } as AuditEntry;
    this.#entries.push(full);
    if (this.#entries.length > this.#keep) this.#entries.shift();
    this.options.sink?.(`${JSON.stringify(full)}\n`);
    return full;
  }

  /** The latest entries, newest first. */
  recent(limit = this.#keep): AuditEntry[] {
    return this.#entries.slice(-limit).reverse();
  }
}

/** Lines of one entry at most: a change of thousands of endpoints is summed up past it. */
const maxChanges = 50;

/** What differs between two configs, one line per change, by names and ids only. */
export function describeConfigChange(before: XiaozhiConfig, after: XiaozhiConfig): AuditChange[] {
  // A cluster re-apply of the config in force: nothing to compare.
  if (before === after) return [];
  const changes = listChanges(before, after);
  if (changes.length <= maxChanges) return changes;
  return [...changes.slice(0, maxChanges - 1), { what: "more", count: changes.length - maxChanges + 1 }];
}

function listChanges(before: XiaozhiConfig, after: XiaozhiConfig): AuditChange[] {
  const changes: AuditChange[] = [];
  const byKey = <T>(list: readonly T[], key: (item: T) => string | undefined) =>
    new Map(list.flatMap((item) => (key(item) === undefined ? [] : [[key(item) as string, item] as const])));
  const compare = (what: AuditChange["what"], a: Map<string, unknown>, b: Map<string, unknown>) => {
    for (const name of a.keys()) if (!b.has(name)) changes.push({ what, change: "removed", name });
    for (const [name, value] of b) {
      if (!a.has(name)) changes.push({ what, change: "added", name });
      else if (JSON.stringify(a.get(name)) !== JSON.stringify(value))
        changes.push({ what, change: "changed", name });
    }
  };
  const endpoints = (c: XiaozhiConfig) => {
    const list =
      c.mcpEndpoint === undefined ? [] : Array.isArray(c.mcpEndpoint) ? c.mcpEndpoint : [c.mcpEndpoint];
    return byKey(list as unknown[], (entry) => entryIdOf(entry) ?? idOfBlank(entry));
  };
  compare("endpoint", endpoints(before), endpoints(after));
  compare(
    "service",
    new Map(Object.entries(before.mcpServers ?? {})),
    new Map(Object.entries(after.mcpServers ?? {})),
  );
  compare(
    "client",
    byKey(before.clients ?? [], (c) => c.name),
    byKey(after.clients ?? [], (c) => c.name),
  );
  const customs = (c: XiaozhiConfig) =>
    byKey((c.customMCP?.tools ?? []) as { name?: string; enable?: boolean }[], (t) => t.name);
  const [wasCustom, isCustom] = [customs(before), customs(after)];
  const customFrom = changes.length;
  compare("custom tool", wasCustom, isCustom);
  // A custom tool switched by its own `enable` is a tool going off or on, as a service's tool is.
  for (const change of changes.slice(customFrom)) {
    if (change.change !== "changed" || change.name === undefined) continue;
    const { enable: a, ...restA } = wasCustom.get(change.name) ?? {};
    const { enable: b, ...restB } = isCustom.get(change.name) ?? {};
    if ((a !== false) === (b !== false)) continue;
    changes.splice(changes.indexOf(change), 1, {
      what: "tool",
      change: b === false ? "off" : "on",
      name: change.name,
    });
    if (JSON.stringify(restA) !== JSON.stringify(restB)) changes.push(change);
  }
  const [was, is] = [toolSettings(before), toolSettings(after)];
  for (const name of new Set([...was.keys(), ...is.keys()])) {
    const a = was.get(name) ?? {};
    const b = is.get(name) ?? {};
    if ((a.enable !== false) !== (b.enable !== false)) {
      changes.push({ what: "tool", change: b.enable === false ? "off" : "on", name });
    } else if (JSON.stringify(a) !== JSON.stringify(b))
      changes.push({ what: "tool", change: "changed", name });
  }
  const covered = new Set(["mcpEndpoint", "mcpServers", "clients", "customMCP", "mcpServerConfig"]);
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (covered.has(key)) continue;
    const a = JSON.stringify((before as Record<string, unknown>)[key]);
    const b = JSON.stringify((after as Record<string, unknown>)[key]);
    if (a !== b) changes.push({ what: "setting", change: "changed", name: key });
  }
  return changes;
}

/** Each tool's entry in `mcpServerConfig` (its switch, its timeout), as `service__tool`. */
function toolSettings(config: XiaozhiConfig): Map<string, { enable?: boolean }> {
  const found = new Map<string, { enable?: boolean }>();
  for (const [service, entry] of Object.entries(config.mcpServerConfig ?? {})) {
    const tools = (entry as { tools?: Record<string, { enable?: boolean }> }).tools ?? {};
    for (const [tool, value] of Object.entries(tools)) found.set(`${service}__${tool}`, value);
  }
  return found;
}

/** An entry with no usable URL still has a stable name: the hash of what it holds. */
function idOfBlank(entry: unknown): string {
  return endpointId(`invalid:${JSON.stringify(entry)}`);
}
