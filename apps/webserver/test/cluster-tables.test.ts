import { describe, expect, it } from "vitest";
import { messagesFor } from "../src/messages.js";
import { type BudgetRow, type EndpointRow, endpointTable, instanceTable } from "../src/tables.js";

// `status`'s tables in cluster mode: what they tell of endpoints other instances run, and of an
// instance still waiting for its id. Colours are off: no terminal here.
const m = messagesFor("en");
const budget: BudgetRow = { tools: 4, bytes: 900, maxTools: 25, over: false };
const row = (id: string, more: Partial<EndpointRow>): EndpointRow => ({
  id,
  url: `wss://cloud.test/mcp/?token=<masked:${id}>`,
  state: "connected",
  ...more,
});
const cells = (table: string, id: string) => {
  const line = table.split("\n").find((l) => l.startsWith(id));
  if (line === undefined) throw new Error(`no row of ${id} in:\n${table}`);
  return line.split(/\s{2,}/);
};

describe("status tables in cluster mode", () => {
  it("counts the tools given only where this instance gives them: not for another's, not for a failed one", () => {
    const budgets = { "ep-here": budget, "ep-there": budget, "ep-failed": budget, "ep-none": budget };
    const table = endpointTable(
      [
        row("ep-here", { instance: "a", here: true }),
        row("ep-there", { instance: "b" }),
        row("ep-failed", { instance: "a", here: true, state: "failed" }),
        row("ep-none", { instance: null, state: "disconnected" }),
      ],
      m,
      budgets,
    );
    expect(table).toMatch(/TOOLS GIVEN/);
    expect(cells(table, "ep-here")).toContain("4 · 900 B");
    for (const id of ["ep-there", "ep-failed", "ep-none"])
      expect(cells(table, id).join(" ")).not.toContain("·");
  });

  it("without a cluster every endpoint runs here: all but a failed one are counted", () => {
    const table = endpointTable([row("ep-one", {}), row("ep-two", { state: "failed" })], m, {
      "ep-one": budget,
      "ep-two": budget,
    });
    expect(cells(table, "ep-one")).toContain("4 · 900 B");
    expect(cells(table, "ep-two").join(" ")).not.toContain("·");
  });

  it("says a name made from the token's agent id in the command's language, and a given name as it is", () => {
    const rows = [row("ep-made", { name: "agent 9001" }), row("ep-given", { name: "agent Smith's kitchen" })];
    for (const [language, made] of [
      ["en", "agent 9001"],
      ["zh-CN", "智能体 9001"],
    ] as const) {
      const table = endpointTable(rows, messagesFor(language));
      expect(cells(table, "ep-made")[1]).toBe(made);
      expect(cells(table, "ep-given")[1]).toBe("agent Smith's kitchen");
    }
  });

  it("shows this instance starting while it waits for its id", () => {
    const now = 1_000_000;
    const table = instanceTable(
      [
        { id: "b", address: "http://b:9999/", endpoints: 30, heartbeatAt: now - 400, self: false },
        {
          id: "a",
          address: "http://a:9999/",
          endpoints: 0,
          heartbeatAt: now - 8200,
          self: true,
          idHeldUntil: now + 6800,
        },
      ],
      m,
      now,
    );
    expect(table).toMatch(/^a \(this one\) starting\s+http:\/\/a:9999\/\s+0\s+8\.2 s ago$/m);
    expect(table).toMatch(/^b\s+http:\/\/b:9999\/\s+30\s+0\.4 s ago$/m);
  });
});
