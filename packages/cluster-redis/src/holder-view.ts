import type { LeaseHolder } from "./planner.js";

/**
 * Who holds each listed endpoint, for the view: built from the leases as known, and shown ahead of
 * a read as this instance takes and lets go. Brought up to date by a pass over the list only for a
 * new list; otherwise only the endpoints marked since are looked at again.
 */
export class HolderView {
  readonly holders = new Map<string, string>();
  /** The list `holders` was built for. */
  #of: ReadonlySet<string> | undefined;
  /** Endpoints whose lease as known changed, or whose holder was shown ahead of a read, since. */
  readonly #stale = new Set<string>();

  /** The lease of `id` as known changed: the next refresh looks at it. */
  mark(id: string): void {
    this.#stale.add(id);
  }

  /**
   * Shows `id` held by `instance` (none when undefined) until the next refresh, which checks it;
   * true when that changed what it shows.
   */
  show(id: string, instance: string | undefined): boolean {
    this.#stale.add(id);
    if (this.holders.get(id) === instance) return false;
    if (instance === undefined) this.holders.delete(id);
    else this.holders.set(id, instance);
    return true;
  }

  /** Brings `holders` in line with `leases` for `listed`; true when what it shows changed. */
  refresh(listed: ReadonlySet<string>, leases: ReadonlyMap<string, LeaseHolder>): boolean {
    let moved = listed !== this.#of;
    if (moved) {
      this.holders.clear();
      for (const id of listed) this.#stale.add(id);
      this.#of = listed;
    }
    for (const id of this.#stale) {
      const holder = listed.has(id) ? leases.get(id)?.instance : undefined;
      if (this.holders.get(id) === holder) continue;
      if (holder === undefined) this.holders.delete(id);
      else this.holders.set(id, holder);
      moved = true;
    }
    this.#stale.clear();
    return moved;
  }
}
