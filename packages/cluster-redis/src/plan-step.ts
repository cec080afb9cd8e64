import type { Logger } from "@xiaozhi-connect/core";
import type { ClusterHost } from "@xiaozhi-connect/webserver-adapter";
import type { ClusterClock } from "./clock.js";
import type { Holdings } from "./holdings.js";
import type { LinkWatch } from "./link-watch.js";
import type { ListKnowledge } from "./list-knowledge.js";
import { LocalStatuses } from "./local-statuses.js";
import type { Membership } from "./membership.js";
import type { Peers } from "./peers.js";
import { PlanGate } from "./plan-gate.js";
import { plan, type Snapshot } from "./planner.js";

/** What a {@link PlanStep} reads and acts on: the coordinator's parts. */
export interface PlanStepOptions {
  readonly self: string;
  readonly tickMs: number;
  readonly handoverBatch: number;
  readonly clock: ClusterClock;
  readonly list: ListKnowledge;
  readonly peers: Peers;
  readonly watch: LinkWatch;
  readonly holdings: Holdings;
  readonly membership: Membership;
  readonly host: () => ClusterHost | undefined;
  readonly logger: Logger;
}

/**
 * The balancing part of a tick: reads the leases, gathers what this instance sees into a
 * {@link Snapshot}, plans (unless nothing the last quiet plan read has changed), and carries the
 * plan out.
 */
export class PlanStep {
  readonly #options: PlanStepOptions;
  readonly #gate = new PlanGate();
  /** Counts the state changes of the links run here. */
  #touches = 0;
  /** What runs here, for the look at the links: whole at least every ten ticks (a lease at most). */
  readonly #local: LocalStatuses;

  constructor(options: PlanStepOptions) {
    this.#options = options;
    this.#local = new LocalStatuses(10 * options.tickMs);
  }

  /** A link run here changed state (endpoint `id`'s, when given): the next step looks at the links again. */
  touched(id?: string): void {
    this.#touches++;
    this.#local.touch(id);
  }

  /**
   * One step. `state` says whether the list is settling and this instance joining; it is read once
   * the leases are in, as it stands then (a start may have begun joining meanwhile).
   */
  async run(state: () => { readonly settling: boolean; readonly joining: boolean }): Promise<void> {
    const { self, tickMs, handoverBatch, clock, list, peers, watch, holdings, membership } = this.#options;
    const now = clock.now();
    const listed = list.ids;
    const live = peers.active(watch.avoiding(now), list.byHost);
    // A stopping instance's leases hold while it hands them over: the log tells when they go.
    const leases = await holdings.read(listed, { has: (id) => live.has(id) || peers.isLeaving(id) });
    const { settling, joining } = state();
    const reached = peers.reachedHosts();
    const held = holdings.held;
    const unservable = watch.observeChanged(
      `${this.#touches}:${holdings.version}`,
      now,
      held,
      () => this.#local.read(this.#options.host(), now),
      (host) => reached.has(host),
    );
    const grace = membership.graceAt(now);
    const snapshot: Snapshot = {
      self,
      tickMs,
      listed,
      settling,
      joining,
      live,
      leases,
      own: leases.own(),
      index: leases.index(listed),
      held,
      unservable,
      ...(grace ? { grace } : {}),
      freeSince: holdings.freeSince,
      handoverBatch,
      given: holdings.given(now, 3 * tickMs),
      letGo: holdings.letGo(now, 3 * tickMs),
      joiningPeers: peers.joining(),
    };
    const version = holdings.version;
    if (this.#gate.quiet(snapshot, version)) return;
    const next = plan(snapshot, now);
    this.#gate.planned(snapshot, version, next);
    await holdings.carryOut(next, unservable, now);
    this.#tookOver(next.acquire);
  }

  /**
   * Says which of `acquired` this instance took because their holder's leases ran out (it stopped
   * renewing them: killed, crashed, paused, or cut off from Redis and maybe still running): how
   * many, from which instance, whether this one took them first or later, after another did not.
   * A graceful stop's handover says nothing here; its instance logs it.
   */
  #tookOver(acquired: readonly string[]): void {
    const { holdings, logger, self } = this.#options;
    const from = new Map<string, number>();
    for (const id of acquired) {
      const by = holdings.held.has(id) ? holdings.lapsedFrom(id) : undefined;
      if (by !== undefined) from.set(by, (from.get(by) ?? 0) + 1);
    }
    for (const [instance, endpoints] of from) {
      logger.warn(
        { from: instance, endpoints },
        instance === self
          ? `cluster: the leases this instance id held before a restart ran out; took ${endpoints} of those endpoints back`
          : `cluster: instance ${instance} stopped renewing its leases and they ran out; took ${endpoints} of its endpoints over`,
      );
    }
  }
}
