import { dirname } from "node:path";
import type { StrategyRegistry } from "@xiaozhi-connect/balancer";
import {
  type Connection,
  type ConnectionFactory,
  type ConnectionManager,
  describeError,
  type EndpointDescriptor,
  type HealthScorer,
  type Logger,
  redact,
  resolveEndpoint,
  type Strategy,
  type ToolSource,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import type { ConfigFile, ConfigRead, ConfigStatus, StartOnlyBlock } from "../config/config-file.js";
import { type SkippedEndpoint, selectEndpoints } from "../config/endpoints.js";
import { parseConfig, type XiaozhiConfig } from "../config/schema.js";
import { customToolsOf, servicesOf, toolSwitchesOf } from "../config/services.js";
import { managerSettingsOf, transportOptionsOf, withConnectionDefaults } from "../config/settings.js";
import { type EndpointDirectory, heldElsewhere, type Settling } from "./endpoint-directory.js";
import type { ServiceCatalog } from "./views.js";

/** The blocks read only when the server starts: a change waits for a restart (see `ConfigStatus.restartNeeded`). */
const startOnlyBlocks = ["cluster", "strategies", "webUI"] as const satisfies readonly StartOnlyBlock[];

/** Where a config to apply came from. */
export type ApplySource = "start" | "file" | "api" | "cluster" | "code";

/** What the applier changes when a config applies. */
export interface ApplierParts {
  readonly manager: ConnectionManager<Connection>;
  readonly factory: ConnectionFactory<Connection>;
  readonly health: HealthScorer;
  readonly tools: ToolSource;
  readonly catalog: ServiceCatalog;
  readonly strategies: StrategyRegistry;
  /** The strategy while the config names none. */
  readonly strategy: Strategy;
  readonly directory: EndpointDirectory;
  readonly file: ConfigFile | null;
  readonly logger: Logger;
  readonly now: () => number;
  /** Hears the status after every attempt, applied or rejected: once per attempt. */
  readonly onStatus: (status: ConfigStatus) => void;
  /** What the endpoints' tool source is wrapped in (the call log); as given without it. */
  readonly wrapTools?: (source: ToolSource) => ToolSource;
}

const settledNow: Settling = Object.freeze({ settled: Promise.resolve() });

/** What picks a replicated service's replica while neither it nor `connection` names a strategy. */
const defaultReplicaStrategy = "least-inflight";

/**
 * The one owner of the running config. Every change takes one path: validate and build everything
 * the new config needs (strategy, services, endpoints) changing nothing, then commit it in one step;
 * a config that cannot be applied is rejected whole and the running one stays. Changes run one at a
 * time, but the lock covers only validating and committing: links connect and close after it, so a
 * change never waits behind another's connect.
 */
export class ConfigApplier {
  #config: XiaozhiConfig;
  /** The strategy name in force; `undefined` while the injected strategy is used. */
  #strategyName: string | undefined;
  #loadedAt: number;
  #lastError: string | null = null;
  #last: ConfigStatus["last"];
  #line: Promise<unknown> = Promise.resolve();
  #applied = false;
  #closed = false;
  #reapplying = false;
  #servicesStarted: Promise<void> = Promise.resolve();
  /** Set once a caller chose the tools (`initializeXiaozhiConnection(…, tools)`). */
  #toolSourceChosen = false;
  /** The blocks read only at the start, as the process started with them: a change applies at the next. */
  readonly #atStart: Readonly<Record<StartOnlyBlock, string>>;
  /** The endpoints last selected from a list, kept while the list is the same one (a cluster re-apply). */
  #selected: { readonly list: unknown; readonly selection: Selection } | undefined;

  constructor(
    config: XiaozhiConfig,
    private readonly parts: ApplierParts,
  ) {
    this.#config = config;
    this.#atStart = {
      cluster: JSON.stringify(config.cluster),
      strategies: JSON.stringify(config.strategies),
      webUI: JSON.stringify(config.webUI),
    };
    this.#loadedAt = parts.now();
  }

  get config(): XiaozhiConfig {
    return this.#config;
  }

  /** Settles once every service's first start attempt has (endpoints never wait for it). */
  get servicesStarted(): Promise<void> {
    return this.#servicesStarted;
  }

  /** Where the running config came from, and how the last attempt to change it ended. */
  status(): ConfigStatus {
    const restartNeeded = startOnlyBlocks.filter(
      (block) => JSON.stringify(this.#config[block]) !== this.#atStart[block],
    );
    return {
      path: this.parts.file?.path ?? null,
      loadedAt: this.#loadedAt,
      lastError: this.#lastError,
      ...(this.parts.file?.references.length ? { fromEnv: this.parts.file.references } : {}),
      ...(this.parts.file?.unknownFields.length ? { unknownFields: this.parts.file.unknownFields } : {}),
      ...(this.#last === undefined ? {} : { last: this.#last }),
      ...(restartNeeded.length ? { restartNeeded } : {}),
    };
  }

  /** The tools are the caller's from now on; a config change no longer sets them. */
  chooseTools(source: ToolSource): void {
    this.#toolSourceChosen = true;
    this.parts.manager.setToolSource(this.parts.wrapTools?.(source) ?? source);
  }

  /**
   * Applies `next` (from `source`) and resolves once its links have settled; throws
   * `INVALID_CONFIG`, `UNKNOWN_STRATEGY`… when it cannot be applied, having changed nothing.
   */
  async apply(next: XiaozhiConfig, source: ApplySource): Promise<void> {
    const { settled } = await this.serially(() => this.applyNow(next, source));
    await settled;
  }

  /**
   * Applies a version read from the config file, or reports why it could not be read or parsed;
   * one overtaken by a later version (a write of ours that already holds it) is let go.
   */
  async applyRead(read: ConfigRead): Promise<void> {
    const current = () => read.version === this.parts.file?.version;
    const { settled } = await this.serially(async () => {
      if (!current()) return settledNow;
      if ("error" in read) {
        this.#finish("file", read.error);
        return settledNow;
      }
      return this.applyNow(read.config, "file").catch(() => settledNow);
    });
    await settled;
  }

  /** Runs `task` as one step of the serial line: no apply or change interleaves with it. */
  serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#line.then(task);
    this.#line = run.catch(() => {});
    return run;
  }

  /**
   * Re-applies the running config (as a cluster change) on the serial line: once, however often it
   * is asked before that runs. A failure is logged.
   */
  reapplySoon(): void {
    if (this.#reapplying || this.#closed) return;
    this.#reapplying = true;
    void this.serially(async () => {
      this.#reapplying = false;
      return this.applyNow(this.#config, "cluster");
    }).catch((error) =>
      this.parts.logger.error({ err: redact(describeError(error)) }, "cluster: could not apply"),
    );
  }

  /** Within `serially`: validates, builds and commits `next`. */
  applyNow(next: XiaozhiConfig, source: ApplySource): Promise<Settling> {
    return this.#attempt(source, () => this.#prepare(next, source));
  }

  /**
   * Within `serially`: edits the raw config, the file's when there is one (written atomically,
   * keeping every other field and comment, only once the new config is built), else the running
   * one, and applies it. An edit that returns false found nothing to change: nothing is written,
   * applied or reported.
   */
  change(edit: (raw: Record<string, unknown>) => unknown, source: ApplySource = "api"): Promise<Settling> {
    const file = this.parts.file;
    return this.#attempt(source, async () => {
      if (!file) {
        const raw = structuredClone(this.#config) as Record<string, unknown>;
        if (edit(raw) === false) return undefined;
        return this.#prepare(parseConfig(raw), source);
      }
      const draft = await file.draft(edit);
      if (!draft.changed) return undefined;
      // Built before anything is written: a change that cannot run leaves the file as it was.
      const commit = await this.#prepare(draft.config, source);
      await draft.write();
      return commit;
    });
  }

  /**
   * One attempt: build (which may throw, changing nothing), commit, and report how it ended. A
   * build with nothing to commit (undefined) is no attempt: it is not reported.
   */
  async #attempt(source: ApplySource, build: () => Promise<(() => Settling) | undefined>): Promise<Settling> {
    let commit: (() => Settling) | undefined;
    try {
      commit = await build();
    } catch (error) {
      this.#finish(source, error);
      throw error;
    }
    if (commit === undefined) return settledNow;
    const settling = commit();
    this.#finish(source);
    return settling;
  }

  /** Stops applying: whatever is under way finishes, nothing later commits. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#line;
  }

  /** Records how an attempt ended and reports it, once. */
  #finish(source: ApplySource, error?: unknown): void {
    const at = this.parts.now();
    if (error === undefined) {
      this.#lastError = null;
      this.#loadedAt = at;
    } else {
      this.#lastError = redact(describeError(error));
      if (source === "file") {
        this.parts.logger.warn(
          { path: this.parts.file?.path, err: this.#lastError },
          "config change rejected; the running config stays",
        );
      }
    }
    this.#last = { source, outcome: error === undefined ? "applied" : "rejected", at };
    this.parts.onStatus(this.status());
  }

  /**
   * The endpoints of `list` with their ids. In cluster mode every lease change applies again with
   * the same list: ten thousand endpoints are not checked again each time.
   */
  select(list: XiaozhiConfig["mcpEndpoint"]): Selection {
    if (this.#selected && this.#selected.list === list && typeof list === "object")
      return this.#selected.selection;
    const { endpoints, skipped } = selectEndpoints(list);
    const selection = { endpoints, skipped, ids: endpoints.map((endpoint) => resolveEndpoint(endpoint).id) };
    this.#selected = { list, selection };
    return selection;
  }

  /**
   * Checks and builds everything `next` needs, changing nothing; returns the change to make, which
   * commits at once and leaves the links settling. Throws for an unknown strategy, a service that
   * cannot be built, or an endpoint that cannot be one.
   */
  async #prepare(next: XiaozhiConfig, source: ApplySource): Promise<() => Settling> {
    const { manager, factory, health, catalog, directory, logger, file } = this.parts;
    const quiet = source === "cluster";
    const connection = withConnectionDefaults(next.connection);
    const named = <T>(field: string | undefined, make: () => T): T => {
      try {
        return make();
      } catch (error) {
        throw unknownStrategy(error, field, next.strategies);
      }
    };
    // Absent fields take their defaults, so deleting a field from the file undoes it.
    const strategyName = next.connection?.loadBalanceStrategy;
    const strategy =
      strategyName === this.#strategyName
        ? undefined
        : strategyName === undefined
          ? this.parts.strategy
          : named("connection.loadBalanceStrategy", () => this.parts.strategies.create(strategyName));
    for (const block of startOnlyBlocks) {
      if (!quiet && JSON.stringify(next[block]) !== this.#atStart[block]) {
        logger.warn(`the ${block} block changed: it applies when the server restarts`);
      }
    }
    if (!quiet && this.#applied) directory.review(next, this.#config);
    const { endpoints: listed, skipped, ids } = this.select(directory.listed(next));
    const baseDir = file ? dirname(file.path) : undefined;
    // A service's own `strategy` the services name themselves (`mcpServers.<name>.strategy: …`).
    const services = named(undefined, () =>
      catalog.prepare?.(servicesOf(next, baseDir), toolSwitchesOf(next), customToolsOf(next)),
    );
    const first = !this.#applied;
    return () => {
      if (this.#closed) return settledNow;
      this.#applied = true;
      this.#config = next;
      this.#strategyName = strategyName;
      manager.configure({ ...managerSettingsOf(connection), ...(strategy ? { strategy } : {}) });
      factory.configure?.({ ...transportOptionsOf(connection) });
      health.configure?.(next.health ?? {});
      // Traffic is chosen among a service's replicas: that is where strategy and health apply.
      catalog.configure?.({
        toolsHold: connection.toolsHold,
        strategy: strategyName ?? defaultReplicaStrategy,
        health: next.health ?? {},
      });
      if (!quiet)
        for (const { endpoint, reason } of skipped) logger.warn({ endpoint, reason }, "skipping endpoint");
      if (services) {
        const { started } = services.commit();
        const { added, removed, changed, unchanged } = services.diff;
        if (!first && added.length + removed.length + changed.length > 0) {
          logger.info({ added, removed, changed, unchanged: unchanged.length }, "services updated");
        }
        this.#servicesStarted = started;
      }
      // Services start beside the endpoints; an agent's first tools/list waits for them a while.
      if (first && catalog.start) this.#servicesStarted = catalog.start();
      if (!this.#toolSourceChosen && first) {
        manager.setToolSource(this.parts.wrapTools?.(this.parts.tools) ?? this.parts.tools);
      }
      if (listed.length === 0 && !quiet) logger.warn("no valid Xiaozhi endpoint configured; not connecting");
      // Read the leases at the last moment: one lost while this was built is not connected.
      const endpoints = listed.filter((_, i) => directory.runsHere(ids[i] as string));
      // A diff against what runs: unchanged endpoints keep their sockets. One still listed that
      // leaves is held by another instance now.
      let listedIds: Set<string> | undefined;
      const { result, settled } = manager.apply(endpoints, (id) => {
        listedIds ??= new Set(ids);
        return listedIds.has(id) ? heldElsewhere : "endpoint removed";
      });
      const summary = {
        added: result.added.length,
        removed: result.removed.length,
        changed: result.changed.length,
        unchanged: result.unchanged.length,
      };
      if (first)
        logger.info({ endpoints: endpoints.length }, `managing ${endpoints.length} Xiaozhi endpoint(s)`);
      else if (quiet) logger.debug(summary, "cluster: endpoints applied");
      else logger.info(summary, "config applied");
      // The first apply starts the manager: it connects every endpoint, then what each apply adds.
      const connecting = first ? manager.connect() : Promise.resolve();
      return { settled: Promise.all([settled, connecting]).then(() => {}) };
    };
  }
}

/**
 * An unknown strategy as the config names it: after its `field` when given, and, for a name the new
 * `strategies` block has (which is not registered until a restart, as the block is read at the
 * start), saying that the block applies at the next restart. Any other error as it is.
 */
function unknownStrategy(
  error: unknown,
  field: string | undefined,
  strategies: Readonly<Record<string, string>> | undefined,
): unknown {
  if (!XiaozhiError.isInstance(error) || error.code !== "UNKNOWN_STRATEGY") return error;
  const name = /unknown strategy "([^"]*)"/.exec(error.message)?.[1];
  const added = name !== undefined && strategies !== undefined && Object.hasOwn(strategies, name);
  if (!field && !added) return error;
  const restart = added ? "; changes to the strategies block apply at the next restart" : "";
  const message = `${field ? `${field}: ` : ""}${error.message}${restart}`;
  return new XiaozhiError(error.code, message, { cause: error });
}

/** The endpoints of a list to run, those left out and why, and the ids of those to run. */
export interface Selection {
  readonly endpoints: readonly EndpointDescriptor[];
  readonly skipped: readonly SkippedEndpoint[];
  readonly ids: readonly string[];
}
