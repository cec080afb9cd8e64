import {
  type Connection,
  type ConnectionManager,
  Emitter,
  type EndpointStatus,
  type ManagerEventMap,
} from "@xiaozhi-connect/core";
import type { ClusterView } from "../cluster.js";
import type { ConfigStatus } from "../config/config-file.js";
import type { ActivityHistory, CallRecord, HistoryPoint, ToolStats } from "../history/activity-history.js";
import type { EndpointDirectory } from "./endpoint-directory.js";
import type { ServiceInfo, ToolInfo } from "./views.js";

/** What the event stream, the dashboard, the metrics and the history hear about. */
export interface AdapterEventMap {
  /** An endpoint's status changed (state, health, attempt…). */
  endpoint: EndpointStatus;
  removed: { readonly id: string };
  tools: { readonly tools: readonly ToolInfo[] };
  /** One per attempt to apply a config, whatever its source, after it applied or was rejected. */
  config: ConfigStatus;
  /** A service's state changed (starting, up, down, restart scheduled). */
  services: { readonly services: readonly ServiceInfo[] };
  /** An endpoint's round trip was measured: the new point of its chart. */
  sample: { readonly id: string; readonly point: HistoryPoint };
  /** An agent called a tool: the call (never its arguments or result) and the tool's statistics. */
  call: { readonly call: CallRecord; readonly stats?: ToolStats };
  /** Cluster mode: the instances, or who holds what, changed. */
  cluster: ClusterView;
  /** The adapter is shutting down; streams end. */
  closed: { readonly at: number };
}

/** The manager events that change what an endpoint's status shows. */
const endpointEvents: readonly (keyof ManagerEventMap)[] = [
  "added",
  "stateChanged",
  "connecting",
  "connected",
  "connectFailed",
  "disconnected",
  "reconnectScheduled",
  "failed",
  "republishing",
];

/** What the history and the metrics call a tool no service offers. */
export const unknownTool = "(unknown tool)";

/** Where the feed reads what it reports. */
export interface FeedSources {
  readonly manager: ConnectionManager<Connection>;
  readonly history: ActivityHistory;
  readonly directory: EndpointDirectory;
  /** Whether `name` is a tool offered now (calls of other names count as an unknown tool). */
  readonly offers: (name: string) => boolean;
}

/**
 * One feed of events for the API's stream, the dashboard, the metrics and the history: the
 * manager's events become endpoint statuses (as the directory shows them: in cluster mode with the
 * instance holding each), chart points and call records, and the other parts emit theirs here.
 */
export class EventFeed {
  readonly #events = new Emitter<AdapterEventMap>();
  readonly #unsubscribe: (() => void)[] = [];
  #closed = false;

  on<K extends keyof AdapterEventMap>(event: K, listener: (payload: AdapterEventMap[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Whether anyone listens for `event`: work that only builds its payload can be skipped. */
  listening(event: keyof AdapterEventMap): boolean {
    return this.#events.listenerCount(event) > 0;
  }

  emit<K extends keyof AdapterEventMap>(event: K, payload: AdapterEventMap[K]): void {
    this.#events.emit(event, payload);
  }

  /** Follows the manager's events; `close()` stops it. */
  follow({ manager, history, directory, offers }: FeedSources): void {
    // The manager tells one change in several events (the state changed, and what it means: a
    // reconnect scheduled, a link up); the status goes out once, after all of them, not once each.
    let pending = new Set<string>();
    const flush = () => {
      if (this.#closed) return;
      const ids = pending;
      pending = new Set();
      for (const id of ids) {
        const status = manager.getEndpointStatus(id);
        if (!status) continue;
        directory.touch(id);
        const shown = directory.endpoint(id, status) ?? status;
        directory.sent(id, shown);
        this.emit("endpoint", shown);
      }
    };
    const publish = ({ id }: { id: string }) => {
      if (pending.size === 0) queueMicrotask(flush);
      pending.add(id);
    };
    for (const event of endpointEvents) this.#unsubscribe.push(manager.on(event, publish));
    // An agent may initialize before its link counts as connected; the status shows it only from
    // then, and the link coming up publishes it.
    this.#unsubscribe.push(
      manager.on("initialized", (event) => {
        if (manager.getEndpointStatus(event.id)?.state === "connected") publish(event);
      }),
    );
    this.#unsubscribe.push(
      manager.on("rtt", ({ id, name, ms, at, healthScore }) => {
        this.emit("sample", { id, point: history.sample(id, name, healthScore, ms, at) });
      }),
      manager.on("stateChanged", ({ id, name, from, to, at }) => {
        const status = manager.getEndpointStatus(id);
        if (to === "connected") history.transition(id, name, true, undefined, at);
        // A republish reopens the link at once: the agent's tools changed, the link never failed.
        else if (status?.republishing) return;
        else if (from === "connected" || to === "failed" || to === "reconnecting")
          history.transition(id, name, false, freshError(status), at, to === "failed");
        history.sample(id, name, status?.healthScore ?? 0, undefined, at);
      }),
      manager.on("handled", ({ id, name, method, tool, ok, ms, at, truncated }) => {
        if (method !== "tools/call" || tool === undefined) return;
        const record: CallRecord = {
          at,
          endpoint: id,
          ...(name === undefined ? {} : { agent: name }),
          // An agent may call any name; only offered tools get their own statistics and labels.
          tool: offers(tool) ? tool : unknownTool,
          ms: Math.round(ms * 10) / 10,
          ok,
          ...(truncated === undefined ? {} : { truncated }),
        };
        this.emit("call", history.call(record));
      }),
      manager.on("removed", ({ id }) => {
        history.forget(id);
        directory.touch(id);
        // Handed to another instance, it stays in the cluster's list.
        const elsewhere = directory.endpoint(id, undefined);
        directory.sent(id, elsewhere);
        if (elsewhere) this.emit("endpoint", elsewhere);
        else this.emit("removed", { id });
      }),
    );
  }

  /** Adds a subscription the feed drops when it closes; none when the source cannot be followed. */
  hold(unsubscribe: (() => void) | undefined): void {
    if (unsubscribe) this.#unsubscribe.push(unsubscribe);
  }

  /** Stops following; `closed` goes out last, then every listener is dropped. */
  close(at: number): void {
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.emit("closed", { at });
    this.#events.removeAllListeners();
  }
}

/**
 * The endpoint's last error if it came after its last connect: a link closed on request (a
 * reconnect, a stop) has none of its own, and an error of an earlier outage is not its reason.
 */
function freshError(
  status: { lastError?: string; lastErrorAt?: number; lastConnected?: number } | undefined,
): string | undefined {
  if (status?.lastError === undefined) return undefined;
  return (status.lastErrorAt ?? 0) >= (status.lastConnected ?? 0) ? status.lastError : undefined;
}
