import { type EndpointStatus, type Logger, resolveEndpoint, XiaozhiError } from "@xiaozhi-connect/core";
import { selectEndpoints } from "./config/endpoints.js";
import type { XiaozhiConfig } from "./config/schema.js";

/** The `cluster` block of the config. */
export type ClusterConfig = NonNullable<XiaozhiConfig["cluster"]>;

/** An instance of the cluster as `/api/cluster` and the dashboard show it. */
export interface ClusterInstance {
  readonly id: string;
  /** Its dashboard and API, `http://host:port/`, once it listens. */
  readonly address: string | null;
  readonly startedAt: number;
  /** Endpoints it holds. */
  readonly endpoints: number;
  /** Epoch ms of its last heartbeat, on Redis's clock. */
  readonly heartbeatAt: number;
  /** This is the instance answering. */
  readonly self: boolean;
  /**
   * The instance answering only, while it waits for its id to be free (held by this instance
   * before a restart, or by another running one): epoch ms, on Redis's clock, when that holder's
   * heartbeat lapses. It holds nothing meanwhile; absent once it joined.
   */
  readonly idHeldUntil?: number;
}

/** The cluster as one instance sees it. */
export interface ClusterView {
  readonly instanceId: string;
  /** The Redis URL with its password masked. */
  readonly redis: string;
  /** Whether the last exchange with Redis worked. */
  readonly reachable: boolean;
  readonly leaseTtl: number;
  /** The version of the endpoint list in Redis; 0 before it was read. */
  readonly version: number;
  readonly instances: readonly ClusterInstance[];
}

/**
 * An endpoint of the cluster with the instance holding it (`null`: no instance holds it now).
 * `here`: the instance answering runs it (what it says of the tools it gives applies to it);
 * absent for one another instance runs or none does.
 */
export type ClusterEndpointStatus = EndpointStatus & {
  readonly instance: string | null;
  readonly here?: true;
};

/** What the coordinator needs of the instance it runs in. */
export interface ClusterHost {
  /** The endpoints this instance runs, masked. */
  statuses(): EndpointStatus[];
  /** One endpoint this instance runs, masked; undefined when it runs none by that id. */
  status?(id: string): EndpointStatus | undefined;
  /** Closes these endpoints' links now: their leases were lost or are being handed over. */
  drop(ids: readonly string[]): Promise<void>;
  /** Another instance asked to drop and reopen the link of an endpoint held here. */
  reconnect(id: string): void;
}

export interface ClusterEventMap {
  /** The endpoint list or the set of endpoints held here changed: apply them. */
  changed: { readonly at: number };
  /** What other instances run, or the instances themselves, changed. */
  view: { readonly at: number };
}

/** How an endpoint of the list shows while no instance runs it. */
export interface ListedEndpoint {
  readonly id: string;
  /** Masked. */
  readonly url: string;
  readonly name?: string;
  readonly weight: number;
}

export interface ClusterUpdateOptions {
  /**
   * What the change does, such as `add:<endpoint id>`. A change whose outcome was unknown
   * (`CLUSTER_OUTCOME_UNKNOWN`) is remembered under its key, and a later change with the same key
   * is that change again: it applies once, and reports success if the first attempt had applied.
   */
  readonly key?: string;
}

/**
 * Cluster mode as the adapter uses it: the endpoint list shared by every instance, the leases that
 * say which instance runs which endpoint, and the view of every instance. `@xiaozhi-connect/cluster-redis`
 * implements it over Redis; pass its `redisCluster` to `registerXiaozhi`.
 */
export interface ClusterCoordinator {
  /** This instance's name in the cluster. */
  readonly instanceId: string;
  /** How long a lease outlives its holder, ms. */
  readonly leaseTtl: number;
  /** The address other instances show for this one (its dashboard, `http://host:port/`). */
  address: string | null;
  /** The endpoint list of the cluster (raw `mcpEndpoint` entries). */
  readonly entries: unknown[];
  on<K extends keyof ClusterEventMap>(event: K, listener: (payload: ClusterEventMap[K]) => void): () => void;
  /** Whether this instance holds the endpoint's lease: it runs that endpoint and no other instance does. */
  holds(id: string): boolean;
  /**
   * The status of what this instance runs changed (of endpoint `id`, when given: then only that
   * one is looked at again); it reaches the other instances shortly.
   */
  touch(id?: string): void;
  /** Joins the cluster; rejects with `DUPLICATE_INSTANCE` when another live instance has this id. */
  start(host: ClusterHost): Promise<void>;
  /**
   * Changes the endpoint list: `edit` gets the current entries and returns the new ones, or
   * `undefined` for no change (it may throw, e.g. `DUPLICATE_ENDPOINT`). Resolves true once the
   * change is in the list, false when `edit` made none. Rejects with `CLUSTER_UNAVAILABLE` when
   * Redis does not answer and nothing was applied, and `CLUSTER_OUTCOME_UNKNOWN` when the change
   * was sent but not confirmed (a retry with the same `key` is then safe).
   */
  update(
    edit: (entries: unknown[]) => unknown[] | undefined,
    options?: ClusterUpdateOptions,
  ): Promise<boolean>;
  /** Asks the instance holding `id` to drop and reopen its link; false when no instance holds it. */
  reconnect(id: string): Promise<boolean>;
  /** Every endpoint of the cluster with the instance holding it; `local` is what runs here. */
  endpoints(local: readonly EndpointStatus[]): ClusterEndpointStatus[];
  /** One endpoint as `endpoints` shows it; undefined when the list does not have it. */
  endpoint(id: string, local: EndpointStatus | undefined): ClusterEndpointStatus | undefined;
  view(): ClusterView;
  /**
   * Before a graceful stop closes the links: hands the endpoints held here to the other instances
   * (closing their links through `ClusterHost.drop` as it goes). Optional: without it, `stop`
   * lets everything go at once.
   */
  drain?(): Promise<void>;
  /** Leaves the cluster: releases every lease (the caller has closed their links first). */
  stop(): Promise<void>;
}

export interface ClusterFactoryOptions {
  readonly logger: Logger;
  /** The config file's `mcpEndpoint` entries: they seed a cluster that has no list yet. */
  readonly seed: unknown[];
  /** The endpoints of a list as they show while no instance runs them (invalid entries left out). */
  readonly describe: (entries: readonly unknown[]) => ListedEndpoint[];
}

/** Builds the coordinator of a `cluster` block; `@xiaozhi-connect/cluster-redis` exports `redisCluster`. */
export type ClusterFactory = (config: ClusterConfig, options: ClusterFactoryOptions) => ClusterCoordinator;

/** The valid endpoints of raw `mcpEndpoint` entries, masked, in their order. */
export function describeEntries(entries: readonly unknown[]): ListedEndpoint[] {
  return selectEndpoints(entries as XiaozhiConfig["mcpEndpoint"]).endpoints.map((endpoint) => {
    const resolved = resolveEndpoint(endpoint);
    return {
      id: resolved.id,
      url: resolved.masked,
      ...(endpoint.name === undefined ? {} : { name: endpoint.name }),
      weight: endpoint.weight ?? 1,
    };
  });
}

/** The error a config with a `cluster` block meets when no cluster implementation was given. */
export function clusterMissing(): XiaozhiError {
  return new XiaozhiError(
    "INVALID_CONFIG",
    "cluster mode needs @xiaozhi-connect/cluster-redis: install it and pass `cluster: redisCluster` to registerXiaozhi",
  );
}
