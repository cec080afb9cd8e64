import type { LeaseHolder } from "./planner.js";

/**
 * The leases as last known, by endpoint id, indexed by who holds them: a tick that must read again
 * the leases of instances that stopped beating finds them among a handful of holders rather than
 * by a pass over every lease.
 */
export class LeaseTable extends Map<string, LeaseHolder> {
  /** Endpoint ids by the instance id of the process holding them, this process's own aside. */
  readonly #byHolder = new Map<string, Set<string>>();
  /** This process's own leases: one set for the table's life, which a caller may keep. */
  readonly #own = new Set<string>();

  /** Empty: entries given to `Map`'s constructor would be set before the index exists. */
  // biome-ignore lint/complexity/noUselessConstructor: it takes no entries, which the type checker then enforces
  constructor() {
    super();
  }

  override set(id: string, lease: LeaseHolder): this {
    this.#unindex(id);
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

  override delete(id: string): boolean {
    this.#unindex(id);
    return super.delete(id);
  }

  override clear(): void {
    this.#byHolder.clear();
    this.#own.clear();
    super.clear();
  }

  /** The endpoints whose leases are this process's own: the same set, kept up to date, not a copy. */
  own(): ReadonlySet<string> {
    return this.#own;
  }

  /** The endpoints whose leases another process holds, grouped by that process's instance id. */
  byInstance(): IterableIterator<[string, ReadonlySet<string>]> {
    return this.#byHolder.entries();
  }

  #unindex(id: string): void {
    const known = super.get(id);
    if (known === undefined) return;
    if (known.mine) {
      this.#own.delete(id);
      return;
    }
    const ids = this.#byHolder.get(known.instance);
    ids?.delete(id);
    if (ids?.size === 0) this.#byHolder.delete(known.instance);
  }
}
