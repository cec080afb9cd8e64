import type { Connection } from "./connection.js";
import type { SupervisedCandidate } from "./dispatcher.js";
import {
  connectionShapeChanged,
  type EndpointInput,
  type ResolvedEndpoint,
  resolveEndpoint,
} from "./endpoint.js";
import type { EndpointSupervisor } from "./endpoint-supervisor.js";
import type { HealthScorer } from "./health.js";
import type { Logger } from "./logger.js";
import type { EndpointStatus, ReconcileResult } from "./manager-events.js";

/** What applying a new endpoint list changes, worked out before anything changes. */
export interface EndpointListDiff {
  /** The new list by id, duplicates dropped. */
  readonly next: Map<string, ResolvedEndpoint>;
  readonly result: ReconcileResult;
  /** Unchanged endpoints whose weight, masked URL or name differ: applied in place. */
  readonly retitled: ResolvedEndpoint[];
}

/**
 * Compares the endpoints running now with a new list. Every input is resolved first, so an invalid
 * one throws `INVALID_ENDPOINT` before anything changes; a duplicate is dropped with a warning.
 * An endpoint whose URL or data changed is `changed` (its link is replaced); one whose weight or
 * name changed is `unchanged` and `retitled` (its link stays).
 */
export function diffEndpoints(
  current: ReadonlyMap<string, ResolvedEndpoint>,
  desired: readonly EndpointInput[],
  logger: Logger,
): EndpointListDiff {
  const next = new Map<string, ResolvedEndpoint>();
  for (const input of desired) {
    const endpoint = resolveEndpoint(input);
    if (next.has(endpoint.id)) {
      logger.warn({ endpoint: endpoint.masked }, "duplicate endpoint ignored");
      continue;
    }
    next.set(endpoint.id, endpoint);
  }
  const result = {
    added: [] as string[],
    removed: [] as string[],
    changed: [] as string[],
    unchanged: [] as string[],
  };
  const retitled: ResolvedEndpoint[] = [];
  for (const [id, running] of current) {
    const wanted = next.get(id);
    if (!wanted) result.removed.push(id);
    else if (connectionShapeChanged(running, wanted)) result.changed.push(id);
    else {
      result.unchanged.push(id);
      if (
        wanted.weight !== running.weight ||
        wanted.masked !== running.masked ||
        wanted.name !== running.name
      ) {
        retitled.push(wanted);
      }
    }
  }
  for (const id of next.keys()) if (!current.has(id)) result.added.push(id);
  return { next, result, retitled };
}

/**
 * Puts `map`'s entries in `order` when it names each of them once and they are not in it already
 * (a list re-ordered in the config file lists in its new order); says whether any moved.
 */
export function reorder<V>(map: Map<string, V>, order: readonly string[]): boolean {
  const keys = [...map.keys()];
  if (keys.length !== order.length || keys.every((id, i) => id === order[i])) return false;
  if (!order.every((id) => map.has(id))) return false;
  const entries = new Map(map);
  map.clear();
  for (const id of order) map.set(id, entries.get(id) as V);
  return true;
}

/** One endpoint's immutable status, from its supervisor, its dispatch candidate and the scorer. */
export function statusOf<C extends Connection>(
  supervisor: EndpointSupervisor<C>,
  candidate: SupervisedCandidate<C>,
  health: HealthScorer | undefined,
): EndpointStatus {
  const { endpoint, connection } = supervisor;
  const connected = supervisor.state === "connected";
  // Asked once: the report carries the score (a status is built for every endpoint at times).
  const report = health?.report(endpoint.id);
  const status: EndpointStatus = {
    id: endpoint.id,
    url: endpoint.masked,
    name: endpoint.name,
    state: supervisor.state,
    connected,
    // A connection that does not track it (a third party's) is taken as initialized once connected.
    initialized: connected && connection.initialized !== false,
    lastConnected: supervisor.lastConnected,
    lastError: supervisor.lastError,
    lastErrorAt: supervisor.lastErrorAt,
    reconnectAttempts: supervisor.attempts,
    nextReconnectAt: supervisor.nextReconnectAt,
    republishing: supervisor.republishing,
    healthScore: report ? report.score : connected ? 100 : 0,
    health: report,
    rttMs: connected ? connection.rttMs : undefined,
    lastFrameAt: connected ? connection.lastFrameAt : undefined,
    weight: endpoint.weight,
    inflight: candidate.inflight,
  };
  return Object.freeze(status);
}

/** `host:port` of an endpoint's URL; undefined for endpoints known only by id. */
export function hostOf(endpoint: ResolvedEndpoint): string | undefined {
  if (endpoint.url === undefined) return undefined;
  try {
    return new URL(endpoint.url).host;
  } catch {
    return undefined;
  }
}
