import { describe, expect, it } from "vitest";
import { assign, assignEndpoints, preference, score } from "./rendezvous.js";

const endpoints = Array.from(
  { length: 100 },
  (_, i) => `ep-${(i * 2654435761).toString(16).padStart(12, "0")}`,
);

function loads(owners: Map<string, string>): number[] {
  const counts = new Map<string, number>();
  for (const owner of owners.values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  return [...counts.values()].sort((a, b) => a - b);
}

function moved(before: Map<string, string>, after: Map<string, string>): number {
  return [...after].filter(([id, owner]) => before.has(id) && before.get(id) !== owner).length;
}

describe("assignEndpoints", () => {
  it("gives every endpoint one instance and spreads them within one of even", () => {
    const owners = assignEndpoints(endpoints, ["a", "b", "c"]);
    expect(owners.size).toBe(100);
    expect(loads(owners)).toEqual([33, 33, 34]);
    expect(assignEndpoints(endpoints, [])).toEqual(new Map());
  });

  it("is the same answer whatever order the instances and endpoints come in", () => {
    const one = assignEndpoints(endpoints, ["a", "b", "c"]);
    const two = assignEndpoints([...endpoints].reverse(), ["c", "a", "b"]);
    expect(two).toEqual(one);
  });

  it("moves only the share of an instance that joins or leaves", () => {
    const three = assignEndpoints(endpoints, ["a", "b", "c"]);
    const four = assignEndpoints(endpoints, ["a", "b", "c", "d"], { holders: three });
    expect(loads(four)).toEqual([25, 25, 25, 25]);
    expect(moved(three, four)).toBe(25);
    const two = assignEndpoints(endpoints, ["a", "b"], { holders: three });
    expect(moved(three, two)).toBe([...three.values()].filter((o) => o === "c").length);
  });

  it("gives an instance that joins a small cluster its share, not one endpoint", () => {
    const six = endpoints.slice(0, 6);
    const two = assignEndpoints(six, ["a", "b"]);
    expect(loads(two)).toEqual([3, 3]);
    // Three apart, as one removal too many would leave them: but c joined, holding none.
    const three = assignEndpoints(six, ["a", "b", "c"], { holders: two });
    expect(loads(three)).toEqual([2, 2, 2]);
    expect(moved(two, three)).toBe(2);
    // One restarts (leaves, then joins again): back to two each.
    const left = assignEndpoints(six, ["a", "b"], { holders: three });
    expect(loads(assignEndpoints(six, ["a", "b", "c"], { holders: left }))).toEqual([2, 2, 2]);
    // A removal that empties an instance of a small cluster evens them out the same way.
    const seven = endpoints.slice(0, 7);
    const held = new Map(seven.map((e, i) => [e, i < 3 ? "a" : i < 6 ? "b" : "c"]));
    const after = assignEndpoints(seven.slice(0, 6), ["a", "b", "c"], { holders: held });
    expect(loads(after)).toEqual([2, 2, 2]);
    expect(moved(held, after)).toBe(2);
  });

  it("moves no endpoint an add did not touch, and rarely one for a remove, keeping loads within two", () => {
    let owners = assignEndpoints(endpoints.slice(0, 40), ["a", "b", "c"]);
    for (let i = 40; i < 100; i++) {
      const next = assignEndpoints(endpoints.slice(0, i + 1), ["a", "b", "c"], { holders: owners });
      expect(moved(owners, next)).toBe(0);
      expect(Math.max(...loads(next)) - Math.min(...loads(next))).toBeLessThanOrEqual(1);
      owners = next;
    }
    // Removals in a scattered order: most move nothing; loads never differ by more than two.
    let list = [...endpoints];
    let moves = 0;
    for (let i = 0; i < 60; i++) {
      list = list.filter((_, k) => k !== (i * 37) % list.length);
      const next = assignEndpoints(list, ["a", "b", "c"], { holders: owners });
      moves += moved(owners, next);
      expect(Math.max(...loads(next)) - Math.min(...loads(next))).toBeLessThanOrEqual(2);
      owners = next;
    }
    // The earlier planner, which ignored who held what, moved 0.8 per removal here and 0.7 per add.
    expect(moves / 60).toBeLessThanOrEqual(0.25);
  });

  it("moves, from each instance above its share, the endpoints that score lowest for it", () => {
    const many = Array.from({ length: 2000 }, (_, i) => `ep-${(i * 2654435761).toString(16)}`);
    const five = assignEndpoints(many, ["a", "b", "c", "d", "e"]);
    const six = assignEndpoints(many, ["a", "b", "c", "d", "e", "f"], { holders: five });
    expect(loads(six)).toEqual([333, 333, 333, 333, 334, 334]);
    expect(moved(five, six)).toBe(333);
    for (const instance of ["a", "b", "c", "d", "e"]) {
      const had = many.filter((id) => five.get(id) === instance);
      const gone = had.filter((id) => six.get(id) !== instance).map((id) => score(instance, id));
      const kept = had.filter((id) => six.get(id) === instance).map((id) => score(instance, id));
      expect(gone.length).toBeGreaterThan(0);
      expect(Math.max(...gone)).toBeLessThan(Math.min(...kept));
    }
  });

  it("gives the same answer whichever endpoints are asked about first, when two join at once", () => {
    const many = Array.from({ length: 2000 }, (_, i) => `ep-${(i * 2654435761).toString(16)}`);
    const four = assignEndpoints(many, ["a", "b", "c", "d"]);
    const members = ["a", "b", "c", "d", "e", "f"];
    const listed = new Set(many);
    // Asked in list order, in reverse, and the one instance's own first (as its plan asks).
    const orders = [many, [...many].reverse(), [...many.filter((id) => four.get(id) === "c"), ...many]];
    const answers = orders.map((order) => {
      const assignment = assign(listed, members, { holders: four });
      const owners = new Map<string, string>();
      for (const id of order) if (!owners.has(id)) owners.set(id, assignment.get(id) as string);
      return new Map(many.map((id) => [id, owners.get(id) as string]));
    });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    const six = answers[0] as Map<string, string>;
    expect(loads(six)).toEqual([333, 333, 333, 333, 334, 334]);
    // Only what must move moves, and only to the two that joined, each getting its share.
    expect(moved(four, six)).toBe(666);
    const gained = [...six].filter(([id, owner]) => four.get(id) !== owner).map(([, owner]) => owner);
    expect(new Set(gained)).toEqual(new Set(["e", "f"]));
  });

  it("keeps an endpoint off an instance that avoids it, unless every instance does", () => {
    const target = endpoints[0] as string;
    const avoid = new Map([["a", new Set([target])]]);
    const owners = assignEndpoints(endpoints, ["a", "b"], { holders: new Map([[target, "a"]]), avoid });
    expect(owners.get(target)).toBe("b");
    const all = new Map([
      ["a", new Set([target])],
      ["b", new Set([target])],
    ]);
    expect(["a", "b"]).toContain(assignEndpoints([target], ["a", "b"], { avoid: all }).get(target));
  });

  it("ranks instances per endpoint, differently for different endpoints", () => {
    const firsts = new Set(endpoints.slice(0, 30).map((id) => preference(id, ["a", "b", "c"])[0]));
    expect(firsts).toEqual(new Set(["a", "b", "c"]));
    expect(preference("ep-x", ["a", "b", "c"]).sort()).toEqual(["a", "b", "c"]);
  });
});
