import { describe, expect, it } from "vitest";
import { LeaseTable, listedFirst } from "./lease-table.js";

const groups = (table: LeaseTable) =>
  Object.fromEntries([...table.byInstance()].map(([instance, ids]) => [instance, [...ids].sort()]));

describe("LeaseTable", () => {
  it("groups the leases by holder as they are set, replaced and deleted: other processes' by instance, its own apart", () => {
    const table = new LeaseTable();
    table.set("e1", { instance: "a", mine: true });
    table.set("e2", { instance: "b", mine: false });
    table.set("e3", { instance: "b", mine: false });
    table.set("e4", { instance: "a", mine: false });
    // This process's own leases are not listed; an earlier process's under the same id are.
    expect(groups(table)).toEqual({ b: ["e2", "e3"], a: ["e4"] });
    table.set("e2", { instance: "c", mine: false });
    table.delete("e3");
    table.set("e4", { instance: "a", mine: true });
    expect(groups(table)).toEqual({ c: ["e2"] });
    expect(table.get("e4")).toEqual({ instance: "a", mine: true });
    expect(table.size).toBe(3);
    // This process's own, kept in one set a caller may hold on to: it follows every change.
    const own = table.own();
    expect([...own].sort()).toEqual(["e1", "e4"]);
    table.set("e1", { instance: "b", mine: false });
    table.delete("e4");
    expect([...own]).toEqual([]);
    table.set("e5", { instance: "a", mine: true });
    expect(table.own()).toBe(own);
    expect([...own]).toEqual(["e5"]);
    table.clear();
    expect(groups(table)).toEqual({});
    expect(own.size).toBe(0);
    expect(table.size).toBe(0);
  });

  it("keeps, against the list last asked about, the listed endpoints with no lease and the leases not listed", () => {
    const table = new LeaseTable();
    table.set("e1", { instance: "a", mine: true });
    table.set("x", { instance: "b", mine: false });
    const listed = new Set(["e1", "e2", "e3"]);
    const index = table.index(listed);
    expect([...index.unleased].sort()).toEqual(["e2", "e3"]);
    expect(index.unlisted).toBe(1);
    expect(index.byInstance.get("b")).toEqual(new Set(["x"]));
    // Leases set, moved and deleted: the same set follows them, and the count is read again.
    table.set("e2", { instance: "b", mine: false });
    table.set("e2", { instance: "c", mine: false });
    table.delete("x");
    table.delete("e1");
    table.delete("nothing");
    expect([...index.unleased].sort()).toEqual(["e1", "e3"]);
    expect(table.index(listed).unlisted).toBe(0);
    table.set("y", { instance: "a", mine: true });
    expect(table.index(listed).unlisted).toBe(1);
    // Another list: measured afresh.
    const next = table.index(new Set(["e2", "y", "e9"]));
    expect([...next.unleased]).toEqual(["e9"]);
    expect(next.unlisted).toBe(0);
    table.clear();
    expect([...table.index(new Set(["e2", "y", "e9"])).unleased].sort()).toEqual(["e2", "e9", "y"]);
  });
});

describe("listedFirst", () => {
  it("gives the list, then every other id once, in the order first seen", () => {
    const listed = new Set(["e1", "e2", "e3"]);
    expect(
      listedFirst(
        listed,
        ["e2", "x"],
        new Set(["y", "x"]),
        new Map([
          ["e1", 1],
          ["z", 2],
        ]).keys(),
      ),
    ).toEqual(["e1", "e2", "e3", "x", "y", "z"]);
    expect(listedFirst(new Set(), [], ["a", "a"])).toEqual(["a"]);
  });
});
