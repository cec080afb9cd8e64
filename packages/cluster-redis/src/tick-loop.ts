import type { ClusterClock } from "./clock.js";

/**
 * Runs a tick every `every` ms, and other jobs (list changes) between ticks, one at a time.
 *
 * The timer is armed again after every tick whatever it did, and a job never disarms it: a tick
 * asked for while a job runs is queued behind it, never dropped. So neither a failed job nor a
 * stream of jobs can stop the ticks, which renew the leases.
 */
export class TickLoop {
  #tail: Promise<unknown> = Promise.resolve();
  /** A tick queued and not started yet: asking again joins it. */
  #queued: Promise<void> | undefined;
  #timer: unknown;
  #armed = false;
  #stopped = false;
  /** A tick asked for at a moment (`kickIn`), and that moment. */
  #early: unknown;
  #earlyAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: ClusterClock,
    private readonly every: number,
    private readonly tick: () => Promise<void>,
  ) {}

  /** Runs a tick now, or right after the job under way; resolves when that tick ends (never rejects). */
  kick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#queued) return this.#queued;
    this.#disarm();
    const queued = this.#enqueue(async () => {
      this.#queued = undefined;
      try {
        await this.tick();
      } finally {
        this.#arm();
      }
    }).catch(() => {});
    this.#queued = queued;
    return queued;
  }

  /**
   * Runs a tick `ms` from now as well as the regular ones (something is due then, such as a lease's
   * lapse). Of several asked for, the earliest is kept: ask again after it for a later one. A moment
   * at or past the next regular tick is left to that tick, which may ask again.
   */
  kickIn(ms: number): void {
    const at = this.clock.now() + ms;
    if (this.#stopped || ms >= this.every || at >= this.#earlyAt) return;
    if (this.#early !== undefined) this.clock.clearTimeout(this.#early);
    this.#earlyAt = at;
    this.#early = this.clock.setTimeout(() => {
      this.#early = undefined;
      this.#earlyAt = Number.POSITIVE_INFINITY;
      void this.kick();
    }, ms);
  }

  /**
   * Runs a tick soon: a quarter of a second from now, or half a tick when ticks come faster. For a
   * tick that failed: a command also times out when this process stalls for longer than the
   * timeout (a busy start), and the next regular tick would leave what it was to take for a tick.
   */
  retrySoon(): void {
    this.kickIn(Math.min(250, this.every / 2));
  }

  /** Runs `job` when no tick or other job runs; its result or error is the caller's. */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.#enqueue(async () => {
      try {
        return await job();
      } finally {
        // A tick that found no timer armed (the first, or one asked for during the job) keeps its place.
        if (!this.#armed && !this.#queued) this.#arm();
      }
    });
  }

  /** No tick starts from now on; resolves once the one under way (and queued jobs) ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#disarm();
    if (this.#early !== undefined) this.clock.clearTimeout(this.#early);
    this.#early = undefined;
    await this.#tail.catch(() => {});
  }

  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(job, job);
    this.#tail = run.catch(() => {});
    return run;
  }

  #arm(): void {
    this.#disarm();
    if (this.#stopped) return;
    this.#armed = true;
    this.#timer = this.clock.setTimeout(() => {
      this.#armed = false;
      void this.kick();
    }, this.every);
  }

  #disarm(): void {
    if (this.#armed) this.clock.clearTimeout(this.#timer);
    this.#armed = false;
  }
}
