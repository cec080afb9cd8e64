import type { Logger, ToolSource } from "@xiaozhi-connect/core";
import type { ToolFilter } from "@xiaozhi-connect/mcp-services";
import type { XiaozhiConfig } from "../config/schema.js";
import type { Selection } from "./config-applier.js";
import type { EndpointDirectory } from "./endpoint-directory.js";
import {
  type BudgetTarget,
  budgetTargets,
  type ToolBudget,
  ToolBudgetWarnings,
  toolBudgets,
} from "./tool-budget.js";

export interface ToolLimitsSource {
  readonly tools: ToolSource;
  readonly logger: Logger;
  /** The running config. */
  config(): XiaozhiConfig;
  /** The endpoint list as it runs (the file's, or the cluster's), and which of it runs here. */
  readonly directory: Pick<EndpointDirectory, "listed" | "runsHere">;
  /** The endpoints of a list to run, with their ids (the applier's, worked out once per list). */
  select(list: XiaozhiConfig["mcpEndpoint"]): Selection;
  /** Each endpoint's name, by id, for the warnings. */
  names(): ReadonlyMap<string, string | undefined>;
}

/** An endpoint list, resolved. */
interface Resolved {
  readonly listed: unknown;
  readonly targets: readonly BudgetTarget[];
  readonly filters: Record<string, ToolFilter> | undefined;
}

/**
 * What limits the tools each endpoint's agent is given: its `{services?, tools?}` filter, and its
 * budget (`maxTools`), with a warning logged when an agent is newly given more.
 */
export class ToolLimits {
  readonly #warnings: ToolBudgetWarnings;
  /** The ids of the whole list's budgets that are exceeded, and which budgets they are of. */
  #over: { readonly all: object; readonly ids: readonly string[] } | undefined;
  /**
   * The endpoints of the list last asked about, resolved, and their filters: a list is replaced,
   * never changed in place, so ten thousand URLs are parsed once per list, not on every status.
   */
  #resolved: Resolved | undefined;
  /** The budgets last worked out, and what from. */
  #budgets:
    | {
        readonly resolved: Resolved;
        readonly tools: unknown;
        readonly fallback: number | undefined;
        readonly budgets: Readonly<Record<string, ToolBudget>> | undefined;
      }
    | undefined;

  constructor(private readonly source: ToolLimitsSource) {
    this.#warnings = new ToolBudgetWarnings(source.logger);
  }

  /**
   * Each endpoint's tool count and size against its `maxTools`, by id, for the endpoints this
   * process runs: in a cluster, another instance gives the others their tools (and may serve
   * other ones), so it counts and warns for them. The budgets of the whole list are worked out
   * again only when the list, the tools (a source's list is one array until it changes) or
   * `connection.maxTools` changed; picking those run here is one pass over the list in cluster mode.
   */
  budgets(): Readonly<Record<string, ToolBudget>> | undefined {
    const all = this.#allBudgets();
    if (!all) return all;
    const { directory } = this.source;
    const ids = Object.keys(all);
    // Everything runs here (always, without a cluster): the same object while nothing changed.
    if (ids.every((id) => directory.runsHere(id))) return all;
    return Object.fromEntries(
      ids.filter((id) => directory.runsHere(id)).map((id) => [id, all[id] as ToolBudget]),
    );
  }

  #allBudgets(): Readonly<Record<string, ToolBudget>> | undefined {
    const config = this.source.config();
    const resolved = this.#resolve(config);
    const tools = this.source.tools.listTools();
    const fallback = config.connection?.maxTools;
    const known = this.#budgets;
    if (known?.resolved === resolved && known.tools === tools && known.fallback === fallback) {
      return known.budgets;
    }
    const budgets = toolBudgets(this.source.tools, resolved.targets, fallback);
    // A list that comes asynchronously is a new promise on every call: nothing to compare.
    this.#budgets = Array.isArray(tools) ? { resolved, tools, fallback, budgets } : undefined;
    return budgets;
  }

  /**
   * Logs each endpoint run here newly given more tools than its `maxTools`. Goes over the endpoints
   * whose budget is exceeded (worked out once per budgets), not the list: it runs after every apply,
   * and in cluster mode every change of the leases is one (a takeover of thousands, several a second).
   */
  check(): void {
    const all = this.#allBudgets();
    let overHere: Record<string, ToolBudget> | undefined;
    if (all) {
      if (this.#over?.all !== all) {
        this.#over = { all, ids: Object.keys(all).filter((id) => all[id]?.over) };
      }
      const { directory } = this.source;
      overHere = {};
      for (const id of this.#over.ids) if (directory.runsHere(id)) overHere[id] = all[id] as ToolBudget;
    }
    // Every endpoint's name, asked for only when there is a warning to log.
    let names: ReadonlyMap<string, string | undefined> | undefined;
    this.#warnings.check(overHere, (id) => {
      names ??= this.source.names();
      return names.get(id);
    });
  }

  /** The `{services?, tools?}` limits of the endpoints that have one, by id; undefined when none does. */
  filters(): Record<string, ToolFilter> | undefined {
    return this.#resolve(this.source.config()).filters;
  }

  #resolve(config: XiaozhiConfig): Resolved {
    const listed = this.source.directory.listed(config);
    const known = this.#resolved;
    if (known && known.listed === listed) return known;
    const targets = budgetTargets(listed, this.source.select(listed));
    let filters: Record<string, ToolFilter> | undefined;
    for (const { id, filter } of targets) {
      // The data also carries the endpoint's result bound, which limits no tool.
      const { services, tools } = filter ?? {};
      if (services === undefined && tools === undefined) continue;
      filters ??= {};
      filters[id] = {
        ...(services === undefined ? {} : { services }),
        ...(tools === undefined ? {} : { tools }),
      };
    }
    this.#resolved = { listed, targets, filters };
    return this.#resolved;
  }
}
