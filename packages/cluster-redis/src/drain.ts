import type { Logger } from "@xiaozhi-connect/core";
import { type ClusterClock, sleep } from "./clock.js";
import type { Holdings } from "./holdings.js";
import type { ClusterMessage } from "./messages.js";
import { assign } from "./rendezvous.js";

/**
 * How long a graceful stop hands endpoints over before the rest go at once, ms, counted from the
 * moment it starts (the leaving tick included): the server gives its whole shutdown 5 s, and what
 * comes after the handover (closing the rest, releasing their leases) needs some of it.
 */
export const drainBudgetMs = 3000;
/** A graceful stop hands its endpoints over in this many batches at most (and at least the batch size each). */
export const drainSteps = 10;

/**
 * Who takes each endpoint held by `self` as it stops, and the order to hand them over in: the
 * even share of the list among the other `active` instances, worked out once so every batch goes
 * where the plan first put it; the order spreads each instance's share evenly over it, so each
 * batch spreads over all of them in proportion to their shares.
 */
export function handoverPlan(
  self: string,
  listed: ReadonlySet<string>,
  active: ReadonlyMap<string, ReadonlySet<string>>,
  holdings: { readonly held: ReadonlySet<string>; readonly holders: ReadonlyMap<string, string> },
): { owner: (id: string) => string | undefined; order: string[] } {
  const others = [...active.keys()].filter((id) => id !== self);
  const owners = assign(listed, others, {
    holders: { get: (id) => (holdings.held.has(id) ? undefined : holdings.holders.get(id)) },
    avoid: active,
  });
  const byOwner = new Map<string | undefined, string[]>();
  for (const id of holdings.held) {
    const owner = owners.get(id);
    const queue = byOwner.get(owner);
    if (queue) queue.push(id);
    else byOwner.set(owner, [id]);
  }
  // Each taker's endpoints spread evenly over the whole order, in proportion to its share: one
  // that takes more (it holds fewer) gets more in every batch, not all of the last ones, which
  // would leave it to connect the tail alone while the others idle.
  const keyed: { readonly at: number; readonly id: string }[] = [];
  for (const queue of byOwner.values()) {
    for (const [i, id] of queue.entries()) keyed.push({ at: (i + 0.5) / queue.length, id });
  }
  keyed.sort((x, y) => x.at - y.at);
  return { owner: (id) => owners.get(id), order: keyed.map((k) => k.id) };
}

export interface DrainOptions {
  readonly clock: ClusterClock;
  /** Endpoints per batch, at least: more when the batches so far took too long to fit the rest. */
  readonly batch: number;
  /** How long the next batch waits for the others to take the last one, ms. */
  readonly patienceMs: number;
  /** How often it looks whether they did, ms. */
  readonly pollMs: number;
  /** When (on `clock`) the batches stop, and the caller lets the rest go at once: no batch starts and no wait lasts past it. */
  readonly deadline: number;
  /** The endpoints still held here. */
  readonly held: () => readonly string[];
  /** Closes these links, then lets their leases go and tells the others. */
  readonly handOver: (ids: readonly string[]) => Promise<void>;
  /** Whether another instance holds each of these now. */
  readonly taken: (ids: readonly string[]) => Promise<boolean>;
  /**
   * Whether an instance the endpoints go to still takes (ticks, and is not leaving itself); by
   * default always. Once none does, no batch waits and none starts: the caller lets the rest go.
   */
  readonly taking?: () => boolean;
}

/**
 * Hands everything held over a batch at a time, each batch once the others took the last (or
 * after `patienceMs`): while one batch connects elsewhere the rest keep their links, so an
 * endpoint is without one about as long as its batch takes rather than as long as all do.
 * Resolves with how many endpoints it handed over.
 */
export async function drain(options: DrainOptions): Promise<number> {
  const { clock, deadline } = options;
  const started = clock.now();
  const taking = options.taking ?? (() => true);
  let handed = 0;
  let batches = 0;
  for (;;) {
    const left = options.held();
    if (left.length === 0 || clock.now() >= deadline || !taking()) return handed;
    // Running late, the batches grow so the last fits before the deadline, rather than whatever
    // is left going at once when it comes.
    const perBatch = batches === 0 ? 0 : (clock.now() - started) / batches;
    const fit = perBatch === 0 ? left.length : Math.max(1, Math.floor((deadline - clock.now()) / perBatch));
    const part = left.slice(0, Math.max(options.batch, Math.ceil(left.length / fit)));
    batches++;
    await options.handOver(part);
    handed += part.length;
    if (options.held().length === 0) return handed;
    const until = Math.min(clock.now() + options.patienceMs, deadline);
    while (clock.now() < until && taking() && !(await options.taken(part))) {
      await sleep(clock, Math.min(options.pollMs, Math.max(0, until - clock.now())));
    }
  }
}

export interface HandOverAllOptions {
  readonly self: string;
  readonly listed: ReadonlySet<string>;
  /** The instances that tick (this one included), each with what it avoids. */
  readonly active: ReadonlyMap<string, ReadonlySet<string>>;
  readonly holdings: Holdings;
  readonly clock: ClusterClock;
  /** When (on `clock`) the handover stops: see {@link drainBudgetMs}. */
  readonly deadline: number;
  readonly tickMs: number;
  /** The fewest endpoints per batch. */
  readonly batch: number;
  readonly logger: Logger;
  readonly publish: (message: ClusterMessage) => Promise<void>;
  /** Runs a step between ticks. */
  readonly exclusive: <T>(job: () => Promise<T>) => Promise<T>;
  /** Whether this instance is still among the live instances, and not leaving (see {@link DrainOptions.taking}). */
  readonly takes: (instance: string) => boolean;
}

/**
 * A graceful stop's handover: says it is leaving (nothing new comes), works out once who takes
 * each endpoint, and hands them over in at most {@link drainSteps} batches within
 * `deadline`. What is left after that, or after a failure, the caller lets go at once.
 */
export async function handOverAll(options: HandOverAllOptions): Promise<void> {
  const { holdings, logger } = options;
  try {
    await options.publish({ t: "leaving", by: options.self });
    // Worked out once: the shares the others see shift as they take batch after batch.
    const { owner, order } = handoverPlan(options.self, options.listed, options.active, holdings);
    const takers = [...options.active.keys()].filter((id) => id !== options.self);
    const handed = await drain({
      clock: options.clock,
      batch: Math.max(options.batch, Math.ceil(order.length / drainSteps)),
      patienceMs: 2 * options.tickMs,
      pollMs: Math.max(20, options.tickMs / 20),
      deadline: options.deadline,
      held: () => order.filter((id) => holdings.held.has(id)),
      handOver: (ids) => options.exclusive(() => holdings.handOver(ids, owner)),
      taken: (ids) => holdings.taken(ids),
      // Instances stopping together each hand to the others: once all of those are leaving too,
      // nobody takes, and waiting would only hold every stop up to its deadline.
      taking: () => takers.some(options.takes),
    });
    const left = holdings.held.size;
    logger.info(
      { endpoints: handed, ...(left > 0 ? { left } : {}) },
      left > 0 && !takers.some(options.takes)
        ? "cluster: the other instances are stopping too; letting the rest go at once"
        : "cluster: handed the endpoints over before stopping",
    );
  } catch (error) {
    logger.warn(
      { err: (error as Error).message, endpoints: holdings.held.size },
      "cluster: could not hand every endpoint over; the rest go at once",
    );
  }
}
