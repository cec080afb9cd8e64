/**
 * One interval timer that checks every running call's deadline, a tenth of the call timeout apart
 * (5 ms to 1 s), instead of a timer per call. It runs only while calls run: `sweep` ends the calls
 * that are due and returns how many still run, and at zero the timer stops.
 */
export class DeadlineSweep {
  #timer: ReturnType<typeof setInterval> | undefined;
  #tick = 0;

  constructor(private readonly sweep: (now: number) => number) {}

  /** Makes sure calls with this timeout are checked often enough. */
  arm(callTimeout: number): void {
    const tick = Math.max(5, Math.min(1000, Math.floor(callTimeout / 10)));
    if (this.#timer !== undefined) {
      if (tick >= this.#tick) return;
      clearInterval(this.#timer);
    }
    this.#tick = tick;
    this.#timer = setInterval(() => {
      if (this.sweep(Date.now()) === 0) this.stop();
    }, tick);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
