import type { LeaseHolder, LeaseIndex } from "./planner.js";

const nothingListed: ReadonlySet<string> = new Set();

/**
 * The leases as last known, by endpoint id, indexed by who holds them: a tick that must read again
 * the leases of instances that stopped beating finds them among a handful of holders rather than
 * by a pass over every lease. Against the list it follows, it also keeps the listed endpoints no
 * lease covers and how many leases are of endpoints not listed, so a plan finds what must be
 * placed without a pass over the list.
 */
export class LeaseTable extends Map<string, LeaseHolder> {
  /** Endpoint ids by the instance id of the process holding them, this process's own aside. */
  readonly #byHolder = new Map<string, Set<string>>();
  /** This process's own leases: one set for the table's life, which a caller may keep. */
  readonly #own = new Set<string>();
  #listed = nothingListed;
  /** The endpoints of `#listed` with no lease: one set for the table's life. */
  readonly #unleased = new Set<string>();
  /** How many leases are of endpoints not in `#listed`. */
  #unlisted = 0;

  /** Empty: entries given to `Map`'s constructor would be set before the index exists. */
  // biome-ignore lint/complexity/noUselessConstructor: it takes no entries, which the type checker then enforces
  constructor() {
    super();
  }

  /** Sets the lease of `id`, and files it under its holder. */
  override set(id: string, lease: LeaseHolder): this {
    if (!this.#unindex(id)) this.#covered(id, true);
    super.set(id, lease);
    if (lease.mine) {
      this.#own.add(id);
      return this;
    }
    const ids = this.#byHolder.get(lease.instance);
    if (ids) ids.add(id);
    else this.#byHolder.set(lease.instance, new Set([id]));
    return this;
  }

  /** Forgets the lease of `id`; false when it had none. */
  override delete(id: string): boolean {
    if (!this.#unindex(id)) return false;
    this.#covered(id, false);
    return super.delete(id);
  }

  /** Forgets every lease: every listed endpoint is unleased. */
  override clear(): void {
    this.#byHolder.clear();
    this.#own.clear();
    super.clear();
    for (const id of this.#listed) this.#unleased.add(id);
    this.#unlisted = 0;
  }

  /** The endpoints whose leases are this process's own: the same set, kept up to date, not a copy. */
  own(): ReadonlySet<string> {
    return this.#own;
  }

  /** The endpoints whose leases another process holds, grouped by that process's instance id. */
  byInstance(): IterableIterator<[string, ReadonlySet<string>]> {
    return this.#byHolder.entries();
  }

  /**
   * The table measured against `listed` (kept up to date as leases change; a pass over the list and
   * the leases only when it is another list than the last one asked about), for {@link Snapshot}.
   */
  index(listed: ReadonlySet<string>): LeaseIndex {
    if (listed !== this.#listed) {
      this.#listed = listed;
      this.#unleased.clear();
      for (const id of listed) if (!this.has(id)) this.#unleased.add(id);
      this.#unlisted = 0;
      for (const id of this.keys()) if (!listed.has(id)) this.#unlisted++;
    }
    return { byInstance: this.#byHolder, unleased: this.#unleased, unlisted: this.#unlisted };
  }

  /** Takes `id` out of the index; false when it had no lease. */
  #unindex(id: string): boolean {
    const known = super.get(id);
    if (known === undefined) return false;
    if (known.mine) {
      this.#own.delete(id);
      return true;
    }
    const ids = this.#byHolder.get(known.instance);
    ids?.delete(id);
    if (ids?.size === 0) this.#byHolder.delete(known.instance);
    return true;
  }

  /** `id` has a lease now (`leased`) where it had none, or the other way round. */
  #covered(id: string, leased: boolean): void {
    if (!this.#listed.has(id)) this.#unlisted += leased ? 1 : -1;
    else if (leased) this.#unleased.delete(id);
    else this.#unleased.add(id);
  }
}

/**
 * The ids of `listed`, then those of `more` not among them, each once. No set of every id is made:
 * at ten thousand ids it is a large object, allocated where only a full collection frees it.
 */
export function listedFirst(listed: ReadonlySet<string>, ...more: Iterable<string>[]): string[] {
  const beyond = new Set<string>();
  for (const ids of more) for (const id of ids) if (!listed.has(id)) beyond.add(id);
  return [...listed, ...beyond];
}
