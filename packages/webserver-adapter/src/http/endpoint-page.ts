import { connectionStates } from "@xiaozhi-connect/core";

/** What a page of endpoints is cut from: an endpoint as the API shows it, at least these fields. */
export interface ListedStatus {
  readonly id: string;
  readonly url: string;
  readonly name?: string;
  readonly state: string;
  readonly connected: boolean;
}

/** `GET /api/endpoints?offset&limit&state&q`: which endpoints, and which of them to send. */
export interface EndpointQuery {
  /** Endpoints to skip (of those that match); default 0. */
  readonly offset: number;
  /** Endpoints to send at most; undefined sends every match. */
  readonly limit?: number;
  /** Only endpoints in one of these states. */
  readonly states?: readonly string[];
  /** Only endpoints whose name, id or masked URL contains this (any case). */
  readonly q?: string;
}

/** How many endpoints there are, connected, and in each state. */
export interface EndpointSummary {
  readonly total: number;
  readonly connected: number;
  /** By state (`connected`, `reconnecting`, …); a state no endpoint is in is left out. */
  readonly states: Readonly<Record<string, number>>;
}

/** The largest page one request gets. */
export const maxPageSize = 1000;

const states: ReadonlySet<string> = new Set(connectionStates);

/**
 * Reads the query of `GET /api/endpoints`, or says what is wrong with it. `limit` is 1 to
 * {@link maxPageSize}; `state` is one state or several, comma-separated.
 */
export function parseEndpointQuery(
  get: (name: string) => string | undefined,
): EndpointQuery | { readonly error: string } {
  const offset = get("offset");
  const limit = get("limit");
  const state = get("state");
  const q = get("q");
  const number = (text: string) => (/^\d{1,9}$/.test(text) ? Number(text) : Number.NaN);
  if (offset !== undefined && Number.isNaN(number(offset))) return { error: "offset must be a whole number" };
  if (limit !== undefined && !(number(limit) >= 1 && number(limit) <= maxPageSize)) {
    return { error: `limit must be a whole number from 1 to ${maxPageSize}` };
  }
  const wanted = state === undefined || state === "" ? undefined : state.split(",").map((s) => s.trim());
  const unknown = wanted?.find((s) => !states.has(s));
  if (unknown !== undefined) {
    return { error: `state must be one of ${[...states].join(", ")}; got ${unknown.slice(0, 40)}` };
  }
  return {
    offset: offset === undefined ? 0 : number(offset),
    ...(limit === undefined ? {} : { limit: number(limit) }),
    ...(wanted ? { states: wanted } : {}),
    ...(q ? { q: q.slice(0, 200) } : {}),
  };
}

/** Counts the endpoints by state, in one pass. */
export function summarize(all: readonly ListedStatus[]): EndpointSummary {
  const counts: Record<string, number> = {};
  let connected = 0;
  for (const endpoint of all) {
    counts[endpoint.state] = (counts[endpoint.state] ?? 0) + 1;
    if (endpoint.connected) connected++;
  }
  return { total: all.length, connected, states: counts };
}

/**
 * The endpoints a query asks for, in list order, with how many matched and the summary of all:
 * a dashboard or a script at ten thousand endpoints reads a page and the counts, not the whole list.
 */
export function pageEndpoints<T extends ListedStatus>(all: readonly T[], query: EndpointQuery) {
  const wanted = query.states ? new Set(query.states) : undefined;
  const needle = query.q?.toLowerCase();
  const matches =
    wanted || needle
      ? all.filter(
          (e) =>
            (!wanted || wanted.has(e.state)) &&
            (!needle ||
              e.id.toLowerCase().includes(needle) ||
              e.url.toLowerCase().includes(needle) ||
              (e.name?.toLowerCase().includes(needle) ?? false)),
        )
      : all;
  const end = query.limit === undefined ? undefined : query.offset + query.limit;
  return {
    endpoints: matches.slice(query.offset, end),
    total: matches.length,
    offset: query.offset,
    limit: query.limit ?? null,
    summary: summarize(all),
  };
}
