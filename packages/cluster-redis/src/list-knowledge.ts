import type { ListedEndpoint } from "@xiaozhi-connect/webserver-adapter";
import { hostOf } from "./link-watch.js";
import type { ListIdentity, StoredList } from "./stores.js";

/**
 * The endpoint list as this instance knows it, with its identity. Two lists are the same only
 * when epoch and version both match: a list seeded again after Redis lost its data has a new
 * epoch (or keeps the one it was seeded from), never just a version that happens to match.
 */
export class ListKnowledge {
  entries: unknown[];
  /** Undefined until a list was read from Redis: what is known then is only the config file's. */
  epoch: string | undefined;
  version = 0;
  origin: StoredList["origin"] = "file";
  changes: readonly string[] = [];
  /** The list's endpoints by id, in its order, as they show while no instance runs them. */
  desired!: Map<string, ListedEndpoint>;
  /** The ids of `desired`, in its order: what the planner reads every tick, kept rather than rebuilt. */
  ids!: ReadonlySet<string>;
  /** The listed endpoints of each host (`host:port`), worked out once per list. */
  byHost!: ReadonlyMap<string, readonly string[]>;

  constructor(
    seed: unknown[],
    private readonly describe: (entries: readonly unknown[]) => ListedEndpoint[],
  ) {
    this.entries = seed;
    this.#describe(seed);
  }

  /** Whether `stored` is the list known here. */
  same(stored: ListIdentity): boolean {
    return stored.epoch === this.epoch && stored.version === this.version;
  }

  /**
   * Whether this instance knows more than `stored`, which Redis is still settling: a history of
   * changes over a list seeded from a file, or later changes of the same list.
   */
  knowsMore(stored: StoredList): boolean {
    if (this.epoch === undefined) return false;
    if (stored.origin === "file" && this.origin === "history") return true;
    return stored.epoch === this.epoch && this.version > stored.version;
  }

  /** Takes `stored` as the list; true when it differs from the one known. */
  adopt(stored: StoredList): boolean {
    const changed = !this.same(stored);
    this.epoch = stored.epoch;
    this.version = stored.version;
    this.origin = stored.origin;
    this.changes = stored.changes;
    // A list read back as it was known (a cold start reads the seed it wrote) keeps the entries
    // known, and with them all that was worked out from them, here and where the list is applied.
    if (changed && !sameEntries(stored.entries, this.entries)) {
      this.entries = stored.entries;
      this.#describe(stored.entries);
    }
    return changed;
  }

  /** A change this instance wrote. */
  wrote(entries: unknown[], version: number, changeId: string, keep: number): void {
    this.entries = entries;
    this.version = version;
    this.origin = "history";
    this.changes = [...this.changes, changeId].slice(-keep);
    this.#describe(entries);
  }

  /** What to seed Redis with when it has no list: what is known here, or the file under a new epoch. */
  seed(newEpoch: () => string): Omit<StoredList, "settleUntil"> {
    if (this.epoch !== undefined) {
      const { epoch, version, entries, origin, changes } = this;
      return { epoch, version, entries, origin, changes };
    }
    return { epoch: newEpoch(), version: 1, entries: this.entries, origin: "file", changes: [] };
  }

  #describe(entries: readonly unknown[]): void {
    this.desired = new Map(this.describe(entries).map((e) => [e.id, e]));
    this.ids = new Set(this.desired.keys());
    const byHost = new Map<string, string[]>();
    for (const { id, url } of this.desired.values()) {
      const host = hostOf(url);
      if (host === undefined) continue;
      const ids = byHost.get(host);
      if (ids) ids.push(id);
      else byHost.set(host, [id]);
    }
    this.byHost = byHost;
  }
}

/** Whether two lists hold the same entries (compared as JSON: ten thousand cost a few ms). */
function sameEntries(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a === b || (a.length === b.length && JSON.stringify(a) === JSON.stringify(b));
}
