import type { ClusterClock } from "../src/clock.js";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly owner: string;
  readonly callback: () => void;
}

/**
 * Time that moves only when a test says so, shared by every instance of a test cluster and its
 * memory Redis. Each instance gets its own view (`for(name)`), whose timers can be held
 * (`pause(name)`) as a SIGSTOP holds a process.
 */
export class FakeClock {
  #now = 1_000_000;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();
  readonly #paused = new Set<string>();

  now(): number {
    return this.#now;
  }

  for(owner: string): ClusterClock {
    return {
      now: () => this.#now,
      setTimeout: (callback, ms) => {
        const seq = ++this.#seq;
        this.#timers.set(seq, { at: this.#now + Math.max(0, ms), seq, owner, callback });
        return seq;
      },
      clearTimeout: (handle) => {
        this.#timers.delete(handle as number);
      },
    };
  }

  pause(owner: string): void {
    this.#paused.add(owner);
  }

  resume(owner: string): void {
    this.#paused.delete(owner);
  }

  /** Moves time forward by `ms`, firing every timer due on the way in order, settling work between. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    // Bounded: each round fires one timer; a test cluster sets a few per tick.
    for (let round = 0; round < 100_000; round++) {
      await settle();
      let next: Timer | undefined;
      for (const timer of this.#timers.values()) {
        if (timer.at > end || this.#paused.has(timer.owner)) continue;
        if (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq)) next = timer;
      }
      if (!next) break;
      this.#timers.delete(next.seq);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = end;
    await settle();
  }

  /** Timers that have not fired, for a test that checks nothing is left after stop. */
  pending(owner: string): number {
    return [...this.#timers.values()].filter((t) => t.owner === owner).length;
  }
}

/** Lets every promise chain started so far run to its end (the memory stores answer at once). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
