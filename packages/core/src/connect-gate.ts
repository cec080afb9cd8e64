/** How long an attempt holds its place at most before the next may start, ms. */
export const gateSlotMs = 1000;

/** Does nothing: the `release` of an attempt that holds no place. */
export const noop = (): void => {};

/**
 * At most `limit()` connect attempts under way at once: ten thousand endpoints started together,
 * or brought back together after an outage, reach the cloud in waves rather than as one burst
 * (less memory at the peak, and no overflow of the far side's accept queue, whose dropped connects
 * wait seconds for the kernel to send them again). An attempt holds its place until its link is
 * open (it calls the `release` it is given), it settles, or for {@link gateSlotMs}, whichever
 * comes first: a far side that initializes late holds nobody back, and endpoints that hang never
 * hold the rest back for longer than that. A limit of 0 lets everything through at once.
 */
export class ConnectGate {
  readonly #limit: () => number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: () => number) {
    this.#limit = limit;
  }

  /**
   * Runs `attempt` when a place is free; `attempt` decides itself whether it is still wanted. The
   * limit is read again as places free up, so a change applies to attempts already waiting.
   */
  async run(attempt: (release: () => void) => Promise<void> | undefined): Promise<void> {
    const limit = this.#limit();
    if (limit <= 0 && this.#waiting.length === 0) return attempt(noop);
    // In turn behind those already waiting; a waiter is woken with its place already counted.
    if (this.#waiting.length > 0 || this.#active >= limit)
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      clearTimeout(timer);
      this.#active--;
      this.#wake();
    };
    const timer = setTimeout(release, gateSlotMs);
    try {
      await attempt(release);
    } finally {
      release();
    }
  }

  /** Lets every waiting attempt go at once (they find they are no longer wanted and return). */
  drain(): void {
    for (const resolve of this.#waiting.splice(0)) {
      this.#active++;
      resolve();
    }
  }

  /** Wakes waiters while places are free under the limit as it is now (none: all of them). */
  #wake(): void {
    const limit = this.#limit();
    while (this.#waiting.length > 0 && (limit <= 0 || this.#active < limit)) {
      this.#active++;
      this.#waiting.shift()?.();
    }
  }
}
