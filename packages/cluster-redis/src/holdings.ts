import type { Logger } from "@xiaozhi-connect/core";
import type { ClusterHost } from "@xiaozhi-connect/webserver-adapter";
import { HolderView } from "./holder-view.js";
import { LeaseTable, listedFirst } from "./lease-table.js";
import type { LinkWatch } from "./link-watch.js";
import type { ClusterMessage } from "./messages.js";
import type { Plan } from "./planner.js";
import type { LeaseLogPosition, LeaseStore } from "./stores.js";

/** Ticks between two checks of every lease against Redis, in case the log missed something (a key changed by hand). */
const snapshotEvery = 100;
/** The fewest changes worth reading from the log before reading every lease instead. */
const minLogRead = 1000;
/** After a lease's PTTL, ms: Redis keeps a key through its last millisecond, and timers round. */
const lapseMargin = 5;

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
  /** Monotonic ms. */
  readonly now: () => number;
  /** Asks for a tick `ms` from now: a stopped instance's leases lapse then. */
  readonly wake: (ms: number) => void;
}

/**
 * The leases of this process: which endpoints it runs, who holds each listed endpoint as last read,
 * and the work on them: renewing, reading back, and carrying a plan out, links always closed before
 * their leases go.
 */
export class Holdings {
  /** Endpoints this instance runs. */
  readonly held = new Set<string>();
  /** Endpoints handed over whose links closed but whose leases could not be released: a stop releases them. */
  readonly unreleased = new Set<string>();
  /** Since when each free endpoint has been seen free (for the plan). */
  freeSince = new Map<string, number>();
  /** Endpoints a stopping instance handed over, to whom and when (for the plan, a few ticks). */
  readonly #given = new Map<
    string,
    { readonly instance: string; readonly by: string; readonly at: number }
  >();
  /** Endpoints another instance let go of, by whom and when (monotonic ms), and whether its lease ran out. */
  readonly #letGo = new Map<string, { readonly by: string; readonly at: number; lapsed?: boolean }>();
  /** Leases read themselves on the next tick: an acquire or release unanswered, a take refused. */
  readonly #unsure = new Set<string>();
  /** The leases in Redis as last known, by endpoint id, kept up to date from the lease log. */
  readonly #leases = new LeaseTable();
  /** How far the log was read; undefined: every lease is read on the next tick. */
  #at: LeaseLogPosition | undefined;
  #ticksSinceSnapshot = 0;
  /** Backs {@link holders}. */
  readonly #view = new HolderView();
  #renewedAt = Number.NEGATIVE_INFINITY;
  /** When the leases of each instance that stopped ticking lapse, as Redis last said (monotonic ms). */
  readonly #lapses = new Map<string, number>();
  /** Counts changes to what is held here and to the leases as known: a plan of the same inputs is the same. */
  version = 0;

  constructor(private readonly options: HoldingsOptions) {}

  /** Who holds each listed endpoint, as last read (shown at once as this instance takes and lets go). */
  get holders(): ReadonlyMap<string, string> {
    return this.#view.holders;
  }

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

  /**
   * Lets every lease of this process go at once, for a stop (the caller closed the links first).
   * Forgets them before it asks: what fails lapses after the TTL. Resolves with how many.
   */
  async releaseAll(): Promise<number> {
    const ids = [...this.held, ...this.unreleased];
    this.held.clear();
    this.unreleased.clear();
    await this.options.leases()?.release(ids, this.options.lease);
    return ids.length;
  }

  /** These leases are another's now: close their links. */
  async lose(ids: readonly string[]): Promise<void> {
    this.options.logger.warn(
      { endpoints: ids },
      "cluster: leases lost to another instance; closing those links now",
    );
    for (const id of ids) this.held.delete(id);
    this.version++;
    this.options.emit("changed");
    await this.options.host()?.drop(ids);
  }

  /** Lets go of everything held here (another process has this instance id). */
  async dropAll(): Promise<void> {
    const ids = [...this.held];
    if (ids.length === 0) return;
    this.held.clear();
    this.version++;
    this.options.emit("changed");
    await this.options.host()?.drop(ids);
    await this.options.leases()?.release(ids, this.options.lease);
  }

  /**
   * Another instance said it released these leases (at `now`): they are read on the next tick (the
   * log tells it too, unless the other runs a version that does not log), and an instance that
   * stops names who takes each.
   */
  released(message: Extract<ClusterMessage, { t: "released" }>, now: number): void {
    const unheld = message.ids.filter((id) => this.holders.get(id) === message.by);
    for (const id of message.ids) {
      // The one named to take it took it and let it go again (its share moved): nobody waits for it.
      if (this.#given.get(id)?.instance === message.by) this.#given.delete(id);
      this.#letGo.set(id, { by: message.by, at: now });
      this.#unsure.add(id);
    }
    for (const [instance, ids] of Object.entries(message.to ?? {})) {
      for (const id of ids) this.#given.set(id, { instance, by: message.by, at: now });
    }
    this.#show(unheld, undefined);
  }

  /** What was handed over within `ms` before `now` and nobody holds yet, with who should take it. */
  given(now: number, ms: number): ReadonlyMap<string, string> {
    const given = new Map<string, string>();
    for (const [id, { instance, by, at }] of this.#given) {
      // Still shown held by the one that handed it over: the release was heard after the read.
      const holder = this.#leases.get(id)?.instance;
      if (now - at > ms || this.held.has(id) || (holder !== undefined && holder !== by))
        this.#given.delete(id);
      else given.set(id, instance);
    }
    return given;
  }

  /** The instance whose lease of `id` ran out (it was not released) since anyone held it; undefined otherwise. */
  lapsedFrom(id: string): string | undefined {
    return this.#letGo.get(id)?.lapsed ? this.#letGo.get(id)?.by : undefined;
  }

  /** What another instance let go of within `ms` before `now` and nobody holds yet, with who let it go. */
  letGo(now: number, ms: number): ReadonlyMap<string, string> {
    const free = new Map<string, string>();
    for (const [id, { by, at, lapsed }] of this.#letGo) {
      const kept = lapsed ? 10 * ms : ms; // A lapse is kept for the taker (`lapsedFrom`), not for good.
      if (this.#leases.has(id) || this.held.has(id) || now - at > kept) this.#letGo.delete(id);
      else if (now - at <= ms) free.set(id, by);
    }
    return free;
  }

  /**
   * Hands these endpoints over as this instance stops: their links close, then their leases go,
   * and the others hear it at once, each taken by the instance `owner` names.
   */
  async handOver(ids: readonly string[], owner: (id: string) => string | undefined): Promise<void> {
    const store = this.options.leases();
    const running = ids.filter((id) => this.held.delete(id));
    if (running.length === 0 || !store) return;
    this.version++;
    this.#show(running, undefined);
    try {
      await this.options.host()?.drop(running);
      await store.release(running, this.options.lease);
    } catch (error) {
      for (const id of running) this.unreleased.add(id);
      throw error;
    }
    for (const id of running) this.#leases.delete(id);
    const to: Record<string, string[]> = {};
    for (const id of running) {
      const instance = owner(id);
      if (instance !== undefined) to[instance] = [...(to[instance] ?? []), id]; // A batch: a few hundred.
    }
    await this.options.publish({ t: "released", by: this.options.self, ids: running, to });
  }

  /**
   * Shows `ids` held by `instance` (none when undefined) ahead of a read. A view changes only with
   * an event, so a watcher's first look and the changes sent after it agree.
   */
  #show(ids: readonly string[], instance: string | undefined): void {
    let changed = false;
    for (const id of ids) changed = this.#view.show(id, instance) || changed;
    if (changed) this.options.emit("view");
  }

  /** Whether another process holds each of these leases now. */
  async taken(ids: readonly string[]): Promise<boolean> {
    const values = (await this.options.leases()?.read(ids)) ?? [];
    return ids.every((_, i) => values[i] !== undefined && values[i] !== this.options.lease);
  }

  /** Every lease is read on the next tick (Redis came back, or lost its data). */
  reread(): void {
    this.#at = undefined;
  }

  /**
   * Who holds what, read from the lease log: only what changed since the last tick, so a tick
   * costs Redis what changed rather than the whole list. A lease that lapses is not logged, so the
   * leases of instances not in `live` (and this instance's from an earlier process) are read
   * themselves. Every lease is read at the first tick, after Redis was away, and when the log
   * cannot tell; every {@link snapshotEvery} ticks they are checked against Redis by a hash
   * (read, with a store that cannot check).
   */
  async read(listed: ReadonlySet<string>, live: { has(id: string): boolean }): Promise<LeaseTable> {
    const store = this.options.leases();
    if (!store) return this.#leases;
    const unsure = [...this.#unsure];
    this.#unsure.clear();
    let changed = false;
    if (this.#at && this.#ticksSinceSnapshot < snapshotEvery) {
      const next = await store.changes(this.#at, Math.max(minLogRead, listed.size));
      this.#at = next?.at;
      if (next) {
        this.#ticksSinceSnapshot++;
        for (const [id, value] of next.changes) changed = this.#set(id, value) || changed;
        const check = unsure;
        // Past these, a lease found gone was not released (the log read first would say): it lapsed.
        const sure = check.length;
        for (const [instance, ids] of this.#leases.byInstance()) {
          // Another's, or this instance id's from an earlier process.
          if (!live.has(instance) || instance === this.options.self) for (const id of ids) check.push(id);
        }
        if (check.length > 0) {
          const values = await store.read(check);
          check.forEach((id, i) => {
            changed = this.#set(id, values[i], i >= sure) || changed;
          });
          await this.#watchLapses(store, live);
        } else this.#lapses.clear();
      }
    }
    if (!this.#at || this.#ticksSinceSnapshot >= snapshotEvery) {
      const ids = listedFirst(listed, this.held, unsure, this.#leases.keys());
      // Most looks find what the log told: Redis compares a hash of the leases with what is known
      // first, and only a difference, or a change logged since, reads every lease.
      const { lease } = this.options;
      const known = ids.map((id) => {
        const entry = this.#leases.get(id);
        return entry === undefined ? undefined : entry.mine ? lease : entry.instance;
      });
      const at = this.#at;
      // The check only saves a read: when it fails (a server without the script's functions), read.
      const same = at !== undefined && (await store.matches?.(ids, known, lease, at).catch(() => false));
      if (!same) {
        const read = await store.snapshot(ids);
        // Every lease known is among `ids`: what the log kept up to date reads the same, and a
        // snapshot that finds nothing new leaves the version, so the next plan can be skipped.
        for (const [i, id] of ids.entries()) changed = this.#set(id, read.values[i]) || changed;
        this.#at = read.at;
      }
      this.#ticksSinceSnapshot = 0;
    }
    if (changed) this.version++;
    // Set before the event: a listener reads the view at once.
    if (this.#view.refresh(listed, this.#leases)) this.options.emit("view");
    return this.#leases;
  }

  /**
   * Asks for a tick when the leases of each instance that stopped ticking lapse, so they are taken
   * at once rather than up to a tick later: Redis tells when, once per instance and lapse. Only a
   * help: a failed question leaves the tick as it was.
   */
  async #watchLapses(store: LeaseStore, live: { has(id: string): boolean }): Promise<void> {
    const stale = new Map<string, ReadonlySet<string>>();
    for (const [instance, ids] of this.#leases.byInstance()) {
      // Another's, or this instance id's from an earlier process.
      if (!live.has(instance) || instance === this.options.self) stale.set(instance, ids);
    }
    for (const instance of this.#lapses.keys()) if (!stale.has(instance)) this.#lapses.delete(instance);
    const lapse = store.lapse?.bind(store);
    if (!lapse) return;
    const asked = this.options.now();
    await Promise.all(
      [...stale].map(async ([instance, ids]) => {
        const known = this.#lapses.get(instance);
        if (known !== undefined && known > asked) return;
        let ms: number | undefined;
        try {
          // Copied only when asked: a lapse already known costs a tick nothing.
          ms = await lapse([...ids]);
        } catch {
          return;
        }
        // After the answer: the lease lasts `ms` from when Redis answered, not from when it was asked.
        // A lease without a TTL never lapses: not asked again until the instance's leases change.
        this.#lapses.set(instance, ms === undefined ? Number.POSITIVE_INFINITY : this.options.now() + ms);
      }),
    );
    const now = this.options.now();
    for (const at of this.#lapses.values()) {
      if (at !== Number.POSITIVE_INFINITY) this.options.wake(at - now + lapseMargin);
    }
  }

  /** Records a lease's value (`lapsed`: found gone, not released); true when that changed what was known. */
  #set(id: string, value: string | undefined, lapsed = false): boolean {
    const known = this.#leases.get(id);
    if (value === undefined) {
      if (known !== undefined && !known.mine)
        this.#letGo.set(id, { by: known.instance, at: this.options.now(), lapsed });
      this.#view.mark(id);
      return this.#leases.delete(id);
    }
    const instance = value.slice(0, value.indexOf("|"));
    const mine = value === this.options.lease;
    if (known?.instance === instance && known.mine === mine) return false;
    this.#leases.set(id, { instance, mine });
    this.#view.mark(id);
    return true;
  }

  /** Carries a plan out: closes lost links, lets go (links first), takes up and takes. */
  async carryOut(next: Plan, unservable: ReadonlySet<string>, now: number): Promise<void> {
    const { logger, self, lease, leaseTtl } = this.options;
    const store = this.options.leases();
    this.freeSince = next.freeSince;
    if (!store) return;
    if (next.lost.length + next.release.length + next.adopt.length + next.acquire.length > 0) this.version++;
    if (next.lost.length > 0) await this.lose(next.lost);
    if (next.release.length > 0) {
      const running = next.release.filter((id) => this.held.has(id));
      for (const id of next.release) {
        this.held.delete(id);
        this.#unsure.add(id);
      }
      this.#show(next.release, undefined);
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
      for (const id of next.release) {
        this.#unsure.delete(id);
        if (this.#leases.get(id)?.mine) this.#leases.delete(id);
      }
      if (next.why.handover > 0)
        logger.info({ endpoints: next.why.handover }, "cluster: handed endpoints over");
      await this.options.publish({ t: "released", by: self, ids: next.release });
    }
    let taken = next.adopt.length;
    for (const id of next.adopt) this.held.add(id);
    // Before the acquire, which may fail.
    this.#show(next.adopt, self);
    if (next.acquire.length > 0) {
      for (const id of next.acquire) this.#unsure.add(id);
      const got = await store.acquire(next.acquire, lease, leaseTtl);
      next.acquire.forEach((id, i) => {
        if (!got[i]) return;
        this.#unsure.delete(id);
        this.held.add(id);
        this.#view.show(id, self);
        this.#set(id, lease);
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
