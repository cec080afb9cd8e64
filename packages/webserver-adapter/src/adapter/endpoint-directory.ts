import {
  type Connection,
  type ConnectionManager,
  type EndpointStatus,
  type Logger,
  XiaozhiError,
} from "@xiaozhi-connect/core";
import type { ClusterView } from "../cluster.js";
import {
  addEndpointEntry,
  type EndpointToAdd,
  endpointEntries,
  entryIdOf,
  removeEndpointEntry,
} from "../config/endpoints.js";
import type { XiaozhiConfig } from "../config/schema.js";
import type { EventFeed } from "./event-feed.js";

/** The close reason of a link this instance lets go of because another holds its endpoint now. */
export const heldElsewhere = "held by another instance";

/** A change applied under the config's lock; its links connect and close after it (`settled`). */
export interface Settling {
  readonly settled: Promise<void>;
}

/** What a directory may ask of the adapter it serves. */
export interface DirectoryHost {
  readonly manager: ConnectionManager<Connection>;
  readonly feed: EventFeed;
  readonly logger: Logger;
  /** The config running now. */
  config(): XiaozhiConfig;
  /** Whether changes are written to a config file. */
  readonly hasFile: boolean;
  /** Runs `task` as one step of the config's serial line: no apply interleaves with it. */
  serially<T>(task: () => Promise<T>): Promise<T>;
  /**
   * Within `serially`: edits the raw config (the file's, or the running one) and applies it. An
   * edit that returns false found nothing to change: nothing is written or applied.
   */
  change(edit: (raw: Record<string, unknown>) => unknown): Promise<Settling>;
  /** Within `serially`: applies `config` as the running one, without writing it anywhere. */
  apply(config: XiaozhiConfig): Promise<Settling>;
  /** Within `serially`: applies the running config again (the list or what runs here changed). */
  reapply(): Promise<Settling>;
  /** Outside `serially`: `reapply` as its own step, for changes that come from elsewhere. */
  reapplySoon(): void;
  /** True once the adapter is shutting down. */
  closed(): boolean;
}

/**
 * Where the endpoint list lives and which of its endpoints this process runs: the config file (every
 * endpoint, here) or a cluster (one list in Redis, each endpoint on the instance holding its
 * lease). The adapter asks it and never which kind it is.
 */
export interface EndpointDirectory {
  /** Joins whatever it needs, before the first apply; `host` serves it from then on. */
  start(host: DirectoryHost): Promise<void>;
  /**
   * Before a shutdown closes the links: hands what runs here over (in a cluster, a batch at a time
   * to the other instances, so each endpoint is without a link only briefly).
   */
  drain(): Promise<void>;
  /** Leaves it, once every link here has closed (in a cluster the leases go, and others take over). */
  stop(): Promise<void>;
  /** The endpoint list in force while `config` runs. */
  listed(config: XiaozhiConfig): XiaozhiConfig["mcpEndpoint"];
  /** Whether this process runs endpoint `id` (a cluster runs it where its lease is). */
  runsHere(id: string): boolean;
  /** Says what of a new config it does not take from the file (logged when a file change applies). */
  review(next: XiaozhiConfig, running: XiaozhiConfig): void;
  /** Adds an endpoint to the list; resolves with its status once its first attempt settled. */
  add(endpoint: EndpointToAdd): Promise<EndpointStatus>;
  /** Removes an endpoint from the list (its link closes with 1000); false when it was not listed. */
  remove(id: string): Promise<boolean>;
  /** Makes `entries` the whole list (`initializeXiaozhiConnection`). */
  replace(entries: XiaozhiConfig["mcpEndpoint"]): Promise<void>;
  /** Every listed endpoint's status, given those running here. */
  endpoints(local: EndpointStatus[]): EndpointStatus[];
  /** One endpoint as `endpoints` shows it; undefined when it is not listed. */
  endpoint(id: string, local: EndpointStatus | undefined): EndpointStatus | undefined;
  /** Asks whoever runs `id` elsewhere to reconnect it; false when nobody else runs it. */
  reconnectElsewhere(id: string): Promise<boolean>;
  /** Endpoint `id`, run here, changed its status (a cluster publishes it on its next tick). */
  touch(id: string): void;
  /**
   * The event feed sent watchers `status` of endpoint `id`, or its removal when undefined: a
   * directory that sends the changes of endpoints run elsewhere tells them from what was sent.
   */
  sent(id: string, status: EndpointStatus | undefined): void;
  /** In cluster mode, the instances and who holds what. */
  view(): ClusterView | undefined;
}

/** The endpoint list of the config file; this process runs every endpoint. */
export class FileEndpointDirectory implements EndpointDirectory {
  #host: DirectoryHost | undefined;

  async start(host: DirectoryHost): Promise<void> {
    this.#host = host;
  }

  async drain(): Promise<void> {}

  async stop(): Promise<void> {}

  listed(config: XiaozhiConfig): XiaozhiConfig["mcpEndpoint"] {
    return config.mcpEndpoint;
  }

  runsHere(): boolean {
    return true;
  }

  review(): void {}

  async add(endpoint: EndpointToAdd): Promise<EndpointStatus> {
    const host = this.#requireHost();
    const { settled } = await host.serially(async () => {
      // Checked in the same step as the change, so of N concurrent adds of one URL exactly one wins.
      if (host.manager.getEndpointStatus(endpoint.id)) {
        throw new XiaozhiError("DUPLICATE_ENDPOINT", `endpoint ${endpoint.id} already exists`);
      }
      return host.change((raw) => addEndpointEntry(raw, endpoint));
    });
    await settled;
    const status = host.manager.getEndpointStatus(endpoint.id);
    if (!status) throw new XiaozhiError("INVALID_ENDPOINT", "the endpoint could not be added");
    return status;
  }

  async remove(id: string): Promise<boolean> {
    const host = this.#requireHost();
    let listed = false;
    const { settled, running } = await host.serially(async () => {
      const running = host.manager.getEndpointStatus(id) !== undefined;
      const configured = endpointEntries(host.config().mcpEndpoint).some((e) => entryIdOf(e) === id);
      // Not running and not in the running config: only the file can still list it.
      if (!running && !configured && !host.hasFile) return { settled: Promise.resolve(), running };
      // Not in the file: nothing is written, and nothing is applied unless the running list has it
      // (given by `replace`, or an edit of the file not followed yet).
      const change = await host.change((raw) => {
        listed = removeEndpointEntry(raw, id);
        return listed;
      });
      if (listed || !configured) return { ...change, running };
      const config = host.config();
      const rest = endpointEntries(config.mcpEndpoint).filter((e) => entryIdOf(e) !== id);
      const mcpEndpoint = rest as NonNullable<XiaozhiConfig["mcpEndpoint"]>;
      return { ...(await host.apply({ ...config, mcpEndpoint })), running };
    });
    await settled;
    return listed || running;
  }

  async replace(entries: XiaozhiConfig["mcpEndpoint"]): Promise<void> {
    const host = this.#requireHost();
    const { settled } = await host.serially(() =>
      host.apply({ ...host.config(), mcpEndpoint: entries ?? [] }),
    );
    await settled;
  }

  endpoints(local: EndpointStatus[]): EndpointStatus[] {
    return local;
  }

  endpoint(_id: string, local: EndpointStatus | undefined): EndpointStatus | undefined {
    return local;
  }

  async reconnectElsewhere(): Promise<boolean> {
    return false;
  }

  touch(): void {}

  sent(): void {}

  view(): undefined {
    return undefined;
  }

  #requireHost(): DirectoryHost {
    if (!this.#host) throw new XiaozhiError("NOT_CONFIGURED", "the adapter has not started");
    return this.#host;
  }
}
