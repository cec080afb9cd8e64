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

  constructor(private readonly options: MembershipOptions) {}

  /** A beat that was not refused; `wasReachable`: the tick before it reached Redis. */
  async joined(beat: Extract<BeatResult, { taken: false }>, wasReachable: boolean): Promise<void> {
    const { clock, logger, holdings } = this.options;
    if (this.taken) logger.info({ instance: this.options.self }, "cluster: the instance id is free; joining");
    this.taken = undefined;
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

  /** A live process has this instance id: let go of everything and run nothing while it is there. */
  async refused(holder: LiveMember): Promise<void> {
    if (!this.taken) {
      this.options.logger.error(
        { instance: this.options.self, address: holder.address },
        "cluster: another running instance has this cluster.instanceId; this one runs nothing while it is there (give each instance its own id)",
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
    while (this.taken && !stopped()) {
      if (this.taken.deadline > first.deadline || clock.now() > until) {
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
