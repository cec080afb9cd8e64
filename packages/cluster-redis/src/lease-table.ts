import type { LeaseHolder } from "./planner.js";

/**
 * The leases as last known, by endpoint id, indexed by who holds them: a tick that must read again
 * the leases of instances that stopped beating finds them among a handful of holders rather than
 * by a pass over every lease.
 */
export class LeaseTable extends Map<string, LeaseHolder> {
  /** Endpoint ids by holder: `mine` for this process's own leases, else the holder's instance id. */
  readonly #byHolder = new Map<string | typeof mine, Set<string>>();

  /** Empty: entries given to `Map`'s constructor would be set before the index exists. */
  // biome-ignore lint/complexity/noUselessConstructor: it takes no entries, which the type checker then enforces
  constructor() {
    super();
  }

  override set(id: string, lease: LeaseHolder): this {
    this.#unindex(id);
    super.set(id, lease);
    const key = lease.mine ? mine : lease.instance;
    const ids = this.#byHolder.get(key);
    if (ids) ids.add(id);
    else this.#byHolder.set(key, new Set([id]));
    return this;
  }

  override delete(id: string): boolean {
    this.#unindex(id);
    return super.delete(id);
  }

  override clear(): void {
    this.#byHolder.clear();
    super.clear();
  }

  /** The endpoints whose leases are this process's own (kept up to date, not copied). */
  own(): ReadonlySet<string> {
    return this.#byHolder.get(mine) ?? none;
  }

  /** The endpoints whose leases another process holds, grouped by that process's instance id. */
  byInstance(): IterableIterator<[string, ReadonlySet<string>]> {
    return (function* (groups) {
      for (const [key, ids] of groups) if (key !== mine) yield [key, ids] as [string, ReadonlySet<string>];
    })(this.#byHolder);
  }

  #unindex(id: string): void {
    const known = super.get(id);
    if (known === undefined) return;
    const key = known.mine ? mine : known.instance;
    const ids = this.#byHolder.get(key);
    ids?.delete(id);
    if (ids?.size === 0) this.#byHolder.delete(key);
  }
}

const mine = Symbol("mine");
const none: ReadonlySet<string> = new Set();
