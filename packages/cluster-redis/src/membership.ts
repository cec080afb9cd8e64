import { type Logger, XiaozhiError } from "@xiaozhi-connect/core";
import { type ClusterClock, sleep } from "./clock.js";
import type { Holdings } from "./holdings.js";
import type { Snapshot } from "./planner.js";
import type { StatusFeed } from "./status-feed.js";
import type { BeatResult, LiveMember } from "./stores.js";

export interface MembershipOptions {
  readonly self: string;
  readonly leaseTtl: number;
  readonly tickMs: number;
  readonly clock: ClusterClock;
  readonly logger: Logger;
  readonly holdings: Holdings;
  readonly feed: StatusFeed;
  /** Runs a tick and resolves when it ended. */
  readonly tick: () => Promise<void>;
}

/**
 * This instance's standing in the cluster, from its heartbeats: whether another live process has
 * its id, whether Redis came back or lost its data since the last one, and the grace that follows.
 */
export class Membership {
  /** Another live process has this instance id: this one runs nothing. */
  taken: LiveMember | undefined;
  /** After Redis came back: until when another's endpoints are left to it (see `Snapshot.grace`). */
  grace: Snapshot["grace"];
  /** Redis's boot marker as last seen: another one means Redis lost its data. */
  #boot: string | undefined;
  /** This process has joined once: a refusal from then on is another process with its id. */
  #joinedOnce = false;
  /** Before joining: the deadline of the holder of this id as first seen; renewed past it, that one runs. */
  #firstHeld: number | undefined;
  /** `waitForId` watches the holder: it tells a duplicate itself (it rejects the start). */
  #waiting = false;
  /** The duplicate was told: once is enough. */
  #toldDuplicate = false;

  constructor(private readonly options: MembershipOptions) {}

  /** The holder of this id while this instance waits for it to join; not a duplicate once joined. */
  get waitingFor(): LiveMember | undefined {
    return this.#joinedOnce ? undefined : this.taken;
  }

  /** A beat that was not refused; `wasReachable`: the tick before it reached Redis. */
  async joined(beat: Extract<BeatResult, { taken: false }>, wasReachable: boolean): Promise<void> {
    const { clock, logger, holdings } = this.options;
    if (this.taken) logger.info({ instance: this.options.self }, "cluster: the instance id is free; joining");
    this.taken = undefined;
    this.#joinedOnce = true;
    const lostData = this.#boot !== undefined && beat.boot !== this.#boot;
    this.#boot = beat.boot;
    // Leases may have lapsed while Redis was away or lost: for one lease from this first tick back,
    // an endpoint another instance held is left to that instance to take again.
    if (!wasReachable || lostData) {
      holdings.reread();
      this.grace = { until: clock.now() + this.options.leaseTtl, before: new Map(holdings.holders) };
      // What runs here is published again: Redis may have come back without it.
      this.options.feed.again();
    }
    if (lostData) {
      logger.warn(
        { held: holdings.held.size },
        "cluster: Redis lost its data; keeping the endpoints held here and restoring the list",
      );
      await holdings.renew(clock.now(), true);
    }
  }

  /**
   * A live process has this instance id (`now`: Redis's time): let go of everything and run nothing
   * while it is there. At start that is most often this instance before a restart (a crash, a
   * SIGKILL, systemd's `Restart=`), whose heartbeat lasts until its lease ends: a warning says so,
   * and `waitForId` tells a process that beats on. Once joined, it is another process; before, one
   * that renews its heartbeat past its first deadline (a start that `waitForId` did not watch, Redis
   * being out of reach then) is another too.
   */
  async refused(holder: LiveMember, now: number): Promise<void> {
    const { logger, self } = this.options;
    if (!this.#joinedOnce) this.#firstHeld ??= holder.deadline;
    const renewed = !this.#joinedOnce && holder.deadline > (this.#firstHeld ?? holder.deadline);
    if ((!this.taken && this.#joinedOnce) || (renewed && !this.#waiting && !this.#toldDuplicate)) {
      this.#toldDuplicate = renewed;
      logger.error(
        { instance: self, address: holder.address },
        "cluster: another running instance has this cluster.instanceId; this one runs nothing while it is there (give each instance its own id)",
      );
    } else if (!this.taken) {
      const seconds = Math.max(1, Math.ceil((holder.deadline - now) / 1000));
      logger.warn(
        { instance: self, address: holder.address, seconds },
        `cluster: this cluster.instanceId is still held, by this instance before a restart until its lease ends in about ${seconds} s, or by another running instance; waiting to join`,
      );
    }
    this.taken = holder;
    await this.options.holdings.dropAll();
  }

  /** The grace in force at `now`, forgotten once it ended. */
  graceAt(now: number): Snapshot["grace"] {
    if (this.grace && now >= this.grace.until) this.grace = undefined;
    return this.grace;
  }

  /**
   * At start, while a live process has this id: waits for it to lapse (a predecessor that crashed
   * stops beating and lapses within its TTL), and throws `DUPLICATE_INSTANCE` when it beats on.
   */
  async waitForId(stopped: () => boolean): Promise<void> {
    const first = this.taken;
    if (!first) return;
    const { clock, tickMs } = this.options;
    const until = clock.now() + Math.max(first.ttl, this.options.leaseTtl) + 2 * tickMs;
    this.#waiting = true;
    try {
      await this.#waitOut(first, until, stopped);
    } finally {
      this.#waiting = false;
    }
  }

  async #waitOut(first: LiveMember, until: number, stopped: () => boolean): Promise<void> {
    const { clock, tickMs } = this.options;
    while (this.taken && !stopped()) {
      if (this.taken.deadline > first.deadline || clock.now() > until) {
        // The rejection is the error the operator reads (the start fails with it): said once.
        this.#toldDuplicate = true;
        this.options.logger.debug(
          { instance: this.options.self, address: this.taken.address },
          "cluster: another running instance has this cluster.instanceId and keeps it; this one stops",
        );
        throw new XiaozhiError(
          "DUPLICATE_INSTANCE",
          `cluster.instanceId "${this.options.self}" is in use by another running instance (${this.taken.address ?? "address unknown"}); give each instance its own cluster.instanceId`,
        );
      }
      await sleep(clock, tickMs);
      await this.options.tick();
    }
  }
}
