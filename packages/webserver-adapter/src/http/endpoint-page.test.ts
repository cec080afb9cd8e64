import { describe, expect, it } from "vitest";
import { pageEndpoints, parseEndpointQuery } from "./endpoint-page.js";

const states = ["connected", "reconnecting", "connected", "failed", "connected"] as const;
const all = states.map((state, i) => ({
  id: `ep-00000000000${i}`,
  url: `wss://api.xiaozhi.me/mcp/?token=<masked:00000${i}>`,
  ...(i === 1 ? { name: "Kitchen Speaker" } : {}),
  state,
  connected: state === "connected",
}));
const query = (params: Record<string, string>) => parseEndpointQuery((name) => params[name]);

describe("GET /api/endpoints query", () => {
  it("sends every endpoint without a limit, with the counts of all", () => {
    const page = pageEndpoints(all, { offset: 0 });
    expect(page.endpoints).toEqual(all);
    expect(page).toMatchObject({ total: 5, offset: 0, limit: null });
    expect(page.summary).toEqual({
      total: 5,
      connected: 3,
      states: { connected: 3, reconnecting: 1, failed: 1 },
    });
  });

  it("cuts a page, filters by state and by text, and keeps the summary of all", () => {
    const page = pageEndpoints(all, { offset: 1, limit: 2 });
    expect(page.endpoints.map((e) => e.id)).toEqual([all[1]?.id, all[2]?.id]);
    expect(page.total).toBe(5);
    const down = pageEndpoints(all, { offset: 0, states: ["reconnecting", "failed"] });
    expect(down.endpoints.map((e) => e.state)).toEqual(["reconnecting", "failed"]);
    expect(down.total).toBe(2);
    expect(down.summary.total).toBe(5);
    expect(pageEndpoints(all, { offset: 0, q: "kitchen" }).endpoints.map((e) => e.id)).toEqual([all[1]?.id]);
    expect(pageEndpoints(all, { offset: 0, q: "00004" }).total).toBe(1);
    expect(pageEndpoints(all, { offset: 9, limit: 2 }).endpoints).toEqual([]);
  });

  it("reads the query, and says what is wrong with a bad one", () => {
    expect(query({})).toEqual({ offset: 0 });
    expect(query({ offset: "20", limit: "10", state: "connected,failed", q: "x" })).toEqual({
      offset: 20,
      limit: 10,
      states: ["connected", "failed"],
      q: "x",
    });
    expect(query({ limit: "0" })).toEqual({ error: expect.stringMatching(/limit must be/) });
    expect(query({ limit: "1001" })).toEqual({ error: expect.stringMatching(/1 to 1000/) });
    expect(query({ offset: "-1" })).toEqual({ error: expect.stringMatching(/offset/) });
    expect(query({ state: "asleep" })).toEqual({ error: expect.stringMatching(/state must be one of/) });
  });
});
