/** Ticks in which every lease known is checked against Redis once. */
export const sweepTicks = 100;
/** Ticks between two slices of the sweep. */
const sliceEvery = 10;

/**
 * Which leases a tick checks against Redis, in case the lease log missed a change (a key changed
 * by hand): a tenth of them every ten ticks, so every lease is checked once in a hundred ticks
 * without a pause to check them all at once. At ten thousand leases that pause took 60–100 ms,
 * in code that ran too seldom to be optimised.
 */
export class LeaseSweep {
  #ticks = 0;
  #order: readonly string[] = [];
  #from = 0;

  /**
   * The ids to check on this tick: none on most ticks. `known` lists every lease to check; it is
   * asked at the start of each round, so what is listed or taken later waits for the next one.
   */
  next(known: () => readonly string[]): readonly string[] {
    if (++this.#ticks < sliceEvery) return [];
    this.#ticks = 0;
    if (this.#from >= this.#order.length) {
      this.#order = known();
      this.#from = 0;
    }
    const size = Math.ceil(this.#order.length / (sweepTicks / sliceEvery));
    const slice = this.#order.slice(this.#from, this.#from + size);
    this.#from += size;
    return slice;
  }
}
