import { XiaozhiError } from "@xiaozhi-connect/core";
import { type ClusterClock, sleep } from "./clock.js";
import type { ListKnowledge } from "./list-knowledge.js";
import { type ListStore, type StoredList, StoreError } from "./stores.js";
import type { TickLoop } from "./tick-loop.js";

/** How many change ids the list keeps: a change sent again within that many changes applies once. */
export const keptChanges = 64;
/** How long a change whose outcome was unknown is remembered under its key, ms. */
const rememberFor = 10 * 60_000;
const rememberAtMost = 100;

export interface ListChangesOptions {
  readonly clock: ClusterClock;
  /** Each attempt runs between ticks; waits between attempts let the ticks run. */
  readonly loop: TickLoop;
  readonly list: ListKnowledge;
  readonly store: () => ListStore | undefined;
  readonly randomId: () => string;
  /** Wait before trying again when Redis did not answer or has no list, ms. */
  readonly retryMs: number;
  /** How long a change keeps trying, ms. */
  readonly deadlineMs: number;
  /** The list known here changed (read, or written by this instance). */
  readonly adopted: () => void;
}

interface Change {
  readonly id: string;
  /** A write of this change was sent and not answered: it may still apply. */
  maybeSent: boolean;
  writing: boolean;
}

type Step = { readonly done: boolean } | { readonly wait: number };

/**
 * Changes to the endpoint list: compare-and-set on its identity, each with a change id the list
 * remembers, so sending a change again never applies it twice. A change that was sent and not
 * confirmed is reported as unknown, not as failed, and is remembered under its key: the same
 * change asked again (a user's retry) reuses its id.
 */
export class ListChanges {
  readonly #uncertain = new Map<string, { readonly id: string; readonly at: number }>();

  constructor(private readonly options: ListChangesOptions) {}

  /** See `ClusterCoordinator.update`. */
  async apply(edit: (entries: unknown[]) => unknown[] | undefined, key?: string): Promise<boolean> {
    const { clock } = this.options;
    const started = clock.now();
    for (const [k, change] of this.#uncertain)
      if (started - change.at > rememberFor) this.#uncertain.delete(k);
    const earlier = key === undefined ? undefined : this.#uncertain.get(key);
    const change: Change = { id: earlier?.id ?? this.options.randomId(), maybeSent: false, writing: false };
    const deadline = started + this.options.deadlineMs;
    let failure: unknown;
    // Bounded: every round waits or meets a list that moved on, which takes another instance's write.
    for (let round = 0; round < 100; round++) {
      let step: Step;
      try {
        step = await this.options.loop.exclusive(() => this.#attempt(edit, change));
      } catch (error) {
        if (!(error instanceof StoreError)) throw error;
        failure = error;
        if (change.writing && error.sent) change.maybeSent = true;
        change.writing = false;
        // Nothing reached Redis and nothing of this change is on its way: say so at once.
        if (!error.sent && !change.maybeSent) throw unavailable(outOfReach, error);
        step = { wait: this.options.retryMs };
      }
      if ("done" in step) {
        if (key !== undefined) this.#uncertain.delete(key);
        // Take what is this instance's of the new list now, so the caller sees where it runs.
        if (step.done) await this.options.loop.kick();
        return step.done;
      }
      if (clock.now() + step.wait > deadline) break;
      if (step.wait > 0) await sleep(clock, step.wait);
    }
    if (change.maybeSent) {
      if (key !== undefined) {
        this.#uncertain.delete(key);
        this.#uncertain.set(key, { id: change.id, at: clock.now() });
        if (this.#uncertain.size > rememberAtMost)
          this.#uncertain.delete(this.#uncertain.keys().next().value as string);
      }
      throw new XiaozhiError(
        "CLUSTER_OUTCOME_UNKNOWN",
        "Redis did not confirm the change in time: it may still apply. Sending the same change again is safe: it applies once.",
        { cause: failure },
      );
    }
    throw unavailable(
      failure ? outOfReach : "the endpoint list kept changing under this change; try again",
      failure,
    );
  }

  /** Takes the stored list as the one known here, unless this instance knows more; false then. */
  #take(stored: StoredList): boolean {
    const { list } = this.options;
    if (!list.same(stored) && list.knowsMore(stored)) return false;
    if (list.adopt(stored)) this.options.adopted();
    return true;
  }

  /** One read and one write, between ticks; no waiting. */
  async #attempt(edit: (entries: unknown[]) => unknown[] | undefined, change: Change): Promise<Step> {
    const store = this.options.store();
    if (!store) throw new StoreError("cluster mode has not started", false);
    const stored = await store.read();
    // Redis lost its list, or has one this instance knows better (seeded from a file while
    // Redis was empty): the next tick restores it, and the change is made on that.
    if (!stored || !this.#take(stored)) {
      void this.options.loop.kick();
      return { wait: this.options.retryMs };
    }
    if (stored.changes.includes(change.id)) return { done: true };
    const next = edit(structuredClone(this.options.list.entries));
    if (next === undefined) return { done: false };
    change.writing = true;
    const result = await store.write(stored, next, change.id, keptChanges);
    change.writing = false;
    switch (result.kind) {
      case "written":
        this.options.list.wrote(next, result.version, change.id, keptChanges);
        this.options.adopted();
        return { done: true };
      case "applied": {
        const now = await store.read();
        if (now) this.#take(now);
        return { done: true };
      }
      case "settling":
        return { wait: Math.max(10, result.waitMs) };
      case "absent":
        return { wait: this.options.retryMs };
      default:
        return { wait: 0 };
    }
  }
}

/** What a change refused for want of Redis says; the client's own words stay in the cause. */
const outOfReach = "the cluster's Redis is out of reach: nothing was changed";

function unavailable(message: string, cause: unknown): XiaozhiError {
  return new XiaozhiError("CLUSTER_UNAVAILABLE", message, cause === undefined ? {} : { cause });
}
