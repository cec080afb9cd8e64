interface Deadline<V> {
  readonly at: number;
  readonly value: V;
}

/**
 * The deadlines of running calls, checked by one interval timer a tenth of the shortest call
 * timeout apart (5 ms to 1 s) instead of a timer per call. A call past its deadline is forgotten
 * and handed to `expire` with the value it was tracked with. The timer runs only while calls are
 * tracked: it stops at the first check that finds none, or at `stop()`.
 */
export class DeadlineSweep<K, V> {
  readonly #due = new Map<K, Deadline<V>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #tick = 0;

  constructor(private readonly expire: (key: K, value: V) => void) {}

  /** Gives call `key` a deadline `timeoutMs` from now. */
  track(key: K, timeoutMs: number, value: V): void {
    this.#due.set(key, { at: Date.now() + timeoutMs, value });
    this.#arm(timeoutMs);
  }

  /** Forgets call `key`: it ended before its deadline. Cheap; the timer stops at its next check. */
  clear(key: K): void {
    this.#due.delete(key);
  }

  /** Calls tracked. */
  get size(): number {
    return this.#due.size;
  }

  /** Forgets every call and stops the timer. */
  stop(): void {
    this.#due.clear();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #arm(timeoutMs: number): void {
    const tick = Math.max(5, Math.min(1000, Math.floor(timeoutMs / 10)));
    if (this.#timer !== undefined) {
      if (tick >= this.#tick) return;
      clearInterval(this.#timer);
    }
    this.#tick = tick;
    this.#timer = setInterval(() => this.#sweep(), tick);
    this.#timer.unref();
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, deadline] of this.#due) {
      if (deadline.at > now) continue;
      this.#due.delete(key);
      this.expire(key, deadline.value);
    }
    if (this.#due.size === 0) this.stop();
  }
}
