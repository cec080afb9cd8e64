import type { Logger } from "@xiaozhi-connect/core";
import type { ListedEndpoint } from "@xiaozhi-connect/webserver-adapter";
import type { ClusterClock } from "./clock.js";
import type { ClusterStores } from "./stores.js";

/** The default lease TTL: how long the endpoints of a vanished instance wait for another, in ms. */
export const defaultLeaseTtl = 15_000;
/** How long a list seeded into an empty Redis may still be replaced by one an instance knows better, ms. */
export const listSettle = 3000;

/**
 * How many endpoints are handed over at a time by default: by each instance at a tick to one that
 * joined, and at each step by an instance that stops gracefully (the next step waits until the
 * others took the last). An endpoint is without a link about as long as its batch takes to connect,
 * rather than as long as all of them do.
 */
export const defaultHandoverBatch = 100;

/** What a {@link RedisClusterCoordinator} is built from; `redisCluster` fills it from a `cluster` block. */
export interface CoordinatorOptions {
  /** Opens the stores (at `start`). */
  readonly stores: () => Promise<ClusterStores>;
  readonly logger: Logger;
  /** The config file's `mcpEndpoint` entries: they seed a cluster that has no list yet. */
  readonly seed: unknown[];
  readonly describe: (entries: readonly unknown[]) => ListedEndpoint[];
  /** How the view shows Redis: its URL with the password masked. */
  readonly redis: string;
  readonly instanceId: string;
  /** Default {@link defaultLeaseTtl}. */
  readonly leaseTtl?: number;
  /**
   * The most endpoints this instance hands to another at a tick when the shares change (one
   * joined), and the fewest per batch when it stops gracefully. Default {@link defaultHandoverBatch}.
   */
  readonly handoverBatch?: number;
  /** Default the process's monotonic clock. */
  readonly clock?: ClusterClock;
  /** Random ids: this process's incarnation, change ids, list epochs. */
  readonly randomId?: () => string;
  /** Epoch ms, for what the view shows (default `Date.now`). */
  readonly wallClock?: () => number;
}
