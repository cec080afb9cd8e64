import { describe, expect, it } from "vitest";
import { PlanGate } from "./plan-gate.js";
import { type LeaseHolder, plan, type Snapshot } from "./planner.js";

const listed = new Set(["e1", "e2", "e3", "e4"]);
const none = new Set<string>();
const held = new Set(["e1", "e2"]);
const leases = new Map<string, LeaseHolder>([
  ["e1", { instance: "a", mine: true }],
  ["e2", { instance: "a", mine: true }],
  ["e3", { instance: "b", mine: false }],
  ["e4", { instance: "b", mine: false }],
]);

function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    self: "a",
    tickMs: 100,
    listed,
    settling: false,
    joining: false,
    live: new Map([
      ["a", none],
      ["b", none],
    ]),
    leases,
    held,
    unservable: none,
    freeSince: new Map(),
    ...over,
  };
}

describe("PlanGate", () => {
  it("skips a plan only while the last did nothing and nothing it reads changed", () => {
    const gate = new PlanGate();
    const steady = snapshot();
    expect(gate.quiet(steady, 1)).toBe(false);
    const idle = plan(steady, 0);
    expect(idle.acquire.length + idle.release.length).toBe(0);
    gate.planned(steady, 1, idle);
    expect(gate.quiet(snapshot(), 1)).toBe(true);
    // The same instances listed in another order, as Redis may list them from one beat to the next:
    // the plan is the same, and so is the key.
    const reordered = snapshot({
      live: new Map([
        ["b", none],
        ["a", none],
      ]),
    });
    const { lost, adopt, release, acquire, freeSince } = plan(reordered, 0);
    expect({ lost, adopt, release, acquire, freeSince }).toEqual({
      lost: idle.lost,
      adopt: idle.adopt,
      release: idle.release,
      acquire: idle.acquire,
      freeSince: idle.freeSince,
    });
    expect(gate.quiet(reordered, 1)).toBe(true);
    // The leases or holdings moved, the list changed, an instance left or avoids an endpoint.
    expect(gate.quiet(snapshot(), 2)).toBe(false);
    expect(gate.quiet(snapshot({ listed: new Set(listed) }), 1)).toBe(false);
    expect(gate.quiet(snapshot({ live: new Map([["a", none]]) }), 1)).toBe(false);
    expect(
      gate.quiet(
        snapshot({
          live: new Map([
            ["a", none],
            ["b", new Set(["e3"])],
          ]),
        }),
        1,
      ),
    ).toBe(false);
    // An instance still joining, or one that finished, changes what may be handed over; the
    // joiners in another order do not.
    expect(gate.quiet(snapshot({ joiningPeers: new Set(["b"]) }), 1)).toBe(false);
    const joining = snapshot({ joiningPeers: new Set(["b", "c"]) });
    gate.planned(joining, 1, plan(joining, 0));
    expect(gate.quiet(snapshot({ joiningPeers: new Set(["c", "b"]) }), 1)).toBe(true);
    // What depends on time plans every tick.
    expect(gate.quiet(snapshot({ given: new Map([["e3", "a"]]) }), 1)).toBe(false);
    expect(gate.quiet(snapshot({ settling: true }), 1)).toBe(false);
    expect(gate.quiet(snapshot({ unservable: new Set(["e1"]) }), 1)).toBe(false);
    expect(gate.quiet(snapshot({ grace: { until: 1, before: new Map() } }), 1)).toBe(false);
  });

  it("a plan that does something, or waits on a free endpoint, is made again next tick", () => {
    const gate = new PlanGate();
    const free = snapshot({ leases: new Map([...leases].filter(([id]) => id !== "e4")) });
    const waiting = plan(free, 0);
    expect(waiting.freeSince.size).toBe(1);
    gate.planned(free, 1, waiting);
    expect(gate.quiet(free, 1)).toBe(false);
    const empty = snapshot({ leases: new Map(), held: new Set() });
    const taking = plan(empty, 0);
    expect(taking.acquire.length).toBeGreaterThan(0);
    gate.planned(empty, 1, taking);
    expect(gate.quiet(empty, 1)).toBe(false);
  });
});
