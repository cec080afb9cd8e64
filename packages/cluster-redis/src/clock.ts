/**
 * The time and timers cluster mode runs on. `now()` is monotonic: it never jumps when the wall
 * clock is set, so lease renewals, grace periods and waits measure real elapsed time. Tests pass
 * a fake one and drive time themselves.
 */
export interface ClusterClock {
  /** Milliseconds from an arbitrary origin; never goes back. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's monotonic clock (`performance.now()`) with timers that never keep the process alive. */
export const systemClock: ClusterClock = {
  now: () => performance.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: ClusterClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
