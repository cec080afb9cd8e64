import { describe, expect, it } from "vitest";
import { takingNow } from "./cluster-view.js";

/** Who holds what: `counts` endpoints for each instance, in order. */
function holders(counts: Record<string, number>): Map<string, string> {
  const map = new Map<string, string>();
  let n = 0;
  for (const [instance, count] of Object.entries(counts))
    for (let i = 0; i < count; i++) map.set(`e${n++}`, instance);
  return map;
}

describe("takingNow", () => {
  it("counts every survivor of a kill: each is below its new share and takes at the same moment", () => {
    // "self" and b, c, d held 2,000 each of 10,000; the killed one's 2,000 are free (or still shown as its).
    const before = holders({ self: 2000, b: 2000, c: 2000, d: 2000, dead: 2000 });
    expect(takingNow(["b", "c", "d"], before, 10_000)).toBe(4);
    // Some survivors already seen with their new share still count: they take in the same moment.
    const partly = holders({ self: 2500, b: 2500, c: 2000, d: 2000 });
    expect(takingNow(["b", "c", "d"], partly, 10_000)).toBe(4);
  });

  it("counts a joiner alone while the others hold more than their share and hand it over", () => {
    const joining = holders({ a: 2500, b: 2500, c: 2500, d: 2500 });
    expect(takingNow(["a", "b", "c", "d"], joining, 10_000)).toBe(1);
    // Near the end of the hand-over, those already down to their share count again.
    const late = holders({ a: 2000, b: 2100, c: 2100, d: 2100, self: 1700 });
    expect(takingNow(["a", "b", "c", "d"], late, 10_000)).toBe(2);
  });

  it("counts an instance holding the one more that a list not divided evenly gives it", () => {
    const settled = holders({ self: 3333, b: 3334, c: 3333 });
    expect(takingNow(["b", "c"], settled, 10_000)).toBe(3);
  });

  it("counts everyone at a cold start, and this instance alone", () => {
    expect(takingNow(["a", "b", "c", "d"], new Map(), 10_000)).toBe(5);
    expect(takingNow([], holders({ self: 10 }), 10)).toBe(1);
  });
});
