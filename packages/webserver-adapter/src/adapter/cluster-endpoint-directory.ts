import { type EndpointStatus, XiaozhiError } from "@xiaozhi-connect/core";
import type { ClusterCoordinator, ClusterView } from "../cluster.js";
import {
  addEndpointEntry,
  type EndpointToAdd,
  endpointEntries,
  removeEndpointEntry,
} from "../config/endpoints.js";
import type { XiaozhiConfig } from "../config/schema.js";
import { type DirectoryHost, type EndpointDirectory, heldElsewhere } from "./endpoint-directory.js";

/**
 * The cluster's endpoint list, in Redis: changed by compare-and-set from any instance, and each
 * endpoint run by the instance holding its lease. The file's `mcpEndpoint` only seeds an empty
 * cluster; lease changes are applied as they come, and a lost lease closes its link at once.
 */
export class ClusterEndpointDirectory implements EndpointDirectory {
  #host: DirectoryHost | undefined;
  /**
   * What watchers were last sent of each endpoint, from here or from the feed (what runs here, and
   * an endpoint as it leaves): the changes of endpoints other instances run are told from it. An
   * endpoint that moves here and back while its holder's status stays the same is sent again.
   */
  readonly #shown = new Map<string, EndpointStatus>();

  constructor(readonly coordinator: ClusterCoordinator) {}

  async start(host: DirectoryHost): Promise<void> {
    this.#host = host;
    const cluster = this.coordinator;
    host.feed.hold(
      cluster.on("changed", () => {
        host.reapplySoon();
        this.#refresh(host);
      }),
    );
    host.feed.hold(cluster.on("view", () => this.#refresh(host)));
    await cluster.start({
      statuses: () => host.manager.getConnectionStatus(),
      status: (id) => host.manager.getEndpointStatus(id),
      drop: async (ids) => {
        await Promise.allSettled(ids.map((id) => host.manager.removeEndpoint(id, heldElsewhere)));
      },
      reconnect: (id) => void host.manager.reconnect(id).catch(() => {}),
    });
    const view = cluster.view();
    host.logger.info(
      {
        instance: cluster.instanceId,
        instances: view.instances.length,
        endpoints: view.version ? cluster.entries.length : 0,
      },
      view.reachable
        ? "cluster mode: joined; the endpoint list is the cluster's, and the file's mcpEndpoint only seeds an empty cluster"
        : "cluster mode: Redis is out of reach; nothing runs here until it answers",
    );
  }

  async drain(): Promise<void> {
    await this.coordinator.drain?.();
  }

  stop(): Promise<void> {
    return this.coordinator.stop();
  }

  listed(): XiaozhiConfig["mcpEndpoint"] {
    return this.coordinator.entries as XiaozhiConfig["mcpEndpoint"];
  }

  runsHere(id: string): boolean {
    return this.coordinator.holds(id);
  }

  review(next: XiaozhiConfig, running: XiaozhiConfig): void {
    if (JSON.stringify(next.mcpEndpoint) === JSON.stringify(running.mcpEndpoint)) return;
    this.#requireHost().logger.warn(
      "cluster mode: mcpEndpoint in the file only seeds an empty cluster; change endpoints through the dashboard, the API or xiaozhi-connect endpoint",
    );
  }

  async add(endpoint: EndpointToAdd): Promise<EndpointStatus> {
    // A compare-and-set in Redis: of N concurrent adds on any instances, one wins.
    await this.#edit(`add:${endpoint.id}`, (raw) => {
      addEndpointEntry(raw, endpoint);
      return true;
    });
    const host = this.#requireHost();
    const status = this.coordinator.endpoint(endpoint.id, host.manager.getEndpointStatus(endpoint.id));
    if (!status) throw new XiaozhiError("INVALID_ENDPOINT", "the endpoint could not be added");
    return status;
  }

  /** True too when a retry finds that an earlier attempt whose outcome was unknown removed it. */
  remove(id: string): Promise<boolean> {
    return this.#edit(`remove:${id}`, (raw) => removeEndpointEntry(raw, id));
  }

  async replace(entries: XiaozhiConfig["mcpEndpoint"]): Promise<void> {
    await this.#edit(undefined, (raw) => {
      raw.mcpEndpoint = endpointEntries(entries);
      return true;
    });
  }

  endpoints(local: EndpointStatus[]): EndpointStatus[] {
    return this.coordinator.endpoints(local);
  }

  endpoint(id: string, local: EndpointStatus | undefined): EndpointStatus | undefined {
    return this.coordinator.endpoint(id, local);
  }

  reconnectElsewhere(id: string): Promise<boolean> {
    return this.coordinator.reconnect(id);
  }

  touch(id: string): void {
    this.coordinator.touch(id);
  }

  sent(id: string, status: EndpointStatus | undefined): void {
    // Nobody watching: what was shown is forgotten (as in `#refresh`); a later watcher starts afresh.
    if (!this.#host || !watched(this.#host)) {
      this.#shown.clear();
      return;
    }
    if (status) this.#shown.set(id, status);
    else this.#shown.delete(id);
  }

  view(): ClusterView {
    return this.coordinator.view();
  }

  /**
   * Changes the cluster's list (`edit` gets `{mcpEndpoint}` and returns whether it changed it),
   * then applies what this instance now holds; resolves once its links settled, with whether the
   * list changed. `key` names the change, so a retry after an unconfirmed attempt applies it once.
   */
  async #edit(key: string | undefined, edit: (raw: Record<string, unknown>) => boolean): Promise<boolean> {
    const host = this.#requireHost();
    // The compare-and-set waits on Redis outside the lock: a change in flight never holds up
    // applying the leases this instance just took. Only applying the result takes the lock.
    const changed = await this.coordinator.update(
      (entries) => {
        const raw: Record<string, unknown> = { mcpEndpoint: entries };
        return edit(raw) ? (raw.mcpEndpoint as unknown[]) : undefined;
      },
      key === undefined ? undefined : { key },
    );
    const { settled } = await host.serially(() => host.reapply());
    await settled;
    return changed;
  }

  /** Sends the dashboard the endpoints other instances run whose status changed, and the view. */
  #refresh(host: DirectoryHost): void {
    if (host.closed()) return;
    // With ten thousand endpoints this is a pass over all of them: only for someone watching (a
    // dashboard or an event stream); what a new watcher sees first comes from `endpoints()`.
    if (!watched(host)) {
      // What was shown is forgotten: a watcher that comes later starts from `endpoints()`.
      this.#shown.clear();
      return;
    }
    const local = host.manager.getConnectionStatus();
    const here = new Set(local.map((status) => status.id));
    const listed = new Set<string>();
    for (const status of this.endpoints(local)) {
      listed.add(status.id);
      // What runs here is sent by the feed as it changes (and recorded through `sent`).
      if (here.has(status.id) || sameStatus(this.#shown.get(status.id), status)) continue;
      this.#shown.set(status.id, status);
      host.feed.emit("endpoint", status);
    }
    for (const id of this.#shown.keys()) {
      if (listed.has(id)) continue;
      this.#shown.delete(id);
      if (!here.has(id)) host.feed.emit("removed", { id });
    }
    host.feed.emit("cluster", this.coordinator.view());
  }

  #requireHost(): DirectoryHost {
    if (!this.#host) throw new XiaozhiError("NOT_CONFIGURED", "the adapter has not joined the cluster");
    return this.#host;
  }
}

/** Whether anyone follows the changes (a dashboard or an event stream). */
function watched(host: DirectoryHost): boolean {
  return host.feed.listening("endpoint") || host.feed.listening("removed") || host.feed.listening("cluster");
}

/** Whether a dashboard would show two statuses of one endpoint the same (field by field). */
function sameStatus(a: EndpointStatus | undefined, b: EndpointStatus): boolean {
  if (a === undefined) return false;
  const keys = Object.keys(b) as (keyof EndpointStatus)[];
  if (keys.length !== Object.keys(a).length) return false;
  for (const key of keys) {
    if (key === "health") {
      if (a.health?.score !== b.health?.score || a.health?.ejected !== b.health?.ejected) return false;
    } else if (a[key] !== b[key]) return false;
  }
  return true;
}
