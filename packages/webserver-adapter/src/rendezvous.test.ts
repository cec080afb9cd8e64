import { describe, expect, it } from "vitest";
import { assignEndpoints, preference } from "./rendezvous.js";

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
  return [...after].filter(([id, owner]) => before.get(id) !== owner).length;
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

  it("moves about the endpoints that must move when an instance joins or leaves", () => {
    const three = assignEndpoints(endpoints, ["a", "b", "c"]);
    const four = assignEndpoints(endpoints, ["a", "b", "c", "d"]);
    // A fourth instance must get 25; a few more may shift to keep the others within their share.
    const joined = moved(three, four);
    expect([...four.values()].filter((o) => o === "d")).toHaveLength(25);
    expect(joined).toBeGreaterThanOrEqual(25);
    expect(joined).toBeLessThanOrEqual(35);
    // When c leaves, its 33-34 endpoints move; the others mostly stay where they are.
    const two = assignEndpoints(endpoints, ["a", "b"]);
    const left = moved(three, two);
    const hadC = [...three.values()].filter((o) => o === "c").length;
    expect(left).toBeGreaterThanOrEqual(hadC);
    expect(left).toBeLessThanOrEqual(hadC + 10);
  });

  it("ranks instances per endpoint, differently for different endpoints", () => {
    const firsts = new Set(endpoints.slice(0, 30).map((id) => preference(id, ["a", "b", "c"])[0]));
    expect(firsts).toEqual(new Set(["a", "b", "c"]));
    expect(preference("ep-x", ["a", "b", "c"]).sort()).toEqual(["a", "b", "c"]);
  });
});
