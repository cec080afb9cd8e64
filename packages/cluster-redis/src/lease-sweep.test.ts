import { describe, expect, it } from "vitest";
import { LeaseSweep, sweepTicks } from "./lease-sweep.js";

describe("LeaseSweep", () => {
  it("checks every lease once in a hundred ticks, a tenth every ten ticks", () => {
    const sweep = new LeaseSweep();
    const ids = Array.from({ length: 25 }, (_, i) => `e${i}`);
    let asked = 0;
    const known = () => {
      asked++;
      return ids;
    };
    const slices: (readonly string[])[] = [];
    // Ninety ticks: nine slices cover all 25, three at a time.
    for (let tick = 0; tick < sweepTicks - 10; tick++) {
      const slice = sweep.next(known);
      if (slice.length > 0) slices.push(slice);
    }
    expect(slices.map((slice) => slice.length)).toEqual([3, 3, 3, 3, 3, 3, 3, 3, 1]);
    expect(slices.flat()).toEqual(ids);
    expect(asked).toBe(1);
    // The next round asks again: a lease taken since is in it.
    ids.push("e25");
    const next: string[] = [];
    for (let tick = 0; tick < sweepTicks - 10; tick++) next.push(...sweep.next(known));
    expect(asked).toBe(2);
    expect(next).toEqual(ids);
  });

  it("checks nothing while nothing is known", () => {
    const sweep = new LeaseSweep();
    for (let tick = 0; tick < 30; tick++) expect(sweep.next(() => [])).toEqual([]);
  });
});
