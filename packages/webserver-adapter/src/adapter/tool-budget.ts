import {
  type EndpointDescriptor,
  endpointId,
  type Logger,
  type ToolDescriptor,
  type ToolSource,
} from "@xiaozhi-connect/core";
import { type ToolFilter, toolSubset } from "@xiaozhi-connect/mcp-services";
import { wireTool } from "@xiaozhi-connect/transport-ws";
import type { XiaozhiConfig } from "../config/schema.js";

/**
 * Tools an agent is given before a warning, unless `maxTools` (per endpoint, or `connection.maxTools`)
 * says otherwise. Users of the self-hosted server report that more than 25 tools hung it, and users of
 * the cloud that many tools or long descriptions make the agent pick worse: 25 is the one number seen.
 */
export const defaultMaxTools = 25;

/** What one endpoint's agent is given: how many tools, and how large their list is. */
export interface ToolBudget {
  /** Tools in the agent's `tools/list`. */
  readonly tools: number;
  /** Bytes of the `tools/list` result's JSON (`{"tools":[…]}`), as the agent receives it. */
  readonly bytes: number;
  /** The endpoint's `maxTools`, else `connection.maxTools`, else 25. */
  readonly maxTools: number;
  /** More tools than `maxTools`: only warned about, the list is not cut. */
  readonly over: boolean;
}

/** An endpoint as its budget is worked out: its id, its `services`/`tools` filter, its own `maxTools`. */
export interface BudgetTarget {
  readonly id: string;
  readonly filter: ToolFilter | undefined;
  readonly maxTools: number | undefined;
}

/**
 * The endpoints of `mcpEndpoint` to budget, from its selection (the endpoints to run, with their
 * ids), which the applier has worked out already: ids cost a URL parse each.
 */
export function budgetTargets(
  mcpEndpoint: XiaozhiConfig["mcpEndpoint"],
  selection: { readonly endpoints: readonly EndpointDescriptor[]; readonly ids: readonly string[] },
): BudgetTarget[] {
  const limits = new Map<string, number>();
  for (const entry of Array.isArray(mcpEndpoint) ? mcpEndpoint : []) {
    if (typeof entry === "object" && entry.maxTools !== undefined)
      limits.set(endpointId(entry.url.trim()), entry.maxTools);
  }
  return selection.endpoints.map((endpoint, i) => {
    const id = selection.ids[i] as string;
    return { id, filter: endpoint.data as ToolFilter | undefined, maxTools: limits.get(id) };
  });
}

/**
 * The budget of every target, by endpoint id, from the list each one's agent would get now (its
 * `services`/`tools` filter applied). Undefined when the tool source lists only asynchronously (a
 * third party's), as no list is at hand.
 */
export function toolBudgets(
  source: ToolSource,
  targets: readonly BudgetTarget[],
  fallbackMax: number | undefined,
): Record<string, ToolBudget> | undefined {
  const budgets: Record<string, ToolBudget> = {};
  // Endpoints without a filter share one list, measured once.
  let whole: { tools: number; bytes: number } | undefined;
  for (const { id, filter, maxTools: own } of targets) {
    let measured = filter ? undefined : whole;
    if (!measured) {
      const list = toolSubset(source, filter).listTools();
      if (!Array.isArray(list)) return undefined;
      measured = measure(list as readonly ToolDescriptor[]);
      if (!filter) whole = measured;
    }
    const maxTools = own ?? fallbackMax ?? defaultMaxTools;
    budgets[id] = { ...measured, maxTools, over: measured.tools > maxTools };
  }
  return budgets;
}

function measure(list: readonly ToolDescriptor[]): { tools: number; bytes: number } {
  return { tools: list.length, bytes: Buffer.byteLength(JSON.stringify({ tools: list.map(wireTool) })) };
}

/**
 * Logs a warning when an endpoint's agent is given more tools than its `maxTools`: once per excess,
 * again only after the count changed or it went back under.
 */
export class ToolBudgetWarnings {
  readonly #warned = new Map<string, number>();

  constructor(private readonly logger: Logger) {}

  /** Checks the budgets against the last check and logs every new excess. */
  check(
    budgets: Readonly<Record<string, ToolBudget>> | undefined,
    names: (id: string) => string | undefined,
  ): void {
    if (!budgets) return;
    for (const id of this.#warned.keys()) if (!budgets[id]?.over) this.#warned.delete(id);
    for (const [id, budget] of Object.entries(budgets)) {
      if (!budget.over || this.#warned.get(id) === budget.tools) continue;
      this.#warned.set(id, budget.tools);
      this.logger.warn(
        {
          endpoint: id,
          agent: names(id),
          tools: budget.tools,
          maxTools: budget.maxTools,
          bytes: budget.bytes,
        },
        "an agent is given more tools than maxTools: switch some off or give the endpoint a services/tools filter",
      );
    }
  }
}
