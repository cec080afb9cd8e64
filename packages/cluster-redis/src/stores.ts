/**
 * What cluster mode keeps in Redis, as three stores and a bus. The coordinator sees only these
 * interfaces: `redis-stores.ts` implements them over ioredis and Lua scripts, and tests over memory
 * on a fake clock. Times are Redis's milliseconds (one clock for every instance).
 */

/** An instance as it announces itself in each heartbeat. */
export interface MemberInfo {
  /** Random per process: tells a restarted or duplicate process from the one that was there. */
  readonly incarnation: string;
  readonly address: string | null;
  /** Epoch ms. */
  readonly startedAt: number;
  /** Its lease TTL: how long its heartbeat keeps it live. */
  readonly ttl: number;
  /** Endpoints it cannot serve now; the others take them. */
  readonly avoid: readonly string[];
  /** Hosts (`host:port`) it has no working path to now: the others take every endpoint on them. */
  readonly avoidHosts: readonly string[];
  /** The version of what it runs as last published (a `status-change` message's `v`). */
  readonly statusVersion?: number;
  /** It is joining (it takes nothing yet): nothing is handed over to it. */
  readonly joining?: boolean;
  /** It is stopping and hands what it runs over: nothing new goes to it. */
  readonly leaving?: boolean;
}

/** A change to what an instance runs, as `saveStatus` stores it. */
export interface StatusChange {
  /** Counts the instance's changes (`MemberInfo.statusVersion`). */
  readonly version: number;
  /** Replaces the stored copy rather than changing it. */
  readonly full: boolean;
  /** Endpoint statuses (JSON text) by endpoint id. */
  readonly set: readonly (readonly [id: string, status: string])[];
  /** Endpoints it no longer runs. */
  readonly gone: readonly string[];
  /** The process that saved it (`MemberInfo.incarnation`): a new one under the same id counts from 1 again. */
  readonly incarnation?: string;
}

/** The stored copy of what an instance runs: its version and each endpoint's status (JSON text). */
export interface StoredStatus {
  readonly version: number;
  /** The process that saved it, when it said. */
  readonly incarnation?: string;
  readonly endpoints: readonly string[];
}

/** A live instance: its announcement and when its heartbeat lapses. */
export interface LiveMember extends MemberInfo {
  readonly deadline: number;
}

/** Which endpoint list: `epoch` is drawn when a list is created, and `version` counts its changes. */
export interface ListIdentity {
  readonly epoch: string;
  readonly version: number;
}

/** The endpoint list as Redis keeps it. */
export interface StoredList extends ListIdentity {
  /** Raw `mcpEndpoint` entries. */
  readonly entries: unknown[];
  /** `file`: seeded from a config file and never changed since; `history`: changed in the cluster. */
  readonly origin: "file" | "history";
  /** Until then (Redis ms) the list may be replaced by one an instance knows better. */
  readonly settleUntil: number;
  /** Ids of the last changes applied, oldest first: a change sent twice applies once. */
  readonly changes: readonly string[];
}

export type BeatResult =
  | {
      readonly taken: false;
      /** Redis's time. */
      readonly now: number;
      /** Drawn when Redis has none: another value means Redis lost its data since the last beat. */
      readonly boot: string;
      readonly list: (ListIdentity & { readonly settleUntil: number }) | undefined;
      readonly live: ReadonlyMap<string, LiveMember>;
    }
  | {
      /** Another live process has this instance id; nothing was written. */
      readonly taken: true;
      readonly now: number;
      readonly holder: LiveMember;
    };

export interface MembershipStore {
  /** Announces `info` for `ttl` ms unless another live process has the id; reads the cluster. */
  beat(id: string, info: MemberInfo, proposedBoot: string): Promise<BeatResult>;
  /** Leaves at once, if the entry is still this process's. */
  leave(id: string, incarnation: string): Promise<void>;
  /**
   * Applies `change` to the stored copy of what an instance runs, keeps that for `ttl` ms, and
   * publishes `message` (the same change, for the others), in one transaction.
   */
  saveStatus(id: string, change: StatusChange, message: string, ttl: number): Promise<void>;
  /** Keeps the stored copy for `ttl` ms more, publishing nothing. */
  keepStatus(id: string, ttl: number): Promise<void>;
  /** The stored copies of what these instances run. */
  readStatuses(ids: readonly string[]): Promise<(StoredStatus | undefined)[]>;
}

/** A place in the lease log: pass it back to {@link LeaseStore.changes} to hear what changed since. */
export interface LeaseLogPosition {
  /** How many lease changes Redis has logged. */
  readonly seq: number;
  /** The log entry of the last one (opaque). */
  readonly cursor: string;
}

/** A lease that changed: its endpoint id and new holder value, undefined when freed. */
export type LeaseChange = readonly [id: string, value: string | undefined];

export interface LeaseStore {
  /** The holder value of each lease, undefined where free. */
  read(ids: readonly string[]): Promise<(string | undefined)[]>;
  /** Like `read`, with the log position of that very moment: the changes after it are all later. */
  snapshot(ids: readonly string[]): Promise<{ values: (string | undefined)[]; at: LeaseLogPosition }>;
  /**
   * Whether the leases of `ids` are as `known` says (one entry per id: undefined where free,
   * `value` where the asker holds it, else the holder's instance) and nothing was logged after
   * `at`. Redis compares a hash, so a look that finds nothing new reads no lease out.
   * Optional: without it, the periodic look at every lease reads them all.
   */
  matches?(
    ids: readonly string[],
    known: readonly (string | undefined)[],
    value: string,
    at: LeaseLogPosition,
  ): Promise<boolean>;
  /**
   * The leases taken, taken again and freed after `after`, in order, with the new position; or
   * undefined when they cannot be told (more than `max`, trimmed from the log, or Redis lost it):
   * take a snapshot then. A lease that lapses is not logged.
   */
  changes(
    after: LeaseLogPosition,
    max: number,
  ): Promise<{ changes: LeaseChange[]; at: LeaseLogPosition } | undefined>;
  /** Takes the free ones for `ttl` ms: true where taken. */
  acquire(ids: readonly string[], value: string, ttl: number): Promise<boolean[]>;
  /** Extends those still `value`'s, and takes again those that lapsed and are free: false where lost. */
  renew(ids: readonly string[], value: string, ttl: number): Promise<boolean[]>;
  /** Frees those still `value`'s. */
  release(ids: readonly string[], value: string): Promise<void>;
  /**
   * How long until the last of these leases lapses, ms; undefined when none is held, or when one has
   * no TTL and so never lapses.
   * Optional: without it, a stopped instance's leases are taken a tick after they lapse, not at once.
   */
  lapse?(ids: readonly string[]): Promise<number | undefined>;
}

export type WriteResult =
  | { readonly kind: "written"; readonly version: number }
  /** This change was applied before (its id is among the last changes). */
  | { readonly kind: "applied" }
  /** The list is not at the version the change was made on. */
  | { readonly kind: "conflict" }
  /** The list was just seeded and may still be replaced: try again after `waitMs`. */
  | { readonly kind: "settling"; readonly waitMs: number }
  | { readonly kind: "absent" };

export interface ListStore {
  read(): Promise<StoredList | undefined>;
  /**
   * Writes `list` when Redis has none, or over one that is still settling when `list` knows more
   * (a history over a file's list, or a later version of the same epoch). True when written.
   */
  seed(list: Omit<StoredList, "settleUntil">, settleMs: number): Promise<boolean>;
  /** Compare-and-set on `base`; applies a change id once; keeps the last `keep` change ids. */
  write(base: ListIdentity, entries: unknown[], changeId: string, keep: number): Promise<WriteResult>;
}

/** The events channel. */
export interface ClusterBus {
  publish(message: string): Promise<void>;
  /** Delivers every message, own ones included, until the returned function is called. */
  subscribe(listener: (message: string) => void): () => void;
}

export interface ClusterStores {
  readonly members: MembershipStore;
  readonly leases: LeaseStore;
  readonly list: ListStore;
  readonly bus: ClusterBus;
  /** Connects, waiting a few seconds at most: a Redis out of reach is tried again on each call. */
  connect(): Promise<void>;
  close(): void;
}

/** A store call failed. `sent` is false when it provably never reached Redis, so it did nothing. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    message: string,
    readonly sent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
