import type { Logger } from "@xiaozhi-connect/core";

/**
 * Whether Redis answered the last tick, and the log lines around it: a warning when it goes out of
 * reach (or on the first failure, when it never was reached) with why, again only when the cause
 * changes (a refused connection, then a refused password), and one line when it is back.
 * `changed` runs on every flip, so the view shows it. The first failed tick in a row is tried again
 * soon (`ticks.retrySoon`): a command also times out when this process stalled for that long.
 */
export class Reachability {
  #reachable = false;
  /** The last tick failed. */
  #failing = false;
  /** The causes warned about since Redis was last reached: a retry that fails alike says nothing. */
  readonly #warned = new Set<string>();
  readonly #logger: Logger;
  readonly #redis: string;
  readonly #changed: () => void;
  readonly #ticks: { retrySoon(): void };

  constructor(logger: Logger, redis: string, changed: () => void, ticks: { retrySoon(): void }) {
    this.#logger = logger;
    this.#redis = redis;
    this.#changed = changed;
    this.#ticks = ticks;
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  /** Redis answered, without the log line (another instance holds this id); the view shows it. */
  answered(): void {
    this.#failing = false;
    if (this.#reachable) return;
    this.#reachable = true;
    this.#changed();
  }

  /** A tick went through: `held` endpoints are held here. */
  reached(held: number): void {
    this.#failing = false;
    if (this.#reachable) return;
    this.#reachable = true;
    this.#warned.clear();
    this.#logger.info({ redis: this.#redis, held }, "cluster: Redis reachable");
    this.#changed();
  }

  /** A tick failed on Redis: the first failure in a row is tried again soon. */
  lost(error: Error, held: number): void {
    if (!this.#failing) this.#ticks.retrySoon();
    this.#failing = true;
    if (this.#reachable) this.#warned.clear();
    if (!this.#warned.has(error.message)) {
      // Bounded, should the causes never repeat: then each is worth its line.
      if (this.#warned.size >= 20) this.#warned.clear();
      this.#warned.add(error.message);
      this.#logger.warn(
        { err: error.message, redis: this.#redis, held },
        "cluster: Redis out of reach; keeping the endpoints held here and taking no new ones",
      );
    }
    if (this.#reachable) {
      this.#reachable = false;
      this.#changed();
    }
  }
}
