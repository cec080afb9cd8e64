import type { Logger } from "@xiaozhi-connect/core";
import type { ClusterHost } from "@xiaozhi-connect/webserver-adapter";
import type { LinkWatch } from "./link-watch.js";
import type { ClusterMessage } from "./messages.js";
import type { LeaseHolder, Plan } from "./planner.js";
import type { LeaseStore } from "./stores.js";

export interface HoldingsOptions {
  readonly self: string;
  /** What this process's leases hold: `<instance>|<incarnation>`. */
  readonly lease: string;
  readonly leaseTtl: number;
  readonly logger: Logger;
  readonly watch: LinkWatch;
  readonly leases: () => LeaseStore | undefined;
  readonly host: () => ClusterHost | undefined;
  /** The endpoints held here changed (`changed`), or who holds what (`view`). */
  readonly emit: (event: "changed" | "view") => void;
  readonly publish: (message: ClusterMessage) => Promise<void>;
}

/**
 * The leases of this process: which endpoints it runs, who holds each listed endpoint as last read,
 * and the work on them: renewing, reading back, and carrying a plan out, links always closed before
 * their leases go.
 */
export class Holdings {
  /** Endpoints this instance runs. */
  readonly held = new Set<string>();
  /** Who holds each listed endpoint, as last read. */
  holders = new Map<string, string>();
  /** Since when each free endpoint has been seen free (for the plan). */
  freeSince = new Map<string, number>();
  /** Leases whose acquire or release went unanswered: read again on the next tick. */
  readonly #unsure = new Set<string>();
  #renewedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: HoldingsOptions) {}

  /**
   * Renews the leases held: when `force`d, or a third of the TTL after the last renewal (`now`,
   * monotonic, is when the renewal was sent: the lease lasts a TTL from then at least).
   */
  async renew(now: number, force: boolean): Promise<void> {
    const store = this.options.leases();
    if (!store || this.held.size === 0) return;
    if (!force && now - this.#renewedAt < this.options.leaseTtl / 3) return;
    const ids = [...this.held];
    const kept = await store.renew(ids, this.options.lease, this.options.leaseTtl);
    this.#renewedAt = now;
    const lost = ids.filter((_, i) => !kept[i]);
    if (lost.length > 0) await this.lose(lost);
  }

  /** These leases are another's now: close their links. */
  async lose(ids: readonly string[]): Promise<void> {
    this.options.logger.warn(
      { endpoints: ids },
      "cluster: leases lost to another instance; closing those links now",
    );
    for (const id of ids) this.held.delete(id);
    this.options.emit("changed");
    await this.options.host()?.drop(ids);
  }

  /** Lets go of everything held here (another process has this instance id). */
  async dropAll(): Promise<void> {
    const ids = [...this.held];
    if (ids.length === 0) return;
    this.held.clear();
    this.options.emit("changed");
    await this.options.host()?.drop(ids);
    await this.options.leases()?.release(ids, this.options.lease);
  }

  /** Reads the leases of `listed` (and of what runs here or is unsure); updates who holds what. */
  async read(listed: ReadonlySet<string>): Promise<Map<string, LeaseHolder>> {
    const store = this.options.leases();
    const ids = [...new Set([...listed, ...this.held, ...this.#unsure])];
    const values = store ? await store.read(ids) : [];
    this.#unsure.clear();
    const leases = new Map<string, LeaseHolder>();
    ids.forEach((id, i) => {
      const value = values[i];
      if (value)
        leases.set(id, { instance: value.slice(0, value.indexOf("|")), mine: value === this.options.lease });
    });
    const holders = new Map<string, string>();
    for (const id of listed) {
      const lease = leases.get(id);
      if (lease) holders.set(id, lease.instance);
    }
    if (!sameMap(holders, this.holders)) this.options.emit("view");
    this.holders = holders;
    return leases;
  }

  /** Carries a plan out: closes lost links, lets go (links first), takes up and takes. */
  async carryOut(next: Plan, unservable: ReadonlySet<string>, now: number): Promise<void> {
    const { logger, self, lease, leaseTtl } = this.options;
    const store = this.options.leases();
    this.freeSince = next.freeSince;
    if (!store) return;
    if (next.lost.length > 0) await this.lose(next.lost);
    if (next.release.length > 0) {
      const running = next.release.filter((id) => this.held.has(id));
      for (const id of next.release) {
        this.held.delete(id);
        this.holders.delete(id);
        this.#unsure.add(id);
      }
      const gaveUp = next.release.filter((id) => unservable.has(id));
      if (gaveUp.length > 0) {
        this.options.watch.gaveUp(gaveUp, now);
        logger.warn(
          { endpoints: gaveUp },
          "cluster: these links stay down here while other instances reach their hosts; handing them over",
        );
      }
      // Break before make: the links close before the leases go, so no agent sees two providers.
      if (running.length > 0) {
        this.options.emit("changed");
        await this.options.host()?.drop(running);
      }
      await store.release(next.release, lease);
      for (const id of next.release) this.#unsure.delete(id);
      if (next.why.handover > 0)
        logger.info({ endpoints: next.why.handover }, "cluster: handed endpoints over");
      await this.options.publish({ t: "released", by: self, ids: next.release });
    }
    let taken = next.adopt.length;
    for (const id of next.adopt) {
      this.held.add(id);
      this.holders.set(id, self);
    }
    if (next.acquire.length > 0) {
      for (const id of next.acquire) this.#unsure.add(id);
      const got = await store.acquire(next.acquire, lease, leaseTtl);
      next.acquire.forEach((id, i) => {
        this.#unsure.delete(id);
        if (!got[i]) return;
        this.held.add(id);
        this.holders.set(id, self);
        this.freeSince.delete(id);
        taken++;
      });
    }
    if (taken > 0) {
      logger.debug({ endpoints: taken }, "cluster: took endpoints");
      this.options.emit("changed");
      this.options.emit("view");
    }
  }
}

function sameMap(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}
