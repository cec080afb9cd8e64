import type { Messages } from "./messages.js";
import { colors, state, table } from "./output.js";

// The command line's tables: rows as the API (or the config file) gives them, headed and worded in
// the command's language.

export interface EndpointRow {
  readonly id: string;
  readonly url: string;
  readonly name?: string;
  readonly state: string;
  /** The link is being reopened so its agent lists changed tools. */
  readonly republishing?: boolean;
  /** False while no agent has sent `initialize` (a self-hosted relay's idle state). */
  readonly initialized?: boolean;
  readonly healthScore?: number;
  readonly rttMs?: number;
  readonly lastError?: string;
  /** Epoch ms of `lastError`. */
  readonly lastErrorAt?: number;
  /** Cluster mode: the instance holding it (`null`: none now). */
  readonly instance?: string | null;
  /** Cluster mode: the instance answering runs it (what it gives the agent is known for this one only). */
  readonly here?: boolean;
}

/** An instance of the cluster, as `/api/cluster` lists it. */
export interface InstanceRow {
  readonly id: string;
  readonly address: string | null;
  readonly endpoints: number;
  readonly heartbeatAt: number;
  readonly self: boolean;
  /** This one waits for its id to be free (it was held until then, on Redis's clock): it is starting. */
  readonly idHeldUntil?: number;
}

export interface ServiceRow {
  readonly name: string;
  readonly state: string;
  readonly tools?: number;
  readonly restarts?: number;
  readonly lastError?: string;
}

export interface ToolRow {
  readonly name: string;
  readonly service: string;
  readonly enabled: boolean;
  readonly description?: string;
  readonly unavailable?: string;
  /** A customMCP `mcp` tool's service tool, `<service>__<tool>`. */
  readonly target?: string;
}

/** What one endpoint's agent is given (`toolBudget` of `GET /api/status`). */
export interface BudgetRow {
  readonly tools: number;
  readonly bytes: number;
  readonly maxTools: number;
  readonly over: boolean;
}

/** `14 · 5.2 KiB`, and the limit when it is exceeded. */
function budgetCell(budget: BudgetRow | undefined, m: Messages): string {
  if (!budget) return "";
  const size = budget.bytes < 1024 ? `${budget.bytes} B` : `${(budget.bytes / 1024).toFixed(1)} KiB`;
  const cell = `${budget.tools} · ${size}`;
  return budget.over ? colors.yellow(`${cell} ${m.tables.overMax(budget.maxTools)}`) : cell;
}

/**
 * The budget of a row, where it is known: what this instance gives the agents of the endpoints it
 * runs (in cluster mode another instance's may serve other tools), and nothing to a failed one.
 */
function knownBudget(
  e: EndpointRow,
  budgets: Readonly<Record<string, BudgetRow>>,
  clustered: boolean,
): BudgetRow | undefined {
  return e.state === "failed" || (clustered && !e.here) ? undefined : budgets[e.id];
}

/** Endpoints as a table, headed and worded in the command's language. */
export function endpointTable(
  rows: readonly EndpointRow[],
  m: Messages,
  budgets?: Readonly<Record<string, BudgetRow>>,
  now = Date.now(),
): string {
  // In cluster mode every row says which instance holds the endpoint.
  const clustered = rows.some((e) => e.instance !== undefined);
  const h = m.tables;
  return table(
    [
      h.id,
      h.agent,
      h.url,
      h.state,
      ...(clustered ? [h.instance] : []),
      ...(budgets ? [h.given] : []),
      h.health,
      h.rtt,
      h.lastError,
    ],
    rows.map((e) => [
      e.id,
      shownName(e.name, m),
      e.url,
      // A link reopened so its agent lists changed tools is no trouble: say what it is.
      e.republishing
        ? state("republishing tools", m.states.republishing)
        : e.state === "connected" && e.initialized === false
          ? // Open, but no agent has initialized it: a self-hosted relay does when a device's session starts.
            state("awaiting", m.states.awaitingAgent)
          : state(e.state, m.states[e.state as keyof Messages["states"]] ?? e.state),
      ...(clustered ? [e.instance ?? colors.dim(m.tables.none)] : []),
      ...(budgets ? [budgetCell(knownBudget(e, budgets, clustered), m)] : []),
      e.healthScore === undefined ? "" : String(Math.round(e.healthScore)),
      e.rttMs === undefined ? "" : `${e.rttMs.toFixed(1)} ms`,
      // With its age: on a link that is up again, an old error is history, not trouble.
      e.lastError
        ? colors.dim(
            e.lastErrorAt === undefined
              ? m.explain(e.lastError)
              : m.tables.withAge(m.explain(e.lastError), m.tables.ago(Math.max(0, now - e.lastErrorAt))),
          )
        : "",
    ]),
  );
}

/** The instances of a cluster: id, address, endpoints held, last heartbeat. */
export function instanceTable(rows: readonly InstanceRow[], m: Messages, now = Date.now()): string {
  const h = m.tables;
  return table(
    [h.instance, h.address, h.endpoints, h.heartbeat],
    rows.map((i) => {
      const id = i.self ? `${i.id} ${colors.dim(h.thisOne)}` : i.id;
      return [
        // Waiting for its id to be free (held by it before a restart, or by another): not joined yet.
        i.idHeldUntil === undefined ? id : `${id} ${state("starting", m.states.starting)}`,
        i.address ?? "",
        String(i.endpoints),
        h.secondsAgo(((now - i.heartbeatAt) / 1000).toFixed(1)),
      ];
    }),
  );
}

export function serviceTable(rows: readonly ServiceRow[], m: Messages): string {
  const h = m.tables;
  return table(
    [h.service, h.state, h.tools, h.restarts, h.whyDown],
    rows.map((s) => [
      s.name,
      state(s.state, m.states[s.state as keyof Messages["states"]] ?? s.state),
      s.tools === undefined ? "" : String(s.tools),
      s.restarts === undefined ? "" : String(s.restarts),
      s.lastError ? colors.dim(m.explain(s.lastError)) : "",
    ]),
  );
}

export function toolTable(rows: readonly ToolRow[], m: Messages): string {
  const h = m.tables;
  return table(
    [h.tool, h.service, h.enabled, h.description],
    rows.map((t) => [
      t.target ? `${t.name} → ${t.target}` : t.name,
      t.service,
      `${t.enabled ? colors.green(h.yes) : colors.red(h.no)}${t.unavailable ? ` (${colors.yellow(h.unavailable)})` : ""}`,
      t.unavailable
        ? colors.dim(m.explain(t.unavailable))
        : (m.explain.description?.(t.description ?? "") ?? t.description ?? ""),
    ]),
  );
}

/**
 * An endpoint's name as the command's language says it: the server makes a name from the token's
 * agent id when the config gives none (`agent 12345`), which reads `智能体 12345` in Chinese.
 */
export function shownName(name: string | undefined, m: Messages): string {
  const made = name === undefined ? null : madeName.exec(name);
  return made ? m.tables.agentNumbered(made[1] as string) : (name ?? "");
}

const madeName = /^agent ([\w.-]{1,64})$/;

/**
 * The name the server keeps that {@link shownName} says as `shown` (`智能体 12345`, or `智能体12345`
 * as Chinese is often typed → `agent 12345`); `shown` itself when it is no such name.
 */
export function keptName(shown: string, m: Messages): string {
  const prefix = m.tables.agentNumbered("").trim();
  const id = shown.startsWith(prefix) ? shown.slice(prefix.length).trim() : "";
  return madeName.test(`agent ${id}`) ? `agent ${id}` : shown;
}
