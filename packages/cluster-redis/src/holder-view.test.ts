import { describe, expect, it } from "vitest";
import { HolderView } from "./holder-view.js";
import { LeaseTable } from "./lease-table.js";

describe("HolderView", () => {
  it("shows who holds each listed endpoint, looking again only at what was marked or shown since", () => {
    const leases = new LeaseTable();
    leases.set("e1", { instance: "a", mine: true });
    leases.set("e2", { instance: "b", mine: false });
    leases.set("x", { instance: "b", mine: false });
    const view = new HolderView();
    const listed = new Set(["e1", "e2", "e3"]);
    // A new list: everything listed is looked at; what is not listed is not shown.
    expect(view.refresh(listed, leases)).toBe(true);
    expect(Object.fromEntries(view.holders)).toEqual({ e1: "a", e2: "b" });
    expect(view.refresh(listed, leases)).toBe(false);

    // A lease changed but not marked is not looked at: only what changed costs a refresh.
    leases.set("e3", { instance: "c", mine: false });
    expect(view.refresh(listed, leases)).toBe(false);
    expect(view.holders.has("e3")).toBe(false);
    view.mark("e3");
    expect(view.refresh(listed, leases)).toBe(true);
    expect(view.holders.get("e3")).toBe("c");

    // Shown ahead of a read: kept when the leases agree by the next refresh, put right when not.
    view.show("e2", undefined);
    view.show("e1", undefined);
    leases.delete("e1");
    expect(Object.fromEntries(view.holders)).toEqual({ e3: "c" });
    expect(view.refresh(listed, leases)).toBe(true);
    expect(Object.fromEntries(view.holders)).toEqual({ e2: "b", e3: "c" });
    view.show("e1", "a");
    leases.set("e1", { instance: "a", mine: true });
    expect(view.refresh(listed, leases)).toBe(false);
    expect(view.holders.get("e1")).toBe("a");

    // Another list: looked at whole again.
    expect(view.refresh(new Set(["e1", "x"]), leases)).toBe(true);
    expect(Object.fromEntries(view.holders)).toEqual({ e1: "a", x: "b" });
  });
});
